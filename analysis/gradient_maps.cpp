#include "analysis/gradient_maps.h"

#include "analysis/numbers.h"

#include <chrono>
#include <cmath>

#include "core/error.h"
#include "core/log.h"
#include "renderer/feature_maps.h"
#include "renderer/pipeline_grad.h"

namespace deeper::analysis {

namespace {


}  // namespace

GradientResult run_gradients(Study& study, const std::vector<TrialSet>& trials, Progress* progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto& s = study.settings();
  const auto& model = study.face_model();
  GradientResult result;
  result.texel_height = model.texture_height / s.texel_factor;
  result.texel_width = model.texture_width / s.texel_factor;
  const std::int64_t v = model.vertex_count(), texels = std::int64_t{result.texel_height} * result.texel_width;
  for (const auto& set : trials) {
    const std::int64_t n = std::min(s.gradient_trials, set.trials());
    GradientTarget g;
    g.target = set.target;
    g.trials = n;
    g.shape.assign(static_cast<std::size_t>(v), 0.0);
    g.texture.assign(static_cast<std::size_t>(texels), 0.0);
    std::vector<render::ImageFactors> factors(static_cast<std::size_t>(n), study.frontal_factors());
    for (std::int64_t k = 0; k < n; ++k) factors[static_cast<std::size_t>(k)].identity = static_cast<std::int32_t>(k);
    std::vector<float> vertex_grads, texel_grads;
    run_stimuli(
        study, std::span<const render::Identity>(set.faces.data(), static_cast<std::size_t>(n)), factors,
        [&](std::int64_t, std::int64_t count, nn::InferenceModel& net, const render::Renderer& renderer,
            const Tensor& images) {
          Tensor d_images = Tensor::empty({images.dim(0), images.dim(1), images.dim(2), 3}, DType::f32, images.device(),
                                          Layout::nhwc);
          const std::vector<std::int32_t> targets(static_cast<std::size_t>(count), set.target);
          net.input_gradient(images, targets, d_images);
          render::RenderBackward backward(renderer.model(), model);
          render::RenderGradients unused;
          backward.backward(renderer, d_images, unused);
          render::feature_gradients(backward, count, s.texel_factor, vertex_grads, texel_grads);
          for (std::int64_t b = 0; b < count; ++b) {
            const float* gv = vertex_grads.data() + b * v * 3;
            for (std::int64_t i = 0; i < v; ++i) {
              const double x = gv[i * 3], y = gv[i * 3 + 1], z = gv[i * 3 + 2];
              g.shape[static_cast<std::size_t>(i)] += std::sqrt(x * x + y * y + z * z) / static_cast<double>(n);
            }
            const float* gt = texel_grads.data() + b * texels * 3;
            for (std::int64_t i = 0; i < texels; ++i) {
              const double r = gt[i * 3], gg = gt[i * 3 + 1], bb = gt[i * 3 + 2];
              g.texture[static_cast<std::size_t>(i)] += std::sqrt(r * r + gg * gg + bb * bb) / static_cast<double>(n);
            }
          }
        },
        progress);
    result.targets.push_back(std::move(g));
  }
  std::vector<std::vector<double>> shapes, textures;
  for (const auto& t : result.targets) {
    shapes.push_back(t.shape);
    textures.push_back(t.texture);
  }
  result.shape_mean = mean_maps(shapes);
  result.texture_mean = mean_maps(textures);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

void compare_gradients(GradientResult& g, const E2Result& e2, const E3Result* e3) {
  DEEPER_CHECK(g.shape_mean.size() == e2.shape_mean_mi.size() && g.texture_mean.size() == e2.texture_mean_mi.size(),
               "compare_gradients: gradient maps ({} vertices, {} texels) and E2 maps ({}, {}) differ in size",
               g.shape_mean.size(), g.texture_mean.size(), e2.shape_mean_mi.size(), e2.texture_mean_mi.size());
  g.shape_vs_e2 = spearman(g.shape_mean, e2.shape_mean_mi);
  g.texture_vs_e2 = spearman(g.texture_mean, e2.texture_mean_mi);
  g.layers.clear();
  if (e3 == nullptr || e3->targets.empty()) return;
  // The gradient maps at the E3 features: the chosen vertices, and the texel grid coarsened to E3's.
  std::vector<double> shape_at;
  for (std::int64_t vtx : e3->shape_vertices) shape_at.push_back(g.shape_mean[static_cast<std::size_t>(vtx)]);
  const int fy = g.texel_height / std::max(1, e3->texel_height), fx = g.texel_width / std::max(1, e3->texel_width);
  std::vector<double> texture_at(static_cast<std::size_t>(e3->texel_height * e3->texel_width), 0.0);
  for (int y = 0; y < g.texel_height; ++y) {
    for (int x = 0; x < g.texel_width; ++x) {
      texture_at[static_cast<std::size_t>((y / fy) * e3->texel_width + x / fx)] +=
          g.texture_mean[static_cast<std::size_t>(y * g.texel_width + x)];
    }
  }
  const std::size_t layers = e3->targets[0].layers.size();
  for (std::size_t l = 0; l < layers; ++l) {
    std::vector<double> shape_map(shape_at.size(), 0.0), texture_map(texture_at.size(), 0.0);
    for (const auto& t : e3->targets) {
      for (std::size_t j = 0; j < shape_map.size(); ++j) shape_map[j] += t.layers[l].shape.map_info[j];
      for (std::size_t j = 0; j < texture_map.size(); ++j) texture_map[j] += t.layers[l].texture.map_info[j];
    }
    g.layers.push_back({e3->targets[0].layers[l].layer, spearman(shape_at, shape_map),
                        spearman(texture_at, texture_map)});
  }
}

nlohmann::json gradients_json(const GradientResult& g) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : g.layers) layers.push_back({{"layer", l.layer}, {"shape", json_number(l.shape)}, {"texture", json_number(l.texture)}});
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& t : g.targets) targets.push_back({{"target", t.target}, {"trials", t.trials}});
  return {{"targets", targets},
          {"texel_grid", {g.texel_height, g.texel_width}},
          {"spearman_shape_vs_e2", json_number(g.shape_vs_e2)},
          {"spearman_texture_vs_e2", json_number(g.texture_vs_e2)},
          {"spearman_by_layer", layers},
          {"seconds", g.seconds}};
}

}  // namespace deeper::analysis
