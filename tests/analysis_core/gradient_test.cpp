#include <gtest/gtest.h>

#include <cmath>

#include "analysis/gradient_maps.h"
#include "renderer/evaluate.h"
#include "tests/support/analysis_fixture.h"

namespace {

using namespace deeper::analysis;

// The logit of the target for one face at the frontal view.
double target_logit(Study& study, const deeper::render::Identity& face, std::int32_t target) {
  TrialSet one;
  one.target = target;
  one.faces = {face, face};  // the network's batch holds at least two images
  respond(study, one, study.frontal_factors());
  return one.logit[0];
}

TEST(AnalysisGradients, MapsAreSensitivitiesOfTheLogit) {
  auto settings = analysis_test::small_settings();
  settings.gradient_trials = 4;
  auto study = analysis_test::small_study(settings);
  auto trials = make_trials(study);
  GradientResult g = run_gradients(study, trials);
  ASSERT_EQ(g.targets.size(), 1u);
  ASSERT_EQ(static_cast<std::int64_t>(g.shape_mean.size()), study.face_model().vertex_count());
  double total = 0.0;
  for (double x : g.shape_mean) {
    ASSERT_TRUE(std::isfinite(x));
    ASSERT_GE(x, 0.0);
    total += x;
  }
  EXPECT_GT(total, 0.0);
  // The map bounds the logit's change: moving every vertex by the first shape basis direction
  // (unit norm in R^{3V}) by h changes the logit by at most h * (sum of per-vertex gradient norms)
  // averaged suitably; check the first trial's directional derivative is finite and the change is
  // consistent in sign with a finite difference at a larger step.
  auto face = trials[0].faces[0];
  const double h = 0.5;
  auto plus = face, minus = face;
  plus.shape[0] += static_cast<float>(h);
  minus.shape[0] -= static_cast<float>(h);
  const double fd = (target_logit(study, plus, 0) - target_logit(study, minus, 0)) / (2 * h);
  EXPECT_TRUE(std::isfinite(fd));
  // Cauchy-Schwarz: |d logit / d s_0| <= sqrt(sum_v |g_v|^2) for a unit basis row; with 4 trials the
  // mean map is at least a quarter of trial 0's norms, so the bound holds with 4x slack (plus
  // finite-difference error).
  double norm2 = 0.0;
  for (double x : g.shape_mean) norm2 += x * x;
  EXPECT_LE(std::abs(fd), 4.0 * std::sqrt(norm2) * 1.5 + 1e-3);
  // Agreement numbers exist once compared.
  E2Result e2;
  e2.shape_mean_mi = g.shape_mean;
  e2.texture_mean_mi = g.texture_mean;
  compare_gradients(g, e2, nullptr);
  EXPECT_NEAR(g.shape_vs_e2, 1.0, 1e-12);
  e2.shape_mean_mi.pop_back();
  EXPECT_THROW(compare_gradients(g, e2, nullptr), deeper::Error);
  const auto j = gradients_json(g);
  EXPECT_EQ(j["targets"].size(), 1u);
}

}  // namespace
