#include <gtest/gtest.h>

#include <cmath>

#include "analysis/e3_layers.h"
#include "infotheory/gcmi.h"
#include "tests/support/analysis_fixture.h"

namespace {

using namespace deeper::analysis;

TEST(AnalysisE3, LayerMeasuresMatchTheirDefinitions) {
  auto settings = analysis_test::small_settings();
  settings.layers = {1, 6, 10};
  auto study = analysis_test::small_study(settings);
  auto trials = make_trials(study);
  const E3Result r = run_e3(study, trials);
  ASSERT_EQ(r.targets.size(), 1u);
  ASSERT_EQ(r.targets[0].layers.size(), 3u);
  const auto& set = trials[0];
  const std::int64_t n = set.trials();
  // Recompute layer 6 directly from a fresh capture.
  LayerCapture capture = make_capture(study, std::vector<int>{6}, true, n);
  respond(study, trials[0], study.frontal_factors(), 0, &capture);
  const auto& a = capture.layers[0];
  const LayerResult& l = r.targets[0].layers[1];
  EXPECT_EQ(l.layer, 6);
  EXPECT_EQ(l.channels, a.channels);
  const auto rows = channel_rows(a, n);
  const std::int64_t c = 2;
  EXPECT_NEAR(l.decision_mi[c], deeper::info::gcmi_cc(rows.data() + c * n, 1, set.logit.data(), 1, n), 1e-9);
  // A spatial unit.
  ASSERT_EQ(static_cast<std::int64_t>(l.unit_decision_mi.size()), a.unit_count());
  const std::int64_t u = a.unit_count() / 2;
  std::vector<double> unit(static_cast<std::size_t>(n));
  for (std::int64_t t = 0; t < n; ++t) unit[static_cast<std::size_t>(t)] = a.units[static_cast<std::size_t>(t * a.unit_count() + u)];
  EXPECT_NEAR(l.unit_decision_mi[static_cast<std::size_t>(u)], deeper::info::gcmi_cc(unit.data(), 1, set.logit.data(), 1, n), 1e-4);
  // Feature x channel information and co-information of one pair.
  const auto shape = shape_features(study.face_model(), set.faces, settings.vertex_stride);
  std::int64_t j = 5;
  while (shape.dims[static_cast<std::size_t>(j)] != 7) ++j;
  const double* f = shape.rows.data() + j * 3 * n;
  const double ifa = deeper::info::gcmi_cc(f, 3, rows.data() + c * n, 1, n);
  const double ifd = deeper::info::gcmi_cc(f, 3, set.logit.data(), 1, n);
  std::vector<double> ad(static_cast<std::size_t>(2 * n));
  std::copy_n(rows.begin() + c * n, n, ad.begin());
  std::copy_n(set.logit.begin(), n, ad.begin() + n);
  const double ifad = deeper::info::gcmi_cc(f, 3, ad.data(), 2, n);
  const auto k = static_cast<std::size_t>(j * l.channels + c);
  EXPECT_NEAR(l.shape.info[k], ifa, 1e-9);
  EXPECT_NEAR(l.shape.coinfo[k], ifa + ifd - ifad, 1e-9);
  // Counts agree with the thresholds.
  for (const auto& layer : r.targets[0].layers) {
    for (const FeatureLayerMaps* m : {&layer.shape, &layer.texture}) {
      std::int64_t pairs = 0, triples = 0;
      for (std::size_t i = 0; i < m->info.size(); ++i) {
        ASSERT_TRUE(std::isfinite(m->info[i]) && std::isfinite(m->coinfo[i]));
        if (m->info[i] > m->threshold) {
          ++pairs;
          if (m->coinfo[i] > 0) ++triples;
        }
      }
      EXPECT_EQ(pairs, m->significant_pairs);
      EXPECT_EQ(triples, m->significant_triples);
      EXPECT_EQ(m->max_null.size(), static_cast<std::size_t>(settings.e3_permutations));
    }
  }
  EXPECT_GT(r.cost.total(), 0.0);
  const auto j3 = e3_json(r);
  EXPECT_EQ(j3["targets"][0]["layers"].size(), 3u);
}

TEST(AnalysisE3, CostCountsTheGemms) {
  const E3Cost c = e3_cost(1000, 100, 50, 200, 9, true);
  EXPECT_DOUBLE_EQ(c.flop_channel_info, 2.0 * 50 * 3 * 100 * 200 * 10);
  EXPECT_DOUBLE_EQ(c.flop_coinfo, 2.0 * 50 * 3 * 200 * 200);
  EXPECT_DOUBLE_EQ(c.flop_spatial, 2.0 * 1000 * 200 * 10);
}

}  // namespace
