// shade and shade_grad on the CPU: the reference for shade.cu (definition in shade.h), templated on
// float and double, OpenMP over images; the parameter checks and the dispatch.
#include "kernels/raster/shade.h"

#include "core/error.h"
#include "kernels/common/dispatch.h"
#include "kernels/raster/rasterize.h"

namespace deeper::kernels {

namespace {

template <typename T>
void check_params(const ShadeParamsT<T>& p, bool backward) {
  const char* op = backward ? "shade_grad" : "shade";
  DEEPER_CHECK(p.model == ShadeModel::lambert || p.model == ShadeModel::sh9, "{}: unknown shading model {}", op,
               static_cast<std::uint32_t>(p.model));
  DEEPER_CHECK(p.batch >= 0 && p.batch <= INT32_MAX, "{}: batch {} is outside [0, 2^31 - 1]", op, p.batch);
  DEEPER_CHECK(p.height >= 1 && p.height <= kRasterMaxSize && p.width >= 1 && p.width <= kRasterMaxSize,
               "{}: image size {} x {} (H x W) is outside [1, {}] per side", op, p.height, p.width, kRasterMaxSize);
  if (p.batch == 0) return;
  DEEPER_CHECK(p.normal != nullptr && p.albedo != nullptr && p.light != nullptr, "{}: null normals, albedo or light",
               op);
  if (backward) {
    DEEPER_CHECK(p.grad_out != nullptr, "{}: null output gradient", op);
  } else {
    DEEPER_CHECK(p.out != nullptr, "{}: null output", op);
  }
}

template <typename T>
bool is_background(const ShadeParamsT<T>& p, std::int64_t pixel) {
  return p.rast && raster_pixel_id(p.rast + 4 * pixel) == -1;
}

}  // namespace

void check_shade_params(const ShadeParams& p, bool backward) { check_params(p, backward); }

namespace cpu_impl {

template <typename T>
void shade(const ShadeParamsT<T>& p) {
  check_params(p, false);
  const std::int64_t plane = static_cast<std::int64_t>(p.height) * p.width;
  const int np = shade_light_params(p.model);
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < p.batch; ++b) {
    for (std::int64_t pixel = b * plane; pixel < (b + 1) * plane; ++pixel) {
      T* out = p.out + 3 * pixel;
      if (is_background(p, pixel)) {
        out[0] = out[1] = out[2] = T(0);
        continue;
      }
      T n[3], s[3];
      shade_normalise(p.normal + 3 * pixel, n);
      shade_factor(p.model, p.light + b * np, n, s);
      for (int c = 0; c < 3; ++c) out[c] = p.albedo[3 * pixel + c] * s[c];
    }
  }
}

template <typename T>
void shade_grad(const ShadeParamsT<T>& p) {
  check_params(p, true);
  const std::int64_t plane = static_cast<std::int64_t>(p.height) * p.width;
  const int np = shade_light_params(p.model);
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < p.batch; ++b) {
    T acc[kShadeMaxLightParams] = {};
    for (std::int64_t pixel = b * plane; pixel < (b + 1) * plane; ++pixel) {
      if (is_background(p, pixel)) continue;
      shade_pixel_grad(p.model, p.light + b * np, p.normal + 3 * pixel, p.albedo + 3 * pixel, p.grad_out + 3 * pixel,
                       p.grad_normal ? p.grad_normal + 3 * pixel : nullptr,
                       p.grad_albedo ? p.grad_albedo + 3 * pixel : nullptr, acc);
    }
    if (p.grad_light) shade_light_finish(p.model, p.light + b * np, acc, p.grad_light + b * np);
  }
}

template void shade<float>(const ShadeParamsT<float>&);
template void shade<double>(const ShadeParamsT<double>&);
template void shade_grad<float>(const ShadeParamsT<float>&);
template void shade_grad<double>(const ShadeParamsT<double>&);

}  // namespace cpu_impl

void shade(const Device& device, const ShadeParams& p, void* stream) {
  check_shade_params(p, false);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::shade(p);
    case Backend::emu:
      return emu_impl::shade(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::shade(p, stream));
  }
}

void shade_grad(const Device& device, const ShadeParams& p, void* stream) {
  check_shade_params(p, true);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::shade_grad(p);
    case Backend::emu:
      return emu_impl::shade_grad(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::shade_grad(p, stream));
  }
}

}  // namespace deeper::kernels
