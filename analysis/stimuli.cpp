#include "analysis/stimuli.h"

#include <algorithm>
#include <map>

#include "core/error.h"
#include "core/log.h"
#include "nn/data.h"
#include "renderer/evaluate.h"

namespace deeper::analysis {

namespace {
float middle(const nn::Range& r) { return static_cast<float>(0.5 * (r.lo + r.hi)); }
}  // namespace

Study::Study(RunInfo run, AnalysisSettings settings, Device device, const render::FaceModel* face_model)
    : run_(std::move(run)), settings_(std::move(settings)), device_(device) {
  validate_settings(settings_, run_.config);
  face_model_ = std::make_unique<render::FaceModel>(face_model != nullptr ? *face_model
                                                                          : render::make_procedural_model());
  identities_ = render::make_identities(*face_model_, static_cast<std::uint64_t>(run_.config.render.identity_seed),
                                        run_.config.model.classes);
  network_ = std::make_unique<nn::InferenceModel>(
      nn::InferenceModel::from_checkpoint(run_.checkpoint, device_, settings_.batch));
}

render::RenderOptions Study::render_options() const {
  render::RenderOptions o;
  o.width = o.height = static_cast<int>(run_.config.model.input_size);
  return o;
}

render::ImageFactors Study::frontal_factors() const {
  const auto& r = run_.config.render;
  render::ImageFactors f;
  f.identity = 0;
  f.expression = 0;  // neutral
  f.intensity = 0.0f;
  f.yaw = f.pitch = f.roll = 0.0f;
  f.scale = middle(r.scale);
  f.tx = f.ty = 0.0f;
  f.light_azimuth = middle(r.light_yaw_deg);
  f.light_elevation = middle(r.light_pitch_deg);
  f.ambient = middle(r.ambient);
  f.diffuse = middle(r.diffuse);
  return f;
}

render::FactorSampling Study::heldout_sampling(std::uint64_t stream) const {
  // A seed no training or evaluation draw uses: the analysis seed mixed with the stream number.
  const std::uint64_t seed = (settings_.seed * 0x9E3779B97F4A7C15ull) ^ (stream << 32) ^ 0x414E414C59534953ull;
  return nn::render_sampling(run_.config, seed);
}

void run_stimuli(Study& study, std::span<const render::Identity> identities,
                 std::span<const render::ImageFactors> factors, const StimulusSink& sink, Progress* progress) {
  const auto count = static_cast<std::int64_t>(factors.size());
  if (count == 0) return;
  DEEPER_CHECK(!identities.empty(), "run_stimuli: {} images but no identities", count);
  nn::InferenceModel& net = study.network();
  const std::int64_t batch = net.max_batch();
  const std::int64_t S = net.input_size();
  Tensor images = Tensor::empty({batch, S, S, 3}, DType::f32, study.device(), Layout::nhwc);
  const render::RenderOptions options = study.render_options();
  for (std::int64_t first = 0; first < count; first += batch) {
    const std::int64_t n = std::min(batch, count - first);
    // The identities this batch uses, renumbered 0.. in order of first use.
    std::map<std::int32_t, std::int32_t> local;
    render::IdentitySet subset;
    std::vector<render::ImageFactors> batch_factors(factors.begin() + first, factors.begin() + first + n);
    for (std::int64_t k = 0; k < n; ++k) {
      auto& f = batch_factors[static_cast<std::size_t>(k)];
      if (f.identity < 0 || f.identity >= static_cast<std::int64_t>(identities.size())) {
        throw Error(fmt::format("stimulus image {}: identity {} is outside the {} given identities", first + k,
                                f.identity, identities.size()));
      }
      auto [it, added] = local.emplace(f.identity, static_cast<std::int32_t>(subset.identities.size()));
      if (added) subset.identities.push_back(identities[static_cast<std::size_t>(f.identity)]);
      f.identity = it->second;
      render::validate_factors(f, static_cast<std::int32_t>(subset.identities.size()),
                               fmt::format("stimulus image {}", first + k));
    }
    const render::RenderModel model(study.device(), study.face_model(), subset);
    render::Renderer renderer(model, options);
    Tensor view = images.slice(0, n);
    renderer.render(batch_factors, view);
    net.run(view);
    sink(first, n, net, renderer, view);
    if (progress != nullptr) progress->advance(static_cast<std::uint64_t>(n));
  }
}

std::vector<float> scaled(std::span<const float> coefficients, double a) {
  std::vector<float> out(coefficients.size());
  for (std::size_t k = 0; k < out.size(); ++k) out[k] = static_cast<float>(a * coefficients[k]);
  return out;
}

std::vector<float> morphed(std::span<const float> from, std::span<const float> to, double lambda) {
  DEEPER_CHECK(from.size() == to.size(), "morphed: {} and {} coefficients", from.size(), to.size());
  std::vector<float> out(from.size());
  for (std::size_t k = 0; k < out.size(); ++k) {
    out[k] = static_cast<float>((1.0 - lambda) * from[k] + lambda * to[k]);
  }
  return out;
}

}  // namespace deeper::analysis
