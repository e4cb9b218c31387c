// deeper-analyze end to end: a short deeper-train run (4 identities, 32 px, fixed factors so that it
// learns in seconds), then the whole analysis with reduced settings, and checks of the report: accuracy
// above chance, finite MI maps, significance masks equal to "MI above the (1 - alpha) quantile of the
// saved null maxima", every figure and linked file present; and the errors on bad input.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "core/npy.h"
#include "tests/support/program_test.h"

namespace {

namespace fs = std::filesystem;
using deeper::test::Outcome;
using deeper::test::slurp;

// The trained run, shared by the tests of this process (made once, removed at exit).
struct RunFolder {
  fs::path path;
  ~RunFolder() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

const fs::path& trained_run() {
  static const RunFolder dir{[] {
    const fs::path d = fs::temp_directory_path() / ("deeper-analyze-e2e-run-" + std::to_string(::getpid()));
    fs::remove_all(d);
    const std::string cmd = std::string("'") + DEEPER_TRAIN_BINARY +
                            "' --preset tiny --device cpu --quiet --steps 120 --set model.classes=4 "
                            "--set model.input_size=32 --set train.batch=16 --set eval.images=64 --set eval.every=60 "
                            "--set schedule.warmup_steps=10 --set 'render.yaw_deg=[-5.0,5.0]' --set 'render.pitch_deg=[0.0,0.0]' "
                            "--set 'render.roll_deg=[0.0,0.0]' --set 'render.expressions=[\"neutral\"]' "
                            "--set 'render.expression_intensity=[0.0,0.0]' --set 'render.light_yaw_deg=[0.0,0.0]' "
                            "--set 'render.light_pitch_deg=[0.0,0.0]' --out '" + d.string() + "' > /dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) ADD_FAILURE() << "deeper-train failed: " << cmd;
    return d;
  }()};
  return dir.path;
}

class AnalyzeApp : public deeper::test::ProgramTest {
 protected:
  AnalyzeApp() : ProgramTest(DEEPER_ANALYZE_BINARY, "deeper-analyze") {}
};

std::vector<double> load_doubles(const fs::path& p) { return deeper::io::read_npy(p).to_vector<double>(); }

TEST_F(AnalyzeApp, WritesAReportWhoseNumbersHoldTogether) {
  const fs::path out = dir_ / "report";
  const Outcome o = run("--run '" + trained_run().string() + "' --out '" + out.string() +
                        "' --device cpu --quiet --targets 1 --trials 240 --permutations 40 --e1-renders 2 "
                        "--layers 1,6,10 --pose-degrees 10");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("index.html"), std::string::npos) << o.out;
  const std::string html = slurp(out / "index.html");
  ASSERT_FALSE(html.empty());
  for (const char* id : {"findings", "training", "e1", "e2", "e3", "e4", "gradients", "methods", "files"}) {
    EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  }
  const auto j = nlohmann::json::parse(slurp(out / "results.json"));
  // Training above chance (4 identities: 25%).
  ASSERT_TRUE(j.contains("training"));
  EXPECT_GT(j["training"]["last_eval"]["accuracy"].get<double>(), 0.25);
  // E1: every series, accuracies in [0, 1].
  EXPECT_EQ(j["e1"]["series"].size(), 4u);
  // E2 maps: finite, and the masks are exactly "above the null-maxima quantile".
  for (const std::string feature : {"shape", "texture"}) {
    const auto mi = load_doubles(out / "maps" / ("e2_" + feature + "_mi_target0.npy"));
    const auto mask = deeper::io::read_npy(out / "maps" / ("e2_" + feature + "_significant_target0.npy")).to_vector<std::uint8_t>();
    auto null = load_doubles(out / "maps" / ("e2_" + feature + "_max_null_target0.npy"));
    ASSERT_EQ(null.size(), 40u);
    ASSERT_EQ(mi.size(), mask.size());
    std::sort(null.begin(), null.end());
    const double threshold = null[static_cast<std::size_t>(std::ceil(0.95 * 40)) - 1];
    EXPECT_DOUBLE_EQ(j["e2"]["targets"][0][feature + "_logit"]["threshold_bits"].get<double>(), threshold);
    std::int64_t significant = 0;
    for (std::size_t i = 0; i < mi.size(); ++i) {
      ASSERT_TRUE(std::isfinite(mi[i])) << feature << " " << i;
      ASSERT_EQ(mask[i] != 0, mi[i] > threshold) << feature << " " << i;
      significant += mask[i];
    }
    EXPECT_EQ(j["e2"]["targets"][0][feature + "_logit"]["significant"].get<std::int64_t>(), significant);
  }
  // E3: the layers asked for, finite profiles.
  ASSERT_EQ(j["e3"]["targets"][0]["layers"].size(), 3u);
  for (const auto& l : j["e3"]["targets"][0]["layers"]) {
    EXPECT_TRUE(std::isfinite(l["decision_mi_max_bits"].get<double>()));
    EXPECT_GE(l["shape"]["significant_pairs"].get<std::int64_t>(), l["shape"]["significant_triples"].get<std::int64_t>());
  }
  EXPECT_GT(j["e3"]["cost"]["flop_total_per_target"].get<double>(), 0.0);
  // E4: 9 poses, an index per layer.
  EXPECT_EQ(j["e4"]["views"].size(), 9u);
  EXPECT_EQ(j["e4"]["invariance_index"].size(), 3u);
  // Gradients compared with E2.
  EXPECT_TRUE(j["gradients"].contains("spearman_shape_vs_e2"));
  // Findings with verdicts; provenance.
  EXPECT_GE(j["findings"].size(), 5u);
  EXPECT_FALSE(j["provenance"]["commit"].get<std::string>().empty());
  // Every figure and linked file exists.
  std::size_t pngs = 0;
  for (const auto& e : fs::directory_iterator(out / "figures")) pngs += e.path().extension() == ".png";
  EXPECT_GE(pngs, 8u);
  for (std::size_t at = html.find("src=\""); at != std::string::npos; at = html.find("src=\"", at + 5)) {
    const std::string rel = html.substr(at + 5, html.find('"', at + 5) - at - 5);
    EXPECT_TRUE(fs::exists(out / rel)) << rel;
  }
}

TEST_F(AnalyzeApp, RefusesBadInputWithOneLineErrors) {
  expect_error("--run '" + (dir_ / "nothing").string() + "' --out '" + (dir_ / "r").string() + "'", 1, "not found");
  expect_error("--run '" + trained_run().string() + "' --out '" + (dir_ / "r").string() + "' --only e2,e7", 2, "e7");
  expect_error("--run '" + trained_run().string() + "' --out '" + (dir_ / "r").string() + "' --only e3", 2,
               "needs e2");
  expect_error("--run '" + trained_run().string() + "' --out '" + (dir_ / "r").string() + "' --layers 11", 2,
               "layer");
  expect_error("--run '" + trained_run().string() + "' --out '" + (dir_ / "r").string() + "' --preset huge", 2,
               "preset");
  expect_error("--run '" + trained_run().string() + "' --out '" + (dir_ / "r").string() + "' --trails 5", 2,
               "trails");
  // A truncated checkpoint.
  const fs::path broken = dir_ / "broken";
  fs::create_directories(broken);
  fs::copy_file(trained_run() / "checkpoint.safetensors", broken / "checkpoint.safetensors");
  fs::resize_file(broken / "checkpoint.safetensors", 200);
  expect_error("--run '" + broken.string() + "' --out '" + (dir_ / "r").string() + "'", 1, "checkpoint");
  EXPECT_FALSE(fs::exists(dir_ / "r" / "index.html"));
}

}  // namespace
