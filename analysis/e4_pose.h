// E4: pose invariance of the representations (../shared/reference/paper.md section 4, E4;
// docs/experiments.md).
//
// The first settings.e4_trials E2 trials of each target, re-rendered (the same faces) at a 3 x 3 grid of
// head rotations, yaw and pitch in {-theta, 0, +theta} (theta = settings.pose_degrees), with the
// channel means of the analysed layers recorded. Per pose: the E2 maps (vertex and texel MI with the
// target logit, max statistic) and per layer I(F; A_c) for every E3 feature x channel. Across poses:
//   - the 9 x 9 correlation of the E2 maps between poses, and the Dice overlap of their significant sets;
//   - per layer, the mean between-pose correlation of the layer's feature map (per feature, the largest
//     I(F; A_c) over channels): the invariance index, in [-1, 1]; a layer is pose invariant when it reaches
//     settings.invariance_level;
//   - I(F; A) on the pooled trials against I(F; A | pose) = the mean over poses of the within-pose MI
//     (gccmi_ccd with the pose bin as z: equal bins, each copula-normalised within itself), summed over
//     the layer's feature x channel pairs, and their ratio (1: pose adds nothing to the representation;
//     below 1: pose variation masks the feature);
//   - I(pose; A_c) (gcmi_model_cd, 9 classes), the pose information per channel.
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/e2_reverse_correlation.h"
#include "analysis/trials.h"

namespace deeper::analysis {

struct PoseView {
  float yaw = 0.0f, pitch = 0.0f;
};

struct PoseResult {
  PoseView view;
  double top1_rate = 0.0, logit_mean = 0.0;
  FeatureMap shape, texture;                    // E2 maps at this pose
};

struct E4Layer {
  int layer = 0;
  std::string name;
  std::vector<std::vector<double>> shape_maps, texture_maps;  // per pose, the feature map (J)
  double shape_correlation = 0.0, texture_correlation = 0.0;  // mean between-pose map correlation
  double invariance_index = 0.0;                              // their mean
  double pooled_shape = 0.0, conditional_shape = 0.0;        // summed I(F; A) over pairs (bits)
  double pooled_texture = 0.0, conditional_texture = 0.0;
  double pose_info_mean = 0.0, pose_info_max = 0.0;           // I(pose; A_c) over channels (bits)
  bool invariant = false;
};

struct E4Target {
  std::int32_t target = 0;
  std::int64_t trials = 0;
  std::vector<PoseResult> poses;
  std::vector<double> shape_correlation, texture_correlation;  // 9 x 9 E2 map correlations
  std::vector<double> shape_dice, texture_dice;                // 9 x 9 Dice overlaps (NaN: both empty)
  std::vector<E4Layer> layers;
};

struct E4Result {
  std::vector<PoseView> views;
  std::vector<E4Target> targets;
  std::vector<double> invariance_index;  // per analysed layer, mean over targets
  int invariant_layer = -1;              // first layer whose mean index reaches the level; -1: none
  double seconds = 0.0;
};

// The 3 x 3 pose grid, pitch-major: (-t,-t), (-t,0), ... as (yaw, pitch).
std::vector<PoseView> pose_grid(double theta);

E4Result run_e4(Study& study, const std::vector<TrialSet>& trials, Progress* progress = nullptr);
nlohmann::json e4_json(const E4Result& result);

// Dice overlap of two masks: 2 |A and B| / (|A| + |B|); NaN when both are empty.
double dice(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

}  // namespace deeper::analysis
