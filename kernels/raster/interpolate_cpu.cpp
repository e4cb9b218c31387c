// interpolate on the CPU: the reference for interpolate.cu and the cpu backend (definition in
// interpolate.h): interpolate_value for every output value, OpenMP over images. Also holds the
// parameter checks and the backend dispatch.
#include "kernels/raster/interpolate.h"

#include "core/error.h"
#include "kernels/common/dispatch.h"
#include "kernels/raster/rasterize.h"

namespace deeper::kernels {

void check_interpolate_params(const InterpolateParams& p) {
  DEEPER_CHECK(p.batch >= 0, "interpolate: negative batch {}", p.batch);
  DEEPER_CHECK(p.vertices >= 1 && p.vertices <= INT32_MAX,
               "interpolate: {} vertices is outside [1, 2^31 - 1] (int32 vertex indices)", p.vertices);
  DEEPER_CHECK(p.triangles >= 0 && p.triangles <= INT32_MAX,
               "interpolate: {} triangles is outside [0, 2^31 - 1] (int32 triangle ids)", p.triangles);
  DEEPER_CHECK(p.channels >= 1 && p.channels <= kInterpolateMaxChannels,
               "interpolate: {} channels is outside [1, {}]", p.channels, kInterpolateMaxChannels);
  DEEPER_CHECK(p.height >= 1 && p.height <= kRasterMaxSize && p.width >= 1 && p.width <= kRasterMaxSize,
               "interpolate: image size {} x {} (H x W) is outside [1, {}] per side", p.height, p.width,
               kRasterMaxSize);
  if (p.batch == 0) return;
  DEEPER_CHECK(p.attr != nullptr && p.rast != nullptr && p.out != nullptr,
               "interpolate: null attributes, rasterize output or output");
  DEEPER_CHECK(p.tri != nullptr || p.triangles == 0, "interpolate: null triangles");
}

namespace cpu_impl {

void interpolate(const InterpolateParams& p) {
  check_interpolate_params(p);
  const std::int64_t plane = static_cast<std::int64_t>(p.height) * p.width;
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < p.batch; ++b) {
    for (std::int64_t pixel = b * plane; pixel < (b + 1) * plane; ++pixel) {
      float* out = p.out + pixel * p.channels;
      for (std::int64_t c = 0; c < p.channels; ++c) out[c] = interpolate_value(p, pixel, c);
    }
  }
}

}  // namespace cpu_impl

void interpolate(const Device& device, const InterpolateParams& p, void* stream) {
  check_interpolate_params(p);
  if (p.check_indices && p.batch > 0) check_triangle_indices(device, p.tri, p.triangles, p.vertices, "interpolate");
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::interpolate(p);
    case Backend::emu:
      return emu_impl::interpolate(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::interpolate(p, stream));
  }
}

}  // namespace deeper::kernels
