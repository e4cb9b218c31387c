// Atomics of the emulator, with CUDA's signatures and return values (the old value). Emulated
// blocks run on one OS thread, but the operations are real atomics (std::atomic_ref) all the same,
// so host code touching the same memory stays correct. 64-bit variants included; half and bfloat16
// atomicAdd round like the GPU (the add in fp32, one rounding to the 16-bit type).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <atomic>
#include <bit>
#include <cstdint>

namespace deeper::emu::detail {

template <typename T, typename F>
T atomic_update(T* address, F&& f) {
  std::atomic_ref<T> ref(*address);
  T old = ref.load();
  while (!ref.compare_exchange_weak(old, f(old))) {
  }
  return old;
}

// 16-bit floats: update through their 16-bit pattern.
template <typename H, typename F>
H atomic_update_16(H* address, F&& f) {
  auto* bits = reinterpret_cast<std::uint16_t*>(address);
  const std::uint16_t old = atomic_update(bits, [&](std::uint16_t b) {
    return std::bit_cast<std::uint16_t>(f(std::bit_cast<H>(b)));
  });
  return std::bit_cast<H>(old);
}

}  // namespace deeper::emu::detail

#define DEEPER_EMU_FETCH(name, type, member)                                       \
  inline type name(type* address, type value) {                                    \
    return std::atomic_ref<type>(*address).member(value);                          \
  }
DEEPER_EMU_FETCH(atomicAdd, int, fetch_add)
DEEPER_EMU_FETCH(atomicAdd, unsigned, fetch_add)
DEEPER_EMU_FETCH(atomicAdd, unsigned long long, fetch_add)
DEEPER_EMU_FETCH(atomicAdd, float, fetch_add)
DEEPER_EMU_FETCH(atomicAdd, double, fetch_add)
DEEPER_EMU_FETCH(atomicSub, int, fetch_sub)
DEEPER_EMU_FETCH(atomicSub, unsigned, fetch_sub)
DEEPER_EMU_FETCH(atomicExch, int, exchange)
DEEPER_EMU_FETCH(atomicExch, unsigned, exchange)
DEEPER_EMU_FETCH(atomicExch, unsigned long long, exchange)
DEEPER_EMU_FETCH(atomicExch, float, exchange)
DEEPER_EMU_FETCH(atomicAnd, int, fetch_and)
DEEPER_EMU_FETCH(atomicAnd, unsigned, fetch_and)
DEEPER_EMU_FETCH(atomicAnd, unsigned long long, fetch_and)
DEEPER_EMU_FETCH(atomicOr, int, fetch_or)
DEEPER_EMU_FETCH(atomicOr, unsigned, fetch_or)
DEEPER_EMU_FETCH(atomicOr, unsigned long long, fetch_or)
DEEPER_EMU_FETCH(atomicXor, int, fetch_xor)
DEEPER_EMU_FETCH(atomicXor, unsigned, fetch_xor)
DEEPER_EMU_FETCH(atomicXor, unsigned long long, fetch_xor)
#undef DEEPER_EMU_FETCH

#define DEEPER_EMU_MINMAX(type)                                                                  \
  inline type atomicMin(type* address, type value) {                                             \
    return ::deeper::emu::detail::atomic_update(address, [=](type old) { return value < old ? value : old; }); \
  }                                                                                              \
  inline type atomicMax(type* address, type value) {                                             \
    return ::deeper::emu::detail::atomic_update(address, [=](type old) { return value > old ? value : old; }); \
  }
DEEPER_EMU_MINMAX(int)
DEEPER_EMU_MINMAX(unsigned)
DEEPER_EMU_MINMAX(long long)
DEEPER_EMU_MINMAX(unsigned long long)
#undef DEEPER_EMU_MINMAX

inline int atomicCAS(int* address, int compare, int value) {
  std::atomic_ref<int>(*address).compare_exchange_strong(compare, value);
  return compare;
}
inline unsigned atomicCAS(unsigned* address, unsigned compare, unsigned value) {
  std::atomic_ref<unsigned>(*address).compare_exchange_strong(compare, value);
  return compare;
}
inline unsigned long long atomicCAS(unsigned long long* address, unsigned long long compare, unsigned long long value) {
  std::atomic_ref<unsigned long long>(*address).compare_exchange_strong(compare, value);
  return compare;
}
inline unsigned short atomicCAS(unsigned short* address, unsigned short compare, unsigned short value) {
  std::atomic_ref<unsigned short>(*address).compare_exchange_strong(compare, value);
  return compare;
}

// atomicInc: ((old >= limit) ? 0 : old + 1); atomicDec: ((old == 0 || old > limit) ? limit : old - 1).
inline unsigned atomicInc(unsigned* address, unsigned limit) {
  return ::deeper::emu::detail::atomic_update(address, [=](unsigned old) { return old >= limit ? 0u : old + 1u; });
}
inline unsigned atomicDec(unsigned* address, unsigned limit) {
  return ::deeper::emu::detail::atomic_update(address,
                                              [=](unsigned old) { return (old == 0u || old > limit) ? limit : old - 1u; });
}

inline __half atomicAdd(__half* address, __half value) {
  return ::deeper::emu::detail::atomic_update_16(
      address, [=](__half old) { return __float2half_rn(__half2float(old) + __half2float(value)); });
}
inline __nv_bfloat16 atomicAdd(__nv_bfloat16* address, __nv_bfloat16 value) {
  return ::deeper::emu::detail::atomic_update_16(address, [=](__nv_bfloat16 old) {
    return __float2bfloat16_rn(__bfloat162float(old) + __bfloat162float(value));
  });
}
