#include "analysis/e2_reverse_correlation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

#include "analysis/numbers.h"
#include "core/error.h"
#include "core/log.h"
#include "infotheory/allpairs_mv.h"

namespace deeper::analysis {

namespace {

info::AllPairsOptions engine_options(const MapOptions& o) {
  info::AllPairsOptions a;
  a.permutations = static_cast<int>(o.permutations);
  a.permutation_seed = o.seed;
  a.precision = o.precision;
  return a;
}

FeatureMap finish_map(const FeatureSet& features, const info::AllPairsResult& r, const MapOptions& o,
                      std::string response) {
  FeatureMap m;
  m.feature = features.kind;
  m.response = std::move(response);
  m.mi = r.mi;
  m.alpha = o.alpha;
  m.permutations = r.permutations;
  m.max_null = r.max_null_all;
  m.threshold = maxstat_threshold_or_nan(r, o.alpha);
  m.significant.assign(m.mi.size(), 0);
  for (std::size_t j = 0; j < m.mi.size(); ++j) m.significant[j] = m.mi[j] > m.threshold ? 1 : 0;  // false for NaN
  return m;
}

double mean(std::span<const double> v) {
  return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

double sd(std::span<const double> v) {
  if (v.size() < 2) return 0.0;
  const double m = mean(v);
  double s = 0.0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

std::vector<double> coefficient_mi(std::span<const render::Identity> faces, bool shape, std::span<const double> logit) {
  const auto n = static_cast<std::int64_t>(faces.size());
  const auto k = static_cast<std::int64_t>(shape ? faces[0].shape.size() : faces[0].texture.size());
  std::vector<double> x(static_cast<std::size_t>(k * n));
  for (std::int64_t t = 0; t < n; ++t) {
    const auto& c = shape ? faces[static_cast<std::size_t>(t)].shape : faces[static_cast<std::size_t>(t)].texture;
    for (std::int64_t j = 0; j < k; ++j) x[static_cast<std::size_t>(j * n + t)] = c[static_cast<std::size_t>(j)];
  }
  return info::gcmi_cc_all_pairs(x.data(), k, logit.data(), 1, n).mi;
}

}  // namespace

double maxstat_threshold_or_nan(const info::AllPairsResult& result, double alpha) {
  return result.permutations > 0 ? info::maxstat_threshold(result, alpha) : std::numeric_limits<double>::quiet_NaN();
}

std::int64_t FeatureMap::significant_count() const {
  return std::count(significant.begin(), significant.end(), std::uint8_t{1});
}

double FeatureMap::max_mi() const { return mi.empty() ? 0.0 : *std::max_element(mi.begin(), mi.end()); }

double FeatureMap::significant_mi_sum() const {
  double s = 0.0;
  for (std::size_t j = 0; j < mi.size(); ++j) s += significant[j] ? mi[j] : 0.0;
  return s;
}

FeatureMap feature_map(const FeatureSet& features, std::span<const double> response, const MapOptions& options) {
  DEEPER_CHECK(static_cast<std::int64_t>(response.size()) == features.trials,
               "feature_map: {} responses for {} trials", response.size(), features.trials);
  const auto r = features_cc(features, response.data(), 1, 1, engine_options(options));
  return finish_map(features, r, options, "logit");
}

FeatureMap feature_map(const FeatureSet& features, std::span<const std::int32_t> labels, int classes,
                       const MapOptions& options) {
  DEEPER_CHECK(static_cast<std::int64_t>(labels.size()) == features.trials,
               "feature_map: {} labels for {} trials", labels.size(), features.trials);
  const auto r = features_cd(features, labels.data(), classes, engine_options(options));
  return finish_map(features, r, options, "chosen");
}

E2Result run_e2(Study& study, std::vector<TrialSet>& trials, Progress* progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto& s = study.settings();
  E2Result result;
  for (auto& set : trials) {
    // With E3 to follow, record its activations in the same forward passes: the channel means always,
    // every unit too when all targets' units fit in kSpatialCaptureBytes (else E3 renders each target
    // again for them, one target's units at a time).
    if (s.runs("e3")) {
      std::int64_t units = 0;
      for (const auto& a : make_capture(study, s.layers, false, 0).layers) units += a.unit_count();
      const double bytes = 4.0 * static_cast<double>(units) * static_cast<double>(set.trials()) *
                           static_cast<double>(trials.size());
      set.capture = make_capture(study, s.layers, s.spatial && bytes <= kSpatialCaptureBytes, set.trials());
      respond(study, set, study.frontal_factors(), 0, &set.capture, progress);
    } else {
      respond(study, set, study.frontal_factors(), 0, nullptr, progress);
    }
    E2Target t;
    t.target = set.target;
    t.trials = set.trials();
    t.top1_rate = static_cast<double>(std::count(set.top1.begin(), set.top1.end(), set.target)) /
                  static_cast<double>(set.trials());
    t.logit_mean = mean(set.logit);
    t.logit_sd = sd(set.logit);
    const FeatureSet shape = shape_features(study.face_model(), set.faces, 1);
    const FeatureSet texture = texture_features(study.face_model(), set.faces, s.texel_factor);
    MapOptions o;
    o.permutations = s.permutations;
    o.alpha = s.alpha;
    o.seed = s.seed + 101 * static_cast<std::uint64_t>(set.target);
    t.shape_logit = feature_map(shape, set.logit, o);
    t.texture_logit = feature_map(texture, set.logit, o);
    t.shape_chosen = feature_map(shape, set.chosen, 2, o);
    t.texture_chosen = feature_map(texture, set.chosen, 2, o);
    t.shape_coefficient_mi = coefficient_mi(set.faces, true, set.logit);
    t.texture_coefficient_mi = coefficient_mi(set.faces, false, set.logit);
    log::info("E2 target {}: shape {} of {} vertices significant (max {:.4f} bits), texture {} of {} texels "
              "(max {:.4f} bits)",
              set.target, t.shape_logit.significant_count(), shape.count, t.shape_logit.max_mi(),
              t.texture_logit.significant_count(), texture.count, t.texture_logit.max_mi());
    result.vertices = shape.count;
    result.texel_height = texture.grid_height;
    result.texel_width = texture.grid_width;
    result.targets.push_back(std::move(t));
  }
  const auto nt = static_cast<double>(result.targets.size());
  result.shape_mean_mi.assign(static_cast<std::size_t>(result.vertices), 0.0);
  result.texture_mean_mi.assign(static_cast<std::size_t>(result.texel_height * result.texel_width), 0.0);
  result.shape_significant_targets.assign(result.shape_mean_mi.size(), 0);
  result.texture_significant_targets.assign(result.texture_mean_mi.size(), 0);
  for (const auto& t : result.targets) {
    for (std::size_t j = 0; j < result.shape_mean_mi.size(); ++j) {
      result.shape_mean_mi[j] += t.shape_logit.mi[j] / nt;
      result.shape_significant_targets[j] += t.shape_logit.significant[j];
    }
    for (std::size_t j = 0; j < result.texture_mean_mi.size(); ++j) {
      result.texture_mean_mi[j] += t.texture_logit.mi[j] / nt;
      result.texture_significant_targets[j] += t.texture_logit.significant[j];
    }
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

nlohmann::json feature_map_json(const FeatureMap& m) {
  nlohmann::json j = {{"feature", m.feature},
                      {"response", m.response},
                      {"features", m.mi.size()},
                      {"permutations", m.permutations},
                      {"alpha", m.alpha},
                      {"significant", m.significant_count()},
                      {"max_mi_bits", m.max_mi()},
                      {"significant_mi_sum_bits", m.significant_mi_sum()},
                      {"mean_mi_bits", m.mi.empty() ? 0.0 : mean(m.mi)}};
  j["threshold_bits"] = json_number(m.threshold);
  return j;
}

nlohmann::json e2_json(const E2Result& r) {
  nlohmann::json targets = nlohmann::json::array();
  double shape_coef = 0.0, texture_coef = 0.0;
  for (const auto& t : r.targets) {
    const double sc = std::accumulate(t.shape_coefficient_mi.begin(), t.shape_coefficient_mi.end(), 0.0);
    const double tc = std::accumulate(t.texture_coefficient_mi.begin(), t.texture_coefficient_mi.end(), 0.0);
    shape_coef += sc / static_cast<double>(r.targets.size());
    texture_coef += tc / static_cast<double>(r.targets.size());
    targets.push_back({{"target", t.target},
                       {"trials", t.trials},
                       {"top1_rate", t.top1_rate},
                       {"logit_mean", t.logit_mean},
                       {"logit_sd", t.logit_sd},
                       {"shape_logit", feature_map_json(t.shape_logit)},
                       {"texture_logit", feature_map_json(t.texture_logit)},
                       {"shape_chosen", feature_map_json(t.shape_chosen)},
                       {"texture_chosen", feature_map_json(t.texture_chosen)},
                       {"shape_coefficient_mi_sum_bits", sc},
                       {"texture_coefficient_mi_sum_bits", tc}});
  }
  // The claim: texture carries more decision information than shape (consistent with E1).
  nlohmann::json claim = {{"rule", "sum over the identity coefficients of MI(target logit; coefficient), texture vs shape, "
                                   "mean over targets; supported when texture > shape"},
                          {"shape_bits", shape_coef},
                          {"texture_bits", texture_coef},
                          {"texture_more_than_shape", texture_coef > shape_coef}};
  return {{"targets", targets},
          {"vertices", r.vertices},
          {"texel_grid", {r.texel_height, r.texel_width}},
          {"claim", claim},
          {"seconds", r.seconds}};
}

}  // namespace deeper::analysis
