// The render pipeline's backward pass (pipeline_grad.h): device bases, workspace and the stage
// sequence.
#include "renderer/pipeline_grad.h"

#include "core/error.h"
#include "kernels/raster/antialias.h"
#include "kernels/raster/interpolate_grad.h"
#include "kernels/raster/rasterize_grad.h"
#include "kernels/runtime/nvtx.h"
#include "kernels/runtime/stream.h"

#include <algorithm>
#include <cstddef>

namespace deeper::render {

namespace dk = deeper::kernels;

namespace {

DeviceBuffer upload_floats(const Device& device, const std::vector<float>& host) {
  DeviceBuffer buffer(device, std::max<std::size_t>(host.size() * sizeof(float), 16));
  if (!host.empty()) copy_bytes(buffer.data(), device, host.data(), Device::cpu(), host.size() * sizeof(float));
  return buffer;
}

float* f(DeviceBuffer& b) { return static_cast<float*>(b.data()); }

template <typename T>
void download(std::vector<T>& out, const DeviceBuffer& src, const Device& device, std::size_t count) {
  out.resize(count);
  if (count > 0) copy_bytes(out.data(), Device::cpu(), src.data(), device, count * sizeof(T));
}

constexpr std::int64_t kSetupStride = sizeof(dk::RenderSetup) / sizeof(float);
static_assert(sizeof(dk::RenderSetup) % sizeof(float) == 0);
static_assert(offsetof(dk::RenderSetup, rotation) == 0 && offsetof(dk::RenderSetup, scale) == 9 * sizeof(float) &&
              offsetof(dk::RenderSetup, tx) == 10 * sizeof(float) && offsetof(dk::RenderSetup, ty) == 11 * sizeof(float),
              "RenderSetup must start with R, scale, tx, ty (read in place as the 12 pose values)");

}  // namespace

RenderBackward::RenderBackward(const RenderModel& render_model, const FaceModel& model) : render_model_(render_model) {
  ks_ = model.shape_components();
  kt_ = model.texture_components();
  const std::int64_t v3 = 3 * render_model.vertices();
  DEEPER_CHECK(model.vertex_count() == render_model.vertices() && model.texture_height == render_model.texture_height() &&
                   model.texture_width == render_model.texture_width() &&
                   model.action_unit_count() == render_model.action_units() &&
                   static_cast<std::int64_t>(model.shape_basis.size()) == ks_ * v3 &&
                   static_cast<std::int64_t>(model.texture_basis.size()) == kt_ * model.texel_values(),
               "render backward: the face model ({} vertices, {} x {} texture, {} action units) does not match the "
               "render model ({} vertices, {} x {}, {})",
               model.vertex_count(), model.texture_height, model.texture_width, model.action_unit_count(),
               render_model.vertices(), render_model.texture_height(), render_model.texture_width(),
               render_model.action_units());
  shape_basis_ = upload_floats(render_model.device(), model.shape_basis);
  texture_basis_ = upload_floats(render_model.device(), model.texture_basis);
}

void RenderBackward::ensure(std::int64_t batch, int height, int width, bool deterministic) {
  const Device dev = render_model_.device();
  const auto b = static_cast<std::size_t>(batch);
  if (batch > capacity_ || height != height_ || width != width_) {
    const auto v = static_cast<std::size_t>(render_model_.vertices());
    const std::size_t px = b * static_cast<std::size_t>(height) * static_cast<std::size_t>(width);
    const auto texels = static_cast<std::size_t>(render_model_.texture_height()) *
                        static_cast<std::size_t>(render_model_.texture_width()) * 3;
    const auto fs = sizeof(float);
    const auto at_least = [](std::size_t bytes) { return std::max<std::size_t>(bytes, 16); };
    g_color_ = DeviceBuffer(dev, at_least(px * 3 * fs));
    g_uv_ = DeviceBuffer(dev, at_least(px * 2 * fs));
    g_pnormal_ = DeviceBuffer(dev, at_least(px * 3 * fs));
    g_rast_ = DeviceBuffer(dev, at_least(px * 4 * fs));
    g_tex_ = DeviceBuffer(dev, at_least(b * texels * fs));
    g_light_ = DeviceBuffer(dev, at_least(b * dk::kLightValues * fs));
    g_sh_ = DeviceBuffer(dev, at_least(b * dk::kShLightValues * fs));
    g_vnormal_ = DeviceBuffer(dev, at_least(b * v * 3 * fs));
    g_cam_ = DeviceBuffer(dev, at_least(b * v * 3 * fs));
    normals_ws_ = DeviceBuffer(dev, at_least(b * v * 3 * fs));
    g_clip_ = DeviceBuffer(dev, at_least(b * v * 4 * fs));
    g_verts_ = DeviceBuffer(dev, at_least(b * v * 3 * fs));
    g_pose_ = DeviceBuffer(dev, at_least(b * dk::kPoseGradValues * fs));
    g_shape_ = DeviceBuffer(dev, at_least(b * static_cast<std::size_t>(ks_) * fs));
    g_texcoef_ = DeviceBuffer(dev, at_least(b * static_cast<std::size_t>(kt_) * fs));
    g_expr_ = DeviceBuffer(dev, at_least(b * static_cast<std::size_t>(render_model_.action_units()) * fs));
    g_factors_ = DeviceBuffer(dev, at_least(b * sizeof(dk::FactorGrads)));
    const std::int64_t v3 = 3 * render_model_.vertices();
    const std::int64_t ws = std::max({dk::project_rows_workspace(batch, v3, ks_),
                                      dk::project_rows_workspace(batch, v3, render_model_.action_units()),
                                      dk::project_rows_workspace(batch, static_cast<std::int64_t>(texels), kt_)});
    rows_ws_ = DeviceBuffer(dev, at_least(static_cast<std::size_t>(ws) * fs));
    fixed_ = DeviceBuffer();
    capacity_ = batch;
    height_ = height;
    width_ = width;
  }
  if (deterministic) {
    const auto v = static_cast<std::size_t>(render_model_.vertices());
    const auto texels = static_cast<std::size_t>(render_model_.texture_height()) *
                        static_cast<std::size_t>(render_model_.texture_width()) * 3;
    const std::size_t need = static_cast<std::size_t>(capacity_) * std::max(v * 4, texels) * sizeof(long long);
    if (fixed_.bytes() < need) fixed_ = DeviceBuffer(dev, need);
  }
}

void RenderBackward::backward(const Renderer& renderer, const Tensor& d_images, RenderGradients& out,
                              const RenderBackwardOptions& options, Stream* stream) {
  DEEPER_NVTX_RANGE("render_backward");
  DEEPER_CHECK(&renderer.model() == &render_model_,
               "render backward: the renderer uses another render model than this backward");
  DEEPER_CHECK(!renderer.colour_map_mode(),
               "render backward: colour-map modes (vertex colours, texture override) have no backward");
  DEEPER_CHECK(options.fixed_bits >= 0 && options.fixed_bits <= 60, "render backward: fixed_bits {} outside [0, 60]",
               options.fixed_bits);
  const RenderOptions& ro = renderer.options();
  const std::int64_t batch = renderer.last_batch();
  const Device dev = render_model_.device();
  DEEPER_CHECK(d_images.defined() && d_images.rank() == 4 && d_images.dim(0) == batch &&
                   d_images.dim(1) == ro.height && d_images.dim(2) == ro.width && d_images.dim(3) == 3,
               "render backward: image gradient shape {} is not [{}, {}, {}, 3] (the last batch)",
               d_images.defined() ? d_images.shape().to_string() : std::string("(undefined)"), batch, ro.height,
               ro.width);
  DEEPER_CHECK(d_images.dtype() == DType::f32, "render backward: image gradient dtype {} is not f32",
               dtype_name(d_images.dtype()));
  DEEPER_CHECK(d_images.device() == dev, "render backward: image gradient on {}, the render model on {}",
               d_images.device().name(), dev.name());
  out = RenderGradients{};
  out.batch = batch;
  last_batch_ = batch;
  if (batch == 0) return;
  ensure(batch, ro.height, ro.width, options.deterministic);
  void* s = stream ? stream->native() : nullptr;
  const std::int64_t v = render_model_.vertices(), t = render_model_.triangles();
  const int h = ro.height, w = ro.width;
  const auto px = static_cast<std::size_t>(batch * h * w);
  const std::int64_t texels = static_cast<std::int64_t>(render_model_.texture_height()) * render_model_.texture_width() * 3;
  const int au = render_model_.action_units();
  const auto zero = [&](DeviceBuffer& b, std::size_t floats) {
    if (floats > 0) fill_bytes(b.data(), dev, 0, floats * sizeof(float), stream);
  };
  const auto bz = static_cast<std::size_t>(batch);
  zero(g_uv_, px * 2);
  zero(g_pnormal_, px * 3);
  zero(g_rast_, px * 4);
  zero(g_tex_, bz * static_cast<std::size_t>(texels));
  zero(g_light_, bz * dk::kLightValues);
  zero(g_sh_, bz * dk::kShLightValues);
  zero(g_vnormal_, bz * static_cast<std::size_t>(v) * 3);
  zero(g_cam_, bz * static_cast<std::size_t>(v) * 3);
  zero(g_clip_, bz * static_cast<std::size_t>(v) * 4);
  zero(g_verts_, bz * static_cast<std::size_t>(v) * 3);
  zero(g_pose_, bz * dk::kPoseGradValues);
  zero(g_shape_, bz * static_cast<std::size_t>(ks_));
  zero(g_texcoef_, bz * static_cast<std::size_t>(kt_));
  zero(g_expr_, bz * static_cast<std::size_t>(au));
  const auto accum = [&](DeviceBuffer& b) {
    dk::GradAccumT<float> a;
    a.grad = f(b);
    if (options.deterministic) a.fixed = static_cast<long long*>(fixed_.data());
    a.bits = options.fixed_bits;
    return a;
  };
  const auto* setup_floats = reinterpret_cast<const float*>(renderer.setups());

  const float* g_image = static_cast<const float*>(d_images.data_raw());
  if (ro.antialias) {
    zero(g_color_, px * 3);
    dk::AntialiasParams ap;
    ap.color = renderer.composed();
    ap.rast = renderer.rast();
    ap.pos = renderer.clip();
    ap.tri = render_model_.tri();
    ap.topology = render_model_.edge_topology();
    ap.edge_mask = renderer.edge_mask();  // from the forward of this batch (same clip positions)
    ap.batch = batch;
    ap.vertices = v;
    ap.triangles = t;
    ap.channels = 3;
    ap.height = h;
    ap.width = w;
    ap.check_indices = false;
    ap.grad_out = g_image;
    ap.grad_color = f(g_color_);
    ap.grad_pos = accum(g_clip_);
    dk::antialias_grad(dev, ap, s);
    g_image = f(g_color_);
  }

  dk::ComposeGradParams cp;
  cp.batch = batch;
  cp.height = h;
  cp.width = w;
  cp.rast = renderer.rast();
  cp.uv = renderer.pixel_uv();
  cp.normal = renderer.pixel_normals();
  cp.textures = render_model_.identity_textures();
  cp.tex_count = render_model_.identity_count();
  cp.tex_height = render_model_.texture_height();
  cp.tex_width = render_model_.texture_width();
  cp.tex_index = reinterpret_cast<const std::int32_t*>(reinterpret_cast<const std::byte*>(renderer.setups()) +
                                                       offsetof(dk::RenderSetup, identity));
  cp.tex_index_stride = kSetupStride;
  cp.light = setup_floats + offsetof(dk::RenderSetup, light) / sizeof(float);
  cp.light_stride = kSetupStride;
  cp.lighting = reinterpret_cast<const std::int32_t*>(reinterpret_cast<const std::byte*>(renderer.setups()) +
                                                     offsetof(dk::RenderSetup, lighting));
  cp.lighting_stride = kSetupStride;
  cp.grad_out = g_image;
  cp.grad_uv = f(g_uv_);
  cp.grad_normal = f(g_pnormal_);
  cp.grad_tex = accum(g_tex_);
  cp.grad_light = f(g_light_);
  cp.grad_sh = f(g_sh_);
  dk::compose_grad(dev, cp, s);

  dk::InterpolateGradParams ip;
  ip.rast = renderer.rast();
  ip.tri = render_model_.tri();
  ip.batch = batch;
  ip.vertices = v;
  ip.triangles = t;
  ip.height = h;
  ip.width = w;
  ip.check_indices = false;
  ip.attr = render_model_.uv();
  ip.attr_batched = false;
  ip.channels = 2;
  ip.grad_out = f(g_uv_);
  ip.grad_rast = f(g_rast_);
  dk::interpolate_grad(dev, ip, s);
  ip.attr = renderer.vertex_normals();
  ip.attr_batched = true;
  ip.channels = 3;
  ip.grad_out = f(g_pnormal_);
  ip.grad_attr = accum(g_vnormal_);
  dk::interpolate_grad(dev, ip, s);

  dk::RasterizeGradParams rp;
  rp.pos = renderer.clip();
  rp.tri = render_model_.tri();
  rp.batch = batch;
  rp.vertices = v;
  rp.triangles = t;
  rp.height = h;
  rp.width = w;
  rp.rast = renderer.rast();
  rp.grad_rast = f(g_rast_);
  rp.grad_pos = accum(g_clip_);
  rp.check_indices = false;
  dk::rasterize_grad(dev, rp, s);

  dk::VertexNormalsGradParams np;
  np.batch = batch;
  np.vertices = v;
  np.triangles = t;
  np.positions = renderer.camera_vertices();
  np.tri = render_model_.tri();
  np.adjacency_offsets = render_model_.adjacency_offsets();
  np.adjacency = render_model_.adjacency();
  np.grad_normal = f(g_vnormal_);
  np.workspace = f(normals_ws_);
  np.grad_positions = f(g_cam_);
  dk::vertex_normals_grad(dev, np, s);

  dk::PoseProjectGradParams pp;
  pp.batch = batch;
  pp.vertices = v;
  pp.positions = renderer.model_vertices();
  pp.pose = setup_floats;
  pp.pose_stride = kSetupStride;
  pp.pivot[1] = ro.center_y_mm;
  pp.pivot[2] = ro.pivot_z_mm;
  pp.distance = ro.distance_mm;
  std::copy(renderer.projection().begin(), renderer.projection().end(), pp.projection);
  pp.grad_clip = f(g_clip_);
  pp.grad_camera = f(g_cam_);
  pp.grad_positions = f(g_verts_);
  pp.grad_pose = f(g_pose_);
  dk::pose_project_grad(dev, pp, s);

  dk::ProjectRowsParams rows;
  rows.g = f(g_verts_);
  rows.g_stride = 3 * v;
  rows.rows = batch;
  rows.cols = 3 * v;
  rows.basis = static_cast<const float*>(shape_basis_.data());
  rows.k = ks_;
  rows.out = f(g_shape_);
  rows.out_stride = ks_;
  rows.workspace = f(rows_ws_);
  dk::project_rows(dev, rows, s);
  rows.basis = render_model_.blendshapes();
  rows.k = au;
  rows.out = f(g_expr_);
  rows.out_stride = au;
  dk::project_rows(dev, rows, s);
  rows.basis = static_cast<const float*>(texture_basis_.data());
  rows.g = f(g_tex_);
  rows.g_stride = texels;
  rows.cols = texels;
  rows.k = kt_;
  rows.out = f(g_texcoef_);
  rows.out_stride = kt_;
  dk::project_rows(dev, rows, s);

  dk::FactorGradParams fp;
  fp.batch = batch;
  fp.factors = renderer.factors_device();
  fp.grad_pose = f(g_pose_);
  fp.grad_light = f(g_light_);
  fp.grad_expression = f(g_expr_);
  fp.expression_weights = render_model_.expression_weights();
  fp.action_units = au;
  fp.out = static_cast<dk::FactorGrads*>(g_factors_.data());
  dk::factor_grad(dev, fp, s);

  if (stream) stream->synchronize();
  download(out.shape, g_shape_, dev, bz * static_cast<std::size_t>(ks_));
  download(out.texture, g_texcoef_, dev, bz * static_cast<std::size_t>(kt_));
  download(out.expression, g_expr_, dev, bz * static_cast<std::size_t>(au));
  download(out.light, g_light_, dev, bz * dk::kLightValues);
  download(out.sh, g_sh_, dev, bz * dk::kShLightValues);
  download(out.factors, g_factors_, dev, bz);
}

RenderGradients render_backward(const Renderer& renderer, const FaceModel& model, const Tensor& d_images,
                                const RenderBackwardOptions& options, Stream* stream) {
  RenderBackward backward(renderer.model(), model);
  RenderGradients out;
  backward.backward(renderer, d_images, out, options, stream);
  return out;
}

}  // namespace deeper::render
