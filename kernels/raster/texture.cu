// texture and texture_grad kernels: one thread per pixel (definition, addressing, layout and costs
// in kernels/raster/texture.h). Built by nvcc (cuda_impl) and for the emulator (emu_impl). Version 1.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/raster/grad_accum.cuh"
#include "kernels/raster/texture.h"

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

constexpr unsigned kThreads = 256;

__device__ __forceinline__ bool background(const TextureParams& p, std::int64_t pixel) {
  return p.rast && static_cast<std::int32_t>(__float_as_uint(p.rast[4 * pixel + 3])) == -1;
}

__global__ void __launch_bounds__(kThreads) texture_kernel(TextureParams p) {
  const std::int64_t plane = static_cast<std::int64_t>(p.height) * p.width;
  const std::int64_t pixels = p.batch * plane, texels = static_cast<std::int64_t>(p.tex_height) * p.tex_width;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t pixel = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; pixel < pixels;
       pixel += stride) {
    float* out = p.out + pixel * p.channels;
    TexelQuad<float> q;
    if (background(p, pixel)) {
      for (std::int64_t c = 0; c < p.channels; ++c) out[c] = 0.0f;
      continue;
    }
    if (!texel_quad(p.uv[2 * pixel], p.uv[2 * pixel + 1], p.tex_height, p.tex_width, p.wrap, q)) {
      for (std::int64_t c = 0; c < p.channels; ++c) out[c] = __uint_as_float(0x7FC00000u);
      continue;
    }
    const float* t = p.tex + (p.tex_batched ? pixel / plane * texels * p.channels : 0);
    const float w[4] = {(1.0f - q.fx) * (1.0f - q.fy), q.fx * (1.0f - q.fy), (1.0f - q.fx) * q.fy, q.fx * q.fy};
    for (std::int64_t c = 0; c < p.channels; ++c) {
      float s = 0.0f;
      for (int k = 0; k < 4; ++k) s += w[k] * t[q.offset[k] * p.channels + c];
      out[c] = s;
    }
  }
}

__global__ void __launch_bounds__(kThreads) texture_grad_kernel(TextureParams p) {
  const std::int64_t plane = static_cast<std::int64_t>(p.height) * p.width;
  const std::int64_t pixels = p.batch * plane, texels = static_cast<std::int64_t>(p.tex_height) * p.tex_width;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t pixel = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; pixel < pixels;
       pixel += stride) {
    TexelQuad<float> q;
    if (background(p, pixel) ||
        !texel_quad(p.uv[2 * pixel], p.uv[2 * pixel + 1], p.tex_height, p.tex_width, p.wrap, q)) {
      continue;
    }
    const std::int64_t tbase = p.tex_batched ? pixel / plane * texels : 0;
    const float* t = p.tex + tbase * p.channels;
    const float w[4] = {(1.0f - q.fx) * (1.0f - q.fy), q.fx * (1.0f - q.fy), (1.0f - q.fx) * q.fy, q.fx * q.fy};
    float gx = 0.0f, gy = 0.0f;
    for (std::int64_t c = 0; c < p.channels; ++c) {
      const float g = p.grad_out[pixel * p.channels + c];
      if (g == 0.0f) continue;
      if (p.grad_tex.grad) {
        for (int k = 0; k < 4; ++k) grad_atomic_add(p.grad_tex, (tbase + q.offset[k]) * p.channels + c, w[k] * g);
      }
      const float t00 = t[q.offset[0] * p.channels + c], t10 = t[q.offset[1] * p.channels + c],
                  t01 = t[q.offset[2] * p.channels + c], t11 = t[q.offset[3] * p.channels + c];
      gx += g * ((1.0f - q.fy) * (t10 - t00) + q.fy * (t11 - t01));
      gy += g * ((1.0f - q.fx) * (t01 - t00) + q.fx * (t11 - t10));
    }
    if (p.grad_uv) {
      p.grad_uv[2 * pixel] += gx * static_cast<float>(p.tex_width);
      p.grad_uv[2 * pixel + 1] += gy * static_cast<float>(p.tex_height);
    }
  }
}

}  // namespace

void texture(const TextureParams& p, void* stream) {
  check_texture_params(p, false);
  const std::int64_t pixels = p.batch * p.height * p.width;
  if (pixels == 0) return;
  launch(texture_kernel, dim3(grid_blocks(pixels, kThreads)), dim3(kThreads), 0, stream, "texture", p);
}

void texture_grad(const TextureParams& p, void* stream) {
  check_texture_params(p, true);
  const std::int64_t pixels = p.batch * p.height * p.width;
  if (pixels == 0 || (!p.grad_tex.grad && !p.grad_uv)) return;
  const std::int64_t size =
      (p.tex_batched ? p.batch : 1) * static_cast<std::int64_t>(p.tex_height) * p.tex_width * p.channels;
  grad_accum_begin(p.grad_tex, size, stream);
  launch(texture_grad_kernel, dim3(grid_blocks(pixels, kThreads)), dim3(kThreads), 0, stream, "texture_grad", p);
  grad_accum_finish(p.grad_tex, size, stream);
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
