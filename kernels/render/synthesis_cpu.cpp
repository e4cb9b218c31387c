// Face synthesis on the CPU: the reference for synthesis.cu and the cpu backend (definitions in
// synthesis.h), OpenMP over images / rows; also the parameter checks and the backend dispatch.
#include "kernels/render/synthesis.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/common/dispatch.h"

#include <cmath>
#include <cstdint>

namespace deeper::kernels {

namespace {
constexpr std::int64_t kMaxCount = std::int64_t{1} << 40;
}

void check_render_setup_params(const RenderSetupParams& p) {
  DEEPER_CHECK(p.batch >= 0 && p.batch <= kMaxCount, "render_setup: batch {} is outside [0, 2^40]", p.batch);
  DEEPER_CHECK(p.action_units >= 0 && p.action_units <= 4096, "render_setup: {} action units is outside [0, 4096]",
               p.action_units);
  if (!p.factors_in) {
    const FactorSampling& s = p.sampling;
    DEEPER_CHECK(s.identity_count >= 1, "render_setup: identity_count {} must be at least 1", s.identity_count);
    DEEPER_CHECK(s.fixed_identity < s.identity_count, "render_setup: fixed identity {} is outside [0, {})",
                 s.fixed_identity, s.identity_count);
    DEEPER_CHECK(s.fixed_expression < kFaceExpressions, "render_setup: fixed expression {} is outside [0, {})",
                 s.fixed_expression, kFaceExpressions);
    DEEPER_CHECK(s.lighting == Lighting::lambert || s.lighting == Lighting::sh9,
                 "render_setup: lighting model {} is not lambert (0) or sh9 (1)", static_cast<int>(s.lighting));
  }
  if (p.batch == 0) return;
  DEEPER_CHECK(p.setup != nullptr, "render_setup: null setup output");
  DEEPER_CHECK(p.action_units == 0 || (p.expression_weights != nullptr && p.expression_coef != nullptr),
               "render_setup: null expression weights or coefficients with {} action units", p.action_units);
}

void check_blend_rows_params(const BlendRowsParams& p) {
  DEEPER_CHECK(p.rows >= 0 && p.cols >= 0 && p.k >= 0 && p.rows <= kMaxCount && p.cols <= kMaxCount &&
                   p.k <= kMaxCount,
               "blend_rows: rows {}, cols {}, k {} must be in [0, 2^40]", p.rows, p.cols, p.k);
  DEEPER_CHECK(p.coef_stride >= p.k, "blend_rows: coefficient stride {} is below k = {}", p.coef_stride, p.k);
  if (p.rows == 0 || p.cols == 0) return;
  DEEPER_CHECK(p.out != nullptr, "blend_rows: null output");
  DEEPER_CHECK(p.k == 0 || (p.basis != nullptr && p.coef != nullptr), "blend_rows: null basis or coefficients");
  if (p.base) {
    DEEPER_CHECK(p.base_rows >= 1, "blend_rows: a base with {} rows", p.base_rows);
    DEEPER_CHECK(p.base_index != nullptr || p.base_rows >= p.rows,
                 "blend_rows: base has {} rows, fewer than the {} output rows (and no base_index)", p.base_rows,
                 p.rows);
    DEEPER_CHECK(p.base_index == nullptr || p.base_index_stride >= 1, "blend_rows: base_index stride {} < 1",
                 p.base_index_stride);
  }
}

void check_pose_project_params(const PoseProjectParams& p) {
  DEEPER_CHECK(p.batch >= 0 && p.batch <= kMaxCount, "pose_project: batch {} is outside [0, 2^40]", p.batch);
  DEEPER_CHECK(p.vertices >= 0 && p.vertices <= INT32_MAX, "pose_project: {} vertices is outside [0, 2^31 - 1]",
               p.vertices);
  DEEPER_CHECK(std::isfinite(p.distance) && p.distance > 0.0f, "pose_project: camera distance {} must be > 0",
               p.distance);
  for (int i = 0; i < 16; ++i) {
    DEEPER_CHECK(std::isfinite(p.projection[i]), "pose_project: projection matrix element {} is not finite", i);
  }
  for (int i = 0; i < 3; ++i) DEEPER_CHECK(std::isfinite(p.pivot[i]), "pose_project: pivot is not finite");
  if (p.batch * p.vertices == 0) return;
  DEEPER_CHECK(p.positions != nullptr && p.setup != nullptr && p.clip != nullptr,
               "pose_project: null positions, setup or clip output");
  DEEPER_CHECK(reinterpret_cast<std::uintptr_t>(p.clip) % 16 == 0, "pose_project: clip output is not 16-byte aligned");
}

void check_vertex_normals_params(const VertexNormalsParams& p) {
  DEEPER_CHECK(p.batch >= 0 && p.batch <= kMaxCount, "vertex_normals: batch {} is outside [0, 2^40]", p.batch);
  DEEPER_CHECK(p.vertices >= 0 && p.vertices <= INT32_MAX && p.triangles >= 0 && p.triangles <= INT32_MAX,
               "vertex_normals: {} vertices, {} triangles outside [0, 2^31 - 1]", p.vertices, p.triangles);
  if (p.batch * p.vertices == 0) return;
  DEEPER_CHECK(p.positions != nullptr && p.out != nullptr && p.adjacency_offsets != nullptr,
               "vertex_normals: null positions, output or adjacency offsets");
  DEEPER_CHECK(p.triangles == 0 || (p.tri != nullptr && p.adjacency != nullptr),
               "vertex_normals: null triangles or adjacency");
}

namespace cpu_impl {

void render_setup(const RenderSetupParams& p) {
  check_render_setup_params(p);
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < p.batch; ++b) render_setup_image(p, b);
}

// y[j] = fma(a, x[j], y[j]). Built twice (target_clones): with FMA instructions where the CPU has them
// (std::fma becomes one vfmadd, vectorised), else the portable libm call. Both round once per element,
// so the results are the same bits either way.
__attribute__((target_clones("fma", "default"))) void fma_axpy(float a, const float* x, float* y, std::int64_t n) {
  for (std::int64_t j = 0; j < n; ++j) y[j] = std::fma(a, x[j], y[j]);
}

void blend_rows(const BlendRowsParams& p) {
  check_blend_rows_params(p);
  if (p.cols == 0) return;
  // Column tiles in parallel; per tile every row, k outer and j inner: the same fma chain per output as
  // blend_value (bit-identical to it), vectorizable, and the tile's k basis rows (k x kTile floats)
  // stay in cache across the rows, so the basis is read from memory about once per call instead of
  // once per row (an identity texture is 196,608 columns x ~60 rows of basis: 47 MB).
  constexpr std::int64_t kTile = 1024;
  const std::int64_t tiles = (p.cols + kTile - 1) / kTile;
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t t = 0; t < tiles; ++t) {
    const std::int64_t j0 = t * kTile, j1 = std::min(p.cols, j0 + kTile);
    for (std::int64_t r = 0; r < p.rows; ++r) {
      float* out = p.out + r * p.cols;
      for (std::int64_t j = j0; j < j1; ++j) out[j] = blend_start(p, r, j);
      const float* c = p.coef + r * p.coef_stride;
      for (std::int64_t k = 0; k < p.k; ++k) fma_axpy(c[k], p.basis + k * p.cols + j0, out + j0, j1 - j0);
    }
  }
}

void pose_project(const PoseProjectParams& p) {
  check_pose_project_params(p);
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < p.batch; ++b) {
    for (std::int64_t v = 0; v < p.vertices; ++v) pose_project_vertex(p, b, v);
  }
}

void vertex_normals(const VertexNormalsParams& p) {
  check_vertex_normals_params(p);
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < p.batch; ++b) {
    for (std::int64_t v = 0; v < p.vertices; ++v) vertex_normal(p, b, v);
  }
}

}  // namespace cpu_impl

void render_setup(const Device& device, const RenderSetupParams& p, void* stream) {
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::render_setup(p);
    case Backend::emu:
      return emu_impl::render_setup(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::render_setup(p, stream));
  }
}

void blend_rows(const Device& device, const BlendRowsParams& p, void* stream) {
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::blend_rows(p);
    case Backend::emu:
      return emu_impl::blend_rows(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::blend_rows(p, stream));
  }
}

void pose_project(const Device& device, const PoseProjectParams& p, void* stream) {
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::pose_project(p);
    case Backend::emu:
      return emu_impl::pose_project(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::pose_project(p, stream));
  }
}

void vertex_normals(const Device& device, const VertexNormalsParams& p, void* stream) {
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::vertex_normals(p);
    case Backend::emu:
      return emu_impl::vertex_normals(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::vertex_normals(p, stream));
  }
}

}  // namespace deeper::kernels
