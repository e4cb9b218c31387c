#include "analysis/e4_pose.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "analysis/e3_layers.h"
#include "analysis/numbers.h"
#include "core/error.h"
#include "core/log.h"
#include "infotheory/allpairs_cd.h"
#include "infotheory/allpairs_mv.h"
#include "nn/network.h"

namespace deeper::analysis {

namespace {

double mean_off_diagonal(const std::vector<std::vector<double>>& maps) {
  double sum = 0.0;
  int count = 0;
  for (std::size_t a = 0; a < maps.size(); ++a) {
    for (std::size_t b = a + 1; b < maps.size(); ++b) {
      const double r = pearson(maps[a], maps[b]);
      if (std::isfinite(r)) {
        sum += r;
        ++count;
      }
    }
  }
  return count > 0 ? sum / count : std::nan("");
}

// Features repeated for `copies` consecutive blocks of trials (the pooled design).
FeatureSet tiled(const FeatureSet& f, int copies) {
  FeatureSet out = f;
  out.trials = f.trials * copies;
  out.rows.resize(static_cast<std::size_t>(f.count * 3 * out.trials));
  for (std::int64_t r = 0; r < f.count * 3; ++r) {
    for (int c = 0; c < copies; ++c) {
      std::copy_n(f.rows.begin() + r * f.trials, f.trials, out.rows.begin() + r * out.trials + c * f.trials);
    }
  }
  return out;
}

// I(F; A_c) of every feature x channel, as the layer's feature map (per feature, the largest over
// channels) and its sum over all pairs: one engine call for both.
struct LayerInfo {
  std::vector<double> map;
  double sum = 0.0;
};

LayerInfo layer_info(const FeatureSet& f, const std::vector<double>& rows, std::int64_t channels) {
  const auto r = features_cc(f, rows.data(), channels, 1);
  LayerInfo out;
  out.map.assign(static_cast<std::size_t>(f.count), 0.0);
  for (std::int64_t j = 0; j < f.count; ++j) {
    for (std::int64_t c = 0; c < channels; ++c) {
      const double v = r.mi[static_cast<std::size_t>(j * channels + c)];
      out.map[static_cast<std::size_t>(j)] = std::max(out.map[static_cast<std::size_t>(j)], v);
      out.sum += v;
    }
  }
  return out;
}

}  // namespace

std::vector<PoseView> pose_grid(double theta) {
  std::vector<PoseView> v;
  for (int p = -1; p <= 1; ++p) {
    for (int y = -1; y <= 1; ++y) v.push_back({static_cast<float>(y * theta), static_cast<float>(p * theta)});
  }
  return v;
}

double dice(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  DEEPER_CHECK(a.size() == b.size(), "dice: masks of {} and {} values", a.size(), b.size());
  std::int64_t both = 0, na = 0, nb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    na += a[i] != 0;
    nb += b[i] != 0;
    both += (a[i] != 0 && b[i] != 0);
  }
  return na + nb == 0 ? std::nan("") : 2.0 * static_cast<double>(both) / static_cast<double>(na + nb);
}

E4Result run_e4(Study& study, const std::vector<TrialSet>& trials, Progress* progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto& s = study.settings();
  E4Result result;
  result.views = pose_grid(s.pose_degrees);
  const int poses = static_cast<int>(result.views.size());
  for (const auto& full : trials) {
    const std::int64_t n = std::min(s.e4_trials, full.trials());
    TrialSet set;
    set.target = full.target;
    set.faces.assign(full.faces.begin(), full.faces.begin() + n);
    const FeatureSet shape = shape_features(study.face_model(), set.faces, 1);
    const FeatureSet texture = texture_features(study.face_model(), set.faces, s.texel_factor);
    const FeatureSet shape3 = shape_features(study.face_model(), set.faces, s.vertex_stride);
    const FeatureSet texture3 = texture_features(study.face_model(), set.faces, s.e3_texel_factor);
    E4Target target;
    target.target = set.target;
    target.trials = n;
    // Every trial at the 9 poses, trial-major (one render cache per trial serves its 9 images).
    std::vector<render::ImageFactors> factors;
    factors.reserve(static_cast<std::size_t>(n * poses));
    for (std::int64_t t = 0; t < n; ++t) {
      for (int p = 0; p < poses; ++p) {
        render::ImageFactors view = study.frontal_factors();
        view.identity = static_cast<std::int32_t>(t);
        view.yaw = result.views[static_cast<std::size_t>(p)].yaw;
        view.pitch = result.views[static_cast<std::size_t>(p)].pitch;
        factors.push_back(view);
      }
    }
    LayerCapture all = make_capture(study, s.layers, false, n * poses);
    Responses responses;
    respond_images(study, set.faces, factors, set.target, responses, &all, progress);
    std::vector<LayerCapture> captures(static_cast<std::size_t>(poses));
    for (int p = 0; p < poses; ++p) {
      LayerCapture& c = captures[static_cast<std::size_t>(p)];
      for (const auto& a : all.layers) {
        LayerActivations x = a;
        x.channel_means.resize(static_cast<std::size_t>(n * a.channels));
        for (std::int64_t t = 0; t < n; ++t) {
          std::copy_n(a.channel_means.begin() + (t * poses + p) * a.channels, a.channels,
                      x.channel_means.begin() + t * a.channels);
        }
        c.layers.push_back(std::move(x));
      }
      std::vector<double> logit(static_cast<std::size_t>(n));
      std::int64_t hits = 0;
      for (std::int64_t t = 0; t < n; ++t) {
        logit[static_cast<std::size_t>(t)] = responses.logit[static_cast<std::size_t>(t * poses + p)];
        hits += responses.top1[static_cast<std::size_t>(t * poses + p)] == set.target;
      }
      PoseResult pr;
      pr.view = result.views[static_cast<std::size_t>(p)];
      pr.top1_rate = static_cast<double>(hits) / static_cast<double>(n);
      pr.logit_mean = std::accumulate(logit.begin(), logit.end(), 0.0) / static_cast<double>(n);
      MapOptions o;
      o.permutations = s.permutations;
      o.alpha = s.alpha;
      o.seed = s.seed + 31 * static_cast<std::uint64_t>(p) + 101 * static_cast<std::uint64_t>(set.target);
      pr.shape = feature_map(shape, logit, o);
      pr.texture = feature_map(texture, logit, o);
      target.poses.push_back(std::move(pr));
    }
    const auto cross = [&](auto member, std::vector<double>& corr, std::vector<double>& overlap) {
      corr.assign(static_cast<std::size_t>(poses * poses), 1.0);
      overlap.assign(static_cast<std::size_t>(poses * poses), 1.0);
      for (int a = 0; a < poses; ++a) {
        for (int b = 0; b < poses; ++b) {
          const FeatureMap& ma = target.poses[static_cast<std::size_t>(a)].*member;
          const FeatureMap& mb = target.poses[static_cast<std::size_t>(b)].*member;
          corr[static_cast<std::size_t>(a * poses + b)] = pearson(ma.mi, mb.mi);
          overlap[static_cast<std::size_t>(a * poses + b)] = dice(ma.significant, mb.significant);
        }
      }
    };
    cross(&PoseResult::shape, target.shape_correlation, target.shape_dice);
    cross(&PoseResult::texture, target.texture_correlation, target.texture_dice);

    const FeatureSet pooled_shape = tiled(shape3, poses), pooled_texture = tiled(texture3, poses);
    std::vector<std::int32_t> pose_labels(static_cast<std::size_t>(n * poses));
    for (int p = 0; p < poses; ++p) std::fill_n(pose_labels.begin() + p * n, n, p);
    for (std::size_t li = 0; li < s.layers.size(); ++li) {
      E4Layer layer;
      layer.layer = s.layers[li];
      layer.name = nn::lab_layer_name(layer.layer);
      const std::int64_t channels = captures[0].layers[li].channels;
      std::vector<double> pooled(static_cast<std::size_t>(channels * n * poses));
      for (int p = 0; p < poses; ++p) {
        const std::vector<double> rows = channel_rows(captures[static_cast<std::size_t>(p)].layers[li], n);
        LayerInfo shape_info = layer_info(shape3, rows, channels), texture_info = layer_info(texture3, rows, channels);
        layer.conditional_shape += shape_info.sum / poses;
        layer.conditional_texture += texture_info.sum / poses;
        layer.shape_maps.push_back(std::move(shape_info.map));
        layer.texture_maps.push_back(std::move(texture_info.map));
        for (std::int64_t c = 0; c < channels; ++c) {
          std::copy_n(rows.begin() + c * n, n, pooled.begin() + c * n * poses + p * n);
        }
      }
      layer.pooled_shape = layer_info(pooled_shape, pooled, channels).sum;
      layer.pooled_texture = layer_info(pooled_texture, pooled, channels).sum;
      const auto pose_info = info::gcmi_model_cd_batched(pooled.data(), channels, pose_labels.data(), n * poses, poses);
      layer.pose_info_mean = std::accumulate(pose_info.mi.begin(), pose_info.mi.end(), 0.0) / static_cast<double>(channels);
      layer.pose_info_max = *std::max_element(pose_info.mi.begin(), pose_info.mi.end());
      layer.shape_correlation = mean_off_diagonal(layer.shape_maps);
      layer.texture_correlation = mean_off_diagonal(layer.texture_maps);
      layer.invariance_index = 0.5 * (layer.shape_correlation + layer.texture_correlation);
      layer.invariant = layer.invariance_index >= s.invariance_level;
      log::info("E4 target {} layer {}: invariance index {:.3f}, pooled/conditional I(F;A) shape {:.2f}, texture {:.2f}, "
                "I(pose; A) mean {:.4f} bits",
                set.target, layer.layer, layer.invariance_index, layer.pooled_shape / layer.conditional_shape,
                layer.pooled_texture / layer.conditional_texture, layer.pose_info_mean);
      target.layers.push_back(std::move(layer));
    }
    result.targets.push_back(std::move(target));
  }
  result.invariance_index.assign(s.layers.size(), 0.0);
  for (std::size_t li = 0; li < s.layers.size(); ++li) {
    for (const auto& t : result.targets) {
      result.invariance_index[li] += t.layers[li].invariance_index / static_cast<double>(result.targets.size());
    }
    if (result.invariant_layer < 0 && result.invariance_index[li] >= s.invariance_level) {
      result.invariant_layer = s.layers[li];
    }
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

nlohmann::json e4_json(const E4Result& r) {
  const auto nums = [&](const std::vector<double>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (double x : v) a.push_back(json_number(x));
    return a;
  };
  nlohmann::json views = nlohmann::json::array();
  for (const auto& v : r.views) views.push_back({{"yaw", v.yaw}, {"pitch", v.pitch}});
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& t : r.targets) {
    nlohmann::json poses = nlohmann::json::array();
    for (const auto& p : t.poses) {
      poses.push_back({{"yaw", p.view.yaw},
                       {"pitch", p.view.pitch},
                       {"top1_rate", p.top1_rate},
                       {"logit_mean", p.logit_mean},
                       {"shape", feature_map_json(p.shape)},
                       {"texture", feature_map_json(p.texture)}});
    }
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : t.layers) {
      layers.push_back({{"layer", l.layer},
                        {"name", l.name},
                        {"shape_map_correlation", json_number(l.shape_correlation)},
                        {"texture_map_correlation", json_number(l.texture_correlation)},
                        {"invariance_index", json_number(l.invariance_index)},
                        {"invariant", l.invariant},
                        {"pooled_shape_bits", l.pooled_shape},
                        {"conditional_shape_bits", l.conditional_shape},
                        {"pooled_texture_bits", l.pooled_texture},
                        {"conditional_texture_bits", l.conditional_texture},
                        {"pose_info_mean_bits", l.pose_info_mean},
                        {"pose_info_max_bits", l.pose_info_max}});
    }
    targets.push_back({{"target", t.target},
                       {"trials", t.trials},
                       {"poses", poses},
                       {"shape_map_correlation", nums(t.shape_correlation)},
                       {"texture_map_correlation", nums(t.texture_correlation)},
                       {"shape_dice", nums(t.shape_dice)},
                       {"texture_dice", nums(t.texture_dice)},
                       {"layers", layers}});
  }
  return {{"views", views},
          {"targets", targets},
          {"invariance_index", nums(r.invariance_index)},
          {"invariant_layer", r.invariant_layer >= 0 ? nlohmann::json(r.invariant_layer) : nlohmann::json(nullptr)},
          {"seconds", r.seconds}};
}

}  // namespace deeper::analysis
