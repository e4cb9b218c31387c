// shade and shade_grad kernels: forward one thread per pixel; backward one block per image with a
// deterministic shared-memory reduction of the light gradient (definition, layout and costs in
// kernels/raster/shade.h). Built by nvcc (cuda_impl) and for the emulator (emu_impl). Version 1.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/raster/shade.h"

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

constexpr unsigned kThreads = 256;
constexpr unsigned kGradThreads = 128;

__device__ __forceinline__ bool background(const ShadeParams& p, std::int64_t pixel) {
  return p.rast && static_cast<std::int32_t>(__float_as_uint(p.rast[4 * pixel + 3])) == -1;
}

__global__ void __launch_bounds__(kThreads) shade_kernel(ShadeParams p) {
  const std::int64_t plane = static_cast<std::int64_t>(p.height) * p.width;
  const std::int64_t pixels = p.batch * plane;
  const int np = shade_light_params(p.model);
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t pixel = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; pixel < pixels;
       pixel += stride) {
    float* out = p.out + 3 * pixel;
    if (background(p, pixel)) {
      out[0] = out[1] = out[2] = 0.0f;
      continue;
    }
    float n[3], s[3];
    shade_normalise(p.normal + 3 * pixel, n);
    shade_factor(p.model, p.light + pixel / plane * np, n, s);
    for (int c = 0; c < 3; ++c) out[c] = p.albedo[3 * pixel + c] * s[c];
  }
}

// One block per image (blockIdx.x).
__global__ void __launch_bounds__(kGradThreads) shade_grad_kernel(ShadeParams p) {
  __shared__ float partial[kShadeMaxLightParams][kGradThreads];
  const std::int64_t plane = static_cast<std::int64_t>(p.height) * p.width;
  const std::int64_t b = blockIdx.x;
  const int np = shade_light_params(p.model);
  const float* light = p.light + b * np;
  float acc[kShadeMaxLightParams];
  for (int k = 0; k < kShadeMaxLightParams; ++k) acc[k] = 0.0f;
  for (std::int64_t rem = threadIdx.x; rem < plane; rem += blockDim.x) {
    const std::int64_t pixel = b * plane + rem;
    if (background(p, pixel)) continue;
    shade_pixel_grad(p.model, light, p.normal + 3 * pixel, p.albedo + 3 * pixel, p.grad_out + 3 * pixel,
                     p.grad_normal ? p.grad_normal + 3 * pixel : nullptr,
                     p.grad_albedo ? p.grad_albedo + 3 * pixel : nullptr, acc);
  }
  if (!p.grad_light) return;  // uniform over the block
  for (int k = 0; k < np; ++k) partial[k][threadIdx.x] = acc[k];
  __syncthreads();
  for (unsigned half = kGradThreads / 2; half > 0; half >>= 1) {
    if (threadIdx.x < half) {
      for (int k = 0; k < np; ++k) partial[k][threadIdx.x] += partial[k][threadIdx.x + half];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    float sum[kShadeMaxLightParams];
    for (int k = 0; k < np; ++k) sum[k] = partial[k][0];
    shade_light_finish(p.model, light, sum, p.grad_light + b * np);
  }
}

}  // namespace

void shade(const ShadeParams& p, void* stream) {
  check_shade_params(p, false);
  const std::int64_t pixels = p.batch * p.height * p.width;
  if (pixels == 0) return;
  launch(shade_kernel, dim3(grid_blocks(pixels, kThreads)), dim3(kThreads), 0, stream, "shade", p);
}

void shade_grad(const ShadeParams& p, void* stream) {
  check_shade_params(p, true);
  if (p.batch == 0 || (!p.grad_normal && !p.grad_albedo && !p.grad_light)) return;
  launch(shade_grad_kernel, dim3(static_cast<unsigned>(p.batch)), dim3(kGradThreads), 0, stream, "shade_grad", p);
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
