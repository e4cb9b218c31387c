// rasterize_grad kernel: one thread per pixel, warp-aggregated scatter of the 12 clip-coordinate
// gradients (definition, layout and costs in kernels/raster/rasterize_grad.h). Built by nvcc
// (cuda_impl) and for the emulator (emu_impl). Version 1.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/raster/grad_accum.cuh"
#include "kernels/raster/rasterize_grad.h"

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

constexpr unsigned kThreads = 256;

__global__ void __launch_bounds__(kThreads) rasterize_grad_kernel(RasterizeGradParams p) {
  const std::int64_t plane = static_cast<std::int64_t>(p.height) * p.width;
  const std::int64_t pixels = p.batch * plane;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t base = static_cast<std::int64_t>(blockIdx.x) * blockDim.x; base < pixels; base += stride) {
    const std::int64_t pixel = base + threadIdx.x;
    bool valid = false;
    long long key = -1;
    std::int64_t vi[3] = {0, 0, 0};
    float grad[3][4] = {};
    if (pixel < pixels) {
      const float* r = p.rast + 4 * pixel;
      const auto id = static_cast<std::int32_t>(__float_as_uint(r[3]));
      const float* g = p.grad_rast + 4 * pixel;
      if (id >= 0 && id < p.triangles && (g[0] != 0.0f || g[1] != 0.0f || g[2] != 0.0f)) {
        const std::int64_t b = pixel / plane, rem = pixel - b * plane;
        const int j = static_cast<int>(rem / p.width), i = static_cast<int>(rem - static_cast<std::int64_t>(j) * p.width);
        bool in_range = true;
        float c[3][4];
        for (int k = 0; k < 3; ++k) {
          const std::int64_t v = p.tri[3 * static_cast<std::int64_t>(id) + k];
          in_range = in_range && v >= 0 && v < p.vertices;
          vi[k] = b * p.vertices + (in_range ? v : 0);
          for (int e = 0; e < 4; ++e) c[k][e] = p.pos[4 * vi[k] + e];
        }
        valid = in_range && bary_backward(c, pixel_centre_ndc_x<float>(i, p.width),
                                          pixel_centre_ndc_y<float>(j, p.height), g[0], g[1], g[2], grad);
        if (valid) key = b * p.triangles + id;
      }
    }
    // Lanes on the same (image, triangle) share vi, so one segment adds to one set of vertices.
    const WarpSegment seg = warp_segment(key);
    for (int k = 0; k < 3; ++k) {
      for (int e = 0; e < 4; ++e) grad_warp_add(p.grad_pos, seg, valid, 4 * vi[k] + e, grad[k][e]);
    }
  }
}

}  // namespace

void rasterize_grad(const RasterizeGradParams& p, void* stream) {
  check_rasterize_grad_params(p);
  const std::int64_t pixels = p.batch * p.height * p.width;
  if (pixels == 0 || !p.grad_pos.grad) return;
  const std::int64_t size = p.batch * p.vertices * 4;
  grad_accum_begin(p.grad_pos, size, stream);
  launch(rasterize_grad_kernel, dim3(grid_blocks(pixels, kThreads)), dim3(kThreads), 0, stream, "rasterize_grad", p);
  grad_accum_finish(p.grad_pos, size, stream);
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
