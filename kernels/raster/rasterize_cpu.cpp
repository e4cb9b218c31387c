// rasterize on the CPU: the reference for rasterize.cu and the cpu backend (definition in
// rasterize.h). Per image (OpenMP over images): clear the image's keys, raster its triangles in
// order with the same raster_math.h arithmetic (a plain minimum instead of the atomic), resolve its
// pixels. Also holds the parameter and index checks and the backend dispatch.
#include "kernels/raster/rasterize.h"

#include "core/error.h"
#include "kernels/common/dispatch.h"
#include "kernels/runtime/memory.h"

#include <cmath>
#include <vector>

namespace deeper::kernels {

namespace {

bool aligned16(const void* ptr) { return reinterpret_cast<std::uintptr_t>(ptr) % 16 == 0; }

}  // namespace

void check_rasterize_params(const RasterizeParams& p) {
  DEEPER_CHECK(p.batch >= 0, "rasterize: negative batch {}", p.batch);
  DEEPER_CHECK(p.vertices >= 1 && p.vertices <= INT32_MAX,
               "rasterize: {} vertices is outside [1, 2^31 - 1] (int32 vertex indices)", p.vertices);
  DEEPER_CHECK(p.triangles >= 0 && p.triangles <= INT32_MAX,
               "rasterize: {} triangles is outside [0, 2^31 - 1] (int32 triangle ids)", p.triangles);
  DEEPER_CHECK(p.height >= 1 && p.height <= kRasterMaxSize && p.width >= 1 && p.width <= kRasterMaxSize,
               "rasterize: image size {} x {} (H x W) is outside [1, {}] per side", p.height, p.width,
               kRasterMaxSize);
  DEEPER_CHECK(p.cull == RasterCull::none || p.cull == RasterCull::back || p.cull == RasterCull::front,
               "rasterize: unknown cull flag {} (none, back or front)", static_cast<std::uint32_t>(p.cull));
  DEEPER_CHECK(std::isfinite(p.min_w) && p.min_w >= 0.0f,
               "rasterize: min_w = {} must be finite and >= 0 (triangles with any w <= min_w are culled)",
               p.min_w);
  if (p.batch == 0) return;
  DEEPER_CHECK(p.pos != nullptr && p.out != nullptr && p.keys != nullptr,
               "rasterize: null vertex positions, output or key workspace");
  DEEPER_CHECK(p.tri != nullptr || p.triangles == 0, "rasterize: null triangles");
  DEEPER_CHECK(aligned16(p.pos) && aligned16(p.out),
               "rasterize: positions and output must be 16-byte aligned (they are read and written as float4)");
}

void check_triangle_indices(const Device& device, const std::int32_t* tri, std::int64_t triangles,
                            std::int64_t vertices, const char* op) {
  if (triangles <= 0) return;
  DEEPER_CHECK(tri != nullptr, "{}: null triangles", op);
  const std::int32_t* host = tri;
  std::vector<std::int32_t> copy;
  if (device.backend == Backend::cuda) {
    copy.resize(static_cast<std::size_t>(3 * triangles));
    copy_bytes(copy.data(), Device::cpu(), tri, device, copy.size() * sizeof(std::int32_t));
    host = copy.data();
  }
  for (std::int64_t t = 0; t < triangles; ++t) {
    for (int k = 0; k < 3; ++k) {
      const std::int32_t index = host[3 * t + k];
      DEEPER_CHECK(index >= 0 && index < vertices,
                   "{}: triangle {} has vertex index {} (corner {}), outside [0, {}) of the {} vertices", op, t,
                   index, k, vertices, vertices);
    }
  }
}

namespace cpu_impl {

void rasterize(const RasterizeParams& p) {
  check_rasterize_params(p);
  const std::int64_t plane = static_cast<std::int64_t>(p.height) * p.width;
  const auto load = [](const float* pos, std::int64_t index) {
    return raster::ClipVertex{pos[4 * index], pos[4 * index + 1], pos[4 * index + 2], pos[4 * index + 3]};
  };
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t b = 0; b < p.batch; ++b) {
    unsigned long long* keys = p.keys + b * plane;
    std::uint32_t* fragments = p.fragments ? p.fragments + b * plane : nullptr;
    const float* pos = p.pos + b * p.vertices * 4;
    for (std::int64_t i = 0; i < plane; ++i) keys[i] = raster::kEmptyKey;
    if (fragments) {
      for (std::int64_t i = 0; i < plane; ++i) fragments[i] = 0;
    }
    std::uint32_t culled = 0;
    for (std::int64_t t = 0; t < p.triangles; ++t) {
      const std::int32_t i0 = p.tri[3 * t], i1 = p.tri[3 * t + 1], i2 = p.tri[3 * t + 2];
      raster::TriangleStatus status = raster::TriangleStatus::invalid;
      raster::TriangleSetup s;
      raster::ClipVertex v[3];
      if (i0 >= 0 && i0 < p.vertices && i1 >= 0 && i1 < p.vertices && i2 >= 0 && i2 < p.vertices) {
        v[0] = load(pos, i0);
        v[1] = load(pos, i1);
        v[2] = load(pos, i2);
        status = raster::setup_triangle(v, p.width, p.height, p.min_w, p.cull, s);
      }
      if (status == raster::TriangleStatus::invalid) ++culled;
      if (status != raster::TriangleStatus::visible) continue;
      const auto id = static_cast<std::int32_t>(t);
      raster::for_each_covered_pixel(s, [&](int i, int j) {
        const raster::PixelSample f =
            raster::sample_triangle(v, raster::pixel_ndc_x(i, p.width), raster::pixel_ndc_y(j, p.height));
        if (!f.ok) return;
        const std::int64_t pixel = static_cast<std::int64_t>(j) * p.width + i;
        const unsigned long long key = raster::depth_key(f.depth, id);
        if (key < keys[pixel]) keys[pixel] = key;
        if (fragments) ++fragments[pixel];
      });
    }
    if (p.culled) p.culled[b] = culled;
    float* out = p.out + b * plane * 4;
    for (std::int64_t pixel = 0; pixel < plane; ++pixel) {
      const unsigned long long key = keys[pixel];
      float* o = out + 4 * pixel;
      if (key == raster::kEmptyKey) {
        o[0] = o[1] = o[2] = 0.0f;
        o[3] = rng::exact::from_bits(0xFFFFFFFFu);
        continue;
      }
      const int j = static_cast<int>(pixel / p.width), i = static_cast<int>(pixel % p.width);
      const auto t = static_cast<std::int64_t>(static_cast<std::uint32_t>(key));
      const raster::ClipVertex v[3] = {load(pos, p.tri[3 * t]), load(pos, p.tri[3 * t + 1]),
                                       load(pos, p.tri[3 * t + 2])};
      const raster::PixelSample f =
          raster::sample_triangle(v, raster::pixel_ndc_x(i, p.width), raster::pixel_ndc_y(j, p.height));
      o[0] = f.b0;
      o[1] = f.b1;
      o[2] = f.depth;
      o[3] = rng::exact::from_bits(static_cast<std::uint32_t>(t));
    }
  }
}

}  // namespace cpu_impl

void rasterize(const Device& device, const RasterizeParams& p, void* stream) {
  check_rasterize_params(p);
  if (p.check_indices && p.batch > 0) check_triangle_indices(device, p.tri, p.triangles, p.vertices, "rasterize");
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::rasterize(p);
    case Backend::emu:
      return emu_impl::rasterize(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::rasterize(p, stream));
  }
}

}  // namespace deeper::kernels
