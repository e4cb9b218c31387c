// rasterize_grad: the backward pass of rasterize's barycentrics and depth (kernels/raster/rasterize.h)
// with respect to the clip-space vertex positions, as nvdiffrast's rasterize gradient: the triangle
// ids are piecewise constant (no visibility gradient here; antialias_grad adds the silhouettes).
//
// Forward at a pixel centre (NDC p_x, p_y) covered by triangle (v0, v1, v2), clip (x, y, z, w)_k:
//   q_k = (x_k - p_x w_k, y_k - p_y w_k),  a_0 = q_1 x q_2, a_1 = q_2 x q_0, a_2 = q_0 x q_1,
//   s = a_0 + a_1 + a_2,  b_k = a_k / s,  u = b_0, v = b_1,  depth = (sum a_k z_k) / (sum a_k w_k).
// Given G = d loss / d rast (B x H x W x 4: du, dv, d depth, channel 3 ignored), per covered pixel:
//   g_a_k = (G_k - (G_0 b_0 + G_1 b_1)) / s  (G_2 = 0)  +  G_depth (z_k - depth w_k) / (s w_c),
//   with w_c = sum b_k w_k; then through the cross products to q, and to clip space:
//   d/dx_k = g_qx_k, d/dy_k = g_qy_k, d/dw_k = -p_x g_qx_k - p_y g_qy_k - G_depth depth b_k / w_c,
//   d/dz_k = G_depth b_k / w_c,
// added (+=) to grad_pos (B x V x 4). Background pixels and invalid ids add nothing.
//
// Kernel: one thread per pixel (warp-uniform grid-stride loop), the 12 position gradients
// warp-aggregated over consecutive lanes on the same (image, triangle) (grad_accum.h), fixed-point
// in deterministic mode. Cost per covered pixel: 48 B of vertices and 16 + 16 B of rast and G read,
// ~120 FLOPs, 12 segmented reductions and up to 12 atomics per segment.
// CPU reference templated on float / double; bary_forward<T> is the forward in T for gradient checks.
#pragma once

#include "kernels/common/hd.h"
#include "kernels/raster/grad_accum.h"
#include "kernels/runtime/device.h"

#include <cstdint>

namespace deeper::kernels {

template <typename T>
struct RasterizeGradParamsT {
  const T* pos = nullptr;             // batch x vertices x 4 clip-space, as given to rasterize
  const std::int32_t* tri = nullptr;  // triangles x 3
  std::int64_t batch = 0, vertices = 0, triangles = 0;
  int height = 0, width = 0;
  const float* rast = nullptr;       // batch x height x width x 4, rasterize's output for pos
  const T* grad_rast = nullptr;      // batch x height x width x 4: d loss / d (u, v, depth, -)
  GradAccumT<T> grad_pos;            // += batch x vertices x 4
  bool check_indices = true;
};
using RasterizeGradParams = RasterizeGradParamsT<float>;

// NDC of the centre of column i / row j in T (raster_math.h's pixel_ndc_x/y in float).
template <typename T>
DEEPER_HD_INLINE T pixel_centre_ndc_x(int i, int width) {
  return static_cast<T>(2 * i + 1) / static_cast<T>(width) - T(1);
}
template <typename T>
DEEPER_HD_INLINE T pixel_centre_ndc_y(int j, int height) {
  return T(1) - static_cast<T>(2 * j + 1) / static_cast<T>(height);
}

// (u, v, depth) at NDC (px, py) of the triangle with clip vertices c[k][0..3] (plain arithmetic in T;
// rasterize's own float evaluation uses exact operations and may differ in the last bit).
template <typename T>
DEEPER_HD_INLINE void bary_forward(const T (&c)[3][4], T px, T py, T (&out)[3]) {
  T qx[3], qy[3];
  for (int k = 0; k < 3; ++k) {
    qx[k] = c[k][0] - px * c[k][3];
    qy[k] = c[k][1] - py * c[k][3];
  }
  const T a[3] = {qx[1] * qy[2] - qy[1] * qx[2], qx[2] * qy[0] - qy[2] * qx[0], qx[0] * qy[1] - qy[0] * qx[1]};
  const T s = a[0] + a[1] + a[2];
  out[0] = a[0] / s;
  out[1] = a[1] / s;
  out[2] = (a[0] * c[0][2] + a[1] * c[1][2] + a[2] * c[2][2]) / (a[0] * c[0][3] + a[1] * c[1][3] + a[2] * c[2][3]);
}

// d loss / d c[k][0..3] for the incoming (g_u, g_v, g_depth); false when the triangle is degenerate
// at this pixel (nothing to add).
template <typename T>
DEEPER_HD_INLINE bool bary_backward(const T (&c)[3][4], T px, T py, T gu, T gv, T gd, T (&grad)[3][4]) {
  T qx[3], qy[3];
  for (int k = 0; k < 3; ++k) {
    qx[k] = c[k][0] - px * c[k][3];
    qy[k] = c[k][1] - py * c[k][3];
  }
  const T a[3] = {qx[1] * qy[2] - qy[1] * qx[2], qx[2] * qy[0] - qy[2] * qx[0], qx[0] * qy[1] - qy[0] * qx[1]};
  const T s = a[0] + a[1] + a[2];
  if (!(s != T(0))) return false;
  const T inv_s = T(1) / s;
  const T b[3] = {a[0] * inv_s, a[1] * inv_s, a[2] * inv_s};
  const T wc = b[0] * c[0][3] + b[1] * c[1][3] + b[2] * c[2][3];
  if (!(wc != T(0))) return false;
  const T depth = (b[0] * c[0][2] + b[1] * c[1][2] + b[2] * c[2][2]) / wc;
  const T dot = gu * b[0] + gv * b[1];
  const T gb[3] = {gu, gv, T(0)};
  const T depth_scale = gd * inv_s / wc;
  T ga[3];
  for (int k = 0; k < 3; ++k) ga[k] = (gb[k] - dot) * inv_s + depth_scale * (c[k][2] - depth * c[k][3]);
  // a_0 = q1 x q2, a_1 = q2 x q0, a_2 = q0 x q1;  d(p x q)/dp = (q_y, -q_x), d/dq = (-p_y, p_x).
  T gqx[3] = {T(0), T(0), T(0)}, gqy[3] = {T(0), T(0), T(0)};
  for (int k = 0; k < 3; ++k) {
    const int m = (k + 1) % 3, n = (k + 2) % 3;  // a_k = q_m x q_n
    gqx[m] += ga[k] * qy[n];
    gqy[m] -= ga[k] * qx[n];
    gqx[n] -= ga[k] * qy[m];
    gqy[n] += ga[k] * qx[m];
  }
  const T gz = gd / wc;
  for (int k = 0; k < 3; ++k) {
    grad[k][0] = gqx[k];
    grad[k][1] = gqy[k];
    grad[k][2] = gz * b[k];
    grad[k][3] = -px * gqx[k] - py * gqy[k] - gz * depth * b[k];
  }
  return true;
}

void check_rasterize_grad_params(const RasterizeGradParams& p);

namespace cpu_impl {
template <typename T>
void rasterize_grad(const RasterizeGradParamsT<T>& p);  // float and double
}
namespace emu_impl {
void rasterize_grad(const RasterizeGradParams& p, void* stream);
}
namespace cuda_impl {
void rasterize_grad(const RasterizeGradParams& p, void* stream);
}

void rasterize_grad(const Device& device, const RasterizeGradParams& p, void* stream = nullptr);

}  // namespace deeper::kernels
