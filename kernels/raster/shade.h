// shade / shade_grad: per-pixel lighting of an albedo image given per-pixel normals, with one set of
// light parameters per image, and its backward pass to albedo, normals and light parameters.
//
// Inputs (NHWC, 3 colour channels): normal B x H x W x 3 (any length: normalised here, n^ = n/|n|,
// a zero normal shades as n^ = 0), albedo B x H x W x 3, light B x P. Models:
//   lambert  P = 9: light = (l_x, l_y, l_z, ambient_rgb, diffuse_rgb), l the direction towards the
//            light (normalised here, l^ = l/|l|); out_c = albedo_c (ambient_c + diffuse_c max(0, n^·l^)).
//   sh9      P = 27: light[c·9 + k] the second-order real spherical-harmonics coefficients of
//            colour c; out_c = albedo_c sum_k light[c·9 + k] Y_k(n^) with
//            Y = (0.282095, 0.488603 y, 0.488603 z, 0.488603 x, 1.092548 xy, 1.092548 yz,
//                 0.315392 (3z² - 1), 1.092548 xz, 0.546274 (x² - y²)).
// With `rast` given, background pixels (id -1) get 0 and no gradient.
//
// Backward (+=): grad_albedo and grad_normal per pixel (no atomics; through the normalisation:
// g_n = (g_n^ - n^ (n^·g_n^)) / |n|), and grad_light B x P: one block per image sums its pixels'
// contributions in registers, then a fixed-order shared-memory tree: deterministic (the same bits
// every run), no atomics. The Lambert max(0, ·) has a kink at n^·l^ = 0 (gradient 0 on the dark side).
//
// Kernels: forward one thread per pixel (~40 FLOPs lambert, ~60 sh9; 36 B read, 12 B written);
// backward one block of 256 threads per image, ~2-3x the forward FLOPs plus a P x 256 tree.
// CPU reference templated on float / double, OpenMP over images.
#pragma once

#include "kernels/common/hd.h"
#include "kernels/runtime/device.h"

#include <cstdint>

#if !defined(__CUDA_ARCH__)
#include <cmath>
#endif

namespace deeper::kernels {

enum class ShadeModel : std::uint32_t { lambert, sh9 };

inline constexpr int kShadeMaxLightParams = 27;

DEEPER_HD_INLINE int shade_light_params(ShadeModel m) { return m == ShadeModel::lambert ? 9 : 27; }

template <typename T>
struct ShadeParamsT {
  ShadeModel model = ShadeModel::lambert;
  std::int64_t batch = 0;
  int height = 0, width = 0;
  const T* normal = nullptr;    // batch x height x width x 3
  const T* albedo = nullptr;    // batch x height x width x 3
  const T* light = nullptr;     // batch x shade_light_params(model)
  const float* rast = nullptr;  // optional: batch x height x width x 4; background pixels give 0
  T* out = nullptr;             // forward: batch x height x width x 3
  // Backward (each optional, += ):
  const T* grad_out = nullptr;  // batch x height x width x 3
  T* grad_normal = nullptr;
  T* grad_albedo = nullptr;
  T* grad_light = nullptr;      // batch x P
};
using ShadeParams = ShadeParamsT<float>;

template <typename T>
DEEPER_HD_INLINE T shade_sqrt(T x) {
#if defined(__CUDA_ARCH__)
  return sqrt(x);
#else
  return std::sqrt(x);
#endif
}

// v / |v| (0 for a zero vector); returns |v|.
template <typename T>
DEEPER_HD_INLINE T shade_normalise(const T* v, T (&unit)[3]) {
  const T r = shade_sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  const T inv = r > T(0) ? T(1) / r : T(0);
  for (int k = 0; k < 3; ++k) unit[k] = v[k] * inv;
  return r;
}

template <typename T>
DEEPER_HD_INLINE void sh9_basis(const T (&n)[3], T (&y)[9]) {
  const T x = n[0], yy = n[1], z = n[2];
  y[0] = T(0.282095);
  y[1] = T(0.488603) * yy;
  y[2] = T(0.488603) * z;
  y[3] = T(0.488603) * x;
  y[4] = T(1.092548) * x * yy;
  y[5] = T(1.092548) * yy * z;
  y[6] = T(0.315392) * (T(3) * z * z - T(1));
  y[7] = T(1.092548) * x * z;
  y[8] = T(0.546274) * (x * x - yy * yy);
}

// The per-colour light factor s_c at unit normal n (out_c = albedo_c s_c).
template <typename T>
DEEPER_HD_INLINE void shade_factor(ShadeModel m, const T* light, const T (&n)[3], T (&s)[3]) {
  if (m == ShadeModel::lambert) {
    T l[3];
    shade_normalise(light, l);
    const T d = n[0] * l[0] + n[1] * l[1] + n[2] * l[2];
    const T lit = d > T(0) ? d : T(0);
    for (int c = 0; c < 3; ++c) s[c] = light[3 + c] + light[6 + c] * lit;
  } else {
    T y[9];
    sh9_basis(n, y);
    for (int c = 0; c < 3; ++c) {
      T acc = 0;
      for (int k = 0; k < 9; ++k) acc += light[9 * c + k] * y[k];
      s[c] = acc;
    }
  }
}

// Backward of one pixel. Adds to g_normal / g_albedo (per pixel) and to acc (P values, lambert:
// slots 0-2 hold d loss / d l^, the unit direction, converted by shade_light_finish).
template <typename T>
DEEPER_HD_INLINE void shade_pixel_grad(ShadeModel m, const T* light, const T* normal, const T* albedo, const T* g,
                                       T* g_normal, T* g_albedo, T* acc) {
  T n[3];
  const T r = shade_normalise(normal, n);
  T s[3];
  shade_factor(m, light, n, s);
  T gs[3];
  for (int c = 0; c < 3; ++c) {
    gs[c] = g[c] * albedo[c];
    if (g_albedo) g_albedo[c] += g[c] * s[c];
  }
  T gn[3] = {T(0), T(0), T(0)};
  if (m == ShadeModel::lambert) {
    T l[3];
    shade_normalise(light, l);
    const T d = n[0] * l[0] + n[1] * l[1] + n[2] * l[2];
    const T lit = d > T(0) ? d : T(0);
    T gd = 0;
    for (int c = 0; c < 3; ++c) {
      acc[3 + c] += gs[c];
      acc[6 + c] += gs[c] * lit;
      gd += gs[c] * light[6 + c];
    }
    if (d > T(0)) {
      for (int k = 0; k < 3; ++k) {
        gn[k] = gd * l[k];
        acc[k] += gd * n[k];
      }
    }
  } else {
    T y[9];
    sh9_basis(n, y);
    T gy[9] = {};
    for (int c = 0; c < 3; ++c) {
      for (int k = 0; k < 9; ++k) {
        acc[9 * c + k] += gs[c] * y[k];
        gy[k] += gs[c] * light[9 * c + k];
      }
    }
    const T x = n[0], yy = n[1], z = n[2];
    gn[0] = T(0.488603) * gy[3] + T(1.092548) * (yy * gy[4] + z * gy[7]) + T(1.092548) * x * gy[8];
    gn[1] = T(0.488603) * gy[1] + T(1.092548) * (x * gy[4] + z * gy[5]) - T(1.092548) * yy * gy[8];
    gn[2] = T(0.488603) * gy[2] + T(1.092548) * (yy * gy[5] + x * gy[7]) + T(1.892352) * z * gy[6];
  }
  if (g_normal && r > T(0)) {
    const T dot = n[0] * gn[0] + n[1] * gn[1] + n[2] * gn[2];
    for (int k = 0; k < 3; ++k) g_normal[k] += (gn[k] - n[k] * dot) / r;
  }
}

// Adds an image's summed acc (P values) to its grad_light.
template <typename T>
DEEPER_HD_INLINE void shade_light_finish(ShadeModel m, const T* light, const T* acc, T* grad_light) {
  if (m == ShadeModel::lambert) {
    T l[3];
    const T r = shade_normalise(light, l);
    const T dot = l[0] * acc[0] + l[1] * acc[1] + l[2] * acc[2];
    for (int k = 0; k < 3; ++k) grad_light[k] += r > T(0) ? (acc[k] - l[k] * dot) / r : T(0);
    for (int k = 3; k < 9; ++k) grad_light[k] += acc[k];
  } else {
    for (int k = 0; k < 27; ++k) grad_light[k] += acc[k];
  }
}

void check_shade_params(const ShadeParams& p, bool backward);

namespace cpu_impl {
template <typename T>
void shade(const ShadeParamsT<T>& p);  // float and double
template <typename T>
void shade_grad(const ShadeParamsT<T>& p);
}  // namespace cpu_impl
namespace emu_impl {
void shade(const ShadeParams& p, void* stream);
void shade_grad(const ShadeParams& p, void* stream);
}  // namespace emu_impl
namespace cuda_impl {
void shade(const ShadeParams& p, void* stream);
void shade_grad(const ShadeParams& p, void* stream);
}  // namespace cuda_impl

void shade(const Device& device, const ShadeParams& p, void* stream = nullptr);
void shade_grad(const Device& device, const ShadeParams& p, void* stream = nullptr);

}  // namespace deeper::kernels
