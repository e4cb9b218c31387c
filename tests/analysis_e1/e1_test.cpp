// E1 (analysis/e1_generalisation.h) on the small trained run of tests/support/analysis_fixture.h: the
// stimuli (level 1 and morph 0 are the trained identity, a = 0 changes it), the image count, the
// per-identity and level statistics and their CIs, the summary and verdict, the JSON, and the refused
// settings.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <optional>
#include <string>

#include "analysis/e1_generalisation.h"
#include "core/error.h"
#include "tests/support/analysis_fixture.h"

namespace {

using deeper::analysis::E1Result;
using deeper::analysis::E1Series;

const std::vector<double> kLevels = {1.5, 0.0, 1.0, 0.5};  // unsorted on purpose: a = 0 is not the first
const std::vector<double> kMorph = {0.0, 0.5, 1.0};        // index 0 is lambda = 0

deeper::analysis::AnalysisSettings e1_settings() {
  auto s = analysis_test::small_settings();
  s.e1_identities = 4;
  s.e1_renders = 3;
  s.e1_levels = kLevels;
  s.e1_morph = kMorph;
  s.bootstrap = 200;
  s.experiments = {"e1"};
  return s;
}

struct E1Run {
  E1Result result;
  std::uint64_t progress_count = 0;
  std::uint64_t progress_total = 0;
  std::int64_t classes = 0;
};

// One E1 run per test process (the whole suite shares it).
const E1Run& e1_run() {
  static const E1Run run = [] {
    E1Run r;
    auto study = analysis_test::small_study(e1_settings());
    deeper::ProgressOptions options;
    options.unit = "images";
    options.mode = deeper::ProgressMode::silent;
    deeper::Progress progress("e1", static_cast<std::uint64_t>(deeper::analysis::e1_image_count(study.settings())),
                              options);
    r.result = deeper::analysis::run_e1(study, &progress);
    r.progress_count = progress.count();
    r.progress_total = progress.total();
    r.classes = study.classes();
    return r;
  }();
  return run;
}

std::size_t level_index(const E1Series& s, double level) {
  for (std::size_t L = 0; L < s.levels.size(); ++L) {
    if (s.levels[L].level == level) return L;
  }
  ADD_FAILURE() << s.name << " has no level " << level;
  return 0;
}

// Per-image values of level L of a series (identities x renders).
template <typename T>
std::vector<T> level_images(const std::vector<T>& values, std::size_t L, std::size_t per_level) {
  return std::vector<T>(values.begin() + static_cast<std::ptrdiff_t>(L * per_level),
                        values.begin() + static_cast<std::ptrdiff_t>((L + 1) * per_level));
}

void expect_same_images(const E1Series& a, std::size_t La, const E1Series& b, std::size_t Lb, std::size_t per_level) {
  EXPECT_EQ(level_images(a.image_logit, La, per_level), level_images(b.image_logit, Lb, per_level))
      << a.name << " vs " << b.name;
  EXPECT_EQ(level_images(a.image_probability, La, per_level), level_images(b.image_probability, Lb, per_level));
  EXPECT_EQ(level_images(a.image_decision, La, per_level), level_images(b.image_decision, Lb, per_level));
}

void counts_every_image_once_and_reports_progress() {
  const E1Run& run = e1_run();
  const E1Result& r = run.result;
  const std::int64_t expected = 4 * 3 * (2 * 4 + 2 * 3);
  EXPECT_EQ(r.images, expected);
  EXPECT_EQ(deeper::analysis::e1_image_count(e1_settings()), expected);
  EXPECT_EQ(run.progress_total, static_cast<std::uint64_t>(expected));
  EXPECT_EQ(run.progress_count, static_cast<std::uint64_t>(expected));
  ASSERT_EQ(r.series.size(), 4u);
  std::int64_t stored = 0;
  for (const auto& s : r.series) {
    const bool morph = s.manipulation == deeper::analysis::E1Manipulation::morph;
    const std::size_t images = s.levels.size() * 4 * 3;
    EXPECT_EQ(s.levels.size(), morph ? kMorph.size() : kLevels.size()) << s.name;
    EXPECT_EQ(s.image_logit.size(), images);
    EXPECT_EQ(s.image_probability.size(), images);
    EXPECT_EQ(s.image_decision.size(), images);
    EXPECT_EQ(s.image_partner_probability.size(), morph ? images : 0u);
    stored += static_cast<std::int64_t>(images);
  }
  EXPECT_EQ(stored, expected);
  EXPECT_EQ(r.renders, 3);
  EXPECT_EQ(r.identities, (std::vector<std::int32_t>{0, 1, 2, 3}));
}

void level_one_of_both_amplifications_is_the_same_stimulus() {
  const E1Result& r = e1_run().result;
  const auto& shape = r.find("shape_amplification");
  const auto& texture = r.find("texture_amplification");
  expect_same_images(shape, level_index(shape, 1.0), texture, level_index(texture, 1.0), 12);
}

void morph_zero_ends_equal_level_one() {
  const E1Result& r = e1_run().result;
  const auto& shape = r.find("shape_amplification");
  for (const char* name : {"shape_morph", "texture_morph"}) {
    const auto& morph = r.find(name);
    expect_same_images(morph, level_index(morph, 0.0), shape, level_index(shape, 1.0), 12);
  }
  EXPECT_EQ(r.duplicate_max_logit_difference, 0.0);
}

void category_average_changes_the_logit_of_every_identity() {
  const E1Result& r = e1_run().result;
  for (const char* name : {"shape_amplification", "texture_amplification"}) {
    const auto& s = r.find(name);
    const auto zero = level_images(s.image_logit, level_index(s, 0.0), 12);
    const auto one = level_images(s.image_logit, level_index(s, 1.0), 12);
    for (std::size_t k = 0; k < 4; ++k) {
      double change = 0.0;
      for (std::size_t m = k * 3; m < k * 3 + 3; ++m) change += std::abs(static_cast<double>(zero[m]) - one[m]);
      EXPECT_GT(change / 3.0, 1e-3) << name << " identity " << k << ": a = 0 leaves the logit unchanged";
    }
  }
  // The morph toward another identity changes the logits too.
  const auto& morph = r.find("shape_morph");
  EXPECT_NE(level_images(morph.image_logit, 0, 12), level_images(morph.image_logit, 2, 12));
}

void probabilities_are_in_range_and_decisions_are_classes() {
  const E1Run& run = e1_run();
  for (const auto& s : run.result.series) {
    for (std::size_t m = 0; m < s.image_probability.size(); ++m) {
      const float p = s.image_probability[m];
      ASSERT_TRUE(p >= 0.0f && p <= 1.0f) << s.name << " image " << m << ": p = " << p;
      ASSERT_TRUE(std::isfinite(s.image_logit[m]));
      ASSERT_GE(s.image_decision[m], 0);
      ASSERT_LT(s.image_decision[m], run.classes);
      const auto k = static_cast<std::int32_t>((m / 3) % 4);
      // The top-1 class has the largest softmax, at least 1 / classes.
      if (s.image_decision[m] == k) {
        EXPECT_GE(p, 1.0f / static_cast<float>(run.classes) - 1e-6f);
      }
      if (!s.image_partner_probability.empty()) {
        const float q = s.image_partner_probability[m];
        ASSERT_TRUE(q >= 0.0f && q <= 1.0f);
        EXPECT_LE(p + q, 1.0f + 1e-5f) << "p(i) + p(j) above 1 (i != j)";
      }
    }
  }
}

void level_means_are_means_of_identity_means_with_cis_around_them() {
  const E1Result& r = e1_run().result;
  for (const auto& s : r.series) {
    const bool morph = s.manipulation == deeper::analysis::E1Manipulation::morph;
    for (std::size_t L = 0; L < s.levels.size(); ++L) {
      const auto& level = s.levels[L];
      ASSERT_EQ(level.identity_accuracy.size(), 4u);
      for (std::size_t k = 0; k < 4; ++k) {
        double acc = 0.0, p = 0.0, logit = 0.0;
        for (std::size_t rr = 0; rr < 3; ++rr) {
          const std::size_t m = (L * 4 + k) * 3 + rr;
          acc += s.image_decision[m] == static_cast<std::int32_t>(k) ? 1.0 : 0.0;
          p += s.image_probability[m];
          logit += s.image_logit[m];
        }
        EXPECT_DOUBLE_EQ(level.identity_accuracy[k], acc / 3.0);
        EXPECT_NEAR(level.identity_probability[k], p / 3.0, 1e-12);
        EXPECT_NEAR(level.identity_logit[k], logit / 3.0, 1e-9);
      }
      using deeper::analysis::E1Estimate;
      const auto check = [&](const E1Estimate& e, const std::vector<double>& values, bool unit, const char* what) {
        const double mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
        EXPECT_NEAR(e.mean, mean, 1e-12) << s.name << " level " << level.level << " " << what;
        EXPECT_LE(e.lo, e.mean + 1e-12) << s.name << " level " << level.level << " " << what;
        EXPECT_GE(e.hi, e.mean - 1e-12) << s.name << " level " << level.level << " " << what;
        EXPECT_GE(e.lo, *std::min_element(values.begin(), values.end()) - 1e-12);
        EXPECT_LE(e.hi, *std::max_element(values.begin(), values.end()) + 1e-12);
        if (unit) {
          EXPECT_TRUE(e.lo >= 0.0 && e.hi <= 1.0) << what;
        }
      };
      check(level.accuracy, level.identity_accuracy, true, "accuracy");
      check(level.probability, level.identity_probability, true, "probability");
      check(level.logit, level.identity_logit, false, "logit");
      if (morph) {
        check(level.partner_accuracy, level.identity_partner_accuracy, true, "partner accuracy");
        check(level.partner_probability, level.identity_partner_probability, true, "partner probability");
      } else {
        EXPECT_TRUE(level.identity_partner_accuracy.empty());
      }
    }
  }
}

void summary_compares_the_right_levels_and_applies_its_rule() {
  const E1Result& r = e1_run().result;
  const auto& sum = r.summary;
  EXPECT_EQ(sum.zero_level, 0.0);
  EXPECT_EQ(sum.swap_level, 1.0);
  ASSERT_EQ(sum.at_zero.size(), 3u);
  ASSERT_EQ(sum.at_swap.size(), 3u);
  ASSERT_EQ(sum.area.size(), 3u);
  const auto& shape = r.find("shape_amplification");
  const auto& texture = r.find("texture_amplification");
  EXPECT_EQ(sum.at_zero[0].measure, "accuracy");
  EXPECT_DOUBLE_EQ(sum.at_zero[0].shape, shape.levels[level_index(shape, 0.0)].accuracy.mean);
  EXPECT_DOUBLE_EQ(sum.at_zero[0].texture, texture.levels[level_index(texture, 0.0)].accuracy.mean);
  EXPECT_DOUBLE_EQ(sum.at_zero[1].shape, shape.levels[level_index(shape, 0.0)].probability.mean);
  EXPECT_DOUBLE_EQ(sum.at_swap[2].shape, r.find("shape_morph").levels[2].logit.mean);
  EXPECT_DOUBLE_EQ(sum.at_swap[2].texture, r.find("texture_morph").levels[2].logit.mean);
  for (const auto* list : {&sum.at_zero, &sum.at_swap, &sum.area}) {
    for (const auto& d : *list) {
      EXPECT_NEAR(d.difference.mean, d.shape - d.texture, 1e-12) << d.measure;
      EXPECT_LE(d.difference.lo, d.difference.mean + 1e-12) << d.measure;
      EXPECT_GE(d.difference.hi, d.difference.mean - 1e-12) << d.measure;
    }
  }
  // The area is linear in the curve: the mean of the identities' areas is the area of the mean curve
  // (levels 0, 0.5, 1, 1.5 in sorted order: trapezoid / 1.5).
  for (const auto* s : {&shape, &texture}) {
    const auto at = [&](double a) { return s->levels[level_index(*s, a)].accuracy.mean; };
    const double area = (0.25 * (at(0.0) + at(0.5)) + 0.25 * (at(0.5) + at(1.0)) + 0.25 * (at(1.0) + at(1.5))) / 1.5;
    EXPECT_NEAR(s == &shape ? sum.area[0].shape : sum.area[0].texture, area, 1e-12);
  }
  const auto& z = sum.at_zero[0].difference;
  const auto& w = sum.at_swap[0].difference;
  if (z.hi < 0.0 || w.hi < 0.0) {
    EXPECT_EQ(sum.claim_supported, std::optional<bool>(false));
  } else if (z.lo > 0.0 && w.lo > 0.0) {
    EXPECT_EQ(sum.claim_supported, std::optional<bool>(true));
  } else {
    EXPECT_FALSE(sum.claim_supported.has_value());
  }
  EXPECT_NE(sum.rule.find("CI"), std::string::npos);
}

void json_has_every_series_the_summary_and_the_verdict() {
  const E1Result& r = e1_run().result;
  const nlohmann::json j = deeper::analysis::e1_json(r);
  EXPECT_EQ(j.at("experiment"), "e1");
  EXPECT_EQ(j.at("images"), r.images);
  for (const char* name : {"shape_amplification", "texture_amplification", "shape_morph", "texture_morph"}) {
    SCOPED_TRACE(name);
    const auto& s = j.at("series").at(name);
    const bool morph = std::string(name).ends_with("morph");
    const std::size_t levels = morph ? kMorph.size() : kLevels.size();
    EXPECT_EQ(s.at("levels").size(), levels);
    EXPECT_EQ(s.at("manipulation"), morph ? "morph" : "amplification");
    for (const char* measure : {"accuracy", "probability", "logit"}) {
      for (const char* part : {"mean", "lo", "hi"}) EXPECT_EQ(s.at(measure).at(part).size(), levels);
    }
    EXPECT_EQ(s.contains("partner_accuracy"), morph);
    EXPECT_EQ(s.contains("swap_level"), morph);
    EXPECT_DOUBLE_EQ(s.at("accuracy").at("mean")[0].get<double>(), r.find(name).levels[0].accuracy.mean);
  }
  ASSERT_TRUE(j.contains("claim_supported"));
  const auto& verdict = j.at("claim_supported");
  EXPECT_TRUE(verdict.is_null() || verdict.is_boolean());
  EXPECT_EQ(verdict.is_null(), !r.summary.claim_supported.has_value());
  EXPECT_FALSE(j.at("claim_rule").get<std::string>().empty());
  EXPECT_NE(j.at("swaps").get<std::string>().find("shape_morph"), std::string::npos);
  EXPECT_EQ(j.at("ci_level"), 0.95);
  EXPECT_EQ(j.at("partners").size(), 4u);
  for (const char* part : {"at_zero", "at_swap", "area"}) EXPECT_EQ(j.at("summary").at(part).size(), 3u);
  EXPECT_EQ(j.at("summary").at("at_zero")[0].at("measure"), "accuracy");
}

void identity_matrix_is_levels_by_identities() {
  const E1Result& r = e1_run().result;
  const auto& morph = r.find("texture_morph");
  const auto m = deeper::analysis::e1_identity_matrix(morph, "partner_probability");
  ASSERT_EQ(m.size(), kMorph.size() * 4);
  EXPECT_EQ(m[1 * 4 + 2], morph.levels[1].identity_partner_probability[2]);
  const auto& amp = r.find("shape_amplification");
  EXPECT_EQ(deeper::analysis::e1_identity_matrix(amp, "logit")[3 * 4 + 1], amp.levels[3].identity_logit[1]);
  EXPECT_EQ(amp.levels[3].level, kLevels[3]);  // the settings' order
  EXPECT_THROW(deeper::analysis::e1_identity_matrix(amp, "partner_accuracy"), deeper::Error);
  EXPECT_THROW(deeper::analysis::e1_identity_matrix(amp, "entropy"), deeper::Error);
  EXPECT_THROW((void)r.find("colour_morph"), deeper::Error);
}

void partners_follow_the_rule() {
  const E1Result& r = e1_run().result;
  const auto config = analysis_test::small_run_config(analysis_test::small_run());
  const auto set = deeper::render::make_identities(analysis_test::small_face_model(),
                                                   static_cast<std::uint64_t>(config.render.identity_seed),
                                                   config.model.classes);
  ASSERT_EQ(r.partners.size(), 4u);
  for (std::size_t k = 0; k < r.partners.size(); ++k) {
    const std::int32_t j = r.partners[k];
    EXPECT_EQ(j, deeper::analysis::e1_partner(set, r.identities[k]));
    EXPECT_NE(j, r.identities[k]);
    const auto& f = set.identities[k].factors;
    const auto& g = set.identities[static_cast<std::size_t>(j)].factors;
    EXPECT_EQ(r.partner_same_demographics[k], f.gender == g.gender && f.ethnicity == g.ethnicity);
  }
}

// ctest runs every test in its own process, and each E1 run costs seconds on the cpu: the checks on
// the run are grouped into three tests.
TEST(E1, StimuliAreTheManipulationsOfTheSameRenders) {
  counts_every_image_once_and_reports_progress();
  level_one_of_both_amplifications_is_the_same_stimulus();
  morph_zero_ends_equal_level_one();
  category_average_changes_the_logit_of_every_identity();
}

TEST(E1, StatisticsAreMeansOverIdentitiesWithBootstrapCIs) {
  probabilities_are_in_range_and_decisions_are_classes();
  level_means_are_means_of_identity_means_with_cis_around_them();
  summary_compares_the_right_levels_and_applies_its_rule();
}

TEST(E1, OutputsHoldEverySeries) {
  json_has_every_series_the_summary_and_the_verdict();
  identity_matrix_is_levels_by_identities();
  partners_follow_the_rule();
}

deeper::render::Identity person(deeper::render::Gender g, std::int32_t ethnicity) {
  deeper::render::Identity id;
  id.factors.gender = g;
  id.factors.ethnicity = ethnicity;
  return id;
}

TEST(E1, PartnerSharesGenderAndEthnicityWhenItCan) {
  using deeper::render::Gender;
  deeper::render::IdentitySet set;
  set.identities = {person(Gender::female, 0), person(Gender::male, 0), person(Gender::female, 1),
                    person(Gender::female, 0), person(Gender::male, 2)};
  EXPECT_EQ(deeper::analysis::e1_partner(set, 0), 3);
  EXPECT_EQ(deeper::analysis::e1_partner(set, 3), 0);  // cyclic
  EXPECT_EQ(deeper::analysis::e1_partner(set, 1), 2);  // nobody else is a male of ethnicity 0: the next one
  EXPECT_EQ(deeper::analysis::e1_partner(set, 4), 0);  // the next one, cyclic
  EXPECT_THROW(deeper::analysis::e1_partner(set, 5), deeper::Error);
  EXPECT_THROW(deeper::analysis::e1_partner(set, -1), deeper::Error);
  set.identities.resize(1);
  EXPECT_THROW(deeper::analysis::e1_partner(set, 0), deeper::Error);
}

void expect_refused(const std::function<void(deeper::analysis::AnalysisSettings&)>& change, const std::string& text) {
  auto s = e1_settings();
  change(s);
  try {
    (void)analysis_test::small_study(s);
    ADD_FAILURE() << "settings accepted; expected an error with '" << text << "'";
  } catch (const deeper::Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(text), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(E1, BadSettingsAreRefusedWithAClearMessage) {
  expect_refused([](auto& s) { s.e1_identities = 9; }, "e1_identities = 9: must be in [2, 8]");
  expect_refused([](auto& s) { s.e1_identities = 1; }, "e1_identities = 1");
  expect_refused([](auto& s) { s.e1_renders = 0; }, "e1_renders = 0");
  expect_refused([](auto& s) { s.e1_levels = {0.0, -0.5}; }, "e1 level = -0.5");
  expect_refused([](auto& s) { s.e1_morph = {0.0, 1.5}; }, "e1 morph = 1.5");
  expect_refused([](auto& s) { s.e1_morph.clear(); }, "e1 levels");
  expect_refused([](auto& s) { s.bootstrap = 5; }, "bootstrap = 5");
}

}  // namespace
