// Face synthesis kernels: per-image factors and setup, the linear model's batched combinations,
// pose and perspective projection, and area-weighted vertex normals. Every value is computed with
// rng::exact operations in a fixed order, so cpu, emu and cuda produce the same bits, and an
// image's result does not depend on the batch it is rendered in.
//
// render_setup   one thread per image b: factors = factors_in[b], or sample_image_factors(sampling,
//                first_index + b) (kernels/render/face_factors.h); writes factors_out[b] (optional),
//                setup[b] = make_render_setup(factors) and expression_coef[b, a] = intensity ·
//                expression_weights[expression, a] (B x A). ~400 FLOPs per image (Philox, sincos).
//
// blend_rows     a gathered GEMM: out[r, j] = base[base_index[r], j] (or base[r, j], or 0) +
//                sum_k coef[r, k] · basis[k, j], the sum as fmas in increasing k starting from the
//                base value. Layout row-major: basis K x N, coef rows x coef_stride (first K used),
//                base base_rows x N, base_index an int32 every base_index_stride ints (so it can read
//                RenderSetup::identity in place). A base index outside [0, base_rows) gives NaN.
//                Used for identity shapes (coef = [design vector, shape coefficients], basis = [shape
//                GLM; shape basis]), identity textures (the same with the texture model) and per-image
//                expressions (base = the identity's shape, coef = expression_coef, basis =
//                blendshapes). Kernel: one thread per column j and a tile of 8 rows; the basis value
//                is read once per tile (coalesced), the coefficients are warp-uniform broadcasts.
//                Cost: 2 K FLOPs per output; 4 K B of basis per 8 outputs.
//
// pose_project   one thread per (image, vertex): d = v - pivot (mm, model space), c = scale · R d +
//                (0, 0, -distance) (camera space, the camera at the origin looking down -z),
//                clip = M (c, 1) with M the camera's projection matrix (kernels/raster/camera.h), then
//                clip.x += 2 tx clip.w, clip.y += 2 ty clip.w (an image-plane shift of tx, ty frames).
//                Writes clip (B x V x 4, for rasterize) and optionally camera (B x V x 3). ~60 FLOPs,
//                12 B read, 28 B written per vertex.
//
// vertex_normals one thread per (image, vertex): n = sum over the triangles t incident to the vertex
//                (CSR: adjacency_offsets V + 1, adjacency triangle ids, increasing) of
//                (p1 - p0) x (p2 - p0) (twice the area-weighted face normal), normalized (0 for a
//                zero sum); positions B x V x 3 (camera space), out B x V x 3. ~25 FLOPs and 36 B of
//                gathered positions per incident triangle.
//
// Errors (deeper::Error, before anything runs): null pointers, negative or oversized counts, bad
// strides, a non-finite camera matrix; render_setup also validates the sampling ranges' basic form
// (identity_count >= 1, fixed indices in range, a known lighting model) — the full range checks are
// renderer/factors.h's.
#pragma once

#include "kernels/render/face_factors.h"
#include "kernels/runtime/device.h"

#include <cstdint>

namespace deeper::kernels {

struct RenderSetupParams {
  std::int64_t batch = 0;
  std::uint64_t first_index = 0;
  FactorSampling sampling;
  const ImageFactors* factors_in = nullptr;  // optional: batch given factors instead of sampling
  ImageFactors* factors_out = nullptr;       // optional: batch
  const float* expression_weights = nullptr; // kFaceExpressions x action_units
  std::int32_t action_units = 0;
  float* expression_coef = nullptr;          // batch x action_units (may be null when A = 0)
  RenderSetup* setup = nullptr;              // batch
};

struct BlendRowsParams {
  const float* basis = nullptr;  // k x cols
  const float* coef = nullptr;   // rows x coef_stride
  std::int64_t coef_stride = 0;
  const float* base = nullptr;   // base_rows x cols, or null (0)
  std::int64_t base_rows = 0;
  const std::int32_t* base_index = nullptr;  // null: base row r for output row r
  std::int64_t base_index_stride = 1;        // in int32 units
  std::int64_t rows = 0, cols = 0, k = 0;
  float* out = nullptr;  // rows x cols
};

struct PoseProjectParams {
  std::int64_t batch = 0, vertices = 0;
  const float* positions = nullptr;     // batch x vertices x 3, model space (mm)
  const RenderSetup* setup = nullptr;   // batch
  float pivot[3] = {0.0f, 0.0f, 0.0f};  // model-space rotation centre (mm)
  float distance = 0.0f;                // camera-to-pivot distance (mm, > 0)
  float projection[16] = {};            // row-major, kernels/raster/camera.h projection_matrix
  float* camera = nullptr;              // optional: batch x vertices x 3
  float* clip = nullptr;                // batch x vertices x 4 (16-byte aligned)
};

struct VertexNormalsParams {
  std::int64_t batch = 0, vertices = 0, triangles = 0;
  const float* positions = nullptr;            // batch x vertices x 3
  const std::int32_t* tri = nullptr;           // triangles x 3
  const std::int32_t* adjacency_offsets = nullptr;  // vertices + 1
  const std::int32_t* adjacency = nullptr;          // adjacency_offsets[vertices] triangle ids
  float* out = nullptr;                        // batch x vertices x 3
};

// ---- per-element definitions, shared by every backend

DEEPER_HD_INLINE void render_setup_image(const RenderSetupParams& p, std::int64_t b) {
  namespace ex = rng::exact;
  const ImageFactors f = p.factors_in ? p.factors_in[b] : sample_image_factors(p.sampling, p.first_index + b);
  if (p.factors_out) p.factors_out[b] = f;
  p.setup[b] = make_render_setup(f);
  const bool known = f.expression >= 0 && f.expression < kFaceExpressions;
  for (std::int32_t a = 0; a < p.action_units; ++a) {
    p.expression_coef[b * p.action_units + a] =
        known ? ex::mul(f.intensity, p.expression_weights[f.expression * p.action_units + a])
              : ex::from_bits(0x7FC00000u);
  }
}

DEEPER_HD_INLINE float blend_start(const BlendRowsParams& p, std::int64_t r, std::int64_t j) {
  if (!p.base) return 0.0f;
  std::int64_t row = r;
  if (p.base_index) row = p.base_index[r * p.base_index_stride];
  if (row < 0 || row >= p.base_rows) return rng::exact::from_bits(0x7FC00000u);
  return p.base[row * p.cols + j];
}

// out[r, j] (the definition above), one output at a time: the reference the tiled kernel matches.
DEEPER_HD_INLINE float blend_value(const BlendRowsParams& p, std::int64_t r, std::int64_t j) {
  float acc = blend_start(p, r, j);
  const float* c = p.coef + r * p.coef_stride;
  for (std::int64_t k = 0; k < p.k; ++k) acc = rng::exact::fma(c[k], p.basis[k * p.cols + j], acc);
  return acc;
}

DEEPER_HD_INLINE void pose_project_vertex(const PoseProjectParams& p, std::int64_t b, std::int64_t v) {
  namespace ex = rng::exact;
  const RenderSetup& s = p.setup[b];
  const std::int64_t row = b * p.vertices + v;
  const float* x = p.positions + 3 * row;
  const float d[3] = {ex::sub(x[0], p.pivot[0]), ex::sub(x[1], p.pivot[1]), ex::sub(x[2], p.pivot[2])};
  float c[3];
  for (int i = 0; i < 3; ++i) {
    const float* r = s.rotation + 3 * i;
    c[i] = ex::mul(s.scale, ex::add(ex::add(ex::mul(r[0], d[0]), ex::mul(r[1], d[1])), ex::mul(r[2], d[2])));
  }
  c[2] = ex::sub(c[2], p.distance);
  if (p.camera) {
    for (int i = 0; i < 3; ++i) p.camera[3 * row + i] = c[i];
  }
  float q[4];
  for (int i = 0; i < 4; ++i) {
    const float* m = p.projection + 4 * i;
    q[i] = ex::add(ex::add(ex::add(ex::mul(m[0], c[0]), ex::mul(m[1], c[1])), ex::mul(m[2], c[2])), m[3]);
  }
  q[0] = ex::fma(ex::mul(2.0f, s.tx), q[3], q[0]);
  q[1] = ex::fma(ex::mul(2.0f, s.ty), q[3], q[1]);
  float* out = p.clip + 4 * row;
  for (int i = 0; i < 4; ++i) out[i] = q[i];
}

DEEPER_HD_INLINE void vertex_normal(const VertexNormalsParams& p, std::int64_t b, std::int64_t v) {
  namespace ex = rng::exact;
  const float* pos = p.positions + 3 * b * p.vertices;
  float n[3] = {0.0f, 0.0f, 0.0f};
  for (std::int32_t e = p.adjacency_offsets[v]; e < p.adjacency_offsets[v + 1]; ++e) {
    const std::int64_t t = p.adjacency[e];
    const float* a = pos + 3 * static_cast<std::int64_t>(p.tri[3 * t]);
    const float* bb = pos + 3 * static_cast<std::int64_t>(p.tri[3 * t + 1]);
    const float* c = pos + 3 * static_cast<std::int64_t>(p.tri[3 * t + 2]);
    const float u[3] = {ex::sub(bb[0], a[0]), ex::sub(bb[1], a[1]), ex::sub(bb[2], a[2])};
    const float w[3] = {ex::sub(c[0], a[0]), ex::sub(c[1], a[1]), ex::sub(c[2], a[2])};
    n[0] = ex::add(n[0], ex::sub(ex::mul(u[1], w[2]), ex::mul(u[2], w[1])));
    n[1] = ex::add(n[1], ex::sub(ex::mul(u[2], w[0]), ex::mul(u[0], w[2])));
    n[2] = ex::add(n[2], ex::sub(ex::mul(u[0], w[1]), ex::mul(u[1], w[0])));
  }
  const float len = ex::sqrt(ex::add(ex::add(ex::mul(n[0], n[0]), ex::mul(n[1], n[1])), ex::mul(n[2], n[2])));
  float* out = p.out + 3 * (b * p.vertices + v);
  for (int i = 0; i < 3; ++i) out[i] = len > 0.0f ? ex::div(n[i], len) : 0.0f;
}

// ---- checks, backends, dispatch

void check_render_setup_params(const RenderSetupParams& p);
void check_blend_rows_params(const BlendRowsParams& p);
void check_pose_project_params(const PoseProjectParams& p);
void check_vertex_normals_params(const VertexNormalsParams& p);

namespace cpu_impl {
void render_setup(const RenderSetupParams& p);
void blend_rows(const BlendRowsParams& p);
void pose_project(const PoseProjectParams& p);
void vertex_normals(const VertexNormalsParams& p);
}  // namespace cpu_impl
namespace emu_impl {
void render_setup(const RenderSetupParams& p, void* stream);
void blend_rows(const BlendRowsParams& p, void* stream);
void pose_project(const PoseProjectParams& p, void* stream);
void vertex_normals(const VertexNormalsParams& p, void* stream);
}  // namespace emu_impl
namespace cuda_impl {
void render_setup(const RenderSetupParams& p, void* stream);
void blend_rows(const BlendRowsParams& p, void* stream);
void pose_project(const PoseProjectParams& p, void* stream);
void vertex_normals(const VertexNormalsParams& p, void* stream);
}  // namespace cuda_impl

// Run on `device`'s backend (every pointer memory of that device); `stream` a Stream::native()
// handle, nullptr for the default stream.
void render_setup(const Device& device, const RenderSetupParams& p, void* stream = nullptr);
void blend_rows(const Device& device, const BlendRowsParams& p, void* stream = nullptr);
void pose_project(const Device& device, const PoseProjectParams& p, void* stream = nullptr);
void vertex_normals(const Device& device, const VertexNormalsParams& p, void* stream = nullptr);

}  // namespace deeper::kernels
