// E3: how the hidden layers represent the features behind the decision (../shared/reference/paper.md
// section 4, E3; docs/experiments.md has the choices and the FLOP accounting).
//
// The E2 trials (frontal view) with the activations of lab layers 1-10 recorded in the same forward
// passes. D = the target logit. Per target and layer:
//   I(A_c; D)        per channel c (the channel's spatial mean), settings.e3_permutations permutations
//                    of the trials, max statistic over the layer's channels
//   I(A_u; D)        per unit u (every H x W x C position; settings.spatial), the streamed all-pairs
//                    engine on the study's device (infotheory/allpairs_stream.h), max statistic over the
//                    layer's units; the spatial map is the maximum over channels at each position
//   I(F; A_c)        per feature F (every settings.vertex_stride-th vertex, d = 3; every texel of the
//                    settings.e3_texel_factor grid, d = 3) and channel, with the max statistic over all
//                    the layer's feature x channel pairs (shape and texture separately)
//   coI(F; A_c; D) = I(F; A_c) + I(F; D) - I(F; [A_c, D])   (co-information; > 0: redundancy, the
//                    channel carries the decision-relevant part of the feature's information)
// A triple is significant when I(F; A_c) is significant and coI > 0. Per layer: a face map (per feature,
// the largest coI over channels among significant triples), the count of significant triples and their
// total redundancy (shape and texture separately): the depth profile.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/e2_reverse_correlation.h"
#include "analysis/features.h"
#include "analysis/trials.h"

namespace deeper::analysis {

struct FeatureLayerMaps {
  std::string feature;               // "shape" or "texture"
  std::int64_t features = 0, channels = 0;
  std::vector<double> info;          // J x C, I(F; A_c) bits
  std::vector<double> coinfo;        // J x C, coI(F; A_c; D) bits
  std::vector<double> max_null;      // P maxima over the J x C pairs
  double threshold = 0.0;            // bits (NaN without permutations)
  std::int64_t significant_pairs = 0;     // I(F; A) > threshold
  std::int64_t significant_triples = 0;   // ... and coI > 0
  double redundancy = 0.0;                // sum of coI over significant triples (bits)
  std::vector<double> map_coinfo;    // J: max over channels of coI among significant triples, else 0
  std::vector<double> map_info;      // J: max over channels of I(F; A_c)
};

struct LayerResult {
  int layer = 0;
  std::string name;
  std::int64_t height = 1, width = 1, channels = 0;
  std::vector<double> decision_mi;            // C, I(A_c; D)
  std::vector<double> decision_max_null;      // P
  double decision_threshold = 0.0;
  std::int64_t decision_significant = 0;
  // Spatially resolved (empty unless settings.spatial):
  std::vector<double> unit_decision_mi;       // H W C (nhwc order)
  double unit_threshold = 0.0;
  std::int64_t unit_significant = 0;
  std::vector<double> spatial_map;            // H x W, max over channels of I(A_u; D)
  FeatureLayerMaps shape, texture;
  double seconds = 0.0;
};

struct E3Target {
  std::int32_t target = 0;
  std::vector<double> shape_decision_mi, texture_decision_mi;  // I(F; D) at the E3 features
  std::vector<LayerResult> layers;
};

struct E3Cost {
  double flop_channel_info = 0, flop_coinfo = 0, flop_spatial = 0;  // GEMM FLOPs of one target
  std::int64_t units = 0, channels = 0, features = 0, trials = 0, permutations = 0;
  double total() const { return flop_channel_info + flop_coinfo + flop_spatial; }
};

struct E3Result {
  std::vector<E3Target> targets;
  std::vector<std::int64_t> shape_vertices;  // the vertex of each shape feature
  int texel_height = 0, texel_width = 0;
  E3Cost cost;
  double seconds = 0.0, gcmi_seconds = 0.0, forward_seconds = 0.0;
};

// The GEMM FLOPs of E3 for one target with these sizes (docs/experiments.md): per-channel I(F;A) with
// permutations 2 J 3 C N (P + 1), coI's I(F; [A, D]) 2 J 3 (2 C) N, spatial I(A; D) 2 U N (P + 1).
E3Cost e3_cost(std::int64_t units, std::int64_t channels, std::int64_t features, std::int64_t trials,
               std::int64_t permutations, bool spatial);

// Runs E3 on the trials E2 used (re-rendered with the capture; the responses are recomputed and
// equal E2's).
E3Result run_e3(Study& study, std::vector<TrialSet>& trials, Progress* progress = nullptr);

// One layer of one target from captured activations (exposed for E4 and the tests).
LayerResult layer_analysis(const Study& study, const LayerActivations& activations, std::span<const double> decision,
                           const FeatureSet& shape, const FeatureSet& texture, std::span<const double> shape_decision,
                           std::span<const double> texture_decision, std::int64_t permutations, std::uint64_t seed,
                           bool spatial);

// Rows C x N (doubles) of the channel means of trials [0, n).
std::vector<double> channel_rows(const LayerActivations& a, std::int64_t n);

nlohmann::json e3_json(const E3Result& result);

}  // namespace deeper::analysis
