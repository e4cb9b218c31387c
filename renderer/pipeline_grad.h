// The backward pass of the render pipeline (renderer/pipeline.h): from d loss / d images of the last
// batch a Renderer rendered to the gradients of every image's face-model coefficients, pose and light.
//
// Per image b (identity i = factors[b].identity), the forward is
//   vertices   = identity_shape[i] + blendshapes^T e_b,  identity_shape[i] = GLM mean + shape_basis^T s_i,
//                e_b[a] = intensity_b w[expression_b, a]
//   texture    = GLM mean + texture_basis^T t_i
//   image      = antialias(compose(texture, light_b; interpolate(rasterize(project(vertices; pose_b)))))
// and backward computes, as if every image had its own coefficients (s and t per image, so images of
// one identity do not pool: sum them for a per-identity gradient):
//   shape[b, k]       = d loss / d s_k          (B x K_s)
//   texture[b, k]     = d loss / d t_k          (B x K_t)
//   expression[b, a]  = d loss / d e_b[a]       (B x A: per action-unit coefficient)
//   factors[b]        d loss / d intensity, yaw, pitch, roll (per degree), scale, tx, ty, light
//                     azimuth, elevation (per degree), ambient, diffuse
//   light[b, 9]       d loss / d the Lambert parameters (direction, ambient rgb, diffuse rgb);
//                     0 for an image lit by spherical harmonics
//   sh[b, 27]         d loss / d the SH coefficients (sh9 images; 0 for Lambert images), in
//                     ImageFactors::sh order (channel-major); the Lambert light factors' entries of
//                     factors[b] (azimuth, elevation, ambient, diffuse) are 0 for an SH image
// (s_k = z_k shape_sd[k]: d loss / d z_k = shape[b, k] shape_sd[k]; the same for textures.)
// Stages (all on the renderer's device and stream): antialias_grad (colours and silhouette
// positions), compose_grad (uv, normals, per-image texture, light), interpolate_grad (UVs and normals
// to rast and vertex normals), rasterize_grad, vertex_normals_grad, pose_project_grad, project_rows
// (shape basis, blendshapes, texture basis), factor_grad. The gradient is that of the piecewise
// smooth forward: visibility changes enter only through the antialiasing (kernels/raster/antialias.h),
// clamps and the Lambert max(0, ·) have kinks (the SH shading is smooth).
// Deterministic mode: every scatter (positions, vertex normals, textures) in fixed point
// (kernels/raster/grad_accum.h), every reduction in a fixed order: the same bits every run.
// Colour-map modes (vertex colours, texture override) have no backward: refused.
#pragma once

#include "kernels/render/render_grad.h"
#include "kernels/runtime/memory.h"
#include "kernels/runtime/tensor.h"
#include "renderer/face_model.h"
#include "renderer/pipeline.h"

#include <cstdint>
#include <vector>

namespace deeper {
class Stream;
}

namespace deeper::render {

struct RenderGradients {
  std::int64_t batch = 0;
  std::vector<float> shape;       // B x K_s
  std::vector<float> texture;     // B x K_t
  std::vector<float> expression;  // B x A
  std::vector<float> light;       // B x 9
  std::vector<float> sh;          // B x 27
  std::vector<kernels::FactorGrads> factors;  // B
};

struct RenderBackwardOptions {
  bool deterministic = false;  // fixed-point scatters: bit-identical runs
  int fixed_bits = 32;         // fraction bits of the fixed-point sums (kernels/raster/grad_accum.h)
};

// The face model's bases on the device (shape K_s x V x 3, texture K_t x Ht x Wt x 3) and the
// backward's workspace (grown for a larger batch, kept between calls).
class RenderBackward {
 public:
  // Throws deeper::Error unless `model` matches the render model's counts.
  RenderBackward(const RenderModel& render_model, const FaceModel& model);

  // The gradients of the last batch `renderer` rendered, given d_images (B x H x W x 3 f32 on the
  // renderer's device, B = renderer.last_batch()). Host results in out; the device copies stay
  // available below until the next call. Throws deeper::Error for a shape, dtype or device mismatch,
  // a renderer of another model, a colour-map mode, or bad options.
  void backward(const Renderer& renderer, const Tensor& d_images, RenderGradients& out,
                const RenderBackwardOptions& options = {}, Stream* stream = nullptr);

  // Device memory of the last call: d loss / d model-space vertices (B x V x 3) and d clip-space
  // positions (B x V x 4).
  const float* grad_vertices() const { return static_cast<const float*>(g_verts_.data()); }
  const float* grad_clip() const { return static_cast<const float*>(g_clip_.data()); }
  // d loss / d each image's texture map (B x Ht x Wt x 3 fp32, the identity texture that image
  // samples, per image: images of one identity do not pool). Plain floats in deterministic mode too
  // (the fixed-point sums are converted into this buffer at the end of the texture scatter).
  const float* grad_textures() const { return static_cast<const float*>(g_tex_.data()); }
  // The batch of the last call (0 before the first) and the render model.
  std::int64_t last_batch() const { return last_batch_; }
  const RenderModel& render_model() const { return render_model_; }

 private:
  void ensure(std::int64_t batch, int height, int width, bool deterministic);

  const RenderModel& render_model_;
  std::int64_t ks_ = 0, kt_ = 0;
  DeviceBuffer shape_basis_, texture_basis_;
  std::int64_t capacity_ = 0, last_batch_ = 0;
  int height_ = 0, width_ = 0;
  DeviceBuffer g_color_, g_uv_, g_pnormal_, g_rast_, g_tex_, g_light_, g_sh_, g_vnormal_, g_cam_, g_clip_, g_verts_,
      g_pose_, g_shape_, g_texcoef_, g_expr_, g_factors_, normals_ws_, rows_ws_, fixed_;
};

// One call with a temporary RenderBackward.
RenderGradients render_backward(const Renderer& renderer, const FaceModel& model, const Tensor& d_images,
                                const RenderBackwardOptions& options = {}, Stream* stream = nullptr);

}  // namespace deeper::render
