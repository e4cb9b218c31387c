// Gradient scatter-adds of the rasterizer's backward passes (interpolate_grad, rasterize_grad,
// texture_grad, antialias_grad): float atomics by default, or a deterministic mode.
//
// Deterministic mode (GradAccum::fixed != nullptr): every contribution v is rounded to the fixed-point
// integer round(v · 2^bits) (saturated at ±2^62, NaN counts as 0) and added to an int64 workspace
// with 64-bit integer atomics; integer addition is associative, so the sum does not depend on the
// order of the threads and two runs give the same bits. A finishing pass then adds
// fixed[i] · 2^-bits to grad[i] (in float). Resolution 2^-bits (default 2^-32 ≈ 2.3e-10 per
// contribution), range ±2^(62-bits) for a sum (default ±2^30): gradients must fit that range.
// The workspace holds as many int64 as the gradient holds floats; the op clears it itself.
//
// Warp aggregation (kernels only, grad_accum.cuh): where consecutive lanes of a warp add to the same
// destination (pixels of one triangle), the values are summed with a segmented shuffle reduction
// first and the segment's first lane issues one atomic.
#pragma once

#include "kernels/common/hd.h"

#include <cstdint>

#if !defined(__CUDA_ARCH__)
#include <cmath>
#endif

namespace deeper::kernels {

inline constexpr int kGradFixedBitsDefault = 32;

// Where a backward pass accumulates (+=) one gradient tensor of `size` values.
template <typename T>
struct GradAccumT {
  T* grad = nullptr;               // the gradient (accumulated into, never cleared); nullptr: not wanted
  long long* fixed = nullptr;      // deterministic mode: int64 workspace of `size` values, else nullptr
  int bits = kGradFixedBitsDefault;  // fixed-point fraction bits, in [0, 60]
};

// round(v · 2^bits) as int64, saturated to ±2^62; NaN gives 0.
DEEPER_HD_INLINE long long grad_to_fixed(float v, float scale) {
  float s = v * scale;  // scale is a power of two: exact unless it overflows
  constexpr float kLimit = 4.611686018427387904e18f;  // 2^62
  if (!(s == s)) return 0;
  s = s > kLimit ? kLimit : (s < -kLimit ? -kLimit : s);
#if defined(__CUDA_ARCH__)
  return __float2ll_rn(s);
#else
  return static_cast<long long>(std::nearbyint(s));
#endif
}

DEEPER_HD_INLINE float grad_fixed_scale(int bits) { return static_cast<float>(1ull << bits); }



// The passes around a deterministic accumulation (no-ops for float atomics): begin clears the
// workspace, finish adds it (scaled by 2^-bits) into grad. `size` values.
namespace cpu_impl {
void grad_accum_begin(const GradAccumT<float>& a, std::int64_t size);
void grad_accum_finish(const GradAccumT<float>& a, std::int64_t size);
}  // namespace cpu_impl
namespace emu_impl {
void grad_accum_begin(const GradAccumT<float>& a, std::int64_t size, void* stream);
void grad_accum_finish(const GradAccumT<float>& a, std::int64_t size, void* stream);
}  // namespace emu_impl
namespace cuda_impl {
void grad_accum_begin(const GradAccumT<float>& a, std::int64_t size, void* stream);
void grad_accum_finish(const GradAccumT<float>& a, std::int64_t size, void* stream);
}  // namespace cuda_impl

// The CPU side of an accumulation: add v at index i (plain adds; callers keep distinct threads on
// distinct indices). For double, deterministic mode is ignored (the CPU reference runs in a fixed
// order anyway).
template <typename T>
inline void grad_add_host(const GradAccumT<T>& a, std::int64_t i, T v) {
  if constexpr (sizeof(T) == sizeof(float)) {
    if (a.fixed) {
      a.fixed[i] += grad_to_fixed(v, grad_fixed_scale(a.bits));
      return;
    }
  }
  a.grad[i] += v;
}

}  // namespace deeper::kernels
