// The clearing and finishing passes of the deterministic (fixed-point) gradient accumulation
// (kernels/raster/grad_accum.h): one thread per value, grid-stride. Version 1.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/raster/grad_accum.h"

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

constexpr unsigned kThreads = 256;

__global__ void __launch_bounds__(kThreads) grad_fixed_clear_kernel(long long* fixed, std::int64_t size) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < size; i += stride) {
    fixed[i] = 0;
  }
}

__global__ void __launch_bounds__(kThreads) grad_fixed_finish_kernel(GradAccumT<float> a, std::int64_t size) {
  const float inv = 1.0f / grad_fixed_scale(a.bits);
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < size; i += stride) {
    a.grad[i] += static_cast<float>(a.fixed[i]) * inv;
  }
}

}  // namespace

void grad_accum_begin(const GradAccumT<float>& a, std::int64_t size, void* stream) {
  if (!a.fixed || !a.grad || size == 0) return;
  launch(grad_fixed_clear_kernel, dim3(grid_blocks(size, kThreads)), dim3(kThreads), 0, stream, "grad_fixed_clear",
         a.fixed, size);
}

void grad_accum_finish(const GradAccumT<float>& a, std::int64_t size, void* stream) {
  if (!a.fixed || !a.grad || size == 0) return;
  launch(grad_fixed_finish_kernel, dim3(grid_blocks(size, kThreads)), dim3(kThreads), 0, stream,
         "grad_fixed_finish", a, size);
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
