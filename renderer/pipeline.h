// The render pipeline: batches of face images, rendered on a device straight into an NHWC tensor.
//
// Per image (factors: renderer/factors.h):
//   render_setup    factors (sampled from (seed, image index), or given) -> rotation, light, the
//                   expression's action-unit coefficients                      (kernels/render)
//   synthesis       vertices = identity shape (cached per identity set: GLM mean + basis^T coeffs)
//                   + blendshapes^T (intensity · expression weights)            (blend_rows)
//   project         pose (yaw, pitch, roll about the pivot), scale, camera distance, perspective
//                   camera, image-plane translation -> clip space B x V x 4    (pose_project)
//   normals         area-weighted vertex normals in camera space               (vertex_normals)
//   rasterize       back faces culled                                          (kernels/raster)
//   interpolate     UVs (shared V x 2) and normals (B x V x 3) per pixel       (kernels/raster)
//                   saved for the backward; without save_for_backward (or in a colour-map mode)
//                   this stage is empty and shade interpolates per pixel itself (fused, the same
//                   bits; the interpolate stage then reports ~0 and shade includes it)
//   shade           the identity's cached texture (bilinear), Lambert + ambient or 9 x RGB
//                   spherical harmonics (the image's lighting factor), background  (compose_faces)
//   antialias       silhouette-edge masks, then analytic silhouette antialiasing (kernels/raster)
//   convert         empty: a bf16 output is written by the last stage (antialias, or shade without
//                   antialias) in the same bits to_bf16 would give; kept so stage timings line up
// Every stage runs on the model's device (cpu, emu or cuda) on one stream; nothing goes through the
// host except a factor list given by the caller. cpu and emu give the same image bit for bit up to
// the texture/shade/antialias arithmetic (plain fp32 there, so cuda may differ by float rounding);
// geometry and coverage are bit-identical on every backend, and an image does not depend on the
// batch it is rendered in.
#pragma once

#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"
#include "kernels/runtime/tensor.h"
#include "renderer/face_model.h"
#include "renderer/factors.h"
#include "renderer/identities.h"

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace deeper {
class Stream;
}

namespace deeper::render {

struct RenderOptions {
  int width = 112, height = 112;  // pixels, 1 .. 8192
  float fov_y_degrees = 12.0f;    // vertical field of view of the pinhole camera
  float distance_mm = 900.0f;     // camera to pivot (the frame is ~189 mm tall there)
  float center_y_mm = -2.0f;      // pivot = (0, center_y, pivot_z) in model space, at the image centre
  float pivot_z_mm = -45.0f;
  std::array<float, 3> background{0.5f, 0.5f, 0.5f};
  bool antialias = true;
  // true: the forward writes the per-pixel UVs and normals RenderBackward reads (pixel_uv,
  // pixel_normals; interpolate, then compose). false: a forward-only renderer (training data,
  // stimuli): compose interpolates per pixel itself from the rasterize output, bit-identical
  // images without the 20 B/px UV + normal buffers' write and read and two launches;
  // pixel_uv() and pixel_normals() are then null and a backward of the batch is refused.
  bool save_for_backward = true;
};

// Throws deeper::Error naming the option unless the options are usable.
void validate_render_options(const RenderOptions& options);

// A face model and one identity set on a device: per-identity vertices (I x V x 3) and textures
// (I x Ht x Wt x 3) computed there by blend_rows, the blendshapes, expression weights, triangles,
// UVs, the vertex -> triangle adjacency (CSR) and the antialias edge topology.
class RenderModel {
 public:
  RenderModel(const Device& device, const FaceModel& model, const IdentitySet& identities);

  const Device& device() const { return device_; }
  std::int64_t vertices() const { return vertices_; }
  std::int64_t triangles() const { return triangles_; }
  std::int32_t identity_count() const { return identities_; }
  int action_units() const { return action_units_; }
  int texture_height() const { return tex_height_; }
  int texture_width() const { return tex_width_; }
  // Device memory.
  const float* identity_shapes() const { return static_cast<const float*>(shapes_.data()); }
  const float* identity_textures() const { return static_cast<const float*>(textures_.data()); }
  const float* blendshapes() const { return static_cast<const float*>(blendshapes_.data()); }
  const float* expression_weights() const { return static_cast<const float*>(weights_.data()); }
  const std::int32_t* tri() const { return static_cast<const std::int32_t*>(tri_.data()); }
  const float* uv() const { return static_cast<const float*>(uv_.data()); }
  const std::int32_t* adjacency_offsets() const { return static_cast<const std::int32_t*>(adj_offsets_.data()); }
  const std::int32_t* adjacency() const { return static_cast<const std::int32_t*>(adj_.data()); }
  const std::int32_t* edge_topology() const { return static_cast<const std::int32_t*>(topology_.data()); }

 private:
  Device device_;
  std::int64_t vertices_ = 0, triangles_ = 0;
  std::int32_t identities_ = 0;
  int action_units_ = 0, tex_height_ = 0, tex_width_ = 0;
  DeviceBuffer shapes_, textures_, blendshapes_, weights_, tri_, uv_, adj_offsets_, adj_, topology_;
};

// The vertex -> incident triangles adjacency of a T x 3 index list: offsets (V + 1) and triangle ids
// in increasing order per vertex. Throws deeper::Error for an index outside [0, V).
void build_vertex_adjacency(std::span<const std::int32_t> tri, std::int64_t vertices,
                            std::vector<std::int32_t>& offsets, std::vector<std::int32_t>& adjacency);

enum class RenderStage { setup, synthesis, project, normals, rasterize, interpolate, shade, antialias, convert };
inline constexpr int kRenderStages = 9;
const char* render_stage_name(RenderStage stage);

// Renders batches with one model and one set of options; keeps its workspace between batches
// (grown when a larger batch comes; no allocation for a batch no larger than the last).
class Renderer {
 public:
  Renderer(const RenderModel& model, const RenderOptions& options);

  // Images [first, first + B) of `sampling` into out (B x H x W x 3, f32 or bf16, on the model's
  // device; the nhwc layout tag is not required). Throws deeper::Error for bad sampling ranges, a
  // wrong output shape, dtype or device, or sampling.identity_count != the model's identity count.
  void render(const FactorSampling& sampling, std::uint64_t first, Tensor& out, Stream* stream = nullptr);
  // The given factors (host memory, validated), one image each. With a CUDA stream their copy is
  // queued on it too, so `factors` must stay alive until the stream has run it.
  void render(std::span<const ImageFactors> factors, Tensor& out, Stream* stream = nullptr);

  // Colour-map modes (for drawing analysis results on the face; cleared by passing an empty span):
  // per-vertex RGB (V x 3) interpolated over the triangles, or one RGB texture (th x tw x 3) shared
  // by every image, used instead of the identities' textures.
  void set_vertex_colors(std::span<const float> rgb);
  void set_texture_override(std::span<const float> rgb, int tex_height, int tex_width);

  // The factors of the last batch (copied from the device).
  std::vector<ImageFactors> last_factors() const;
  // Intermediates of the last batch, device memory: clip-space vertices (B x V x 4), camera-space
  // vertices (B x V x 3), vertex normals (B x V x 3), rasterize output (B x H x W x 4).
  const float* clip() const { return static_cast<const float*>(clip_.data()); }
  const float* camera_vertices() const { return static_cast<const float*>(cam_.data()); }
  const float* vertex_normals() const { return static_cast<const float*>(vnormal_.data()); }
  const float* rast() const { return static_cast<const float*>(rast_.data()); }
  std::int64_t last_batch() const { return batch_; }
  // Saved state of the last batch for the backward pass (renderer/pipeline_grad.h), device memory:
  // model-space vertices (B x V x 3), setups and factors (B), per-pixel UVs (B x H x W x 2) and
  // normals (B x H x W x 3; null when the batch was rendered fused: fused_last()), and the composed
  // colour before antialiasing (B x H x W x 3; written only with options().antialias).
  const float* model_vertices() const { return static_cast<const float*>(verts_.data()); }
  const kernels::RenderSetup* setups() const { return static_cast<const kernels::RenderSetup*>(setup_.data()); }
  const ImageFactors* factors_device() const { return static_cast<const ImageFactors*>(factors_.data()); }
  const float* pixel_uv() const { return fused_ ? nullptr : static_cast<const float*>(uv_.data()); }
  const float* pixel_normals() const { return fused_ ? nullptr : static_cast<const float*>(pnormal_.data()); }
  // Whether the last batch interpolated inside compose (no per-pixel UVs and normals saved).
  bool fused_last() const { return fused_; }
  const float* composed() const { return static_cast<const float*>(color_.data()); }
  // The antialias silhouette-edge masks (B x T bytes, kernels/raster/antialias.h; written only with
  // options().antialias): antialias_grad reuses them.
  const std::uint8_t* edge_mask() const { return static_cast<const std::uint8_t*>(edge_mask_.data()); }
  const RenderModel& model() const { return model_; }
  const RenderOptions& options() const { return options_; }
  const std::array<float, 16>& projection() const { return projection_; }
  bool colour_map_mode() const { return vertex_colors_ || override_h_ > 0; }

  // Called after each stage has been queued (benchmarks time stages with it).
  std::function<void(RenderStage)> on_stage;

 private:
  void ensure(std::int64_t batch);
  void run(Tensor& out, Stream* stream);
  void stage(RenderStage s) {
    if (on_stage) on_stage(s);
  }

  const RenderModel& model_;
  RenderOptions options_;
  std::array<float, 16> projection_{};
  FactorSampling sampling_;
  std::uint64_t first_ = 0;
  bool given_ = false;
  std::int64_t batch_ = 0, capacity_ = 0;
  DeviceBuffer factors_, setup_, expr_coef_, verts_, cam_, clip_, vnormal_, keys_, rast_, uv_, pnormal_, color_,
      vcolor_, override_tex_, edge_mask_;
  int override_h_ = 0, override_w_ = 0;
  bool vertex_colors_ = false;
  bool fused_ = false;
};

// One batch with a temporary Renderer: images [first, first + B) of `sampling`.
void render_batch(const RenderModel& model, const FactorSampling& sampling, std::uint64_t first,
                  const RenderOptions& options, Tensor& out, Stream* stream = nullptr);

// The pixels of a B x H x W x 3 f32 tensor (any device) as host floats.
std::vector<float> tensor_to_host(const Tensor& images);

}  // namespace deeper::render
