// deeper-render end to end: help, bad flags (exit 2), bad model and values files (exit 1) with one
// "deeper-render: error:" line, a tiny batch (PNGs + factors.jsonl equal to the library's
// sampling), sweeps and contact sheets of the right size, export/import round trip, colour maps,
// spherical-harmonics lighting (--lighting sh9: SH coefficients in factors.jsonl, SH --set values).
#include "core/npy.h"
#include "core/png.h"
#include "renderer/factors.h"

#include <gtest/gtest.h>

#include "tests/support/program_test.h"
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

using deeper::test::Outcome;
using deeper::test::slurp;

class RenderApp : public deeper::test::ProgramTest {
 protected:
  RenderApp() : ProgramTest(DEEPER_RENDER_BINARY, "deeper-render", /*run_in_dir=*/true) {}
};

const char* kQuick = "--device cpu --quiet --small-model --size 32 ";

TEST_F(RenderApp, Help) {
  const Outcome o = run("--help");
  EXPECT_EQ(o.status, 0);
  for (const char* word : {"contact-sheet", "sweep", "batch", "export-model", "import-model", "colormap", "--set",
                           "--model", "--size", "--device", "--seed"}) {
    EXPECT_NE(o.out.find(word), std::string::npos) << word;
  }
  EXPECT_EQ(run("batch --help").status, 0);
}

TEST_F(RenderApp, UsageErrors) {
  expect_error("", 2, "subcommand");
  expect_error("--bogus batch -n 1 -o x", 2, "bogus");
  expect_error(std::string(kQuick) + "batch -o out", 2, "-n");
  expect_error(std::string(kQuick) + "batch -n 2 -o out --set yaw=120", 2, "yaw = 120 is outside its valid range");
  expect_error(std::string(kQuick) + "batch -n 2 -o out --set nose=1", 2, "unknown factor 'nose'");
  expect_error(std::string(kQuick) + "sweep --factor height -o s.png", 2, "--factor 'height'");
  expect_error(std::string(kQuick) + "batch -n 2 -o out --background 1,2", 2, "--background");
  expect_error(std::string(kQuick) + "--size 4 batch -n 2 -o out", 2, "--size");
  EXPECT_FALSE(fs::exists(dir_ / "out" / "factors.jsonl"));
}

TEST_F(RenderApp, BadFiles) {
  std::ofstream(dir_ / "junk.safetensors") << "not a safetensors file";
  expect_error("--device cpu import-model junk.safetensors", 1, "junk.safetensors");
  expect_error("--device cpu --model missing.safetensors batch -n 1 -o out", 1, "missing.safetensors");
  const std::vector<float> wrong(17, 0.5f);
  deeper::io::write_npy(dir_ / "wrong.npy", wrong.data(), deeper::DType::f32, std::vector<std::int64_t>{17});
  expect_error(std::string(kQuick) + "colormap wrong.npy -o m.png", 1, "17 values, expected one per vertex");
  EXPECT_FALSE(fs::exists(dir_ / "m.png"));
}

TEST_F(RenderApp, TinyBatch) {
  const Outcome o = run(std::string(kQuick) + "--seed 9 --identities 5 batch -n 5 --batch 2 -o out --set roll=3");
  ASSERT_EQ(o.status, 0) << o.err;
  std::vector<std::string> lines;
  std::istringstream jsonl(slurp(dir_ / "out" / "factors.jsonl"));
  for (std::string line; std::getline(jsonl, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 5u);
  deeper::render::FactorSampling s = deeper::render::default_sampling(9, 5);
  deeper::render::apply_factor_setting(s, "roll=3");
  const auto want = deeper::render::sample_factors(s, 0, 5);
  for (std::size_t i = 0; i < 5; ++i) {
    const auto j = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(j["index"], i);
    EXPECT_EQ(j["identity"], want[i].identity);
    EXPECT_EQ(j["expression"], want[i].expression);
    EXPECT_EQ(j["roll"].get<float>(), 3.0f);
    EXPECT_EQ(j["yaw"].get<float>(), want[i].yaw);
    for (std::string_view name : deeper::render::factor_names()) EXPECT_TRUE(j.contains(std::string(name))) << name;
    const auto png = deeper::io::read_png(dir_ / "out" / ("image_00000" + std::to_string(i) + ".png"));
    EXPECT_EQ(png.width, 32);
    EXPECT_EQ(png.height, 32);
  }
}

// --lighting sh9: factors.jsonl carries the 27 SH coefficients of the library's sampling; SH values
// fixed with --set; bad models and values refused (exit 2, one line).
TEST_F(RenderApp, ShLighting) {
  EXPECT_NE(run("--help").out.find("--lighting"), std::string::npos);
  expect_error(std::string(kQuick) + "--lighting phong batch -n 2 -o out", 2, "--lighting");
  expect_error(std::string(kQuick) + "--lighting sh batch -n 2 -o out", 2, "--lighting");
  expect_error(std::string(kQuick) + "--lighting sh9 batch -n 2 -o out --set sh0=9", 2,
               "sh0 = 9 is outside its valid range [0, 6]");
  expect_error(std::string(kQuick) + "batch -n 2 -o out --set sh_q1=0", 2, "unknown factor 'sh_q1'");
  expect_error(std::string(kQuick) + "batch -n 2 -o out --set lighting=phong", 2, "unknown lighting model 'phong'");
  expect_error(std::string(kQuick) + "sweep --factor sh3 -o s.png", 2, "--lighting sh9");
  EXPECT_FALSE(fs::exists(dir_ / "out" / "factors.jsonl"));

  const Outcome o = run(std::string(kQuick) +
                        "--seed 9 --identities 5 --lighting sh9 batch -n 3 -o out --set sh_g2=0.25 --set sh5=0");
  ASSERT_EQ(o.status, 0) << o.err;
  std::vector<std::string> lines;
  std::istringstream jsonl(slurp(dir_ / "out" / "factors.jsonl"));
  for (std::string line; std::getline(jsonl, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 3u);
  deeper::render::FactorSampling s = deeper::render::default_sampling(9, 5);
  s.lighting = deeper::render::Lighting::sh9;
  deeper::render::apply_factor_setting(s, "sh_g2=0.25");
  deeper::render::apply_factor_setting(s, "sh5=0");
  const auto want = deeper::render::sample_factors(s, 0, 3);
  for (std::size_t i = 0; i < 3; ++i) {
    const auto j = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(j["lighting"], "sh9");
    ASSERT_EQ(j["sh"].size(), 27u);
    for (std::size_t k = 0; k < 27; ++k) EXPECT_EQ(j["sh"][k].get<float>(), want[i].sh[k]) << i << " " << k;
    EXPECT_EQ(j["sh"][11].get<float>(), 0.25f);
    EXPECT_EQ(j["sh"][5].get<float>(), 0.0f);
    EXPECT_EQ(j["yaw"].get<float>(), want[i].yaw);
  }
  ASSERT_EQ(run(std::string(kQuick) + "--identities 2 --lighting sh9 sweep --factor sh3 --levels 2 -o shs.png").status,
            0);
  EXPECT_EQ(deeper::io::read_png(dir_ / "shs.png").height, 2 * 32 + 3 * 2);
}

TEST_F(RenderApp, SheetsSweepsModelsAndColourMaps) {
  Outcome o = run(std::string(kQuick) + "contact-sheet -n 6 --columns 3 -o sheet.png");
  ASSERT_EQ(o.status, 0) << o.err;
  auto png = deeper::io::read_png(dir_ / "sheet.png");
  EXPECT_EQ(png.width, 3 * 32 + 4 * 2);
  EXPECT_EQ(png.height, 2 * 32 + 3 * 2);
  o = run(std::string(kQuick) + "--identities 2 sweep --factor pitch --levels 3 -o sweep.png");
  ASSERT_EQ(o.status, 0) << o.err;
  png = deeper::io::read_png(dir_ / "sweep.png");
  EXPECT_EQ(png.width, 2 * 32 + 3 * 2);   // one column per identity
  EXPECT_EQ(png.height, 3 * 32 + 4 * 2);  // one row per level
  o = run(std::string(kQuick) + "--identities 1 sweep --factor expression -o expr.png");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(deeper::io::read_png(dir_ / "expr.png").height, 7 * 32 + 8 * 2);

  o = run("--device cpu --quiet --small-model export-model -o small.safetensors");
  ASSERT_EQ(o.status, 0) << o.err;
  o = run("--device cpu --quiet --size 32 --identities 2 import-model small.safetensors -o preview.png");
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("valid face model, 1089 vertices"), std::string::npos) << o.out;
  EXPECT_TRUE(fs::exists(dir_ / "preview.png"));

  std::vector<double> per_vertex(1089);
  for (std::size_t i = 0; i < per_vertex.size(); ++i) per_vertex[i] = static_cast<double>(i % 33);
  deeper::io::write_npy(dir_ / "v.npy", per_vertex.data(), deeper::DType::f64, std::vector<std::int64_t>{1089});
  o = run(std::string(kQuick) + "colormap v.npy -o v.png");
  ASSERT_EQ(o.status, 0) << o.err;
  std::vector<float> per_texel(64 * 64, 0.25f);
  deeper::io::write_npy(dir_ / "t.npy", per_texel.data(), deeper::DType::f32, std::vector<std::int64_t>{64, 64});
  o = run(std::string(kQuick) + "colormap t.npy --range 0:1 -o t.png");
  ASSERT_EQ(o.status, 0) << o.err;
  png = deeper::io::read_png(dir_ / "t.png");
  EXPECT_EQ(png.width, 32 + 4);
  expect_error(std::string(kQuick) + "colormap t.npy --range 1:0 -o t2.png", 2, "--range");
}

}  // namespace
