// The render pipeline (pipeline.h): device model cache, workspace and the stage sequence.
#include "renderer/pipeline.h"

#include "core/error.h"
#include "kernels/raster/antialias.h"
#include "kernels/raster/camera.h"
#include "kernels/raster/interpolate.h"
#include "kernels/raster/rasterize.h"
#include "kernels/render/compose.h"
#include "kernels/render/synthesis.h"
#include "kernels/runtime/nvtx.h"
#include "kernels/runtime/stream.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>

namespace deeper::render {

namespace dk = deeper::kernels;

namespace {

// Waits for the work queued on the legacy default stream: a synchronous copy orders after it.
void wait_default_stream(const Device& device, const DeviceBuffer& buffer) {
  if (device.backend != Backend::cuda || buffer.bytes() < 4) return;
  unsigned char probe[4];
  copy_bytes(probe, Device::cpu(), buffer.data(), device, sizeof probe);
}

template <typename T>
DeviceBuffer upload(const Device& device, std::span<const T> host) {
  DeviceBuffer buffer(device, std::max<std::size_t>(host.size_bytes(), 16));
  if (!host.empty()) copy_bytes(buffer.data(), device, host.data(), Device::cpu(), host.size_bytes());
  return buffer;
}

template <typename T>
DeviceBuffer upload(const Device& device, const std::vector<T>& host) {
  return upload(device, std::span<const T>(host));
}

// rows x (a_cols + b_cols) coefficients and the matching stacked basis, then one blend_rows.
DeviceBuffer linear_cache(const Device& device, const std::vector<float>& glm, const std::vector<float>& basis,
                          std::int64_t cols, std::int64_t p, std::int64_t k, const std::vector<float>& coef,
                          std::int64_t rows) {
  std::vector<float> stacked(static_cast<std::size_t>((p + k) * cols));
  std::copy(glm.begin(), glm.end(), stacked.begin());
  std::copy(basis.begin(), basis.end(), stacked.begin() + p * cols);
  const DeviceBuffer basis_d = upload(device, stacked);
  const DeviceBuffer coef_d = upload(device, coef);
  DeviceBuffer out(device, static_cast<std::size_t>(rows * cols) * sizeof(float));
  dk::BlendRowsParams bp;
  bp.basis = static_cast<const float*>(basis_d.data());
  bp.coef = static_cast<const float*>(coef_d.data());
  bp.coef_stride = p + k;
  bp.rows = rows;
  bp.cols = cols;
  bp.k = p + k;
  bp.out = static_cast<float*>(out.data());
  dk::blend_rows(device, bp);
  wait_default_stream(device, out);  // before the inputs are freed
  return out;
}

}  // namespace

void validate_render_options(const RenderOptions& o) {
  DEEPER_CHECK(o.width >= 1 && o.width <= dk::kRasterMaxSize && o.height >= 1 && o.height <= dk::kRasterMaxSize,
               "render options: image size {} x {} is outside [1, {}] per side", o.width, o.height,
               dk::kRasterMaxSize);
  DEEPER_CHECK(std::isfinite(o.fov_y_degrees) && o.fov_y_degrees > 0.5f && o.fov_y_degrees < 120.0f,
               "render options: field of view {} degrees is outside (0.5, 120)", o.fov_y_degrees);
  DEEPER_CHECK(std::isfinite(o.distance_mm) && o.distance_mm >= 200.0f && o.distance_mm <= 1e5f,
               "render options: camera distance {} mm is outside [200, 1e5] (the face must stay in front)",
               o.distance_mm);
  DEEPER_CHECK(std::isfinite(o.center_y_mm) && std::isfinite(o.pivot_z_mm), "render options: pivot is not finite");
  for (float c : o.background) {
    DEEPER_CHECK(std::isfinite(c) && c >= 0.0f && c <= 1.0f, "render options: background value {} is outside [0, 1]",
                 c);
  }
}

void build_vertex_adjacency(std::span<const std::int32_t> tri, std::int64_t vertices,
                            std::vector<std::int32_t>& offsets, std::vector<std::int32_t>& adjacency) {
  DEEPER_CHECK(tri.size() % 3 == 0, "vertex adjacency: {} indices is not a multiple of 3", tri.size());
  DEEPER_CHECK(vertices >= 0 && vertices < INT32_MAX, "vertex adjacency: {} vertices", vertices);
  offsets.assign(static_cast<std::size_t>(vertices + 1), 0);
  for (std::size_t i = 0; i < tri.size(); ++i) {
    DEEPER_CHECK(tri[i] >= 0 && tri[i] < vertices, "vertex adjacency: index {} (triangle {}) is outside [0, {})",
                 tri[i], i / 3, vertices);
    ++offsets[static_cast<std::size_t>(tri[i]) + 1];
  }
  for (std::int64_t v = 0; v < vertices; ++v) offsets[v + 1] += offsets[v];
  adjacency.assign(tri.size(), 0);
  std::vector<std::int32_t> fill(offsets.begin(), offsets.end() - 1);
  for (std::size_t i = 0; i < tri.size(); ++i) {
    adjacency[static_cast<std::size_t>(fill[static_cast<std::size_t>(tri[i])]++)] = static_cast<std::int32_t>(i / 3);
  }
}

RenderModel::RenderModel(const Device& device, const FaceModel& model, const IdentitySet& identities)
    : device_(device) {
  DEEPER_NVTX_RANGE("render_model_cache");
  vertices_ = model.vertex_count();
  triangles_ = model.mesh.triangle_count();
  const auto n = static_cast<std::int64_t>(identities.identities.size());
  DEEPER_CHECK(n >= 1 && n <= INT32_MAX, "render model: the identity set has {} identities (need at least 1)", n);
  identities_ = static_cast<std::int32_t>(n);
  action_units_ = model.action_unit_count();
  tex_height_ = model.texture_height;
  tex_width_ = model.texture_width;
  const std::int64_t p = model.glm_term_count(), ks = model.shape_components(), kt = model.texture_components();
  const std::int64_t v3 = 3 * vertices_, texels = model.texel_values();
  DEEPER_CHECK(static_cast<std::int64_t>(model.shape_glm.size()) == p * v3 &&
                   static_cast<std::int64_t>(model.shape_basis.size()) == ks * v3 &&
                   static_cast<std::int64_t>(model.texture_glm.size()) == p * texels &&
                   static_cast<std::int64_t>(model.texture_basis.size()) == kt * texels &&
                   static_cast<std::int64_t>(model.blendshapes.size()) == action_units_ * v3 &&
                   static_cast<std::int64_t>(model.expression_weights.size()) == kExpressions * action_units_,
               "render model: the face model's tensors do not match its counts (validate_model it first)");
  std::vector<float> shape_coef(static_cast<std::size_t>(n * (p + ks))), tex_coef(static_cast<std::size_t>(n * (p + kt)));
  for (std::int64_t i = 0; i < n; ++i) {
    const Identity& id = identities.identities[static_cast<std::size_t>(i)];
    DEEPER_CHECK(static_cast<std::int64_t>(id.shape.size()) == ks && static_cast<std::int64_t>(id.texture.size()) == kt,
                 "render model: identity {} has {} shape and {} texture coefficients, the model {} and {}", i,
                 id.shape.size(), id.texture.size(), ks, kt);
    const std::vector<float> d = design_vector(model, id.factors);
    std::copy(d.begin(), d.end(), shape_coef.begin() + i * (p + ks));
    std::copy(id.shape.begin(), id.shape.end(), shape_coef.begin() + i * (p + ks) + p);
    std::copy(d.begin(), d.end(), tex_coef.begin() + i * (p + kt));
    std::copy(id.texture.begin(), id.texture.end(), tex_coef.begin() + i * (p + kt) + p);
  }
  shapes_ = linear_cache(device, model.shape_glm, model.shape_basis, v3, p, ks, shape_coef, n);
  textures_ = linear_cache(device, model.texture_glm, model.texture_basis, texels, p, kt, tex_coef, n);
  blendshapes_ = upload(device, model.blendshapes);
  weights_ = upload(device, model.expression_weights);
  tri_ = upload(device, model.mesh.triangles);
  uv_ = upload(device, model.mesh.uv);
  std::vector<std::int32_t> offsets, adjacency;
  build_vertex_adjacency(model.mesh.triangles, vertices_, offsets, adjacency);
  adj_offsets_ = upload(device, offsets);
  adj_ = upload(device, adjacency);
  topology_ = upload(device, dk::build_edge_topology(model.mesh.triangles.data(), triangles_, vertices_));
}

const char* render_stage_name(RenderStage stage) {
  switch (stage) {
    case RenderStage::setup: return "setup";
    case RenderStage::synthesis: return "synthesis";
    case RenderStage::project: return "project";
    case RenderStage::normals: return "normals";
    case RenderStage::rasterize: return "rasterize";
    case RenderStage::interpolate: return "interpolate";
    case RenderStage::shade: return "shade";
    case RenderStage::antialias: return "antialias";
    case RenderStage::convert: return "convert";
  }
  return "?";
}

Renderer::Renderer(const RenderModel& model, const RenderOptions& options) : model_(model), options_(options) {
  validate_render_options(options);
  const double d = options.distance_mm;
  const auto camera = dk::PerspectiveCamera::from_fov_y(options.fov_y_degrees, options.width, options.height,
                                                        0.25 * d, 4.0 * d);
  projection_ = dk::projection_matrix(camera);
}

void Renderer::ensure(std::int64_t batch) {
  if (batch <= capacity_) return;
  const Device dev = model_.device();
  const auto b = static_cast<std::size_t>(batch);
  const auto v = static_cast<std::size_t>(model_.vertices());
  const std::size_t px = b * static_cast<std::size_t>(options_.height) * static_cast<std::size_t>(options_.width);
  const auto f = sizeof(float);
  factors_ = DeviceBuffer(dev, b * sizeof(ImageFactors));
  setup_ = DeviceBuffer(dev, b * sizeof(dk::RenderSetup));
  expr_coef_ = DeviceBuffer(dev, std::max<std::size_t>(b * static_cast<std::size_t>(model_.action_units()) * f, 16));
  verts_ = DeviceBuffer(dev, b * v * 3 * f);
  cam_ = DeviceBuffer(dev, b * v * 3 * f);
  clip_ = DeviceBuffer(dev, b * v * 4 * f);
  vnormal_ = DeviceBuffer(dev, b * v * 3 * f);
  keys_ = DeviceBuffer(dev, px * sizeof(unsigned long long));
  rast_ = DeviceBuffer(dev, px * 4 * f);
  // Per-pixel UVs and normals only for the backward (a forward-only renderer interpolates in compose).
  uv_ = options_.save_for_backward ? DeviceBuffer(dev, px * 2 * f) : DeviceBuffer();
  pnormal_ = options_.save_for_backward ? DeviceBuffer(dev, px * 3 * f) : DeviceBuffer();
  color_ = DeviceBuffer(dev, px * 3 * f);
  edge_mask_ = DeviceBuffer(dev, std::max<std::size_t>(b * static_cast<std::size_t>(model_.triangles()), 16));
  capacity_ = batch;
}

void Renderer::render(const FactorSampling& sampling, std::uint64_t first, Tensor& out, Stream* stream) {
  validate_sampling(sampling);
  DEEPER_CHECK(sampling.identity_count == model_.identity_count(),
               "render: the sampling draws from {} identities, the render model holds {}", sampling.identity_count,
               model_.identity_count());
  sampling_ = sampling;
  first_ = first;
  given_ = false;
  run(out, stream);
}

void Renderer::render(std::span<const ImageFactors> factors, Tensor& out, Stream* stream) {
  DEEPER_CHECK(out.defined() && out.rank() == 4 && out.dim(0) == static_cast<std::int64_t>(factors.size()),
               "render: {} factor records for an output of shape {}", factors.size(),
               out.defined() ? out.shape().to_string() : std::string("(undefined)"));
  for (std::size_t i = 0; i < factors.size(); ++i) {
    validate_factors(factors[i], model_.identity_count(), fmt::format("render: image {}", i));
  }
  ensure(static_cast<std::int64_t>(factors.size()));
  // On the render stream: a stream that runs beside the default stream must not race its own copy.
  if (!factors.empty()) {
    copy_bytes(factors_.data(), model_.device(), factors.data(), Device::cpu(), factors.size_bytes(), stream);
  }
  given_ = true;
  run(out, stream);
}

void Renderer::set_vertex_colors(std::span<const float> rgb) {
  if (rgb.empty()) {
    vertex_colors_ = false;
    vcolor_ = DeviceBuffer();
    return;
  }
  DEEPER_CHECK(static_cast<std::int64_t>(rgb.size()) == 3 * model_.vertices(),
               "render: {} vertex colour values for {} vertices (need V x 3)", rgb.size(), model_.vertices());
  for (float x : rgb) DEEPER_CHECK(std::isfinite(x), "render: a vertex colour is not finite");
  vcolor_ = upload(model_.device(), rgb);
  vertex_colors_ = true;
}

void Renderer::set_texture_override(std::span<const float> rgb, int tex_height, int tex_width) {
  if (rgb.empty()) {
    override_tex_ = DeviceBuffer();
    override_h_ = override_w_ = 0;
    return;
  }
  DEEPER_CHECK(tex_height >= 1 && tex_width >= 1 && tex_height <= dk::kTextureMaxSize && tex_width <= dk::kTextureMaxSize &&
                   static_cast<std::int64_t>(rgb.size()) == std::int64_t{3} * tex_height * tex_width,
               "render: a {} x {} override texture needs {} values, got {}", tex_height, tex_width,
               std::int64_t{3} * tex_height * tex_width, rgb.size());
  for (float x : rgb) DEEPER_CHECK(std::isfinite(x), "render: an override texel is not finite");
  override_tex_ = upload(model_.device(), rgb);
  override_h_ = tex_height;
  override_w_ = tex_width;
}

std::vector<ImageFactors> Renderer::last_factors() const {
  std::vector<ImageFactors> f(static_cast<std::size_t>(batch_));
  if (batch_ > 0) {
    copy_bytes(f.data(), Device::cpu(), factors_.data(), model_.device(), f.size() * sizeof(ImageFactors));
  }
  return f;
}

void Renderer::run(Tensor& out, Stream* stream) {
  DEEPER_NVTX_RANGE("render_batch");
  const Device dev = model_.device();
  DEEPER_CHECK(out.defined() && out.rank() == 4 && out.dim(1) == options_.height && out.dim(2) == options_.width &&
                   out.dim(3) == 3,
               "render: output shape {} is not [B, {}, {}, 3]", out.defined() ? out.shape().to_string() : "(undefined)",
               options_.height, options_.width);
  DEEPER_CHECK(out.dtype() == DType::f32 || out.dtype() == DType::bf16, "render: output dtype {} is not f32 or bf16",
               dtype_name(out.dtype()));
  DEEPER_CHECK(out.device() == dev, "render: output on {}, the render model on {}", out.device().name(), dev.name());
  const std::int64_t batch = out.dim(0);
  ensure(batch);
  batch_ = batch;
  if (batch == 0) return;
  void* s = stream ? stream->native() : nullptr;
  const std::int64_t v = model_.vertices(), t = model_.triangles();
  const int h = options_.height, w = options_.width;

  dk::RenderSetupParams sp;
  sp.batch = batch;
  sp.first_index = first_;
  sp.sampling = sampling_;
  sp.factors_in = given_ ? static_cast<const ImageFactors*>(factors_.data()) : nullptr;
  sp.factors_out = given_ ? nullptr : static_cast<ImageFactors*>(factors_.data());
  sp.expression_weights = model_.expression_weights();
  sp.action_units = model_.action_units();
  sp.expression_coef = static_cast<float*>(expr_coef_.data());
  sp.setup = static_cast<dk::RenderSetup*>(setup_.data());
  dk::render_setup(dev, sp, s);
  stage(RenderStage::setup);

  dk::BlendRowsParams bp;
  bp.basis = model_.blendshapes();
  bp.coef = static_cast<const float*>(expr_coef_.data());
  bp.coef_stride = model_.action_units();
  bp.base = model_.identity_shapes();
  bp.base_rows = model_.identity_count();
  bp.base_index = reinterpret_cast<const std::int32_t*>(static_cast<const std::byte*>(setup_.data()) +
                                                        offsetof(dk::RenderSetup, identity));
  bp.base_index_stride = sizeof(dk::RenderSetup) / sizeof(std::int32_t);
  bp.rows = batch;
  bp.cols = 3 * v;
  bp.k = model_.action_units();
  bp.out = static_cast<float*>(verts_.data());
  dk::blend_rows(dev, bp, s);
  stage(RenderStage::synthesis);

  dk::PoseProjectParams pp;
  pp.batch = batch;
  pp.vertices = v;
  pp.positions = static_cast<const float*>(verts_.data());
  pp.setup = static_cast<const dk::RenderSetup*>(setup_.data());
  pp.pivot[1] = options_.center_y_mm;
  pp.pivot[2] = options_.pivot_z_mm;
  pp.distance = options_.distance_mm;
  std::copy(projection_.begin(), projection_.end(), pp.projection);
  pp.camera = static_cast<float*>(cam_.data());
  pp.clip = static_cast<float*>(clip_.data());
  dk::pose_project(dev, pp, s);
  stage(RenderStage::project);

  dk::VertexNormalsParams np;
  np.batch = batch;
  np.vertices = v;
  np.triangles = t;
  np.positions = static_cast<const float*>(cam_.data());
  np.tri = model_.tri();
  np.adjacency_offsets = model_.adjacency_offsets();
  np.adjacency = model_.adjacency();
  np.out = static_cast<float*>(vnormal_.data());
  dk::vertex_normals(dev, np, s);
  stage(RenderStage::normals);

  dk::RasterizeParams rp;
  rp.pos = static_cast<const float*>(clip_.data());
  rp.tri = model_.tri();
  rp.batch = batch;
  rp.vertices = v;
  rp.triangles = t;
  rp.height = h;
  rp.width = w;
  rp.cull = dk::RasterCull::back;
  rp.check_indices = false;  // checked once by build_vertex_adjacency
  rp.keys = static_cast<unsigned long long*>(keys_.data());
  rp.out = static_cast<float*>(rast_.data());
  dk::rasterize(dev, rp, s);
  stage(RenderStage::rasterize);

  // Forward only (no backward will read the per-pixel UVs and normals; colour-map modes, vertex
  // colours included, have no backward): compose interpolates per pixel itself, bit-identical, and
  // the interpolate stage is empty. Otherwise the UVs and normals are interpolated into the buffers
  // the backward reads.
  const bool fused = !options_.save_for_backward || colour_map_mode();
  fused_ = fused;
  if (!fused) {
    dk::InterpolateParams ip;
    ip.rast = static_cast<const float*>(rast_.data());
    ip.tri = model_.tri();
    ip.batch = batch;
    ip.vertices = v;
    ip.triangles = t;
    ip.height = h;
    ip.width = w;
    ip.check_indices = false;
    ip.attr = model_.uv();
    ip.attr_batched = false;
    ip.channels = 2;
    ip.out = static_cast<float*>(uv_.data());
    dk::interpolate(dev, ip, s);
    ip.attr = static_cast<const float*>(vnormal_.data());
    ip.attr_batched = true;
    ip.channels = 3;
    ip.out = static_cast<float*>(pnormal_.data());
    dk::interpolate(dev, ip, s);
  }
  stage(RenderStage::interpolate);

  // The last stage (antialias, or compose without it) writes the output: f32, or bf16 bits
  // (round to nearest even, the bits to_bf16 gives) with no f32 image and no conversion pass.
  const bool f32 = out.dtype() == DType::f32;
  float* image = f32 ? static_cast<float*>(out.data_raw()) : nullptr;
  std::uint16_t* image_bf16 = f32 ? nullptr : static_cast<std::uint16_t*>(out.data_raw());

  dk::ComposeParams cp;
  cp.batch = batch;
  cp.height = h;
  cp.width = w;
  cp.rast = static_cast<const float*>(rast_.data());
  if (fused) {
    cp.fused = true;
    cp.tri = model_.tri();
    cp.vertices = v;
    cp.triangles = t;
    cp.check_indices = false;  // checked once by build_vertex_adjacency
    cp.vertex_normal = static_cast<const float*>(vnormal_.data());
    if (vertex_colors_) {
      cp.vertex_albedo = static_cast<const float*>(vcolor_.data());
    } else {
      cp.vertex_uv = model_.uv();
    }
  } else {
    cp.uv = static_cast<const float*>(uv_.data());
    cp.normal = static_cast<const float*>(pnormal_.data());
  }
  if (override_h_ > 0) {
    cp.textures = static_cast<const float*>(override_tex_.data());
    cp.tex_count = 1;
    cp.tex_height = override_h_;
    cp.tex_width = override_w_;
    cp.shared_texture = true;
  } else {
    cp.textures = model_.identity_textures();
    cp.tex_count = model_.identity_count();
    cp.tex_height = model_.texture_height();
    cp.tex_width = model_.texture_width();
  }
  cp.setup = static_cast<const dk::RenderSetup*>(setup_.data());
  for (int c = 0; c < 3; ++c) cp.background[c] = options_.background[static_cast<std::size_t>(c)];
  cp.out = options_.antialias ? static_cast<float*>(color_.data()) : image;
  cp.out_bf16 = options_.antialias ? nullptr : image_bf16;
  dk::compose_faces(dev, cp, s);
  stage(RenderStage::shade);

  if (options_.antialias) {
    // Which edges of each triangle are silhouettes in each image: one pass over B x T triangles,
    // after which antialias skips the pairs whose occluder has none (most) after reading 1 byte.
    dk::AntialiasEdgeMaskParams mp;
    mp.pos = static_cast<const float*>(clip_.data());
    mp.tri = model_.tri();
    mp.topology = model_.edge_topology();
    mp.batch = batch;
    mp.vertices = v;
    mp.triangles = t;
    mp.height = h;
    mp.width = w;
    mp.check_indices = false;
    mp.mask = static_cast<std::uint8_t*>(edge_mask_.data());
    dk::antialias_edge_mask(dev, mp, s);
    dk::AntialiasParams ap;
    ap.edge_mask = mp.mask;
    ap.color = static_cast<const float*>(color_.data());
    ap.rast = static_cast<const float*>(rast_.data());
    ap.pos = static_cast<const float*>(clip_.data());
    ap.tri = model_.tri();
    ap.topology = model_.edge_topology();
    ap.batch = batch;
    ap.vertices = v;
    ap.triangles = t;
    ap.channels = 3;
    ap.height = h;
    ap.width = w;
    ap.check_indices = false;
    ap.out = image;
    ap.out_bf16 = image_bf16;
    dk::antialias(dev, ap, s);
  }
  stage(RenderStage::antialias);
  stage(RenderStage::convert);  // nothing left to convert (see above)
}

void render_batch(const RenderModel& model, const FactorSampling& sampling, std::uint64_t first,
                  const RenderOptions& options, Tensor& out, Stream* stream) {
  Renderer renderer(model, options);
  renderer.render(sampling, first, out, stream);
  if (stream) {
    stream->synchronize();  // the workspace dies with the renderer
  } else {
    if (model.device().backend == Backend::cuda && out.nbytes() >= 4) {
      unsigned char probe[4];
      copy_bytes(probe, Device::cpu(), out.data_raw(), out.device(), sizeof probe);
    }
  }
}

std::vector<float> tensor_to_host(const Tensor& images) {
  DEEPER_CHECK(images.defined() && (images.dtype() == DType::f32 || images.dtype() == DType::bf16),
               "tensor_to_host: need a defined f32 or bf16 tensor");
  const Tensor host = images.to(Device::cpu());
  std::vector<float> out(static_cast<std::size_t>(host.numel()));
  if (host.dtype() == DType::f32) {
    std::memcpy(out.data(), host.data_raw(), out.size() * sizeof(float));
  } else {
    const auto* bits = static_cast<const std::uint16_t*>(host.data_raw());
    for (std::size_t i = 0; i < out.size(); ++i) {
      const std::uint32_t u = static_cast<std::uint32_t>(bits[i]) << 16;
      std::memcpy(&out[i], &u, sizeof u);
    }
  }
  return out;
}

}  // namespace deeper::render
