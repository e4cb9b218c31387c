// rasterize kernels: clear, raster (one thread per image and triangle) and resolve (one thread per
// pixel). What they compute, the layout and the costs: kernels/raster/rasterize.h; the shared
// arithmetic: raster_math.h. Built by nvcc (cuda_impl) and for the emulator (emu_impl); the emulated
// build matches cpu_impl (rasterize_cpu.cpp) bit for bit, since both run raster_math.h and the
// z-buffer minimum does not depend on the order of the atomics.
//
// Version 1: a DRTK-like per-triangle bounding-box walk (rasterizer.md §8 argues it suits
// sub-pixel to few-pixel triangles). Next steps on a GPU: warp-cooperative walks for large
// triangles, and a binned path to compare at 224 px with 20k+ triangles.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/raster/rasterize.h"

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

constexpr unsigned kThreads = 256;

__device__ __forceinline__ raster::ClipVertex load_vertex(const float* pos, std::int64_t index) {
  const float4 v = *reinterpret_cast<const float4*>(pos + 4 * index);
  return {v.x, v.y, v.z, v.w};
}

__global__ void __launch_bounds__(kThreads) raster_clear_kernel(RasterizeParams p) {
  const std::int64_t pixels = p.batch * p.height * p.width;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < pixels; i += stride) {
    p.keys[i] = raster::kEmptyKey;
    if (p.fragments) p.fragments[i] = 0;
    if (p.culled && i < p.batch) p.culled[i] = 0;
  }
}

__global__ void __launch_bounds__(kThreads) raster_triangles_kernel(RasterizeParams p) {
  const std::int64_t total = p.batch * p.triangles;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  const std::int64_t plane = static_cast<std::int64_t>(p.height) * p.width;
  for (std::int64_t idx = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += stride) {
    const std::int64_t b = idx / p.triangles, t = idx - b * p.triangles;
    const std::int32_t i0 = p.tri[3 * t], i1 = p.tri[3 * t + 1], i2 = p.tri[3 * t + 2];
    raster::TriangleStatus status = raster::TriangleStatus::invalid;
    raster::TriangleSetup s;
    raster::ClipVertex v[3];
    if (i0 >= 0 && i0 < p.vertices && i1 >= 0 && i1 < p.vertices && i2 >= 0 && i2 < p.vertices) {
      const float* pos = p.pos + b * p.vertices * 4;
      v[0] = load_vertex(pos, i0);
      v[1] = load_vertex(pos, i1);
      v[2] = load_vertex(pos, i2);
      status = raster::setup_triangle(v, p.width, p.height, p.min_w, p.cull, s);
    }
    if (status == raster::TriangleStatus::invalid && p.culled) atomicAdd(&p.culled[b], 1u);
    if (status != raster::TriangleStatus::visible) continue;
    unsigned long long* keys = p.keys + b * plane;
    std::uint32_t* fragments = p.fragments ? p.fragments + b * plane : nullptr;
    const auto id = static_cast<std::int32_t>(t);
    raster::for_each_covered_pixel(s, [&](int i, int j) {
      const raster::PixelSample f =
          raster::sample_triangle(v, raster::pixel_ndc_x(i, p.width), raster::pixel_ndc_y(j, p.height));
      if (!f.ok) return;
      const std::int64_t pixel = static_cast<std::int64_t>(j) * p.width + i;
      atomicMin(&keys[pixel], raster::depth_key(f.depth, id));
      if (fragments) atomicAdd(&fragments[pixel], 1u);
    });
  }
}

__global__ void __launch_bounds__(kThreads) raster_resolve_kernel(RasterizeParams p) {
  const std::int64_t plane = static_cast<std::int64_t>(p.height) * p.width;
  const std::int64_t pixels = p.batch * plane;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t idx = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < pixels;
       idx += stride) {
    const unsigned long long key = p.keys[idx];
    float4 result = make_float4(0.0f, 0.0f, 0.0f, __int_as_float(-1));
    if (key != raster::kEmptyKey) {
      const std::int64_t b = idx / plane, rem = idx - b * plane;
      const int j = static_cast<int>(rem / p.width), i = static_cast<int>(rem - static_cast<std::int64_t>(j) * p.width);
      const auto t = static_cast<std::int32_t>(static_cast<std::uint32_t>(key));
      const float* pos = p.pos + b * p.vertices * 4;
      const raster::ClipVertex v[3] = {load_vertex(pos, p.tri[3 * static_cast<std::int64_t>(t)]),
                                       load_vertex(pos, p.tri[3 * static_cast<std::int64_t>(t) + 1]),
                                       load_vertex(pos, p.tri[3 * static_cast<std::int64_t>(t) + 2])};
      const raster::PixelSample f =
          raster::sample_triangle(v, raster::pixel_ndc_x(i, p.width), raster::pixel_ndc_y(j, p.height));
      result = make_float4(f.b0, f.b1, f.depth, __int_as_float(t));
    }
    reinterpret_cast<float4*>(p.out)[idx] = result;
  }
}

}  // namespace

void rasterize(const RasterizeParams& p, void* stream) {
  check_rasterize_params(p);
  const std::int64_t pixels = p.batch * p.height * p.width;
  if (pixels == 0) return;
  launch(raster_clear_kernel, dim3(grid_blocks(pixels, kThreads)), dim3(kThreads), 0, stream, "raster_clear", p);
  if (p.triangles > 0) {
    launch(raster_triangles_kernel, dim3(grid_blocks(p.batch * p.triangles, kThreads)), dim3(kThreads), 0, stream,
           "raster_triangles", p);
  }
  launch(raster_resolve_kernel, dim3(grid_blocks(pixels, kThreads)), dim3(kThreads), 0, stream, "raster_resolve",
         p);
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
