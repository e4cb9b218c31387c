// The CPU side of the deterministic gradient accumulation (kernels/raster/grad_accum.h).
#include "kernels/raster/grad_accum.h"

namespace deeper::kernels {

namespace cpu_impl {

void grad_accum_begin(const GradAccumT<float>& a, std::int64_t size) {
  if (!a.fixed || !a.grad) return;
  for (std::int64_t i = 0; i < size; ++i) a.fixed[i] = 0;
}

void grad_accum_finish(const GradAccumT<float>& a, std::int64_t size) {
  if (!a.fixed || !a.grad) return;
  const float inv = 1.0f / grad_fixed_scale(a.bits);
  for (std::int64_t i = 0; i < size; ++i) a.grad[i] += static_cast<float>(a.fixed[i]) * inv;
}

}  // namespace cpu_impl

}  // namespace deeper::kernels
