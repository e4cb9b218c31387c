// Analysis maps on the face, per-trial features and feature gradients (feature_maps.h).
#include "renderer/feature_maps.h"

#include "core/error.h"
#include "kernels/runtime/memory.h"
#include "kernels/runtime/tensor.h"
#include "renderer/colour_map.h"
#include "renderer/evaluate.h"
#include "renderer/pipeline.h"
#include "renderer/pipeline_grad.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>

namespace deeper::render {

namespace {

void check_style(const MapStyle& s, const char* what) {
  DEEPER_CHECK(s.size >= 1 && s.size <= 8192, "{}: image size {} is outside [1, 8192]", what, s.size);
  DEEPER_CHECK(std::isfinite(s.yaw_deg) && s.yaw_deg >= -90 && s.yaw_deg <= 90,
               "{}: yaw {} degrees is outside [-90, 90]", what, s.yaw_deg);
  DEEPER_CHECK(std::isfinite(s.shading) && s.shading >= 0 && s.shading <= 1, "{}: shading {} is outside [0, 1]", what,
               s.shading);
  for (float c : s.background) {
    DEEPER_CHECK(std::isfinite(c) && c >= 0 && c <= 1, "{}: background value {} is outside [0, 1]", what, c);
  }
}

// The GLM mean averaged over the 2E gender x ethnicity cells at the middle of the age range (V x 3).
std::vector<float> average_shape(const FaceModel& model) {
  const std::int64_t p = model.glm_term_count(), v3 = 3 * model.vertex_count();
  DEEPER_CHECK(model.ethnicity_count() >= 1 && static_cast<std::int64_t>(model.shape_glm.size()) == p * v3,
               "feature maps: the face model's shape GLM ({} values) does not match its counts ({} terms x {})",
               model.shape_glm.size(), p, v3);
  std::vector<double> d(static_cast<std::size_t>(p), 0.0);
  const float age = 0.5f * (model.age_min + model.age_max);
  const double cells = 2.0 * model.ethnicity_count();
  for (Gender g : {Gender::female, Gender::male}) {
    for (std::int32_t e = 0; e < model.ethnicity_count(); ++e) {
      const std::vector<float> x = design_vector(model, Factors{g, e, age});
      for (std::int64_t k = 0; k < p; ++k) d[static_cast<std::size_t>(k)] += x[static_cast<std::size_t>(k)] / cells;
    }
  }
  std::vector<float> shape(static_cast<std::size_t>(v3));
  for (std::int64_t j = 0; j < v3; ++j) {
    double s = 0;
    for (std::int64_t k = 0; k < p; ++k)
      s += d[static_cast<std::size_t>(k)] * model.shape_glm[static_cast<std::size_t>(k * v3 + j)];
    shape[static_cast<std::size_t>(j)] = static_cast<float>(s);
  }
  return shape;
}

// A model whose only identity is the average face: one "average" ethnicity, the average shape as
// the intercept, no identity components, a 2 x 2 placeholder texture (never sampled: map colours
// replace it), the original expressions.
FaceModel average_face_model(const FaceModel& model) {
  FaceModel m;
  m.mesh = model.mesh;
  m.texture_height = m.texture_width = 2;
  m.ethnicities = {"average"};
  m.age_min = model.age_min;
  m.age_max = model.age_max;
  m.age_center = model.age_center;
  m.age_scale = model.age_scale;
  const std::int64_t p = m.glm_term_count(), v3 = 3 * model.vertex_count();
  const std::vector<float> shape = average_shape(model);
  m.shape_glm.assign(static_cast<std::size_t>(p * v3), 0.0f);
  std::copy(shape.begin(), shape.end(), m.shape_glm.begin());
  m.texture_glm.assign(static_cast<std::size_t>(p * m.texel_values()), 0.0f);
  std::fill(m.texture_glm.begin(), m.texture_glm.begin() + m.texel_values(), 0.75f);
  m.action_units = model.action_units;
  m.blendshapes = model.blendshapes;
  m.expression_weights = model.expression_weights;
  return m;
}

// Renders the average face at each yaw with `paint` setting the colours; the views side by side:
// size x (n size) x 3.
std::vector<float> render_views(const Device& device, const FaceModel& model, std::span<const double> yaws,
                                const MapStyle& style, const std::function<void(Renderer&)>& paint) {
  const FaceModel average = average_face_model(model);
  IdentitySet ids;
  ids.identities.resize(1);
  const RenderModel rm(device, average, ids);
  RenderOptions options;
  options.width = options.height = style.size;
  options.background = style.background;
  Renderer renderer(rm, options);
  paint(renderer);
  std::vector<ImageFactors> factors(yaws.size());
  for (std::size_t i = 0; i < yaws.size(); ++i) {
    ImageFactors& f = factors[i];
    f.yaw = static_cast<float>(yaws[i]);
    f.ambient = 1.0f - style.shading;
    f.diffuse = style.shading;
  }
  const auto n = static_cast<std::int64_t>(yaws.size());
  const int s = style.size;
  Tensor images = Tensor::empty({n, s, s, 3}, DType::f32, device);
  renderer.render(factors, images);
  const std::vector<float> host = tensor_to_host(images);
  if (n == 1) return host;
  std::vector<float> out(host.size());
  const auto row = static_cast<std::size_t>(s) * 3;
  for (std::int64_t b = 0; b < n; ++b) {
    for (int y = 0; y < s; ++y) {
      const float* src = host.data() + (static_cast<std::size_t>(b) * s + static_cast<std::size_t>(y)) * row;
      std::copy(src, src + row, out.begin() + static_cast<std::ptrdiff_t>((static_cast<std::size_t>(y) * n + b) * row));
    }
  }
  return out;
}

void check_vertex_values(const FaceModel& model, std::span<const double> values, const char* what) {
  DEEPER_CHECK(static_cast<std::int64_t>(values.size()) == model.vertex_count(),
               "{}: {} values for {} vertices (need one per vertex)", what, values.size(), model.vertex_count());
}

std::vector<float> vertex_views(const Device& device, const FaceModel& model, std::span<const double> values,
                                const MapStyle& style, std::span<const double> yaws, const char* what) {
  check_style(style, what);
  check_vertex_values(model, values, what);
  const std::vector<float> rgb = style_colours(values, style);
  return render_views(device, model, yaws, style, [&](Renderer& r) { r.set_vertex_colors(rgb); });
}

void check_grid(const FaceModel& model, int h, int w, const char* what) {
  DEEPER_CHECK(h >= 1 && w >= 1 && model.texture_height % h == 0 && model.texture_width % w == 0,
               "{}: a {} x {} grid does not divide the model's {} x {} texture", what, h, w, model.texture_height,
               model.texture_width);
}

void check_count(std::span<const double> values, int h, int w, const char* what) {
  DEEPER_CHECK(static_cast<std::int64_t>(values.size()) == std::int64_t{h} * w, "{}: {} values for a {} x {} grid",
               what, values.size(), h, w);
}

std::vector<float> texel_views(const Device& device, const FaceModel& model, std::span<const double> values, int h,
                               int w, const MapStyle& style, std::span<const double> yaws, const char* what) {
  check_style(style, what);
  check_grid(model, h, w, what);
  check_count(values, h, w, what);
  const std::vector<float> rgb = style_colours(values, style);
  const int ht = model.texture_height, wt = model.texture_width, fy = ht / h, fx = wt / w;
  std::vector<float> tex(static_cast<std::size_t>(ht) * static_cast<std::size_t>(wt) * 3);
  for (int y = 0; y < ht; ++y) {
    for (int x = 0; x < wt; ++x) {
      const std::size_t src =
          static_cast<std::size_t>(y / fy) * static_cast<std::size_t>(w) + static_cast<std::size_t>(x / fx);
      const std::size_t dst = static_cast<std::size_t>(y) * static_cast<std::size_t>(wt) + static_cast<std::size_t>(x);
      std::copy_n(rgb.begin() + static_cast<std::ptrdiff_t>(3 * src), 3,
                  tex.begin() + static_cast<std::ptrdiff_t>(3 * dst));
    }
  }
  return render_views(device, model, yaws, style, [&](Renderer& r) { r.set_texture_override(tex, ht, wt); });
}

// Sums (average = false) or averages factor x factor blocks of `count` ht x wt x 3 planes.
void block_reduce(const float* in, std::int64_t count, int ht, int wt, int factor, bool average, float* out) {
  const int h = ht / factor, w = wt / factor;
  const double scale = average ? 1.0 / (static_cast<double>(factor) * factor) : 1.0;
  const auto plane = static_cast<std::size_t>(ht) * static_cast<std::size_t>(wt) * 3;
  const auto out_plane = static_cast<std::size_t>(h) * static_cast<std::size_t>(w) * 3;
  for (std::int64_t b = 0; b < count; ++b) {
    const float* src = in + static_cast<std::size_t>(b) * plane;
    float* dst = out + static_cast<std::size_t>(b) * out_plane;
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        double acc[3] = {0, 0, 0};
        for (int dy = 0; dy < factor; ++dy) {
          const float* p = src + (static_cast<std::size_t>(y * factor + dy) * static_cast<std::size_t>(wt) +
                                  static_cast<std::size_t>(x) * factor) *
                                     3;
          for (int dx = 0; dx < factor; ++dx) {
            for (int c = 0; c < 3; ++c) acc[c] += p[3 * dx + c];
          }
        }
        for (int c = 0; c < 3; ++c) {
          dst[(static_cast<std::size_t>(y) * static_cast<std::size_t>(w) + static_cast<std::size_t>(x)) * 3 + c] =
              static_cast<float>(acc[c] * scale);
        }
      }
    }
  }
}

void check_factor(int ht, int wt, int factor, const char* what) {
  DEEPER_CHECK(ht >= 1 && wt >= 1, "{}: texture size {} x {} is not positive", what, ht, wt);
  DEEPER_CHECK(factor >= 1 && ht % factor == 0 && wt % factor == 0, "{}: factor {} does not divide the {} x {} texture",
               what, factor, ht, wt);
}

}  // namespace

std::vector<float> style_colours(std::span<const double> values, const MapStyle& style) {
  if (!style.diverging) return colour_map_rgb(values, style.lo, style.hi, style.mask);
  DEEPER_CHECK(std::isfinite(style.lo) && std::isfinite(style.hi) && style.lo < style.hi,
               "diverging colour map: range [{}, {}] is not a finite range with lo < hi", style.lo, style.hi);
  return diverging_colour_map_rgb(values, std::max(std::fabs(style.lo), std::fabs(style.hi)), style.mask);
}

std::vector<float> draw_vertex_map(const Device& device, const FaceModel& model, std::span<const double> values,
                                   const MapStyle& style) {
  const double yaw[1] = {style.yaw_deg};
  return vertex_views(device, model, values, style, yaw, "vertex map");
}

std::vector<float> draw_vertex_map_panel(const Device& device, const FaceModel& model, std::span<const double> values,
                                         const MapStyle& style) {
  return vertex_views(device, model, values, style, kPanelYaws, "vertex map panel");
}

std::vector<float> draw_texel_map_on_face(const Device& device, const FaceModel& model, std::span<const double> values,
                                          int h, int w, const MapStyle& style) {
  const double yaw[1] = {style.yaw_deg};
  return texel_views(device, model, values, h, w, style, yaw, "texel map");
}

std::vector<float> draw_texel_map_panel(const Device& device, const FaceModel& model, std::span<const double> values,
                                        int h, int w, const MapStyle& style) {
  return texel_views(device, model, values, h, w, style, kPanelYaws, "texel map panel");
}

std::vector<float> texel_map_image(std::span<const double> values, int h, int w, const MapStyle& style, int scale) {
  DEEPER_CHECK(h >= 1 && w >= 1 && scale >= 1, "texel map image: grid {} x {} or scale {} is below 1", h, w, scale);
  const std::int64_t ih = std::int64_t{h} * scale, iw = std::int64_t{w} * scale;
  DEEPER_CHECK(ih * iw <= (std::int64_t{1} << 28), "texel map image: {} x {} pixels is too large (at most 2^28)", ih,
               iw);
  check_count(values, h, w, "texel map image");
  const std::vector<float> rgb = style_colours(values, style);
  std::vector<float> out(static_cast<std::size_t>(ih * iw * 3));
  for (std::int64_t y = 0; y < ih; ++y) {
    for (std::int64_t x = 0; x < iw; ++x) {
      const std::int64_t src = (y / scale) * w + x / scale;
      std::copy_n(rgb.begin() + 3 * src, 3, out.begin() + 3 * (y * iw + x));
    }
  }
  return out;
}

std::vector<float> downsample_texture(const float* texture, int ht, int wt, int factor) {
  DEEPER_CHECK(texture != nullptr, "downsample texture: the texture is null");
  check_factor(ht, wt, factor, "downsample texture");
  std::vector<float> out(static_cast<std::size_t>(ht / factor) * static_cast<std::size_t>(wt / factor) * 3);
  block_reduce(texture, 1, ht, wt, factor, true, out.data());
  return out;
}

void identity_features(const FaceModel& model, const Identity& identity, int texel_factor, float* vertices_out,
                       float* texels_out) {
  check_factor(model.texture_height, model.texture_width, texel_factor, "identity features");
  DEEPER_CHECK(static_cast<std::int64_t>(identity.shape.size()) == model.shape_components() &&
                   static_cast<std::int64_t>(identity.texture.size()) == model.texture_components(),
               "identity features: the identity has {} shape and {} texture coefficients, the model {} and {}",
               identity.shape.size(), identity.texture.size(), model.shape_components(), model.texture_components());
  if (vertices_out) {
    const std::vector<float> v = vertices(model, identity);
    std::copy(v.begin(), v.end(), vertices_out);
  }
  if (texels_out) {
    const std::vector<float> t = texture(model, identity);
    block_reduce(t.data(), 1, model.texture_height, model.texture_width, texel_factor, true, texels_out);
  }
}

void feature_gradients(const RenderBackward& backward, std::int64_t batch, int texel_factor,
                       std::vector<float>& vertex_grads, std::vector<float>& texel_grads) {
  const RenderModel& rm = backward.render_model();
  const int ht = rm.texture_height(), wt = rm.texture_width();
  DEEPER_CHECK(batch == backward.last_batch(), "feature gradients: batch {} is not the last backward's batch {}", batch,
               backward.last_batch());
  check_factor(ht, wt, texel_factor, "feature gradients");
  const auto b = static_cast<std::size_t>(batch);
  const auto v3 = static_cast<std::size_t>(3 * rm.vertices());
  const auto texels = static_cast<std::size_t>(ht) * static_cast<std::size_t>(wt) * 3;
  vertex_grads.resize(b * v3);
  texel_grads.resize(b * (texels / (static_cast<std::size_t>(texel_factor) * static_cast<std::size_t>(texel_factor))));
  if (batch == 0) return;
  copy_bytes(vertex_grads.data(), Device::cpu(), backward.grad_vertices(), rm.device(),
             vertex_grads.size() * sizeof(float));
  std::vector<float> tex(b * texels);
  copy_bytes(tex.data(), Device::cpu(), backward.grad_textures(), rm.device(), tex.size() * sizeof(float));
  block_reduce(tex.data(), batch, ht, wt, texel_factor, false, texel_grads.data());
}

}  // namespace deeper::render
