// E1, shape vs texture generalisation (../shared/reference/paper.md section 4 "E1"; docs/experiments.md
// "E1"). The paper's claim: the network overgeneralizes across shape and is sensitive to texture.
//
// For each of the first n = settings.e1_identities trained identities i (shape coefficients s_i,
// texture coefficients t_i, demographic factors kept), four manipulation series:
//   shape_amplification    shape a s_i, texture t_i             a in settings.e1_levels
//   texture_amplification  shape s_i, texture a t_i             a in settings.e1_levels
//   shape_morph            shape (1 - l) s_i + l s_j, texture t_i   l in settings.e1_morph
//   texture_morph          shape s_i, texture (1 - l) t_i + l t_j   l in settings.e1_morph
// a = 0 is the category average of i's gender, ethnicity and age (the coefficients are residuals from
// the model's demographic GLM), a > 1 a caricature. j = e1_partner(): the next trained identity (cyclic)
// with i's gender and ethnicity, else the next one. The swaps are the l = 1 ends of the morphs: i's
// texture on j's shape, and i's shape with j's texture.
//
// Every condition (series, level, identity) is rendered at the same R = settings.e1_renders held-out
// factor draws of that identity (Study::heldout_sampling(kE1FactorStream), images [i R, (i + 1) R) of
// it), so the curves of one identity differ only by the manipulation. Nothing is deduplicated: a = 1 of
// both amplification series and l = 0 of both morphs are the same stimuli rendered again (4 x n x R
// extra images), which doubles as a determinism check (E1Result::duplicate_max_logit_difference).
//
// Per image: the network's logit of i, softmax p(i), top-1 == i, and for the morphs p(j) and top-1 == j.
// Per series and level: the mean over identities of each identity's mean over its renders, with a
// percentile bootstrap 95% CI over identities (settings.bootstrap resamples, seed settings.seed; the
// same resamples for every condition, so differences between conditions are paired).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/stimuli.h"
#include "core/progress.h"

namespace deeper::analysis {

// The held-out factor stream of E1 (Study::heldout_sampling).
inline constexpr std::uint64_t kE1FactorStream = 1;
// Confidence level of every E1 interval.
inline constexpr double kE1Confidence = 0.95;

enum class E1Feature { shape, texture };
enum class E1Manipulation { amplification, morph };

// A mean with its percentile bootstrap CI.
struct E1Estimate {
  double mean = 0.0;
  double lo = 0.0;
  double hi = 0.0;
};

struct E1Level {
  double level = 0.0;                      // a or lambda
  E1Estimate accuracy, probability, logit;  // top-1 == i, softmax p(i), logit of i
  E1Estimate partner_accuracy, partner_probability;  // morphs only: top-1 == j, p(j)
  // Per identity (n): the mean over its renders.
  std::vector<double> identity_accuracy, identity_probability, identity_logit;
  std::vector<double> identity_partner_accuracy, identity_partner_probability;  // morphs only
};

struct E1Series {
  std::string name;  // shape_amplification, texture_amplification, shape_morph, texture_morph
  E1Feature feature = E1Feature::shape;
  E1Manipulation manipulation = E1Manipulation::amplification;
  std::vector<E1Level> levels;
  // Per image, index (level L, identity k, render r) -> (L n + k) R + r:
  std::vector<float> image_probability, image_logit;       // p(i), logit of i
  std::vector<std::int32_t> image_decision;                // the network's top-1 (argmax, first maximum)
  std::vector<float> image_partner_probability;            // morphs only: p(j)
};

// A paired difference (shape minus texture) over identities.
struct E1Difference {
  std::string measure;  // accuracy, probability, logit, accuracy_auc, ...
  double shape = 0.0, texture = 0.0;
  E1Estimate difference;  // mean over identities of (shape - texture) with its bootstrap CI
};

struct E1Summary {
  double zero_level = 0.0;  // the amplification level compared as "a = 0" (the smallest in e1_levels)
  double swap_level = 1.0;  // the morph level compared as "swap" (the largest in e1_morph)
  // Paired shape - texture differences: at a = zero_level, at the swap, and of the area under the
  // amplification curves (trapezoid over the levels, divided by their range: the curve's mean height;
  // the mean itself when there is one level).
  std::vector<E1Difference> at_zero, at_swap, area;
  // The claim's verdict: true when the accuracy differences at a = 0 and at the swap both have CIs
  // above 0, false when either has its CI below 0, null (inconclusive) otherwise.
  std::optional<bool> claim_supported;
  std::string rule;  // the rule above, in words
};

struct E1Result {
  std::vector<std::int32_t> identities;     // n trained identity indices (0..n-1)
  std::vector<std::int32_t> partners;       // n morph partners j
  std::vector<bool> partner_same_demographics;
  std::int64_t renders = 0;
  std::int64_t images = 0;                  // rendered and classified
  std::int64_t bootstrap = 0;
  std::uint64_t seed = 0;
  std::vector<E1Series> series;             // the four series in the order above
  double duplicate_max_logit_difference = 0.0;  // over the repeated stimuli (a = 1, l = 0)
  E1Summary summary;

  const E1Series& find(std::string_view name) const;  // throws deeper::Error for an unknown name
};

// Images run_e1 renders for these settings: n R (2 levels + 2 morph levels); for a Progress total.
std::int64_t e1_image_count(const AnalysisSettings& settings);

// The morph partner of trained identity i among `set` (at least 2 identities): the first of i + 1,
// i + 2, ... (cyclic) with i's gender and ethnicity, else i + 1 (cyclic). Throws deeper::Error for
// fewer than 2 identities or i out of range.
std::int32_t e1_partner(const render::IdentitySet& set, std::int32_t i);

// Runs E1 on the study's device; `progress` counts images (total e1_image_count()).
E1Result run_e1(Study& study, Progress* progress = nullptr);

// Everything but the per-image values: per series the levels and per measure mean / lo / hi lists,
// the partners, the summary, "claim_supported" (true / false / null) with "claim_rule", and notes on
// the reconstruction (what the swap is, the CI method).
nlohmann::json e1_json(const E1Result& result);

// The per-identity values of one series and measure as a levels x identities row-major array
// (measure: accuracy, probability, logit, partner_accuracy, partner_probability), for .npy output.
// Throws deeper::Error for an unknown measure or a partner measure of an amplification series.
std::vector<double> e1_identity_matrix(const E1Series& series, std::string_view measure);

}  // namespace deeper::analysis
