// The render pipeline's backward passes on the CPU: the reference for render_grad.cu (definitions in
// render_grad.h), templated on float and double, OpenMP over images; the checks and the dispatch.
#include "kernels/render/render_grad.h"

#include "core/error.h"
#include "kernels/common/dispatch.h"

#include <vector>

namespace deeper::kernels {

namespace {

template <typename T>
void check_compose(const ComposeGradParamsT<T>& p) {
  DEEPER_CHECK(p.batch >= 0 && p.batch <= INT32_MAX, "compose_grad: batch {} is outside [0, 2^31 - 1]", p.batch);
  DEEPER_CHECK(p.height >= 1 && p.height <= kRasterMaxSize && p.width >= 1 && p.width <= kRasterMaxSize,
               "compose_grad: image size {} x {} (H x W) is outside [1, {}] per side", p.height, p.width,
               kRasterMaxSize);
  DEEPER_CHECK(p.tex_height >= 1 && p.tex_height <= kTextureMaxSize && p.tex_width >= 1 && p.tex_width <= kTextureMaxSize,
               "compose_grad: texture size {} x {} is outside [1, {}] per side", p.tex_height, p.tex_width,
               kTextureMaxSize);
  DEEPER_CHECK(p.tex_count >= 1, "compose_grad: {} textures (need at least 1)", p.tex_count);
  DEEPER_CHECK(p.light_stride >= (p.lighting ? kShLightValues : kLightValues),
               "compose_grad: light stride {} is below {}", p.light_stride, p.lighting ? kShLightValues : kLightValues);
  DEEPER_CHECK(!p.lighting || p.lighting_stride >= 1, "compose_grad: lighting stride {} is below 1",
               p.lighting_stride);
  DEEPER_CHECK(p.shared_texture || p.tex_index_stride >= 1, "compose_grad: texture index stride {} is below 1",
               p.tex_index_stride);
  if (p.batch == 0) return;
  DEEPER_CHECK(p.rast && p.uv && p.normal && p.textures && p.light && p.grad_out,
               "compose_grad: null rast, uv, normal, textures, light or output gradient");
  DEEPER_CHECK(p.shared_texture || p.tex_index, "compose_grad: null texture indices (and no shared texture)");
  DEEPER_CHECK(!p.grad_tex.fixed || p.grad_tex.grad, "compose_grad: a fixed-point workspace without a gradient");
  DEEPER_CHECK(p.grad_tex.bits >= 0 && p.grad_tex.bits <= 60, "compose_grad: fixed-point bits {} outside [0, 60]",
               p.grad_tex.bits);
}

template <typename T>
void check_pose(const PoseProjectGradParamsT<T>& p) {
  DEEPER_CHECK(p.batch >= 0 && p.batch <= INT32_MAX && p.vertices >= 0 && p.vertices <= INT32_MAX,
               "pose_project_grad: batch {} or vertices {} outside [0, 2^31 - 1]", p.batch, p.vertices);
  DEEPER_CHECK(p.pose_stride >= kPoseGradValues, "pose_project_grad: pose stride {} is below 12", p.pose_stride);
  DEEPER_CHECK(p.distance > T(0), "pose_project_grad: camera distance {} is not positive",
               static_cast<double>(p.distance));
  for (int i = 0; i < 16; ++i) {
    DEEPER_CHECK(std::isfinite(static_cast<double>(p.projection[i])), "pose_project_grad: projection matrix entry {} is not finite", i);
  }
  if (p.batch == 0 || p.vertices == 0) return;
  DEEPER_CHECK(p.positions && p.pose && p.grad_clip, "pose_project_grad: null positions, pose or clip gradient");
}

template <typename T>
void check_normals(const VertexNormalsGradParamsT<T>& p) {
  DEEPER_CHECK(p.batch >= 0 && p.batch <= INT32_MAX && p.vertices >= 0 && p.vertices <= INT32_MAX &&
                   p.triangles >= 0 && p.triangles <= INT32_MAX,
               "vertex_normals_grad: batch {}, vertices {} or triangles {} outside [0, 2^31 - 1]", p.batch, p.vertices,
               p.triangles);
  if (p.batch == 0 || p.vertices == 0) return;
  DEEPER_CHECK(p.positions && p.tri && p.adjacency_offsets && p.adjacency && p.grad_normal && p.workspace &&
                   p.grad_positions,
               "vertex_normals_grad: null positions, triangles, adjacency, normal gradient, workspace or output");
}

template <typename T>
void check_rows(const ProjectRowsParamsT<T>& p) {
  DEEPER_CHECK(p.rows >= 0 && p.rows <= INT32_MAX && p.k >= 0 && p.k <= INT32_MAX && p.cols >= 0,
               "project_rows: rows {}, k {} or cols {} out of range", p.rows, p.k, p.cols);
  DEEPER_CHECK(p.g_stride >= p.cols && p.out_stride >= p.k, "project_rows: g stride {} < cols {} or out stride {} < k {}",
               p.g_stride, p.cols, p.out_stride, p.k);
  if (p.rows == 0 || p.k == 0) return;
  DEEPER_CHECK(p.out && (p.cols == 0 || (p.basis && p.g)), "project_rows: null basis, gradient or output");
}

template <typename T>
void check_factors(const FactorGradParamsT<T>& p) {
  DEEPER_CHECK(p.batch >= 0 && p.batch <= INT32_MAX, "factor_grad: batch {} is outside [0, 2^31 - 1]", p.batch);
  DEEPER_CHECK(p.action_units >= 0, "factor_grad: {} action units", p.action_units);
  if (p.batch == 0) return;
  DEEPER_CHECK(p.factors && p.out, "factor_grad: null factors or output");
  DEEPER_CHECK(!p.grad_expression || p.action_units == 0 || p.expression_weights,
               "factor_grad: an expression gradient without expression weights");
}

}  // namespace

void check_compose_grad_params(const ComposeGradParams& p) { check_compose(p); }
void check_pose_project_grad_params(const PoseProjectGradParams& p) { check_pose(p); }
void check_vertex_normals_grad_params(const VertexNormalsGradParams& p) { check_normals(p); }
void check_project_rows_params(const ProjectRowsParams& p) { check_rows(p); }
void check_project_rows_workspace(const ProjectRowsParams& p) {
  DEEPER_CHECK(p.rows == 0 || p.k == 0 || p.cols == 0 || p.workspace,
               "project_rows: null workspace (the device kernels need project_rows_workspace(rows, cols, k) = {} "
               "values)",
               project_rows_workspace(p.rows, p.cols, p.k));
}
void check_factor_grad_params(const FactorGradParams& p) { check_factors(p); }

namespace cpu_impl {

template <typename T>
void compose_grad(const ComposeGradParamsT<T>& p) {
  check_compose(p);
  const std::int64_t plane = static_cast<std::int64_t>(p.height) * p.width;
  const std::int64_t tex_size = static_cast<std::int64_t>(p.tex_height) * p.tex_width * 3;
  if constexpr (sizeof(T) == sizeof(float)) grad_accum_begin(p.grad_tex, p.batch * tex_size);
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < p.batch; ++b) {
    const std::int64_t ti = p.shared_texture ? 0 : p.tex_index[b * p.tex_index_stride];
    if (ti < 0 || ti >= p.tex_count) continue;
    const T* tex = p.textures + ti * tex_size;
    const T* light = p.light + b * p.light_stride;
    const ShadeModel model = compose_grad_model(p, b);
    T acc[kShadeMaxLightParams] = {};
    for (std::int64_t pixel = b * plane; pixel < (b + 1) * plane; ++pixel) {
      if (raster_pixel_id(p.rast + 4 * pixel) == -1) continue;
      compose_pixel_grad(model, tex, p.tex_height, p.tex_width, p.uv + 2 * pixel, p.normal + 3 * pixel, light,
                         p.grad_out + 3 * pixel, p.grad_uv ? p.grad_uv + 2 * pixel : nullptr,
                         p.grad_normal ? p.grad_normal + 3 * pixel : nullptr, acc, [&](std::int64_t off, T v) {
                           if (p.grad_tex.grad) grad_add_host(p.grad_tex, b * tex_size + off, v);
                         });
    }
    if (model == ShadeModel::lambert && p.grad_light) {
      shade_light_finish(model, light, acc, p.grad_light + b * kLightValues);
    } else if (model == ShadeModel::sh9 && p.grad_sh) {
      shade_light_finish(model, light, acc, p.grad_sh + b * kShLightValues);
    }
  }
  if constexpr (sizeof(T) == sizeof(float)) grad_accum_finish(p.grad_tex, p.batch * tex_size);
}

template <typename T>
void pose_project_grad(const PoseProjectGradParamsT<T>& p) {
  check_pose(p);
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < p.batch; ++b) {
    T acc[kPoseGradValues] = {};
    const T* pose = p.pose + b * p.pose_stride;
    for (std::int64_t v = 0; v < p.vertices; ++v) {
      const std::int64_t row = b * p.vertices + v;
      pose_project_vertex_grad(p.positions + 3 * row, pose, p.pivot, p.distance, p.projection, p.grad_clip + 4 * row,
                               p.grad_camera ? p.grad_camera + 3 * row : nullptr,
                               p.grad_positions ? p.grad_positions + 3 * row : nullptr, acc);
    }
    if (p.grad_pose) {
      for (int k = 0; k < kPoseGradValues; ++k) p.grad_pose[b * kPoseGradValues + k] += acc[k];
    }
  }
}

template <typename T>
void vertex_normals_grad(const VertexNormalsGradParamsT<T>& p) {
  check_normals(p);
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < p.batch; ++b) {
    for (std::int64_t v = 0; v < p.vertices; ++v) normal_raw_grad(p, b, v);
    for (std::int64_t v = 0; v < p.vertices; ++v) normal_position_grad(p, b, v);
  }
}

template <typename T>
void project_rows(const ProjectRowsParamsT<T>& p) {
  check_rows(p);
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < p.rows; ++r) {
    for (std::int64_t k = 0; k < p.k; ++k) {
      T s = T(0);
      for (std::int64_t j = 0; j < p.cols; ++j) s += p.basis[k * p.cols + j] * p.g[r * p.g_stride + j];
      p.out[r * p.out_stride + k] += s;
    }
  }
}

template <typename T>
void factor_grad(const FactorGradParamsT<T>& p) {
  check_factors(p);
  for (std::int64_t b = 0; b < p.batch; ++b) factor_grad_image(p, b);
}

#define DEEPER_RENDER_GRAD_INSTANTIATE(T)                                  \
  template void compose_grad<T>(const ComposeGradParamsT<T>&);             \
  template void pose_project_grad<T>(const PoseProjectGradParamsT<T>&);    \
  template void vertex_normals_grad<T>(const VertexNormalsGradParamsT<T>&); \
  template void project_rows<T>(const ProjectRowsParamsT<T>&);             \
  template void factor_grad<T>(const FactorGradParamsT<T>&);
DEEPER_RENDER_GRAD_INSTANTIATE(float)
DEEPER_RENDER_GRAD_INSTANTIATE(double)
#undef DEEPER_RENDER_GRAD_INSTANTIATE

}  // namespace cpu_impl

#define DEEPER_RENDER_GRAD_DISPATCH(name, Params)                  \
  void name(const Device& device, const Params& p, void* stream) { \
    check_##name##_params(p);                                      \
    switch (device.backend) {                                      \
      case Backend::cpu:                                           \
        return cpu_impl::name(p);                                  \
      case Backend::emu:                                           \
        return emu_impl::name(p, stream);                          \
      case Backend::cuda:                                          \
        return DEEPER_CUDA_KERNEL(cuda_impl::name(p, stream));     \
    }                                                              \
  }
DEEPER_RENDER_GRAD_DISPATCH(compose_grad, ComposeGradParams)
DEEPER_RENDER_GRAD_DISPATCH(pose_project_grad, PoseProjectGradParams)
DEEPER_RENDER_GRAD_DISPATCH(vertex_normals_grad, VertexNormalsGradParams)
DEEPER_RENDER_GRAD_DISPATCH(project_rows, ProjectRowsParams)
DEEPER_RENDER_GRAD_DISPATCH(factor_grad, FactorGradParams)
#undef DEEPER_RENDER_GRAD_DISPATCH

}  // namespace deeper::kernels
