// texture / texture_grad: bilinear sampling of a texture at per-pixel UV coordinates, and its
// backward pass to the texture and to the UVs.
//
// Texture: tex_height x tex_width texels of C channels (NHWC), one shared by every image
// (tex_batched false) or one per image (B x Ht x Wt x C). UV: B x H x W x 2 (u, v), e.g. from
// interpolate. Texel (i, j) (column i, row j, row 0 first in memory) has its centre at
// u = (i + 0.5) / Wt, v = (j + 0.5) / Ht. At (u, v): x = u Wt - 0.5, y = v Ht - 0.5,
// i0 = floor(x), fx = x - i0 (same for y), and
//   out[c] = (1-fx)(1-fy) t[j0, i0, c] + fx (1-fy) t[j0, i0+1, c] + (1-fx) fy t[j0+1, i0, c] + fx fy t[j0+1, i0+1, c].
// Addressing of texel indices outside the texture:
//   clamp  indices clamped to [0, Wt-1] x [0, Ht-1] (the border texels extend outwards; beyond the
//          outer texel centres the value is constant and d out / d uv = 0);
//   wrap   indices taken modulo Wt and Ht (a repeating texture; u and u + 1 sample the same value).
// A non-finite u or v gives NaN in every channel and no gradient. With `rast` given (the rasterize
// output), background pixels (id -1) get 0 and no gradient.
//
// Backward (+=): grad_tex[texel, c] += weight · g[c] for the 4 texels (atomics, fixed-point in
// deterministic mode; B x Ht x Wt x C or Ht x Wt x C summed over images), and
//   grad_uv[0] += Wt sum_c g[c] ((1-fy)(t10 - t00) + fy (t11 - t01)),
//   grad_uv[1] += Ht sum_c g[c] ((1-fx)(t01 - t00) + fx (t11 - t10)),
// (piecewise smooth: kinks where x or y crosses a texel centre).
//
// Kernels: one thread per pixel (channels in a loop; consecutive pixels read neighbouring texels).
// Cost per pixel and channel: 4 texel reads, ~8 FLOPs forward; backward 4 atomics and ~12 FLOPs.
// CPU reference templated on float / double, OpenMP over images (serial with a shared texture in
// the backward).
#pragma once

#include "kernels/common/hd.h"
#include "kernels/raster/grad_accum.h"
#include "kernels/runtime/device.h"

#include <cstdint>

#if !defined(__CUDA_ARCH__)
#include <cmath>
#endif

namespace deeper::kernels {

enum class TextureWrap : std::uint32_t { clamp, wrap };

inline constexpr int kTextureMaxSize = 16384;
inline constexpr std::int64_t kTextureMaxChannels = 1024;

template <typename T>
struct TextureParamsT {
  const T* tex = nullptr;  // tex_height x tex_width x channels, or batch x ... (tex_batched)
  bool tex_batched = false;
  int tex_height = 0, tex_width = 0;
  std::int64_t channels = 0;
  TextureWrap wrap = TextureWrap::clamp;
  std::int64_t batch = 0;
  int height = 0, width = 0;
  const T* uv = nullptr;        // batch x height x width x 2
  const float* rast = nullptr;  // optional: batch x height x width x 4; background pixels give 0
  T* out = nullptr;             // forward: batch x height x width x channels
  // Backward:
  const T* grad_out = nullptr;  // batch x height x width x channels
  GradAccumT<T> grad_tex;       // += shape of tex (nullptr: not computed)
  T* grad_uv = nullptr;         // += batch x height x width x 2 (nullptr: not computed)
};
using TextureParams = TextureParamsT<float>;

// The 4 texel indices (within one texture, times channels) and bilinear weights of a sample;
// false when u or v is not finite.
template <typename T>
struct TexelQuad {
  std::int64_t offset[4];  // texels (i0,j0), (i1,j0), (i0,j1), (i1,j1), as element offsets / channels
  T fx, fy;
};

template <typename T>
DEEPER_HD_INLINE int texel_floor(T x) {
#if defined(__CUDA_ARCH__)
  return static_cast<int>(floor(x));
#else
  return static_cast<int>(std::floor(x));
#endif
}

template <typename T>
DEEPER_HD_INLINE bool texel_quad(T u, T v, int th, int tw, TextureWrap wrap, TexelQuad<T>& q) {
  if (!(u - u == T(0)) || !(v - v == T(0))) return false;
  T x = u * static_cast<T>(tw) - T(0.5), y = v * static_cast<T>(th) - T(0.5);
  int ix[2], iy[2];
  if (wrap == TextureWrap::wrap) {
    // Reduce to [0, size): floor is piecewise constant, so d x / d u stays tw.
    x -= static_cast<T>(tw) * static_cast<T>(texel_floor(x / static_cast<T>(tw)));
    y -= static_cast<T>(th) * static_cast<T>(texel_floor(y / static_cast<T>(th)));
    ix[0] = texel_floor(x);
    iy[0] = texel_floor(y);
    q.fx = x - static_cast<T>(ix[0]);
    q.fy = y - static_cast<T>(iy[0]);
    ix[0] = ix[0] >= tw ? ix[0] - tw : (ix[0] < 0 ? ix[0] + tw : ix[0]);  // rounding at the ends
    iy[0] = iy[0] >= th ? iy[0] - th : (iy[0] < 0 ? iy[0] + th : iy[0]);
    ix[1] = ix[0] + 1 == tw ? 0 : ix[0] + 1;
    iy[1] = iy[0] + 1 == th ? 0 : iy[0] + 1;
  } else {
    // Beyond the outer texel centres both indices clamp to the same texel: keep x in [-1, tw].
    x = x < T(-1) ? T(-1) : (x > static_cast<T>(tw) ? static_cast<T>(tw) : x);
    y = y < T(-1) ? T(-1) : (y > static_cast<T>(th) ? static_cast<T>(th) : y);
    ix[0] = texel_floor(x);
    iy[0] = texel_floor(y);
    q.fx = x - static_cast<T>(ix[0]);
    q.fy = y - static_cast<T>(iy[0]);
    ix[1] = ix[0] + 1;
    iy[1] = iy[0] + 1;
    for (int k = 0; k < 2; ++k) {
      ix[k] = ix[k] < 0 ? 0 : (ix[k] > tw - 1 ? tw - 1 : ix[k]);
      iy[k] = iy[k] < 0 ? 0 : (iy[k] > th - 1 ? th - 1 : iy[k]);
    }
  }
  q.offset[0] = static_cast<std::int64_t>(iy[0]) * tw + ix[0];
  q.offset[1] = static_cast<std::int64_t>(iy[0]) * tw + ix[1];
  q.offset[2] = static_cast<std::int64_t>(iy[1]) * tw + ix[0];
  q.offset[3] = static_cast<std::int64_t>(iy[1]) * tw + ix[1];
  return true;
}

void check_texture_params(const TextureParams& p, bool backward);

namespace cpu_impl {
template <typename T>
void texture(const TextureParamsT<T>& p);  // float and double
template <typename T>
void texture_grad(const TextureParamsT<T>& p);
}  // namespace cpu_impl
namespace emu_impl {
void texture(const TextureParams& p, void* stream);
void texture_grad(const TextureParams& p, void* stream);
}  // namespace emu_impl
namespace cuda_impl {
void texture(const TextureParams& p, void* stream);
void texture_grad(const TextureParams& p, void* stream);
}  // namespace cuda_impl

void texture(const Device& device, const TextureParams& p, void* stream = nullptr);
void texture_grad(const Device& device, const TextureParams& p, void* stream = nullptr);

}  // namespace deeper::kernels
