// Image composition kernels (definitions, layouts and costs in kernels/render/compose.h): one
// thread per pixel (compose_faces) or per value (to_bf16), grid-stride in int64. Built by nvcc
// (cuda_impl) and for the emulator (emu_impl); both evaluate compose_pixel as the cpu reference
// does. Version 3 (fused interpolation from rast + vertex attributes, optional bf16 output).
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/nn/optimizer.h"
#include "kernels/render/compose.h"

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

constexpr unsigned kThreads = 256;

__global__ void __launch_bounds__(kThreads) compose_kernel(ComposeParams p) {
  const std::int64_t total = p.batch * p.height * p.width;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    compose_pixel(p, i);
  }
}

__global__ void __launch_bounds__(kThreads) to_bf16_kernel(ToBf16Params p) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < p.count; i += stride) {
    p.out[i] = float_to_bf16_bits(p.in[i]);
  }
}

}  // namespace

void compose_faces(const ComposeParams& p, void* stream) {
  check_compose_params(p);
  const std::int64_t total = p.batch * p.height * p.width;
  if (total == 0) return;
  launch(compose_kernel, dim3(grid_blocks(total, kThreads)), dim3(kThreads), 0, stream, "compose_faces", p);
}

void to_bf16(const ToBf16Params& p, void* stream) {
  check_to_bf16_params(p);
  if (p.count == 0) return;
  launch(to_bf16_kernel, dim3(grid_blocks(p.count, kThreads)), dim3(kThreads), 0, stream, "to_bf16", p);
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
