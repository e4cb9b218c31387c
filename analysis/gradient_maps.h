// Beyond the paper: gradient maps. The sensitivity of the target's logit to each vertex position and
// each texel, by differentiating the network (nn::InferenceModel::input_gradient, BN inference mode)
// and then the renderer (renderer/pipeline_grad.h) on the E2 trials at the frontal view:
//   shape    per vertex, the mean over trials of |d logit / d vertex position| (Euclidean norm, per mm)
//   texture  per texel of the E2 grid, the mean over trials of |d logit / d texel RGB| (the gradient of
//            the block feature: the texture gradient summed over the block)
// and their agreement with the information maps: Spearman rank correlation with the E2 MI maps
// (overall) and with each E3 layer's feature map (the largest I(F; A_c) over channels, at the E3
// features). Gradients are local (one face at a time, infinitesimal changes); MI is global over the
// trial distribution: agreement says the network's local sensitivities and its decision-relevant
// features coincide.
#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/e2_reverse_correlation.h"
#include "analysis/e3_layers.h"
#include "analysis/trials.h"

namespace deeper::analysis {

struct GradientTarget {
  std::int32_t target = 0;
  std::int64_t trials = 0;
  std::vector<double> shape;    // V
  std::vector<double> texture;  // h x w (the E2 texel grid)
};

struct LayerAgreement {
  int layer = 0;
  double shape = 0.0, texture = 0.0;  // Spearman with the layer's E3 feature map (NaN if undefined)
};

struct GradientResult {
  std::vector<GradientTarget> targets;
  std::vector<double> shape_mean, texture_mean;  // over targets
  int texel_height = 0, texel_width = 0;
  double shape_vs_e2 = 0.0, texture_vs_e2 = 0.0;  // Spearman with the E2 mean MI maps
  std::vector<LayerAgreement> layers;             // empty without E3
  double seconds = 0.0;
};

GradientResult run_gradients(Study& study, const std::vector<TrialSet>& trials, Progress* progress = nullptr);
// Fills the agreement numbers (E3 may be null: no per-layer numbers).
void compare_gradients(GradientResult& gradients, const E2Result& e2, const E3Result* e3);
nlohmann::json gradients_json(const GradientResult& result);

}  // namespace deeper::analysis
