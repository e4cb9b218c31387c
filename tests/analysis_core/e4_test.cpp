#include <gtest/gtest.h>

#include <cmath>

#include "analysis/e4_pose.h"
#include "tests/support/analysis_fixture.h"

namespace {

using namespace deeper::analysis;

TEST(AnalysisE4, PoseGridAndDice) {
  const auto g = pose_grid(15.0);
  ASSERT_EQ(g.size(), 9u);
  EXPECT_EQ(g[4].yaw, 0.0f);
  EXPECT_EQ(g[4].pitch, 0.0f);
  EXPECT_EQ(g[0].yaw, -15.0f);
  EXPECT_EQ(g[8].pitch, 15.0f);
  const std::vector<std::uint8_t> a = {1, 1, 0, 0}, b = {1, 0, 1, 0}, none = {0, 0, 0, 0};
  EXPECT_DOUBLE_EQ(dice(a, b), 0.5);
  EXPECT_DOUBLE_EQ(dice(a, a), 1.0);
  EXPECT_TRUE(std::isnan(dice(none, none)));
}

TEST(AnalysisE4, FrontalPoseRepeatsE2AndIndicesAreBounded) {
  auto settings = analysis_test::small_settings();
  settings.layers = {2, 10};
  auto study = analysis_test::small_study(settings);
  auto trials = make_trials(study);
  const E4Result r = run_e4(study, trials);
  ASSERT_EQ(r.targets.size(), 1u);
  const auto& t = r.targets[0];
  ASSERT_EQ(t.poses.size(), 9u);
  // The frontal pose's map equals E2's map over the same trials.
  TrialSet first;
  first.target = trials[0].target;
  first.faces.assign(trials[0].faces.begin(), trials[0].faces.begin() + settings.e4_trials);
  respond(study, first, study.frontal_factors());
  MapOptions o;
  o.permutations = settings.permutations;
  o.seed = settings.seed + 31 * 4 + 101 * static_cast<std::uint64_t>(first.target);
  const auto shape = shape_features(study.face_model(), first.faces, 1);
  const FeatureMap m = feature_map(shape, first.logit, o);
  ASSERT_EQ(m.mi.size(), t.poses[4].shape.mi.size());
  for (std::size_t j = 0; j < m.mi.size(); j += 97) EXPECT_NEAR(m.mi[j], t.poses[4].shape.mi[j], 1e-12);
  // Correlation matrices: unit diagonal, symmetric, in [-1, 1].
  for (int a = 0; a < 9; ++a) {
    EXPECT_NEAR(t.shape_correlation[static_cast<std::size_t>(a * 9 + a)], 1.0, 1e-12);
    for (int b = 0; b < 9; ++b) {
      const double v = t.texture_correlation[static_cast<std::size_t>(a * 9 + b)];
      EXPECT_LE(std::abs(v), 1.0 + 1e-12);
      EXPECT_DOUBLE_EQ(v, t.texture_correlation[static_cast<std::size_t>(b * 9 + a)]);
    }
  }
  ASSERT_EQ(t.layers.size(), 2u);
  for (const auto& l : t.layers) {
    EXPECT_LE(std::abs(l.invariance_index), 1.0);
    EXPECT_GT(l.conditional_shape, 0.0);
    EXPECT_GT(l.pooled_texture, 0.0);
    EXPECT_GE(l.pose_info_max, l.pose_info_mean);
    EXPECT_EQ(l.shape_maps.size(), 9u);
  }
  const auto j = e4_json(r);
  EXPECT_EQ(j["views"].size(), 9u);
  EXPECT_EQ(j["targets"][0]["layers"].size(), 2u);
}

}  // namespace
