// antialias and antialias_grad kernels: one thread per pixel; antialias_edge_mask: one per (image,
// triangle) (definition, layout and costs in
// kernels/raster/antialias.h; the pair logic is aa_pair there, shared with the CPU reference).
// Built by nvcc (cuda_impl) and for the emulator (emu_impl). Version 2 (optional bf16 output).
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/raster/antialias.h"
#include "kernels/raster/grad_accum.cuh"

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

constexpr unsigned kThreads = 256;

// kBf16Only: out is null, the pixel accumulates in registers (aa_pixel_forward_bf16).
template <bool kBf16Only>
__global__ void __launch_bounds__(kThreads) antialias_kernel(AntialiasParams p) {
  const std::int64_t plane = static_cast<std::int64_t>(p.height) * p.width;
  const std::int64_t pixels = p.batch * plane;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t idx = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < pixels;
       idx += stride) {
    const std::int64_t b = idx / plane, rem = idx - b * plane;
    const int j = static_cast<int>(rem / p.width), i = static_cast<int>(rem - static_cast<std::int64_t>(j) * p.width);
    if constexpr (kBf16Only) {
      aa_pixel_forward_bf16(p, b, i, j);
    } else {
      float* out = p.out + idx * p.channels;
      aa_pixel_forward(p, b, i, j, out);
      if (p.out_bf16) {
        for (std::int64_t c = 0; c < p.channels; ++c) p.out_bf16[idx * p.channels + c] = float_to_bf16_bits(out[c]);
      }
    }
  }
}

__global__ void __launch_bounds__(kThreads) antialias_grad_kernel(AntialiasParams p) {
  const std::int64_t plane = static_cast<std::int64_t>(p.height) * p.width;
  const std::int64_t pixels = p.batch * plane;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t idx = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < pixels;
       idx += stride) {
    const std::int64_t b = idx / plane, rem = idx - b * plane;
    const int j = static_cast<int>(rem / p.width), i = static_cast<int>(rem - static_cast<std::int64_t>(j) * p.width);
    aa_pixel_backward(p, b, i, j, [&](std::int64_t at, float v) { grad_atomic_add(p.grad_pos, at, v); });
  }
}

// One thread per (image, triangle): its silhouette-edge mask.
__global__ void __launch_bounds__(kThreads) antialias_edge_mask_kernel(AntialiasEdgeMaskParams p) {
  const AntialiasParams g = p.geometry();
  const std::int64_t count = p.batch * p.triangles;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t idx = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < count;
       idx += stride) {
    const std::int64_t b = idx / p.triangles;
    p.mask[idx] = aa_triangle_mask(g, b, idx - b * p.triangles);
  }
}

}  // namespace

void antialias_edge_mask(const AntialiasEdgeMaskParams& p, void* stream) {
  check_antialias_edge_mask_params(p);
  const std::int64_t count = p.batch * p.triangles;
  if (count == 0) return;
  launch(antialias_edge_mask_kernel, dim3(grid_blocks(count, kThreads)), dim3(kThreads), 0, stream,
         "antialias_edge_mask", p);
}

void antialias(const AntialiasParams& p, void* stream) {
  check_antialias_params(p, false);
  const std::int64_t pixels = p.batch * p.height * p.width;
  if (pixels == 0) return;
  if (p.out) {
    launch(antialias_kernel<false>, dim3(grid_blocks(pixels, kThreads)), dim3(kThreads), 0, stream, "antialias", p);
  } else {
    launch(antialias_kernel<true>, dim3(grid_blocks(pixels, kThreads)), dim3(kThreads), 0, stream, "antialias", p);
  }
}

void antialias_grad(const AntialiasParams& p, void* stream) {
  check_antialias_params(p, true);
  const std::int64_t pixels = p.batch * p.height * p.width;
  if (pixels == 0 || (!p.grad_color && !p.grad_pos.grad)) return;
  const std::int64_t size = p.batch * p.vertices * 4;
  grad_accum_begin(p.grad_pos, size, stream);
  launch(antialias_grad_kernel, dim3(grid_blocks(pixels, kThreads)), dim3(kThreads), 0, stream, "antialias_grad", p);
  grad_accum_finish(p.grad_pos, size, stream);
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
