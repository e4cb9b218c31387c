// interpolate_grad on the CPU: the reference for interpolate_grad.cu (definition in
// interpolate_grad.h), templated on float and double; the parameter checks and the dispatch.
#include "kernels/raster/interpolate_grad.h"

#include "core/error.h"
#include "kernels/common/dispatch.h"
#include "kernels/raster/interpolate.h"
#include "kernels/raster/rasterize.h"

namespace deeper::kernels {

namespace {
template <typename T>
void check_params(const InterpolateGradParamsT<T>& p) {
  DEEPER_CHECK(p.batch >= 0, "interpolate_grad: negative batch {}", p.batch);
  DEEPER_CHECK(p.vertices >= 1 && p.vertices <= INT32_MAX,
               "interpolate_grad: {} vertices is outside [1, 2^31 - 1]", p.vertices);
  DEEPER_CHECK(p.triangles >= 0 && p.triangles <= INT32_MAX,
               "interpolate_grad: {} triangles is outside [0, 2^31 - 1]", p.triangles);
  DEEPER_CHECK(p.channels >= 1 && p.channels <= kInterpolateMaxChannels,
               "interpolate_grad: {} channels is outside [1, {}]", p.channels, kInterpolateMaxChannels);
  DEEPER_CHECK(p.height >= 1 && p.height <= kRasterMaxSize && p.width >= 1 && p.width <= kRasterMaxSize,
               "interpolate_grad: image size {} x {} (H x W) is outside [1, {}] per side", p.height, p.width,
               kRasterMaxSize);
  if (p.batch == 0) return;
  DEEPER_CHECK(p.attr != nullptr && p.rast != nullptr && p.grad_out != nullptr,
               "interpolate_grad: null attributes, rasterize output or output gradient");
  DEEPER_CHECK(p.tri != nullptr || p.triangles == 0, "interpolate_grad: null triangles");
  DEEPER_CHECK(p.grad_attr.fixed == nullptr || p.grad_attr.grad != nullptr,
               "interpolate_grad: a fixed-point workspace without grad_attr");
  DEEPER_CHECK(p.grad_attr.fixed == nullptr || (p.grad_attr.bits >= 0 && p.grad_attr.bits <= 60),
               "interpolate_grad: grad_attr fixed-point bits {} is outside [0, 60]", p.grad_attr.bits);
}
}  // namespace

void check_interpolate_grad_params(const InterpolateGradParams& p) { check_params(p); }

namespace cpu_impl {

template <typename T>
void interpolate_grad(const InterpolateGradParamsT<T>& p) {
  check_params(p);
  const std::int64_t plane = static_cast<std::int64_t>(p.height) * p.width;
  const std::int64_t attr_size = (p.attr_batched ? p.batch : 1) * p.vertices * p.channels;
  if constexpr (sizeof(T) == sizeof(float)) grad_accum_begin(p.grad_attr, attr_size);
  // Images write disjoint attribute gradients only when attr is per image.
#pragma omp parallel for schedule(static) if (p.attr_batched)
  for (std::int64_t b = 0; b < p.batch; ++b) {
    const std::int64_t vbase = p.attr_batched ? b * p.vertices : 0;
    const T* a = p.attr + vbase * p.channels;
    for (std::int64_t pixel = b * plane; pixel < (b + 1) * plane; ++pixel) {
      const float* r = p.rast + 4 * pixel;
      const std::int32_t id = raster_pixel_id(r);
      if (id < 0 || id >= p.triangles) continue;
      const std::int64_t t0 = p.tri[3 * std::int64_t{id}], t1 = p.tri[3 * std::int64_t{id} + 1],
                         t2 = p.tri[3 * std::int64_t{id} + 2];
      if (t0 < 0 || t0 >= p.vertices || t1 < 0 || t1 >= p.vertices || t2 < 0 || t2 >= p.vertices) continue;
      const T u = r[0], v = r[1], w = T(1) - u - v;
      T du = 0, dv = 0;
      for (std::int64_t c = 0; c < p.channels; ++c) {
        const T g = p.grad_out[pixel * p.channels + c];
        const T a2 = a[t2 * p.channels + c];
        du += g * (a[t0 * p.channels + c] - a2);
        dv += g * (a[t1 * p.channels + c] - a2);
        if (p.grad_attr.grad) {
          grad_add_host(p.grad_attr, (vbase + t0) * p.channels + c, u * g);
          grad_add_host(p.grad_attr, (vbase + t1) * p.channels + c, v * g);
          grad_add_host(p.grad_attr, (vbase + t2) * p.channels + c, w * g);
        }
      }
      if (p.grad_rast) {
        p.grad_rast[4 * pixel] += du;
        p.grad_rast[4 * pixel + 1] += dv;
      }
    }
  }
  if constexpr (sizeof(T) == sizeof(float)) grad_accum_finish(p.grad_attr, attr_size);
}

template void interpolate_grad<float>(const InterpolateGradParamsT<float>&);
template void interpolate_grad<double>(const InterpolateGradParamsT<double>&);

}  // namespace cpu_impl

void interpolate_grad(const Device& device, const InterpolateGradParams& p, void* stream) {
  check_interpolate_grad_params(p);
  if (p.check_indices && p.batch > 0) check_triangle_indices(device, p.tri, p.triangles, p.vertices, "interpolate_grad");
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::interpolate_grad(p);
    case Backend::emu:
      return emu_impl::interpolate_grad(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::interpolate_grad(p, stream));
  }
}

}  // namespace deeper::kernels
