#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <limits>

#include <unistd.h>

#include "analysis/e2_reverse_correlation.h"
#include "analysis/features.h"
#include "analysis/trials.h"
#include "core/error.h"
#include "core/safetensors.h"
#include "infotheory/gcmi.h"
#include "renderer/evaluate.h"
#include "tests/support/analysis_fixture.h"

namespace {

using namespace deeper::analysis;

TEST(AnalysisRun, LoadsTheTrainedRun) {
  const RunInfo run = load_run(analysis_test::small_run());
  EXPECT_EQ(run.config.model.classes, 8);
  EXPECT_EQ(run.step(), 80);
  EXPECT_FALSE(run.records.empty());
}

TEST(AnalysisRun, RefusesMissingAndBrokenRuns) {
  const auto dir = std::filesystem::temp_directory_path() / "deeper_analysis_broken_run";
  std::filesystem::remove_all(dir);
  EXPECT_THROW(load_run(dir), deeper::Error);
  std::filesystem::create_directories(dir);
  EXPECT_THROW(load_run(dir), deeper::Error);  // no checkpoint
  // A truncated checkpoint.
  std::filesystem::copy_file(analysis_test::small_run() / "checkpoint.safetensors", dir / "checkpoint.safetensors");
  std::filesystem::resize_file(dir / "checkpoint.safetensors", 100);
  EXPECT_THROW(load_run(dir), deeper::Error);
  // A broken metrics line names its line number.
  std::filesystem::copy_file(analysis_test::small_run() / "checkpoint.safetensors", dir / "checkpoint.safetensors",
                             std::filesystem::copy_options::overwrite_existing);
  std::ofstream(dir / "metrics.jsonl") << "{\"kind\":\"train\"}\n{oops\n";
  try {
    load_run(dir);
    FAIL() << "a broken metrics line was accepted";
  } catch (const deeper::Error& e) {
    EXPECT_NE(std::string(e.what()).find("metrics.jsonl:2"), std::string::npos) << e.what();
  }
}

TEST(AnalysisRun, RefusesANetworkWithNonFiniteWeights) {
  // The trained run with one weight set to NaN: the analysis stops at the first image, naming the cause.
  const auto dir = std::filesystem::temp_directory_path() / ("deeper_analysis_nan_run_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto file = deeper::io::read_safetensors(analysis_test::small_run() / "checkpoint.safetensors");
  bool poisoned = false;
  for (auto& t : file.tensors) {
    if (t.name == "fc.weight") {
      const float nan = std::numeric_limits<float>::quiet_NaN();
      std::memcpy(t.array.data.data(), &nan, sizeof nan);
      poisoned = true;
    }
  }
  ASSERT_TRUE(poisoned);
  deeper::io::write_safetensors(dir / "checkpoint.safetensors", file);
  Study study(load_run(dir), analysis_test::small_settings(), deeper::Device::cpu(), &analysis_test::small_face_model());
  auto trials = make_trials(study);
  try {
    respond(study, trials[0], study.frontal_factors(), 8);
    FAIL() << "NaN logits were accepted";
  } catch (const deeper::Error& e) {
    EXPECT_NE(std::string(e.what()).find("not finite"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(AnalysisSettings, RefusesUnusableValues) {
  const auto config = load_run(analysis_test::small_run()).config;
  auto s = analysis_test::small_settings();
  validate_settings(s, config);
  s.targets = 9;  // the run has 8 identities
  EXPECT_THROW(validate_settings(s, config), deeper::Error);
  s = analysis_test::small_settings();
  s.experiments = {"e3"};  // needs e2
  EXPECT_THROW(validate_settings(s, config), deeper::Error);
  s = analysis_test::small_settings();
  s.experiments = {"e2", "e5"};
  EXPECT_THROW(validate_settings(s, config), deeper::Error);
  EXPECT_THROW(analysis_preset("huge"), deeper::Error);
  EXPECT_EQ(preset_for_run(config), "tiny");
  // Every preset fits the training preset of its name, and auto picks it.
  for (const char* name : {"tiny", "small", "paper"}) {
    const auto run_config = deeper::nn::load_preset(name);
    EXPECT_EQ(preset_for_run(run_config), name);
    EXPECT_NO_THROW(validate_settings(analysis_preset(name), run_config)) << name;
  }
}

TEST(AnalysisTrials, PerturbAroundTheTargetDeterministically) {
  auto study = analysis_test::small_study();
  const auto a = make_trials(study), b = make_trials(study);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(a[0].trials(), study.settings().trials);
  EXPECT_EQ(a[0].faces[5].shape, b[0].faces[5].shape);
  const auto& target = study.identities().identities[0];
  // The mean trial coefficient is the target's (to sampling error), the trials differ from each other.
  double mean = 0.0;
  for (const auto& f : a[0].faces) mean += f.shape[0];
  mean /= static_cast<double>(a[0].trials());
  const double sd = study.face_model().shape_sd[0] * study.settings().perturbation;
  EXPECT_NEAR(mean, target.shape[0], 4.0 * sd / std::sqrt(static_cast<double>(a[0].trials())));
  EXPECT_NE(a[0].faces[0].shape[0], a[0].faces[1].shape[0]);
  EXPECT_EQ(a[0].faces[0].factors.gender, target.factors.gender);
}

TEST(AnalysisTrials, GroupChoiceAndRankCorrelation) {
  const std::vector<double> logit = {1, 5, 2, 0, 0, 0, 3, 9, 1};
  const auto c = group_choice(logit, 6);
  EXPECT_EQ(c, (std::vector<std::int32_t>{0, 1, 0, 0, 0, 0, 0, 1, 0}));
  const std::vector<double> x = {1, 2, 3, 4, 5}, y = {1, 4, 9, 16, 25}, z = {5, 4, 3, 2, 1};
  EXPECT_NEAR(spearman(x, y), 1.0, 1e-12);
  EXPECT_NEAR(spearman(x, z), -1.0, 1e-12);
  EXPECT_TRUE(std::isnan(spearman(x, std::vector<double>(5, 1.0))));
}

TEST(AnalysisFeatures, EqualDirectEvaluation) {
  auto study = analysis_test::small_study();
  const auto trials = make_trials(study);
  const auto& model = study.face_model();
  const auto shape = shape_features(model, trials[0].faces, 7);
  const auto texture = texture_features(model, trials[0].faces, 8);
  const auto mean_v = deeper::render::mean_shape(model, trials[0].faces[3].factors);
  const auto v = deeper::render::vertices(model, trials[0].faces[3]);
  const std::int64_t n = shape.trials;
  for (std::int64_t j : {0L, 10L, shape.count - 1}) {
    const std::int64_t vertex = shape.index[static_cast<std::size_t>(j)];
    for (int d = 0; d < 3; ++d) {
      const double expected = v[static_cast<std::size_t>(vertex * 3 + d)] - mean_v[static_cast<std::size_t>(vertex * 3 + d)];
      EXPECT_NEAR(shape.rows[static_cast<std::size_t>((j * 3 + d) * n + 3)], expected, 1e-3);
    }
  }
  const auto tex = deeper::render::texture(model, trials[0].faces[3]);
  const auto mean_t = deeper::render::mean_texture(model, trials[0].faces[3].factors);
  EXPECT_EQ(texture.grid_height, model.texture_height / 8);
  // Texel (1, 2) of the 8x grid is the mean of its 8 x 8 block.
  const int ty = 1, tx = 2, w = model.texture_width;
  for (int ch = 0; ch < 3; ++ch) {
    double block = 0.0;
    for (int y = 0; y < 8; ++y) {
      for (int x = 0; x < 8; ++x) {
        const std::size_t i = static_cast<std::size_t>(((ty * 8 + y) * w + tx * 8 + x) * 3 + ch);
        block += tex[i] - mean_t[i];
      }
    }
    const std::int64_t j = ty * texture.grid_width + tx;
    EXPECT_NEAR(texture.rows[static_cast<std::size_t>((j * 3 + ch) * n + 3)], block / 64.0, 1e-4);
  }
  EXPECT_THROW(texture_features(model, trials[0].faces, 3), deeper::Error);
  EXPECT_THROW(shape_features(model, trials[0].faces, 0), deeper::Error);
}

TEST(AnalysisFeatures, DegenerateDimensionsAreDropped) {
  // Variable 0: dimension 1 constant, dimension 2 = -2 x dimension 0 (one free coordinate);
  // variable 1: three independent coordinates.
  FeatureSet f;
  f.kind = "shape";
  f.count = 2;
  f.trials = 200;
  f.rows.resize(6 * 200);
  std::vector<double> y(200);
  for (int t = 0; t < 200; ++t) {
    const double a = std::sin(0.37 * t), b = std::cos(1.3 * t), c = std::sin(2.1 * t + 1);
    f.rows[0 * 200 + t] = a;
    f.rows[1 * 200 + t] = 4.0;
    f.rows[2 * 200 + t] = -2.0 * a;
    f.rows[3 * 200 + t] = b;
    f.rows[4 * 200 + t] = c;
    f.rows[5 * 200 + t] = a * b;
    y[static_cast<std::size_t>(t)] = a + 0.5 * b + 0.3 * std::sin(5.0 * t);
  }
  mark_used_dimensions(f);
  EXPECT_EQ(f.dims, (std::vector<std::uint8_t>{1, 7}));
  deeper::info::AllPairsOptions o;
  o.permutations = 20;
  const auto r = features_cc(f, y.data(), 1, 1, o);
  EXPECT_NEAR(r.mi[0], deeper::info::gcmi_cc(f.rows.data(), 1, y.data(), 1, 200), 1e-12);
  EXPECT_NEAR(r.mi[1], deeper::info::gcmi_cc(f.rows.data() + 3 * 200, 3, y.data(), 1, 200), 1e-12);
  ASSERT_EQ(r.max_null_all.size(), 20u);
  // Permutation maxima are deterministic in the seed (every group uses the same permutations).
  const auto alone = features_cc(first_trials(f, 200), y.data(), 1, 1, o);
  EXPECT_EQ(alone.max_null_all, r.max_null_all);
}

TEST(AnalysisE2, MapsMatchPerFeatureGcmiAndTheNull) {
  auto study = analysis_test::small_study();
  auto trials = make_trials(study);
  const E2Result r = run_e2(study, trials);
  ASSERT_EQ(r.targets.size(), 1u);
  const auto& t = r.targets[0];
  ASSERT_EQ(static_cast<std::int64_t>(t.shape_logit.mi.size()), study.face_model().vertex_count());
  // The logit varies over trials (a response to reverse-correlate).
  EXPECT_GT(t.logit_sd, 0.0);
  // Vertex 100's MI equals gcmi_cc of its 3 coordinates with the logit.
  const auto shape = shape_features(study.face_model(), trials[0].faces, 1);
  const std::int64_t n = shape.trials;
  std::int64_t j = 100;
  while (shape.dims[static_cast<std::size_t>(j)] != 7) ++j;  // a vertex with three free coordinates
  const double direct = deeper::info::gcmi_cc(shape.rows.data() + j * 3 * n, 3, trials[0].logit.data(), 1, n);
  EXPECT_NEAR(t.shape_logit.mi[static_cast<std::size_t>(j)], direct, 1e-9);
  // Significance = above the (1 - alpha) quantile of the null maxima.
  for (const FeatureMap* m : {&t.shape_logit, &t.texture_logit, &t.shape_chosen, &t.texture_chosen}) {
    ASSERT_EQ(m->max_null.size(), static_cast<std::size_t>(study.settings().permutations));
    auto sorted = m->max_null;
    std::sort(sorted.begin(), sorted.end());
    const auto k = static_cast<std::size_t>(std::ceil((1.0 - m->alpha) * static_cast<double>(sorted.size())));
    EXPECT_DOUBLE_EQ(m->threshold, sorted[k - 1]);
    for (std::size_t i = 0; i < m->mi.size(); ++i) {
      ASSERT_EQ(m->significant[i] != 0, m->mi[i] > m->threshold) << m->feature << " " << i;
      ASSERT_TRUE(std::isfinite(m->mi[i]));
    }
  }
  const auto j2 = e2_json(r);
  EXPECT_TRUE(j2["claim"].contains("texture_more_than_shape"));
  EXPECT_EQ(j2["targets"][0]["shape_logit"]["features"], study.face_model().vertex_count());
}

}  // namespace
