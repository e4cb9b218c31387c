// bf16 bit patterns to float for the emulator's tensor-core operations (mma_sync.cpp, wgmma.cpp):
// a bf16 value is the high half of a float's bits, so the conversion is exact (NaN payloads,
// infinities and subnormals included).
#pragma once

#include <cstdint>
#include <cstring>

namespace deeper::emu::detail {

inline float bf16_bits_to_float(std::uint16_t bits16) {
  const std::uint32_t bits = std::uint32_t{bits16} << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// The bf16 value stored (2 bytes, host order, any alignment) at p.
inline float bf16_load(const unsigned char* p) {
  std::uint16_t h;
  std::memcpy(&h, p, sizeof h);
  return bf16_bits_to_float(h);
}

}  // namespace deeper::emu::detail
