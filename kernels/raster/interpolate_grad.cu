// interpolate_grad kernel: one thread per pixel, warp-aggregated attribute scatter (definition,
// layout and costs in kernels/raster/interpolate_grad.h). Built by nvcc (cuda_impl) and for the
// emulator (emu_impl). Version 1.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/raster/grad_accum.cuh"
#include "kernels/raster/interpolate_grad.h"

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

constexpr unsigned kThreads = 256;

__global__ void __launch_bounds__(kThreads) interpolate_grad_kernel(InterpolateGradParams p) {
  const std::int64_t plane = static_cast<std::int64_t>(p.height) * p.width;
  const std::int64_t pixels = p.batch * plane;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  // The loop bound is uniform over the block, so every lane reaches the warp collectives.
  for (std::int64_t base = static_cast<std::int64_t>(blockIdx.x) * blockDim.x; base < pixels; base += stride) {
    const std::int64_t pixel = base + threadIdx.x;
    bool valid = false;
    std::int64_t b = 0, t0 = 0, t1 = 0, t2 = 0;
    float u = 0.0f, v = 0.0f;
    long long key = -1;
    if (pixel < pixels) {
      const float* r = p.rast + 4 * pixel;
      const auto id = static_cast<std::int32_t>(__float_as_uint(r[3]));
      if (id >= 0 && id < p.triangles) {
        t0 = p.tri[3 * static_cast<std::int64_t>(id)];
        t1 = p.tri[3 * static_cast<std::int64_t>(id) + 1];
        t2 = p.tri[3 * static_cast<std::int64_t>(id) + 2];
        valid = t0 >= 0 && t0 < p.vertices && t1 >= 0 && t1 < p.vertices && t2 >= 0 && t2 < p.vertices;
        b = pixel / plane;
        u = r[0];
        v = r[1];
        if (valid) key = p.attr_batched ? b * p.triangles + id : id;
      }
    }
    const WarpSegment seg = warp_segment(key);
    const float w = 1.0f - u - v;
    const std::int64_t vbase = p.attr_batched ? b * p.vertices : 0;
    const float* a = p.attr + vbase * p.channels;
    float du = 0.0f, dv = 0.0f;
    for (std::int64_t c = 0; c < p.channels; ++c) {
      const float g = valid ? p.grad_out[pixel * p.channels + c] : 0.0f;
      if (valid && p.grad_rast) {
        const float a2 = a[t2 * p.channels + c];
        du += g * (a[t0 * p.channels + c] - a2);
        dv += g * (a[t1 * p.channels + c] - a2);
      }
      if (p.grad_attr.grad) {
        grad_warp_add(p.grad_attr, seg, valid, (vbase + t0) * p.channels + c, u * g);
        grad_warp_add(p.grad_attr, seg, valid, (vbase + t1) * p.channels + c, v * g);
        grad_warp_add(p.grad_attr, seg, valid, (vbase + t2) * p.channels + c, w * g);
      }
    }
    if (valid && p.grad_rast) {
      p.grad_rast[4 * pixel] += du;
      p.grad_rast[4 * pixel + 1] += dv;
    }
  }
}

}  // namespace

void interpolate_grad(const InterpolateGradParams& p, void* stream) {
  check_interpolate_grad_params(p);
  const std::int64_t pixels = p.batch * p.height * p.width;
  if (pixels == 0 || (!p.grad_attr.grad && !p.grad_rast)) return;
  const std::int64_t attr_size = (p.attr_batched ? p.batch : 1) * p.vertices * p.channels;
  grad_accum_begin(p.grad_attr, attr_size, stream);
  launch(interpolate_grad_kernel, dim3(grid_blocks(pixels, kThreads)), dim3(kThreads), 0, stream, "interpolate_grad",
         p);
  grad_accum_finish(p.grad_attr, attr_size, stream);
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
