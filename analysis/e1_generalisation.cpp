#include "analysis/e1_generalisation.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "kernels/common/random.h"
#include "nn/data.h"

namespace deeper::analysis {

namespace {

// Philox stream of the bootstrap resamples of identities ("E1BS"; not in rng::streams because it is
// E1's own choice, distinct from every id listed there).
constexpr std::uint32_t kBootstrapStream = 0x45314253u;
static_assert(std::find(std::begin(rng::streams::all), std::end(rng::streams::all), kBootstrapStream) ==
                  std::end(rng::streams::all),
              "the E1 bootstrap stream collides with a registered Philox stream");

constexpr const char* kClaim = "the network overgeneralizes across shape and is sensitive to texture";
constexpr const char* kRule =
    "paired shape - texture difference of top-1 accuracy for the original identity, over identities, at "
    "a = zero_level (amplification) and at the swap (morph lambda = swap_level): true when both 95% "
    "bootstrap CIs lie above 0 (shape manipulations keep the identity where texture ones lose it), false "
    "when either lies below 0 (the reverse), null (inconclusive) when a CI covers 0 and none lies below";

bool is_morph(E1Manipulation m) { return m == E1Manipulation::morph; }

// The bootstrap resamples of n identities: B rows of n indices, the same for every condition.
class Bootstrap {
 public:
  Bootstrap(std::int64_t n, std::int64_t resamples, std::uint64_t seed) : n_(n), b_(resamples) {
    index_.resize(static_cast<std::size_t>(n * resamples));
    for (std::int64_t b = 0; b < resamples; ++b) {
      rng::RandomSequence seq(seed, kBootstrapStream, static_cast<std::uint64_t>(b));
      for (std::int64_t k = 0; k < n; ++k) {
        const std::uint32_t pick = seq.uniform_int(static_cast<std::uint32_t>(n));
        index_[static_cast<std::size_t>(b * n + k)] = static_cast<std::int32_t>(pick);
      }
    }
  }

  // Mean of `values` (n) with the percentile CI at kE1Confidence (linear interpolation between order
  // statistics).
  E1Estimate estimate(const std::vector<double>& values) const {
    DEEPER_CHECK(static_cast<std::int64_t>(values.size()) == n_, "E1 bootstrap: {} values for {} identities",
                 values.size(), n_);
    E1Estimate e;
    e.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(n_);
    std::vector<double> means(static_cast<std::size_t>(b_));
    for (std::int64_t b = 0; b < b_; ++b) {
      const std::int32_t* row = index_.data() + b * n_;
      double sum = 0.0;
      for (std::int64_t k = 0; k < n_; ++k) sum += values[static_cast<std::size_t>(row[k])];
      means[static_cast<std::size_t>(b)] = sum / static_cast<double>(n_);
    }
    std::sort(means.begin(), means.end());
    const auto quantile = [&](double q) {
      const double pos = q * static_cast<double>(b_ - 1);
      const auto lo = static_cast<std::size_t>(std::floor(pos));
      const std::size_t hi = std::min(lo + 1, means.size() - 1);
      const double frac = pos - static_cast<double>(lo);
      return means[lo] + frac * (means[hi] - means[lo]);
    };
    e.lo = quantile(0.5 * (1.0 - kE1Confidence));
    e.hi = quantile(1.0 - 0.5 * (1.0 - kE1Confidence));
    return e;
  }

 private:
  std::int64_t n_, b_;
  std::vector<std::int32_t> index_;
};

// Mean height of a curve y(x) over [min x, max x] (trapezoid over the points sorted by x); the mean of
// y when the range is empty.
double curve_area(const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<std::size_t> order(x.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return x[a] < x[b]; });
  const double range = x[order.back()] - x[order.front()];
  if (!(range > 0.0)) return std::accumulate(y.begin(), y.end(), 0.0) / static_cast<double>(y.size());
  double area = 0.0;
  for (std::size_t k = 1; k < order.size(); ++k) {
    area += 0.5 * (y[order[k]] + y[order[k - 1]]) * (x[order[k]] - x[order[k - 1]]);
  }
  return area / range;
}

std::size_t index_of_extreme(const std::vector<double>& v, bool largest) {
  const auto it = largest ? std::max_element(v.begin(), v.end()) : std::min_element(v.begin(), v.end());
  return static_cast<std::size_t>(it - v.begin());
}

const std::vector<double>& identity_values(const E1Level& level, std::string_view measure) {
  if (measure == "accuracy") return level.identity_accuracy;
  if (measure == "probability") return level.identity_probability;
  if (measure == "logit") return level.identity_logit;
  if (measure == "partner_accuracy") return level.identity_partner_accuracy;
  if (measure == "partner_probability") return level.identity_partner_probability;
  throw Error(fmt::format(
      "E1 measure '{}' is unknown (known: accuracy, probability, logit, partner_accuracy, partner_probability)",
      measure));
}

E1Difference paired(const Bootstrap& boot, std::string measure, const std::vector<double>& shape,
                    const std::vector<double>& texture) {
  E1Difference d;
  d.measure = std::move(measure);
  std::vector<double> diff(shape.size());
  for (std::size_t k = 0; k < diff.size(); ++k) diff[k] = shape[k] - texture[k];
  d.shape = std::accumulate(shape.begin(), shape.end(), 0.0) / static_cast<double>(shape.size());
  d.texture = std::accumulate(texture.begin(), texture.end(), 0.0) / static_cast<double>(texture.size());
  d.difference = boot.estimate(diff);
  return d;
}

nlohmann::json estimate_lists(const std::vector<E1Level>& levels, E1Estimate E1Level::*member) {
  nlohmann::json mean = nlohmann::json::array(), lo = nlohmann::json::array(), hi = nlohmann::json::array();
  for (const auto& l : levels) {
    mean.push_back((l.*member).mean);
    lo.push_back((l.*member).lo);
    hi.push_back((l.*member).hi);
  }
  return {{"mean", mean}, {"lo", lo}, {"hi", hi}};
}

nlohmann::json differences_json(const std::vector<E1Difference>& diffs) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& d : diffs) {
    out.push_back({{"measure", d.measure},
                   {"shape", d.shape},
                   {"texture", d.texture},
                   {"difference", {{"mean", d.difference.mean}, {"lo", d.difference.lo}, {"hi", d.difference.hi}}}});
  }
  return out;
}

}  // namespace

const E1Series& E1Result::find(std::string_view name) const {
  for (const auto& s : series) {
    if (s.name == name) return s;
  }
  throw Error(fmt::format("E1 series '{}' is unknown (known: shape_amplification, texture_amplification, "
                          "shape_morph, texture_morph)",
                          name));
}

std::int64_t e1_image_count(const AnalysisSettings& s) {
  return s.e1_identities * s.e1_renders *
         (2 * static_cast<std::int64_t>(s.e1_levels.size()) + 2 * static_cast<std::int64_t>(s.e1_morph.size()));
}

std::int32_t e1_partner(const render::IdentitySet& set, std::int32_t i) {
  const auto count = static_cast<std::int32_t>(set.identities.size());
  DEEPER_CHECK(count >= 2, "e1_partner: {} identities (a morph partner needs at least 2)", count);
  DEEPER_CHECK(i >= 0 && i < count, "e1_partner: identity {} is outside [0, {})", i, count);
  const auto& f = set.identities[static_cast<std::size_t>(i)].factors;
  for (std::int32_t step = 1; step < count; ++step) {
    const std::int32_t j = (i + step) % count;
    const auto& g = set.identities[static_cast<std::size_t>(j)].factors;
    if (g.gender == f.gender && g.ethnicity == f.ethnicity) return j;
  }
  return (i + 1) % count;
}

std::vector<double> e1_identity_matrix(const E1Series& series, std::string_view measure) {
  const bool partner = measure.starts_with("partner_");
  DEEPER_CHECK(!partner || is_morph(series.manipulation), "E1 series {}: measure {} exists only for the morphs",
               series.name, measure);
  std::vector<double> out;
  for (const auto& level : series.levels) {
    const auto& v = identity_values(level, measure);
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

E1Result run_e1(Study& study, Progress* progress) {
  const AnalysisSettings& settings = study.settings();
  validate_settings(settings, study.run().config);
  const std::int64_t n = settings.e1_identities;
  const std::int64_t R = settings.e1_renders;
  const auto& trained = study.identities();

  E1Result result;
  result.renders = R;
  result.bootstrap = settings.bootstrap;
  result.seed = settings.seed;
  for (std::int32_t k = 0; k < static_cast<std::int32_t>(n); ++k) {
    const std::int32_t j = e1_partner(trained, k);
    result.identities.push_back(k);
    result.partners.push_back(j);
    const auto& f = trained.identities[static_cast<std::size_t>(k)].factors;
    const auto& g = trained.identities[static_cast<std::size_t>(j)].factors;
    result.partner_same_demographics.push_back(f.gender == g.gender && f.ethnicity == g.ethnicity);
  }

  struct Spec {
    const char* name;
    E1Feature feature;
    E1Manipulation manipulation;
    const std::vector<double>* levels;
  };
  const Spec specs[] = {
      {"shape_amplification", E1Feature::shape, E1Manipulation::amplification, &settings.e1_levels},
      {"texture_amplification", E1Feature::texture, E1Manipulation::amplification, &settings.e1_levels},
      {"shape_morph", E1Feature::shape, E1Manipulation::morph, &settings.e1_morph},
      {"texture_morph", E1Feature::texture, E1Manipulation::morph, &settings.e1_morph},
  };

  // The manipulated identities (one per series, level and identity, in that order) and the images
  // (each condition's R renders in a row, so that a batch touches few identities).
  std::vector<std::vector<render::ImageFactors>> draws(static_cast<std::size_t>(n));
  const render::FactorSampling sampling = study.heldout_sampling(kE1FactorStream);
  for (std::int64_t k = 0; k < n; ++k) {
    draws[static_cast<std::size_t>(k)] =
        nn::draw_factors(study.run().config, sampling, static_cast<std::uint64_t>(k * R), R);
  }
  std::vector<render::Identity> conditions;
  std::vector<render::ImageFactors> factors;
  std::vector<std::int64_t> series_first;  // first image of each series
  for (const Spec& spec : specs) {
    E1Series s;
    s.name = spec.name;
    s.feature = spec.feature;
    s.manipulation = spec.manipulation;
    series_first.push_back(static_cast<std::int64_t>(factors.size()));
    for (double level : *spec.levels) {
      E1Level l;
      l.level = level;
      s.levels.push_back(std::move(l));
      for (std::int64_t k = 0; k < n; ++k) {
        const render::Identity& id = trained.identities[static_cast<std::size_t>(k)];
        const render::Identity& partner =
            trained.identities[static_cast<std::size_t>(result.partners[static_cast<std::size_t>(k)])];
        render::Identity c;
        c.factors = id.factors;
        const bool shape = spec.feature == E1Feature::shape;
        const auto& own = shape ? id.shape : id.texture;
        const auto& other = shape ? partner.shape : partner.texture;
        std::vector<float> changed = is_morph(spec.manipulation) ? morphed(own, other, level) : scaled(own, level);
        c.shape = shape ? std::move(changed) : id.shape;
        c.texture = shape ? id.texture : std::move(changed);
        const auto index = static_cast<std::int32_t>(conditions.size());
        conditions.push_back(std::move(c));
        for (render::ImageFactors f : draws[static_cast<std::size_t>(k)]) {
          f.identity = index;
          factors.push_back(f);
        }
      }
    }
    const std::size_t images = s.levels.size() * static_cast<std::size_t>(n * R);
    s.image_probability.resize(images);
    s.image_logit.resize(images);
    s.image_decision.resize(images);
    if (is_morph(s.manipulation)) s.image_partner_probability.resize(images);
    result.series.push_back(std::move(s));
  }
  result.images = static_cast<std::int64_t>(factors.size());
  DEEPER_CHECK(result.images == e1_image_count(settings), "run_e1: {} images built, {} expected", result.images,
               e1_image_count(settings));

  const std::int64_t classes = study.classes();
  run_stimuli(
      study, conditions, factors,
      [&](std::int64_t first, std::int64_t count, nn::InferenceModel& network, const render::Renderer&,
          const Tensor&) {
        const Tensor host = network.logits().to(Device::cpu());
        DEEPER_CHECK(host.rank() == 2 && host.dim(0) == count && host.dim(1) == classes,
                     "run_e1: logits {} for a batch of {} images and {} classes", host.to_string(), count, classes);
        const float* logits = host.data<float>();
        for (std::int64_t b = 0; b < count; ++b) {
          const std::int64_t image = first + b;
          const auto s_index = static_cast<std::size_t>(
              std::upper_bound(series_first.begin(), series_first.end(), image) - series_first.begin() - 1);
          E1Series& s = result.series[s_index];
          const std::int64_t local = image - series_first[s_index];
          const std::int64_t k = (local / R) % n;
          const float* row = logits + b * classes;
          for (std::int64_t c = 0; c < classes; ++c) {
            if (!std::isfinite(row[c])) {
              throw Error(fmt::format("run_e1: image {} ({}): the network's logit of class {} is {}", image, s.name,
                                      c, row[c]));
            }
          }
          const std::int32_t decision = static_cast<std::int32_t>(std::max_element(row, row + classes) - row);
          const double top = row[decision];
          double z = 0.0;
          for (std::int64_t c = 0; c < classes; ++c) z += std::exp(static_cast<double>(row[c]) - top);
          const auto at = static_cast<std::size_t>(local);
          s.image_logit[at] = row[k];
          s.image_probability[at] = static_cast<float>(std::exp(static_cast<double>(row[k]) - top) / z);
          s.image_decision[at] = decision;
          if (is_morph(s.manipulation)) {
            const std::int32_t j = result.partners[static_cast<std::size_t>(k)];
            s.image_partner_probability[at] = static_cast<float>(std::exp(static_cast<double>(row[j]) - top) / z);
          }
        }
      },
      progress);

  // Per identity, level and series: means over renders; then the bootstrap over identities.
  const Bootstrap boot(n, settings.bootstrap, settings.seed);
  for (E1Series& s : result.series) {
    const bool morph = is_morph(s.manipulation);
    for (std::size_t L = 0; L < s.levels.size(); ++L) {
      E1Level& level = s.levels[L];
      for (std::int64_t k = 0; k < n; ++k) {
        const std::int32_t i = result.identities[static_cast<std::size_t>(k)];
        const std::int32_t j = result.partners[static_cast<std::size_t>(k)];
        double acc = 0.0, p = 0.0, logit = 0.0, pacc = 0.0, pp = 0.0;
        for (std::int64_t r = 0; r < R; ++r) {
          const auto at = static_cast<std::size_t>((static_cast<std::int64_t>(L) * n + k) * R + r);
          acc += s.image_decision[at] == i ? 1.0 : 0.0;
          p += s.image_probability[at];
          logit += s.image_logit[at];
          if (morph) {
            pacc += s.image_decision[at] == j ? 1.0 : 0.0;
            pp += s.image_partner_probability[at];
          }
        }
        const auto Rd = static_cast<double>(R);
        level.identity_accuracy.push_back(acc / Rd);
        level.identity_probability.push_back(p / Rd);
        level.identity_logit.push_back(logit / Rd);
        if (morph) {
          level.identity_partner_accuracy.push_back(pacc / Rd);
          level.identity_partner_probability.push_back(pp / Rd);
        }
      }
      level.accuracy = boot.estimate(level.identity_accuracy);
      level.probability = boot.estimate(level.identity_probability);
      level.logit = boot.estimate(level.identity_logit);
      if (morph) {
        level.partner_accuracy = boot.estimate(level.identity_partner_accuracy);
        level.partner_probability = boot.estimate(level.identity_partner_probability);
      }
    }
  }

  // The repeated stimuli (a = 1 and l = 0 reproduce the trained identity): their logits must agree.
  std::vector<std::pair<const E1Series*, std::size_t>> originals;
  for (const E1Series& s : result.series) {
    for (std::size_t L = 0; L < s.levels.size(); ++L) {
      if (s.levels[L].level == (is_morph(s.manipulation) ? 0.0 : 1.0)) originals.emplace_back(&s, L);
    }
  }
  const std::size_t per_level = static_cast<std::size_t>(n * R);
  for (std::size_t c = 1; c < originals.size(); ++c) {
    for (std::size_t m = 0; m < per_level; ++m) {
      const float a = originals[0].first->image_logit[originals[0].second * per_level + m];
      const float b = originals[c].first->image_logit[originals[c].second * per_level + m];
      result.duplicate_max_logit_difference =
          std::max(result.duplicate_max_logit_difference, std::abs(static_cast<double>(a) - b));
    }
  }

  // Summary: shape - texture at a = 0, at the swap, and of the amplification curves' areas.
  E1Summary& sum = result.summary;
  const E1Series& shape_amp = result.series[0];
  const E1Series& texture_amp = result.series[1];
  const E1Series& shape_morph = result.series[2];
  const E1Series& texture_morph = result.series[3];
  const std::size_t zero = index_of_extreme(settings.e1_levels, false);
  const std::size_t swap = index_of_extreme(settings.e1_morph, true);
  sum.zero_level = settings.e1_levels[zero];
  sum.swap_level = settings.e1_morph[swap];
  for (const char* measure : {"accuracy", "probability", "logit"}) {
    sum.at_zero.push_back(paired(boot, measure, identity_values(shape_amp.levels[zero], measure),
                                 identity_values(texture_amp.levels[zero], measure)));
    sum.at_swap.push_back(paired(boot, measure, identity_values(shape_morph.levels[swap], measure),
                                 identity_values(texture_morph.levels[swap], measure)));
    std::vector<double> shape_area(static_cast<std::size_t>(n)), texture_area(static_cast<std::size_t>(n));
    for (std::int64_t k = 0; k < n; ++k) {
      std::vector<double> ys, yt;
      for (std::size_t L = 0; L < settings.e1_levels.size(); ++L) {
        ys.push_back(identity_values(shape_amp.levels[L], measure)[static_cast<std::size_t>(k)]);
        yt.push_back(identity_values(texture_amp.levels[L], measure)[static_cast<std::size_t>(k)]);
      }
      shape_area[static_cast<std::size_t>(k)] = curve_area(settings.e1_levels, ys);
      texture_area[static_cast<std::size_t>(k)] = curve_area(settings.e1_levels, yt);
    }
    sum.area.push_back(paired(boot, std::string(measure) + "_area", shape_area, texture_area));
  }
  const E1Estimate& z = sum.at_zero[0].difference;
  const E1Estimate& w = sum.at_swap[0].difference;
  if (z.hi < 0.0 || w.hi < 0.0) {
    sum.claim_supported = false;
  } else if (z.lo > 0.0 && w.lo > 0.0) {
    sum.claim_supported = true;
  }
  sum.rule = kRule;
  return result;
}

nlohmann::json e1_json(const E1Result& r) {
  nlohmann::json series = nlohmann::json::object();
  for (const E1Series& s : r.series) {
    nlohmann::json levels = nlohmann::json::array();
    for (const auto& l : s.levels) levels.push_back(l.level);
    nlohmann::json j = {{"feature", s.feature == E1Feature::shape ? "shape" : "texture"},
                        {"manipulation", is_morph(s.manipulation) ? "morph" : "amplification"},
                        {"levels", levels},
                        {"accuracy", estimate_lists(s.levels, &E1Level::accuracy)},
                        {"probability", estimate_lists(s.levels, &E1Level::probability)},
                        {"logit", estimate_lists(s.levels, &E1Level::logit)}};
    if (is_morph(s.manipulation)) {
      j["partner_accuracy"] = estimate_lists(s.levels, &E1Level::partner_accuracy);
      j["partner_probability"] = estimate_lists(s.levels, &E1Level::partner_probability);
      j["swap_level"] = r.summary.swap_level;
      j["description"] = s.feature == E1Feature::shape
                             ? "shape (1 - lambda) s_i + lambda s_j, texture t_i; lambda = 1 is the swap: i's "
                               "texture on partner j's shape"
                             : "shape s_i, texture (1 - lambda) t_i + lambda t_j; lambda = 1 is the swap: i's "
                               "shape with partner j's texture";
    } else {
      j["description"] = s.feature == E1Feature::shape
                             ? "shape a s_i, texture t_i; a = 0 is the category average shape of i's gender, "
                               "ethnicity and age, a > 1 a caricature"
                             : "shape s_i, texture a t_i; a = 0 is the category average texture of i's gender, "
                               "ethnicity and age, a > 1 a caricature";
    }
    series[s.name] = std::move(j);
  }
  nlohmann::json same = nlohmann::json::array();
  for (bool b : r.partner_same_demographics) same.push_back(b);
  const E1Summary& sum = r.summary;
  return {
      {"experiment", "e1"},
      {"claim", kClaim},
      {"claim_supported", sum.claim_supported ? nlohmann::json(*sum.claim_supported) : nlohmann::json(nullptr)},
      {"claim_rule", sum.rule},
      {"identities", r.identities},
      {"partners", r.partners},
      {"partner_same_demographics", same},
      {"renders", r.renders},
      {"images", r.images},
      {"factor_stream", kE1FactorStream},
      {"ci_level", kE1Confidence},
      {"ci_method", "percentile bootstrap over identities (each identity's mean over its renders), the same "
                    "resamples for every condition so that differences are paired"},
      {"bootstrap", r.bootstrap},
      {"seed", r.seed},
      {"measures", {{"accuracy", "top-1 decision == i"}, {"probability", "softmax p(i)"}, {"logit", "logit of i"},
                    {"partner_accuracy", "morphs: top-1 decision == j"}, {"partner_probability", "morphs: p(j)"}}},
      {"swaps", "the swaps are the lambda = swap_level ends of shape_morph (i's texture on j's shape) and "
                "texture_morph (i's shape with j's texture)"},
      {"duplicate_max_logit_difference", r.duplicate_max_logit_difference},
      {"series", series},
      {"summary", {{"zero_level", sum.zero_level},
                   {"swap_level", sum.swap_level},
                   {"at_zero", differences_json(sum.at_zero)},
                   {"at_swap", differences_json(sum.at_swap)},
                   {"area", differences_json(sum.area)}}},
  };
}

}  // namespace deeper::analysis
