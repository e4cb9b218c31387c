// E2: the shape and texture features behind identity decisions, by reverse correlation
// (../shared/reference/paper.md section 4, E2; docs/experiments.md).
//
// Per target: the trials of analysis/trials.h at the frontal view; responses = the target logit
// (continuous: multivariate gcmi_cc, feature d = 3 against the logit) and the group-of-6 choice
// (binary: gcmi_model_cd). Features (analysis/features.h): every vertex's 3D position and every texel's
// RGB on the settings.texel_factor grid. Statistics: settings.permutations permutations of the
// response; the maximum over all vertices (and separately over all texels) of the null MI per
// permutation; a feature is significant when its MI exceeds the (1 - alpha) quantile of those maxima
// (FWER alpha, infotheory maxstat_threshold). Also, per identity coefficient, the univariate MI with the
// logit (K_s shape and K_t texture values): the "how much decision information does shape vs texture
// carry" summary the paper's claim is judged on.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/features.h"
#include "analysis/trials.h"
#include "infotheory/allpairs.h"

namespace deeper::analysis {

struct FeatureMap {
  std::string feature;    // "shape" or "texture"
  std::string response;   // "logit" or "chosen"
  std::vector<double> mi;                   // J, bits (bias-corrected)
  std::vector<std::uint8_t> significant;    // J, mi > threshold
  std::vector<double> max_null;             // P, max over the J features of the null MI (bits)
  double threshold = 0.0;                   // bits; NaN without permutations
  double alpha = 0.05;
  std::int64_t permutations = 0;
  std::int64_t significant_count() const;
  double max_mi() const;
  double significant_mi_sum() const;
};

struct MapOptions {
  std::int64_t permutations = 0;
  std::uint64_t seed = 0;
  double alpha = 0.05;
  info::GemmPrecision precision = info::GemmPrecision::f64;
};

// The (1 - alpha) quantile of the permutation maxima over all pairs (infotheory maxstat_threshold);
// NaN without permutations, so that no feature counts as significant.
double maxstat_threshold_or_nan(const info::AllPairsResult& result, double alpha);

// MI of every feature with a continuous response (N) and the max-statistic threshold.
FeatureMap feature_map(const FeatureSet& features, std::span<const double> response, const MapOptions& options);
// The same with a discrete response (labels 0..K-1; model comparison cd).
FeatureMap feature_map(const FeatureSet& features, std::span<const std::int32_t> labels, int classes,
                       const MapOptions& options);

struct E2Target {
  std::int32_t target = 0;
  std::int64_t trials = 0;
  double top1_rate = 0.0;          // fraction of trial faces the network calls the target
  double logit_mean = 0.0, logit_sd = 0.0;
  FeatureMap shape_logit, texture_logit, shape_chosen, texture_chosen;
  std::vector<double> shape_coefficient_mi;    // K_s, MI(logit; s_k), bits
  std::vector<double> texture_coefficient_mi;  // K_t
};

struct E2Result {
  std::vector<E2Target> targets;
  std::int64_t vertices = 0;
  int texel_height = 0, texel_width = 0;
  // Over targets: the mean MI map and the number of targets in which each feature is significant.
  std::vector<double> shape_mean_mi, texture_mean_mi;
  std::vector<std::int32_t> shape_significant_targets, texture_significant_targets;
  double seconds = 0.0;
};

// The largest capture of every unit of every target E2 keeps for E3 (bytes).
inline constexpr double kSpatialCaptureBytes = 4.0 * 1024 * 1024 * 1024;

// Runs E2 on `trials` (responses are (re)computed at the frontal view). The trials' responses stay
// set for E3 and the gradient maps.
E2Result run_e2(Study& study, std::vector<TrialSet>& trials, Progress* progress = nullptr);

nlohmann::json e2_json(const E2Result& result);
nlohmann::json feature_map_json(const FeatureMap& map);  // summary numbers only (maps go to .npy)

}  // namespace deeper::analysis
