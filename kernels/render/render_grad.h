// Backward passes of the render pipeline's own kernels (kernels/render: compose, pose_project,
// vertex_normals, the linear model) and the factor gradients. Together with the raster family's
// backward ops (interpolate_grad, rasterize_grad, antialias_grad) they carry d loss / d image back
// to the face model's coefficients and the pose and light of every image (renderer/pipeline_grad.h).
// Every pass accumulates (+=) into the gradients it is given and skips those left null; callers zero
// them. CPU references are templated on float and double (double for gradient checks), with
// `*_ref<T>` forward helpers in T that mirror the float kernels (plain arithmetic, not rng::exact).
//
// compose_grad        backward of compose_faces (texture mode: per-image textures or one shared):
//                     out_c = clamp01(clamp01(a_c) s_c), a = bilinear(texture, uv) (clamp addressing),
//                     s = Lambert + ambient of light (9 values per image) at n^ = normal / |normal|, or
//                     with per-image lighting given (RenderSetup::lighting in place), 9 x RGB spherical
//                     harmonics (27 values) for the images whose lighting is 1 (sh9).
//                     Per face pixel: g_v = g_c where 0 < out_c < 1 (else 0: clamped), g_a = g_v s_c
//                     where 0 < a_c < 1; grad_tex[b] += bilinear weights x g_a (B x Ht x Wt x 3, one
//                     texture gradient per image; atomics, fixed-point in deterministic mode); grad_uv
//                     (B x H x W x 2) and grad_normal (B x H x W x 3) per pixel (no atomics); grad_light
//                     (B x 9, Lambert images) or grad_sh (B x 27, SH images) per image through
//                     kernels/raster/shade.h's helpers. Kernel: one block of 128 threads per image, a
//                     fixed-order shared-memory tree for the light sums (9 or 27 values; deterministic).
//                     Per face pixel ~150 FLOPs (~200 SH), 4 x 12 B of texels, 12 atomics.
// pose_project_grad   backward of pose_project: c = scale R (x - pivot) - (0, 0, distance),
//                     q = M (c, 1), clip = (q0 + 2 tx q3, q1 + 2 ty q3, q2, q3). From grad_clip (B x V x 4)
//                     and optionally grad_camera (B x V x 3, e.g. from the normals): grad_positions
//                     (B x V x 3 model space, per vertex) and grad_pose (B x 12: d R (row-major 3 x 3),
//                     d scale, d tx, d ty) per image. Pose read as 12 values (R, scale, tx, ty) every
//                     pose_stride values, so the pipeline reads RenderSetup in place. Kernel: one block
//                     of 128 threads per image, fixed-order tree (deterministic). ~90 FLOPs, 40 B read,
//                     12 B written per vertex.
// vertex_normals_grad backward of vertex_normals (raw normal r_v = sum over incident triangles of
//                     (p1 - p0) x (p2 - p0), n_v = r_v / |r_v|): pass 1 per (image, vertex):
//                     g_r = (g_n - n (n·g_n)) / |r| into a workspace (B x V x 3); pass 2 per (image,
//                     vertex u): a gather over u's incident triangles t of the cross product's
//                     derivative, with G_t = g_r[t0] + g_r[t1] + g_r[t2]: d/dp1 = (p2 - p0) x G,
//                     d/dp2 = G x (p1 - p0), d/dp0 = -(both). No atomics: deterministic.
//                     ~2 x the forward's cost.
// project_rows        the linear model's backward, a batched transposed GEMV: out[r, k] += sum_j
//                     basis[k, j] g[r, j] (basis K x N row-major, g rows x N with row stride g_stride,
//                     out rows x out_stride). d shape coefficients (basis = shape basis, g = d model-space
//                     vertices), d action-unit coefficients (blendshapes), d texture coefficients
//                     (texture basis, g = d texture). Kernels (deterministic, no atomics): pass 1, one
//                     block of 256 threads per (chunk of 2,048 columns, tile of 8 rows): each thread
//                     keeps 8 rows x 8 columns of g in registers and, for every k, multiplies them by
//                     its 8 basis values (each basis value read once per 8 rows), the 8 dot products
//                     summed by warp butterflies and a fixed-order sum over the 8 warps into a
//                     workspace (chunks x rows x k); pass 2 sums the chunks in order into out.
//                     Traffic: g read once (4 rows N B), the basis rows / 8 times (4 K N rows / 8 B);
//                     2 rows K N FLOPs.
// factor_grad         per image: d R -> d yaw, pitch, roll (R = Rz(roll) Rx(pitch) Ry(yaw), degrees);
//                     d light direction -> d azimuth, elevation (degrees); d ambient = sum of the three
//                     ambient channels, d diffuse the same; d intensity = sum_a w[expression, a]
//                     d coef[a]; scale, tx, ty copied. One thread per image, ~200 FLOPs.
//
// Errors (deeper::Error, before anything runs): null pointers, bad counts, strides or sizes.
#pragma once

#include "kernels/common/hd.h"
#include "kernels/raster/grad_accum.h"
#include "kernels/raster/rasterize.h"
#include "kernels/raster/shade.h"
#include "kernels/raster/texture.h"
#include "kernels/render/face_factors.h"
#include "kernels/runtime/device.h"

#include <cstdint>

#if !defined(__CUDA_ARCH__)
#include <cmath>
#endif

namespace deeper::kernels {

inline constexpr int kPoseGradValues = 12;   // d R (9), d scale, d tx, d ty
inline constexpr int kLightValues = 9;       // Lambert: direction, ambient rgb, diffuse rgb
inline constexpr int kShLightValues = 27;    // sh9: 9 coefficients per colour channel

// The shade model of image b of compose_grad (Lambert without per-image lighting).
template <typename Params>
DEEPER_HD_INLINE ShadeModel compose_grad_model(const Params& p, std::int64_t b) {
  return p.lighting && p.lighting[b * p.lighting_stride] != 0 ? ShadeModel::sh9 : ShadeModel::lambert;
}

template <typename T>
struct ComposeGradParamsT {
  std::int64_t batch = 0;
  int height = 0, width = 0;
  const float* rast = nullptr;  // batch x height x width x 4
  const T* uv = nullptr;        // batch x height x width x 2
  const T* normal = nullptr;    // batch x height x width x 3
  const T* textures = nullptr;  // tex_count x tex_height x tex_width x 3
  std::int64_t tex_count = 0;
  int tex_height = 0, tex_width = 0;
  bool shared_texture = false;                  // every image samples texture 0
  const std::int32_t* tex_index = nullptr;      // image b's texture: tex_index[b * tex_index_stride]
  std::int64_t tex_index_stride = 1;            // (ignored with shared_texture)
  const T* light = nullptr;                     // image b: light[b * light_stride .. + 9 or 27]
  std::int64_t light_stride = kLightValues;     // >= 27 when lighting is given
  const std::int32_t* lighting = nullptr;       // optional: image b's model lighting[b * lighting_stride]
  std::int64_t lighting_stride = 1;             // (0 lambert, 1 sh9); null: every image Lambert
  const T* grad_out = nullptr;  // batch x height x width x 3 (d loss / d composed colour)
  T* grad_uv = nullptr;         // += batch x height x width x 2
  T* grad_normal = nullptr;     // += batch x height x width x 3
  GradAccumT<T> grad_tex;       // += batch x tex_height x tex_width x 3 (per image)
  T* grad_light = nullptr;      // += batch x 9 (Lambert images; SH images add nothing)
  T* grad_sh = nullptr;         // += batch x 27 (SH images; Lambert images add nothing)
};
using ComposeGradParams = ComposeGradParamsT<float>;

template <typename T>
struct PoseProjectGradParamsT {
  std::int64_t batch = 0, vertices = 0;
  const T* positions = nullptr;     // batch x vertices x 3, model space
  const T* pose = nullptr;          // image b: pose[b * pose_stride .. + 12] = R (9), scale, tx, ty
  std::int64_t pose_stride = kPoseGradValues;
  T pivot[3] = {T(0), T(0), T(0)};
  T distance = T(0);
  T projection[16] = {};
  const T* grad_clip = nullptr;     // batch x vertices x 4
  const T* grad_camera = nullptr;   // optional: batch x vertices x 3
  T* grad_positions = nullptr;      // += batch x vertices x 3 (optional)
  T* grad_pose = nullptr;           // += batch x 12 (optional)
};
using PoseProjectGradParams = PoseProjectGradParamsT<float>;

template <typename T>
struct VertexNormalsGradParamsT {
  std::int64_t batch = 0, vertices = 0, triangles = 0;
  const T* positions = nullptr;                      // batch x vertices x 3
  const std::int32_t* tri = nullptr;                 // triangles x 3
  const std::int32_t* adjacency_offsets = nullptr;   // vertices + 1
  const std::int32_t* adjacency = nullptr;
  const T* grad_normal = nullptr;                    // batch x vertices x 3
  T* workspace = nullptr;                            // batch x vertices x 3 (overwritten)
  T* grad_positions = nullptr;                       // += batch x vertices x 3
};
using VertexNormalsGradParams = VertexNormalsGradParamsT<float>;

template <typename T>
struct ProjectRowsParamsT {
  const T* basis = nullptr;  // k x cols
  const T* g = nullptr;      // rows x g_stride (first cols used)
  std::int64_t g_stride = 0;
  std::int64_t rows = 0, cols = 0, k = 0;
  T* out = nullptr;          // += rows x out_stride (first k used)
  std::int64_t out_stride = 0;
  T* workspace = nullptr;    // emu / cuda: project_rows_workspace(rows, cols, k) values (cpu: unused)
};
using ProjectRowsParams = ProjectRowsParamsT<float>;

inline constexpr int kProjectRowsTile = 8;       // rows per block
inline constexpr int kProjectRowsChunk = 2048;   // columns per block (256 threads x 8)

// The workspace (values) the device kernels of project_rows need.
inline std::int64_t project_rows_workspace(std::int64_t rows, std::int64_t cols, std::int64_t k) {
  const std::int64_t chunks = (cols + kProjectRowsChunk - 1) / kProjectRowsChunk;
  return chunks * rows * k;
}

// d loss / d factor of one image (the continuous factors of kernels/render/face_factors.h).
template <typename T>
struct FactorGradsT {
  T intensity, yaw, pitch, roll, scale, tx, ty, light_azimuth, light_elevation, ambient, diffuse;
};
using FactorGrads = FactorGradsT<float>;

template <typename T>
struct FactorGradParamsT {
  std::int64_t batch = 0;
  const ImageFactors* factors = nullptr;  // batch
  const T* grad_pose = nullptr;           // batch x 12 (optional)
  const T* grad_light = nullptr;          // batch x 9 (optional)
  const T* grad_expression = nullptr;     // batch x action_units (optional)
  const float* expression_weights = nullptr;  // kFaceExpressions x action_units (with grad_expression)
  std::int32_t action_units = 0;
  FactorGradsT<T>* out = nullptr;         // batch, overwritten
};
using FactorGradParams = FactorGradParamsT<float>;

// ---- per-element helpers shared by every backend

template <typename T>
DEEPER_HD_INLINE T rg_sin(T x) {
#if defined(__CUDA_ARCH__)
  return sin(x);
#else
  return std::sin(x);
#endif
}
template <typename T>
DEEPER_HD_INLINE T rg_cos(T x) {
#if defined(__CUDA_ARCH__)
  return cos(x);
#else
  return std::cos(x);
#endif
}

template <typename T>
DEEPER_HD_INLINE void rg_mat3_mul(const T* a, const T* b, T* out) {
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) out[3 * r + c] = a[3 * r] * b[c] + a[3 * r + 1] * b[3 + c] + a[3 * r + 2] * b[6 + c];
  }
}

// R = Rz(roll) Rx(pitch) Ry(yaw) (degrees) in T, and with `which` = 0, 1, 2 its derivative by yaw,
// pitch or roll (per degree) instead.
template <typename T>
DEEPER_HD_INLINE void rotation_ref(T yaw, T pitch, T roll, int which, T* out) {
  const T k = T(3.14159265358979323846) / T(180);
  const T cy = rg_cos(yaw * k), sy = rg_sin(yaw * k), cp = rg_cos(pitch * k), sp = rg_sin(pitch * k);
  const T cr = rg_cos(roll * k), sr = rg_sin(roll * k);
  T ry[9] = {cy, T(0), sy, T(0), T(1), T(0), -sy, T(0), cy};
  T rx[9] = {T(1), T(0), T(0), T(0), cp, sp, T(0), -sp, cp};
  T rz[9] = {cr, -sr, T(0), sr, cr, T(0), T(0), T(0), T(1)};
  if (which == 0) {
    const T d[9] = {-sy * k, T(0), cy * k, T(0), T(0), T(0), -cy * k, T(0), -sy * k};
    for (int i = 0; i < 9; ++i) ry[i] = d[i];
  } else if (which == 1) {
    const T d[9] = {T(0), T(0), T(0), T(0), -sp * k, cp * k, T(0), -cp * k, -sp * k};
    for (int i = 0; i < 9; ++i) rx[i] = d[i];
  } else if (which == 2) {
    const T d[9] = {-sr * k, -cr * k, T(0), cr * k, -sr * k, T(0), T(0), T(0), T(0)};
    for (int i = 0; i < 9; ++i) rz[i] = d[i];
  }
  T m[9];
  rg_mat3_mul(rx, ry, m);
  rg_mat3_mul(rz, m, out);
}

// The light direction l = (cos el sin az, sin el, cos el cos az) and its derivatives per degree.
template <typename T>
DEEPER_HD_INLINE void light_direction_ref(T azimuth, T elevation, T (&l)[3], T (&d_az)[3], T (&d_el)[3]) {
  const T k = T(3.14159265358979323846) / T(180);
  const T ca = rg_cos(azimuth * k), sa = rg_sin(azimuth * k), ce = rg_cos(elevation * k), se = rg_sin(elevation * k);
  l[0] = ce * sa;
  l[1] = se;
  l[2] = ce * ca;
  d_az[0] = ce * ca * k;
  d_az[1] = T(0);
  d_az[2] = -ce * sa * k;
  d_el[0] = -se * sa * k;
  d_el[1] = ce * k;
  d_el[2] = -se * ca * k;
}

// The forward of pose_project for one vertex in T (pose = R (9), scale, tx, ty).
template <typename T>
DEEPER_HD_INLINE void pose_project_ref(const T* x, const T* pose, const T (&pivot)[3], T distance,
                                       const T (&m)[16], T (&camera)[3], T (&clip)[4]) {
  const T d[3] = {x[0] - pivot[0], x[1] - pivot[1], x[2] - pivot[2]};
  for (int i = 0; i < 3; ++i) camera[i] = pose[9] * (pose[3 * i] * d[0] + pose[3 * i + 1] * d[1] + pose[3 * i + 2] * d[2]);
  camera[2] -= distance;
  for (int i = 0; i < 4; ++i) clip[i] = m[4 * i] * camera[0] + m[4 * i + 1] * camera[1] + m[4 * i + 2] * camera[2] + m[4 * i + 3];
  clip[0] += T(2) * pose[10] * clip[3];
  clip[1] += T(2) * pose[11] * clip[3];
}

// The raw (unnormalised) vertex normal of vertex v of image positions `pos` (V x 3).
template <typename T>
DEEPER_HD_INLINE void vertex_normal_raw(const T* pos, const std::int32_t* tri, const std::int32_t* offsets,
                                        const std::int32_t* adjacency, std::int64_t v, T (&n)[3]) {
  n[0] = n[1] = n[2] = T(0);
  for (std::int32_t e = offsets[v]; e < offsets[v + 1]; ++e) {
    const std::int64_t t = adjacency[e];
    const T* a = pos + 3 * static_cast<std::int64_t>(tri[3 * t]);
    const T* b = pos + 3 * static_cast<std::int64_t>(tri[3 * t + 1]);
    const T* c = pos + 3 * static_cast<std::int64_t>(tri[3 * t + 2]);
    const T u[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
    const T w[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
    n[0] += u[1] * w[2] - u[2] * w[1];
    n[1] += u[2] * w[0] - u[0] * w[2];
    n[2] += u[0] * w[1] - u[1] * w[0];
  }
}

template <typename T>
DEEPER_HD_INLINE T rg_clamp01(T x) {
  return x < T(0) ? T(0) : (x > T(1) ? T(1) : x);
}

// The forward of compose_faces (texture mode) for one face pixel in T: out[0..2]; false for a bad
// texture index or a non-finite uv. light: 9 values (lambert) or 27 (sh9).
template <typename T>
DEEPER_HD_INLINE bool compose_pixel_ref(const T* tex, int th, int tw, const T* uv, const T* normal, const T* light,
                                        T* out, ShadeModel model = ShadeModel::lambert) {
  TexelQuad<T> q{};
  if (!texel_quad(uv[0], uv[1], th, tw, TextureWrap::clamp, q)) return false;
  const T w[4] = {(T(1) - q.fx) * (T(1) - q.fy), q.fx * (T(1) - q.fy), (T(1) - q.fx) * q.fy, q.fx * q.fy};
  T n[3], s[3];
  shade_normalise(normal, n);
  shade_factor(model, light, n, s);
  for (int c = 0; c < 3; ++c) {
    T a = T(0);
    for (int k = 0; k < 4; ++k) a += w[k] * tex[3 * q.offset[k] + c];
    out[c] = rg_clamp01(rg_clamp01(a) * s[c]);
  }
  return true;
}

// The backward of one face pixel of compose_faces. tex: the pixel's texture. Adds d loss / d uv and
// d normal to g_uv / g_normal (when given) and the light's per-pixel terms to acc (9 or 27, as
// shade_pixel_grad); calls tex_add(element offset within the texture, value) for the texture.
template <typename T, typename TexAdd>
DEEPER_HD_INLINE void compose_pixel_grad(ShadeModel model, const T* tex, int th, int tw, const T* uv, const T* normal,
                                         const T* light, const T* g, T* g_uv, T* g_normal, T* acc, TexAdd&& tex_add) {
  TexelQuad<T> q{};
  if (!texel_quad(uv[0], uv[1], th, tw, TextureWrap::clamp, q)) return;
  const T w[4] = {(T(1) - q.fx) * (T(1) - q.fy), q.fx * (T(1) - q.fy), (T(1) - q.fx) * q.fy, q.fx * q.fy};
  T n[3], s[3];
  shade_normalise(normal, n);
  shade_factor(model, light, n, s);
  T albedo[3], gv[3];
  T gx = T(0), gy = T(0);
  for (int c = 0; c < 3; ++c) {
    T t4[4];
    for (int k = 0; k < 4; ++k) t4[k] = tex[3 * q.offset[k] + c];
    const T a = w[0] * t4[0] + w[1] * t4[1] + w[2] * t4[2] + w[3] * t4[3];
    albedo[c] = rg_clamp01(a);
    const T v = albedo[c] * s[c];
    gv[c] = (v > T(0) && v < T(1)) ? g[c] : T(0);
    const T ga = (a > T(0) && a < T(1)) ? gv[c] * s[c] : T(0);
    if (ga != T(0)) {
      for (int k = 0; k < 4; ++k) tex_add(3 * q.offset[k] + c, w[k] * ga);
      gx += ga * ((T(1) - q.fy) * (t4[1] - t4[0]) + q.fy * (t4[3] - t4[2]));
      gy += ga * ((T(1) - q.fx) * (t4[2] - t4[0]) + q.fx * (t4[3] - t4[1]));
    }
  }
  if (g_uv) {
    g_uv[0] += gx * static_cast<T>(tw);
    g_uv[1] += gy * static_cast<T>(th);
  }
  shade_pixel_grad(model, light, normal, albedo, gv, g_normal, static_cast<T*>(nullptr), acc);
}

// pose_project_grad for one vertex: adds to g_x (3, model space, when given) and acc (12).
template <typename T>
DEEPER_HD_INLINE void pose_project_vertex_grad(const T* x, const T* pose, const T (&pivot)[3], T distance,
                                               const T (&m)[16], const T* g_clip, const T* g_cam, T* g_x, T* acc) {
  const T d[3] = {x[0] - pivot[0], x[1] - pivot[1], x[2] - pivot[2]};
  T rd[3];
  for (int i = 0; i < 3; ++i) rd[i] = pose[3 * i] * d[0] + pose[3 * i + 1] * d[1] + pose[3 * i + 2] * d[2];
  const T c[3] = {pose[9] * rd[0], pose[9] * rd[1], pose[9] * rd[2] - distance};
  const T q3 = m[12] * c[0] + m[13] * c[1] + m[14] * c[2] + m[15];
  const T gq[4] = {g_clip[0], g_clip[1], g_clip[2], g_clip[3] + T(2) * pose[10] * g_clip[0] + T(2) * pose[11] * g_clip[1]};
  acc[10] += T(2) * q3 * g_clip[0];
  acc[11] += T(2) * q3 * g_clip[1];
  T gc[3];
  for (int i = 0; i < 3; ++i) {
    gc[i] = m[i] * gq[0] + m[4 + i] * gq[1] + m[8 + i] * gq[2] + m[12 + i] * gq[3];
    if (g_cam) gc[i] += g_cam[i];
  }
  acc[9] += gc[0] * rd[0] + gc[1] * rd[1] + gc[2] * rd[2];
  const T grd[3] = {pose[9] * gc[0], pose[9] * gc[1], pose[9] * gc[2]};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) acc[3 * i + j] += grd[i] * d[j];
  }
  if (g_x) {
    for (int j = 0; j < 3; ++j) g_x[j] += pose[j] * grd[0] + pose[3 + j] * grd[1] + pose[6 + j] * grd[2];
  }
}

// vertex_normals_grad pass 1 for one vertex: the gradient of its raw normal into gr (3, written).
template <typename T>
DEEPER_HD_INLINE void normal_raw_grad(const VertexNormalsGradParamsT<T>& p, std::int64_t b, std::int64_t v) {
  T r[3];
  vertex_normal_raw(p.positions + 3 * b * p.vertices, p.tri, p.adjacency_offsets, p.adjacency, v, r);
  const std::int64_t row = 3 * (b * p.vertices + v);
  const T* g = p.grad_normal + row;
  T* out = p.workspace + row;
  const T len = shade_sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
  if (!(len > T(0))) {
    out[0] = out[1] = out[2] = T(0);
    return;
  }
  const T n[3] = {r[0] / len, r[1] / len, r[2] / len};
  const T dot = n[0] * g[0] + n[1] * g[1] + n[2] * g[2];
  for (int k = 0; k < 3; ++k) out[k] = (g[k] - n[k] * dot) / len;
}

// vertex_normals_grad pass 2 for vertex u: adds its position gradient.
template <typename T>
DEEPER_HD_INLINE void normal_position_grad(const VertexNormalsGradParamsT<T>& p, std::int64_t b, std::int64_t u) {
  const T* pos = p.positions + 3 * b * p.vertices;
  const T* gr = p.workspace + 3 * b * p.vertices;
  T acc[3] = {T(0), T(0), T(0)};
  for (std::int32_t e = p.adjacency_offsets[u]; e < p.adjacency_offsets[u + 1]; ++e) {
    const std::int64_t t = p.adjacency[e];
    const std::int64_t i0 = p.tri[3 * t], i1 = p.tri[3 * t + 1], i2 = p.tri[3 * t + 2];
    const T* a = pos + 3 * i0;
    const T* bb = pos + 3 * i1;
    const T* c = pos + 3 * i2;
    const T ab[3] = {bb[0] - a[0], bb[1] - a[1], bb[2] - a[2]};
    const T ac[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
    T G[3];
    for (int k = 0; k < 3; ++k) G[k] = gr[3 * i0 + k] + gr[3 * i1 + k] + gr[3 * i2 + k];
    const T d1[3] = {ac[1] * G[2] - ac[2] * G[1], ac[2] * G[0] - ac[0] * G[2], ac[0] * G[1] - ac[1] * G[0]};
    const T d2[3] = {G[1] * ab[2] - G[2] * ab[1], G[2] * ab[0] - G[0] * ab[2], G[0] * ab[1] - G[1] * ab[0]};
    // A degenerate triangle may list u twice: add once per role.
    for (int k = 0; k < 3; ++k) {
      if (i0 == u) acc[k] -= d1[k] + d2[k];
      if (i1 == u) acc[k] += d1[k];
      if (i2 == u) acc[k] += d2[k];
    }
  }
  T* out = p.grad_positions + 3 * (b * p.vertices + u);
  for (int k = 0; k < 3; ++k) out[k] += acc[k];
}

// factor_grad for image b.
template <typename T>
DEEPER_HD_INLINE void factor_grad_image(const FactorGradParamsT<T>& p, std::int64_t b) {
  const ImageFactors& f = p.factors[b];
  FactorGradsT<T> o{};
  if (p.grad_pose) {
    const T* gp = p.grad_pose + kPoseGradValues * b;
    T* slots[3] = {&o.yaw, &o.pitch, &o.roll};
    for (int which = 0; which < 3; ++which) {
      T dr[9];
      rotation_ref(static_cast<T>(f.yaw), static_cast<T>(f.pitch), static_cast<T>(f.roll), which, dr);
      T s = T(0);
      for (int i = 0; i < 9; ++i) s += gp[i] * dr[i];
      *slots[which] = s;
    }
    o.scale = gp[9];
    o.tx = gp[10];
    o.ty = gp[11];
  }
  if (p.grad_light) {
    const T* gl = p.grad_light + kLightValues * b;
    T l[3], da[3], de[3];
    light_direction_ref(static_cast<T>(f.light_azimuth), static_cast<T>(f.light_elevation), l, da, de);
    o.light_azimuth = gl[0] * da[0] + gl[1] * da[1] + gl[2] * da[2];
    o.light_elevation = gl[0] * de[0] + gl[1] * de[1] + gl[2] * de[2];
    o.ambient = gl[3] + gl[4] + gl[5];
    o.diffuse = gl[6] + gl[7] + gl[8];
  }
  if (p.grad_expression && f.expression >= 0 && f.expression < kFaceExpressions) {
    T s = T(0);
    for (std::int32_t a = 0; a < p.action_units; ++a) {
      s += static_cast<T>(p.expression_weights[f.expression * p.action_units + a]) * p.grad_expression[b * p.action_units + a];
    }
    o.intensity = s;
  }
  p.out[b] = o;
}

// ---- checks, backends, dispatch

void check_compose_grad_params(const ComposeGradParams& p);
void check_pose_project_grad_params(const PoseProjectGradParams& p);
void check_vertex_normals_grad_params(const VertexNormalsGradParams& p);
void check_project_rows_params(const ProjectRowsParams& p);
void check_project_rows_workspace(const ProjectRowsParams& p);  // the device backends' extra check
void check_factor_grad_params(const FactorGradParams& p);

namespace cpu_impl {
template <typename T>
void compose_grad(const ComposeGradParamsT<T>& p);  // float and double
template <typename T>
void pose_project_grad(const PoseProjectGradParamsT<T>& p);
template <typename T>
void vertex_normals_grad(const VertexNormalsGradParamsT<T>& p);
template <typename T>
void project_rows(const ProjectRowsParamsT<T>& p);
template <typename T>
void factor_grad(const FactorGradParamsT<T>& p);
}  // namespace cpu_impl
namespace emu_impl {
void compose_grad(const ComposeGradParams& p, void* stream);
void pose_project_grad(const PoseProjectGradParams& p, void* stream);
void vertex_normals_grad(const VertexNormalsGradParams& p, void* stream);
void project_rows(const ProjectRowsParams& p, void* stream);
void factor_grad(const FactorGradParams& p, void* stream);
}  // namespace emu_impl
namespace cuda_impl {
void compose_grad(const ComposeGradParams& p, void* stream);
void pose_project_grad(const PoseProjectGradParams& p, void* stream);
void vertex_normals_grad(const VertexNormalsGradParams& p, void* stream);
void project_rows(const ProjectRowsParams& p, void* stream);
void factor_grad(const FactorGradParams& p, void* stream);
}  // namespace cuda_impl

void compose_grad(const Device& device, const ComposeGradParams& p, void* stream = nullptr);
void pose_project_grad(const Device& device, const PoseProjectGradParams& p, void* stream = nullptr);
void vertex_normals_grad(const Device& device, const VertexNormalsGradParams& p, void* stream = nullptr);
void project_rows(const Device& device, const ProjectRowsParams& p, void* stream = nullptr);
void factor_grad(const Device& device, const FactorGradParams& p, void* stream = nullptr);

}  // namespace deeper::kernels
