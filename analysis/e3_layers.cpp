#include "analysis/e3_layers.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "analysis/numbers.h"
#include "core/error.h"
#include "core/log.h"
#include "infotheory/allpairs_mv.h"
#include "infotheory/allpairs_stream.h"
#include "nn/network.h"

namespace deeper::analysis {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

FeatureLayerMaps feature_layer_maps(const FeatureSet& f, const std::vector<double>& a_rows, std::int64_t channels,
                                    std::span<const double> decision, std::span<const double> feature_decision,
                                    const info::AllPairsOptions& options, double alpha) {
  const std::int64_t n = f.trials, j_count = f.count;
  FeatureLayerMaps m;
  m.feature = f.kind;
  m.features = j_count;
  m.channels = channels;
  const auto info = features_cc(f, a_rows.data(), channels, 1, options);
  m.info = info.mi;
  m.max_null = info.max_null_all;
  m.threshold = maxstat_threshold_or_nan(info, alpha);
  // [A_c, D] as 2-D variables.
  std::vector<double> joint(static_cast<std::size_t>(channels * 2 * n));
  for (std::int64_t c = 0; c < channels; ++c) {
    std::copy_n(a_rows.begin() + c * n, n, joint.begin() + (2 * c) * n);
    std::copy_n(decision.begin(), n, joint.begin() + (2 * c + 1) * n);
  }
  info::AllPairsOptions plain = options;
  plain.permutations = 0;
  const auto both = features_cc(f, joint.data(), channels, 2, plain);
  m.coinfo.resize(m.info.size());
  m.map_coinfo.assign(static_cast<std::size_t>(j_count), 0.0);
  m.map_info.assign(static_cast<std::size_t>(j_count), 0.0);
  const bool tested = std::isfinite(m.threshold);
  for (std::int64_t j = 0; j < j_count; ++j) {
    for (std::int64_t c = 0; c < channels; ++c) {
      const auto k = static_cast<std::size_t>(j * channels + c);
      m.coinfo[k] = m.info[k] + feature_decision[static_cast<std::size_t>(j)] - both.mi[k];
      m.map_info[static_cast<std::size_t>(j)] = std::max(m.map_info[static_cast<std::size_t>(j)], m.info[k]);
      if (tested && m.info[k] > m.threshold) {
        ++m.significant_pairs;
        if (m.coinfo[k] > 0.0) {
          ++m.significant_triples;
          m.redundancy += m.coinfo[k];
          m.map_coinfo[static_cast<std::size_t>(j)] = std::max(m.map_coinfo[static_cast<std::size_t>(j)], m.coinfo[k]);
        }
      }
    }
  }
  return m;
}

}  // namespace

std::vector<double> channel_rows(const LayerActivations& a, std::int64_t n) {
  DEEPER_CHECK(n >= 1 && n * a.channels <= static_cast<std::int64_t>(a.channel_means.size()),
               "channel_rows: {} trials asked, layer {} holds {}", n, a.layer,
               a.channels > 0 ? static_cast<std::int64_t>(a.channel_means.size()) / a.channels : 0);
  std::vector<double> rows(static_cast<std::size_t>(a.channels * n));
  for (std::int64_t t = 0; t < n; ++t) {
    for (std::int64_t c = 0; c < a.channels; ++c) {
      rows[static_cast<std::size_t>(c * n + t)] = a.channel_means[static_cast<std::size_t>(t * a.channels + c)];
    }
  }
  return rows;
}

E3Cost e3_cost(std::int64_t units, std::int64_t channels, std::int64_t features, std::int64_t trials,
               std::int64_t permutations, bool spatial) {
  E3Cost c;
  c.units = units;
  c.channels = channels;
  c.features = features;
  c.trials = trials;
  c.permutations = permutations;
  const double j = static_cast<double>(features), ch = static_cast<double>(channels), n = static_cast<double>(trials),
               p1 = static_cast<double>(permutations + 1);
  c.flop_channel_info = 2.0 * j * 3.0 * ch * n * p1;
  c.flop_coinfo = 2.0 * j * 3.0 * 2.0 * ch * n;
  c.flop_spatial = spatial ? 2.0 * static_cast<double>(units) * n * p1 : 0.0;
  return c;
}

LayerResult layer_analysis(const Study& study, const LayerActivations& a, std::span<const double> decision,
                           const FeatureSet& shape, const FeatureSet& texture, std::span<const double> shape_decision,
                           std::span<const double> texture_decision, std::int64_t permutations, std::uint64_t seed,
                           bool spatial) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::int64_t n = shape.trials;
  DEEPER_CHECK(static_cast<std::int64_t>(decision.size()) == n && texture.trials == n,
               "layer_analysis: {} decisions, {} and {} feature trials", decision.size(), n, texture.trials);
  const double alpha = study.settings().alpha;
  LayerResult r;
  r.layer = a.layer;
  r.name = nn::lab_layer_name(a.layer);
  r.height = a.height;
  r.width = a.width;
  r.channels = a.channels;
  info::AllPairsOptions options;
  options.permutations = static_cast<int>(permutations);
  options.permutation_seed = seed;
  const std::vector<double> rows = channel_rows(a, n);
  {
    const auto d = info::gcmi_cc_all_pairs(rows.data(), a.channels, decision.data(), 1, n, options);
    r.decision_mi = d.mi;
    r.decision_max_null = d.max_null_all;
    r.decision_threshold = maxstat_threshold_or_nan(d, alpha);
    for (double v : r.decision_mi) r.decision_significant += v > r.decision_threshold ? 1 : 0;
  }
  if (spatial && !a.units.empty()) {
    const std::int64_t units = a.unit_count();
    const float* act = a.units.data();
    const info::UnitSource source = [&](std::int64_t first, std::int64_t count, float* out) {
      for (std::int64_t u = 0; u < count; ++u) {
        for (std::int64_t t = 0; t < n; ++t) out[u * n + t] = act[t * units + first + u];
      }
    };
    info::AllPairsOptions so = options;
    so.precision = info::GemmPrecision::f32;
    const auto s = info::gcmi_cc_all_pairs_streamed(study.device(), source, units, decision.data(), 1, n, so);
    r.unit_decision_mi = s.mi;
    r.unit_threshold = maxstat_threshold_or_nan(s, alpha);
    r.spatial_map.assign(static_cast<std::size_t>(a.height * a.width), 0.0);
    for (std::int64_t u = 0; u < units; ++u) {
      const double v = s.mi[static_cast<std::size_t>(u)];
      r.unit_significant += v > r.unit_threshold ? 1 : 0;
      auto& cell = r.spatial_map[static_cast<std::size_t>(u / a.channels)];
      cell = std::max(cell, v);
    }
  }
  r.shape = feature_layer_maps(shape, rows, a.channels, decision, shape_decision, options, alpha);
  options.permutation_seed = seed + 1;
  r.texture = feature_layer_maps(texture, rows, a.channels, decision, texture_decision, options, alpha);
  r.seconds = seconds_since(t0);
  return r;
}

E3Result run_e3(Study& study, std::vector<TrialSet>& trials, Progress* progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto& s = study.settings();
  E3Result result;
  for (auto& set : trials) {
    const auto tf = std::chrono::steady_clock::now();
    // E2 recorded the activations in its forward passes when it knew E3 would follow.
    LayerCapture capture = std::move(set.capture);
    set.capture = {};
    bool same_layers = capture.spatial == s.spatial && capture.layers.size() == s.layers.size();
    for (std::size_t i = 0; same_layers && i < s.layers.size(); ++i) same_layers = capture.layers[i].layer == s.layers[i];
    if (!same_layers) {
      capture = make_capture(study, s.layers, s.spatial, set.trials());
      respond(study, set, study.frontal_factors(), 0, &capture, progress);
    } else if (progress != nullptr) {
      progress->advance(static_cast<std::uint64_t>(set.trials()));
    }
    result.forward_seconds += seconds_since(tf);
    const auto tg = std::chrono::steady_clock::now();
    const FeatureSet shape = shape_features(study.face_model(), set.faces, s.vertex_stride);
    const FeatureSet texture = texture_features(study.face_model(), set.faces, s.e3_texel_factor);
    result.shape_vertices = shape.index;
    result.texel_height = texture.grid_height;
    result.texel_width = texture.grid_width;
    E3Target target;
    target.target = set.target;
    target.shape_decision_mi = features_cc(shape, set.logit.data(), 1, 1).mi;
    target.texture_decision_mi = features_cc(texture, set.logit.data(), 1, 1).mi;
    std::int64_t units = 0, channels = 0;
    for (const auto& a : capture.layers) {
      LayerResult r = layer_analysis(study, a, set.logit, shape, texture, target.shape_decision_mi,
                                     target.texture_decision_mi, s.e3_permutations,
                                     s.seed + 1000 * static_cast<std::uint64_t>(a.layer) + 7 * static_cast<std::uint64_t>(set.target),
                                     s.spatial);
      log::info("E3 target {} layer {} ({}): {} of {} channels carry decision information; significant triples: "
                "shape {}, texture {} ({:.1f} s)",
                set.target, r.layer, r.name, r.decision_significant, r.channels, r.shape.significant_triples,
                r.texture.significant_triples, r.seconds);
      units += a.unit_count();
      channels += a.channels;
      target.layers.push_back(std::move(r));
    }
    result.gcmi_seconds += seconds_since(tg);
    result.cost = e3_cost(units, channels, shape.count + texture.count, set.trials(), s.e3_permutations, s.spatial);
    result.targets.push_back(std::move(target));
  }
  result.seconds = seconds_since(t0);
  return result;
}

nlohmann::json e3_json(const E3Result& r) {
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& t : r.targets) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : t.layers) {
      const auto maps = [&](const FeatureLayerMaps& m) {
        return nlohmann::json{{"features", m.features},
                              {"threshold_bits", json_number(m.threshold)},
                              {"significant_pairs", m.significant_pairs},
                              {"significant_triples", m.significant_triples},
                              {"redundancy_bits", m.redundancy},
                              {"max_info_bits", m.info.empty() ? 0.0 : *std::max_element(m.info.begin(), m.info.end())}};
      };
      const double dmax = l.decision_mi.empty() ? 0.0 : *std::max_element(l.decision_mi.begin(), l.decision_mi.end());
      double dmean = 0.0;
      for (double v : l.decision_mi) dmean += v / static_cast<double>(l.decision_mi.size());
      nlohmann::json j = {{"layer", l.layer},
                          {"name", l.name},
                          {"shape_hwc", {l.height, l.width, l.channels}},
                          {"decision_mi_max_bits", dmax},
                          {"decision_mi_mean_bits", dmean},
                          {"decision_threshold_bits", json_number(l.decision_threshold)},
                          {"decision_significant_channels", l.decision_significant},
                          {"shape", maps(l.shape)},
                          {"texture", maps(l.texture)},
                          {"seconds", l.seconds}};
      if (!l.unit_decision_mi.empty()) {
        j["units"] = l.unit_decision_mi.size();
        j["unit_decision_max_bits"] = *std::max_element(l.unit_decision_mi.begin(), l.unit_decision_mi.end());
        j["unit_threshold_bits"] = json_number(l.unit_threshold);
        j["unit_significant"] = l.unit_significant;
      }
      layers.push_back(std::move(j));
    }
    targets.push_back({{"target", t.target}, {"layers", layers}});
  }
  return {{"targets", targets},
          {"shape_features", r.shape_vertices.size()},
          {"texel_grid", {r.texel_height, r.texel_width}},
          {"cost", {{"units", r.cost.units},
                    {"channels", r.cost.channels},
                    {"features", r.cost.features},
                    {"trials", r.cost.trials},
                    {"permutations", r.cost.permutations},
                    {"flop_channel_info", r.cost.flop_channel_info},
                    {"flop_coinfo", r.cost.flop_coinfo},
                    {"flop_spatial", r.cost.flop_spatial},
                    {"flop_total_per_target", r.cost.total()}}},
          {"seconds", r.seconds},
          {"gcmi_seconds", r.gcmi_seconds},
          {"forward_seconds", r.forward_seconds}};
}

}  // namespace deeper::analysis
