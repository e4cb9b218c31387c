// The analyses on a device (emu or cuda) against the cpu: E2's responses and maps and E3's layers,
// including the spatial I(A; D) that runs through the GCMI kernels (copnorm + all-pairs, streamed).
// Shared by tests/analysis_device (emu) and tests/gpu_analysis (cuda).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "analysis/e3_layers.h"
#include "tests/support/analysis_fixture.h"

namespace analysis_test {

inline deeper::analysis::AnalysisSettings device_check_settings() {
  auto s = small_settings();
  s.trials = 60;
  s.e4_trials = 50;
  s.permutations = 10;
  s.e3_permutations = 10;
  s.layers = {1, 10};
  s.experiments = {"e2", "e3"};
  return s;
}

inline void expect_device_matches_cpu(const deeper::Device& device) {
  using namespace deeper::analysis;
  const auto settings = device_check_settings();
  auto cpu = small_study(settings);
  Study dev(load_run(small_run()), settings, device, &small_face_model());
  auto cpu_trials = make_trials(cpu), dev_trials = make_trials(dev);
  const E2Result e2c = run_e2(cpu, cpu_trials), e2d = run_e2(dev, dev_trials);
  const E3Result e3c = run_e3(cpu, cpu_trials), e3d = run_e3(dev, dev_trials);
  // Responses agree to float rounding of the render and network kernels.
  for (std::size_t t = 0; t < cpu_trials[0].logit.size(); ++t) {
    ASSERT_NEAR(dev_trials[0].logit[t], cpu_trials[0].logit[t], 1e-3 * (1.0 + std::abs(cpu_trials[0].logit[t]))) << t;
  }
  // Maps from those responses agree closely (rank-based estimators: a tiny logit change can swap two
  // ranks, so compare with a tolerance and check most features match tightly).
  const auto& mc = e2c.targets[0].shape_logit.mi;
  const auto& md = e2d.targets[0].shape_logit.mi;
  ASSERT_EQ(mc.size(), md.size());
  std::size_t close = 0;
  for (std::size_t j = 0; j < mc.size(); ++j) close += std::abs(mc[j] - md[j]) < 1e-6;
  EXPECT_GT(close, mc.size() * 9 / 10);
  // E3: per-channel and spatial decision information per layer.
  ASSERT_EQ(e3c.targets[0].layers.size(), e3d.targets[0].layers.size());
  for (std::size_t l = 0; l < e3c.targets[0].layers.size(); ++l) {
    const auto& lc = e3c.targets[0].layers[l];
    const auto& ld = e3d.targets[0].layers[l];
    ASSERT_EQ(lc.unit_decision_mi.size(), ld.unit_decision_mi.size());
    double worst = 0.0;
    for (std::size_t u = 0; u < lc.unit_decision_mi.size(); ++u) {
      worst = std::max(worst, std::abs(lc.unit_decision_mi[u] - ld.unit_decision_mi[u]));
    }
    EXPECT_LT(worst, 0.02) << "layer " << lc.layer;  // f32 kernels vs the f32 CPU GEMM, ranks of near-ties
    for (std::size_t c = 0; c < lc.decision_mi.size(); ++c) EXPECT_NEAR(lc.decision_mi[c], ld.decision_mi[c], 0.02);
  }
}

}  // namespace analysis_test
