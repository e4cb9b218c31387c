// texture and texture_grad on the CPU: the reference for texture.cu (definition in texture.h),
// templated on float and double; the parameter checks and the dispatch.
#include "kernels/raster/texture.h"

#include "core/error.h"
#include "kernels/common/dispatch.h"
#include "kernels/raster/rasterize.h"

#include <limits>

namespace deeper::kernels {

namespace {

template <typename T>
void check_params(const TextureParamsT<T>& p, bool backward) {
  const char* op = backward ? "texture_grad" : "texture";
  DEEPER_CHECK(p.batch >= 0, "{}: negative batch {}", op, p.batch);
  DEEPER_CHECK(p.tex_height >= 1 && p.tex_height <= kTextureMaxSize && p.tex_width >= 1 &&
                   p.tex_width <= kTextureMaxSize,
               "{}: texture size {} x {} (H x W) is outside [1, {}] per side", op, p.tex_height, p.tex_width,
               kTextureMaxSize);
  DEEPER_CHECK(p.channels >= 1 && p.channels <= kTextureMaxChannels, "{}: {} channels is outside [1, {}]", op,
               p.channels, kTextureMaxChannels);
  DEEPER_CHECK(p.wrap == TextureWrap::clamp || p.wrap == TextureWrap::wrap, "{}: unknown wrap mode {}", op,
               static_cast<std::uint32_t>(p.wrap));
  DEEPER_CHECK(p.height >= 1 && p.height <= kRasterMaxSize && p.width >= 1 && p.width <= kRasterMaxSize,
               "{}: image size {} x {} (H x W) is outside [1, {}] per side", op, p.height, p.width, kRasterMaxSize);
  if (p.batch == 0) return;
  DEEPER_CHECK(p.tex != nullptr && p.uv != nullptr, "{}: null texture or uv", op);
  if (backward) {
    DEEPER_CHECK(p.grad_out != nullptr, "{}: null output gradient", op);
    DEEPER_CHECK(p.grad_tex.fixed == nullptr || p.grad_tex.grad != nullptr,
                 "{}: a fixed-point workspace without grad_tex", op);
    DEEPER_CHECK(p.grad_tex.fixed == nullptr || (p.grad_tex.bits >= 0 && p.grad_tex.bits <= 60),
                 "{}: grad_tex fixed-point bits {} is outside [0, 60]", op, p.grad_tex.bits);
  } else {
    DEEPER_CHECK(p.out != nullptr, "{}: null output", op);
  }
}

template <typename T>
bool is_background(const TextureParamsT<T>& p, std::int64_t pixel) {
  return p.rast && raster_pixel_id(p.rast + 4 * pixel) == -1;
}

}  // namespace

void check_texture_params(const TextureParams& p, bool backward) { check_params(p, backward); }

namespace cpu_impl {

template <typename T>
void texture(const TextureParamsT<T>& p) {
  check_params(p, false);
  const std::int64_t plane = static_cast<std::int64_t>(p.height) * p.width;
  const std::int64_t texels = static_cast<std::int64_t>(p.tex_height) * p.tex_width;
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < p.batch; ++b) {
    const T* t = p.tex + (p.tex_batched ? b * texels * p.channels : 0);
    for (std::int64_t pixel = b * plane; pixel < (b + 1) * plane; ++pixel) {
      T* out = p.out + pixel * p.channels;
      TexelQuad<T> q;
      if (is_background(p, pixel)) {
        for (std::int64_t c = 0; c < p.channels; ++c) out[c] = T(0);
        continue;
      }
      if (!texel_quad(p.uv[2 * pixel], p.uv[2 * pixel + 1], p.tex_height, p.tex_width, p.wrap, q)) {
        for (std::int64_t c = 0; c < p.channels; ++c) out[c] = std::numeric_limits<T>::quiet_NaN();
        continue;
      }
      const T w[4] = {(T(1) - q.fx) * (T(1) - q.fy), q.fx * (T(1) - q.fy), (T(1) - q.fx) * q.fy, q.fx * q.fy};
      for (std::int64_t c = 0; c < p.channels; ++c) {
        T s = 0;
        for (int k = 0; k < 4; ++k) s += w[k] * t[q.offset[k] * p.channels + c];
        out[c] = s;
      }
    }
  }
}

template <typename T>
void texture_grad(const TextureParamsT<T>& p) {
  check_params(p, true);
  if (!p.grad_tex.grad && !p.grad_uv) return;
  const std::int64_t plane = static_cast<std::int64_t>(p.height) * p.width;
  const std::int64_t texels = static_cast<std::int64_t>(p.tex_height) * p.tex_width;
  const std::int64_t size = (p.tex_batched ? p.batch : 1) * texels * p.channels;
  if constexpr (sizeof(T) == sizeof(float)) grad_accum_begin(p.grad_tex, size);
#pragma omp parallel for schedule(static) if (p.tex_batched || !p.grad_tex.grad)
  for (std::int64_t b = 0; b < p.batch; ++b) {
    const std::int64_t tbase = p.tex_batched ? b * texels : 0;
    const T* t = p.tex + tbase * p.channels;
    for (std::int64_t pixel = b * plane; pixel < (b + 1) * plane; ++pixel) {
      TexelQuad<T> q;
      if (is_background(p, pixel) ||
          !texel_quad(p.uv[2 * pixel], p.uv[2 * pixel + 1], p.tex_height, p.tex_width, p.wrap, q)) {
        continue;
      }
      const T w[4] = {(T(1) - q.fx) * (T(1) - q.fy), q.fx * (T(1) - q.fy), (T(1) - q.fx) * q.fy, q.fx * q.fy};
      T gx = 0, gy = 0;
      for (std::int64_t c = 0; c < p.channels; ++c) {
        const T g = p.grad_out[pixel * p.channels + c];
        if (g == T(0)) continue;
        if (p.grad_tex.grad) {
          for (int k = 0; k < 4; ++k) grad_add_host(p.grad_tex, (tbase + q.offset[k]) * p.channels + c, w[k] * g);
        }
        const T t00 = t[q.offset[0] * p.channels + c], t10 = t[q.offset[1] * p.channels + c],
                t01 = t[q.offset[2] * p.channels + c], t11 = t[q.offset[3] * p.channels + c];
        gx += g * ((T(1) - q.fy) * (t10 - t00) + q.fy * (t11 - t01));
        gy += g * ((T(1) - q.fx) * (t01 - t00) + q.fx * (t11 - t10));
      }
      if (p.grad_uv) {
        p.grad_uv[2 * pixel] += gx * static_cast<T>(p.tex_width);
        p.grad_uv[2 * pixel + 1] += gy * static_cast<T>(p.tex_height);
      }
    }
  }
  if constexpr (sizeof(T) == sizeof(float)) grad_accum_finish(p.grad_tex, size);
}

template void texture<float>(const TextureParamsT<float>&);
template void texture<double>(const TextureParamsT<double>&);
template void texture_grad<float>(const TextureParamsT<float>&);
template void texture_grad<double>(const TextureParamsT<double>&);

}  // namespace cpu_impl

void texture(const Device& device, const TextureParams& p, void* stream) {
  check_texture_params(p, false);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::texture(p);
    case Backend::emu:
      return emu_impl::texture(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::texture(p, stream));
  }
}

void texture_grad(const Device& device, const TextureParams& p, void* stream) {
  check_texture_params(p, true);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::texture_grad(p);
    case Backend::emu:
      return emu_impl::texture_grad(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::texture_grad(p, stream));
  }
}

}  // namespace deeper::kernels
