// deeper-train end to end: --help, --dry-run output, exit codes and one-line errors for config typos,
// bad --set values, bad --profile-steps, and --resume checks (training itself: tests/nn_net).
#include <gtest/gtest.h>

#include "tests/support/program_test.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "nn/checkpoint.h"

namespace {

namespace fs = std::filesystem;

using deeper::test::Outcome;
using deeper::test::slurp;

class TrainApp : public deeper::test::ProgramTest {
 protected:
  TrainApp() : ProgramTest(DEEPER_TRAIN_BINARY, "deeper-train") {}
};

TEST_F(TrainApp, Help) {
  const Outcome o = run("--help");
  EXPECT_EQ(o.status, 0);
  for (const char* option : {"--preset", "--config", "--set", "--out", "--resume", "--steps", "--profile-steps",
                             "--dry-run", "--device", "--seed"}) {
    EXPECT_NE(o.out.find(option), std::string::npos) << option;
  }
}

TEST_F(TrainApp, DryRunPrintsConfigParametersAndLayers) {
  const Outcome p = run("--preset paper --dry-run --device cpu");
  ASSERT_EQ(p.status, 0) << p.err;
  EXPECT_NE(p.out.find("classes = 2000"), std::string::npos);
  EXPECT_NE(p.out.find("5938960 trainable + 5888 BN statistics = 5944848"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("stage4.conv1   conv 3x3/2 pad (0,0,1,1)"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("101563 steps x 256 images"), std::string::npos) << p.out;

  const Outcome t = run("--preset tiny --dry-run --device cpu --set model.classes=10 --steps 200 --seed 9 --out " +
                        (dir_ / "run").string() + " --profile-steps 5:8");
  ASSERT_EQ(t.status, 0) << t.err;
  EXPECT_NE(t.out.find("classes = 10"), std::string::npos);
  EXPECT_NE(t.out.find("steps = 200"), std::string::npos);
  EXPECT_NE(t.out.find("seed = 9"), std::string::npos);
  EXPECT_NE(t.out.find("200 steps x 32 images"), std::string::npos);
  EXPECT_NE(t.out.find("profile steps:   5 to 8"), std::string::npos);
  EXPECT_NE(t.out.find("fc             linear"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "run")) << "a dry run writes nothing";

  // The printed config is itself a valid config file that gives the same dry run.
  const std::string printed = t.out.substr(t.out.find("[model]"), t.out.find("# ResNet-10") - t.out.find("[model]"));
  std::ofstream(dir_ / "printed.toml") << printed;
  const Outcome again = run("--config " + (dir_ / "printed.toml").string() + " --dry-run --device cpu --profile-steps 5:8");
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.out, t.out);
}

TEST_F(TrainApp, ConfigTyposNameFileLineAndKey) {
  std::ofstream(dir_ / "typo.toml") << "[model]\nclasses = 10\n\n[optimizer]\nmomentun = 0.9\n";
  expect_error("--config " + (dir_ / "typo.toml").string() + " --dry-run", 1,
               (dir_ / "typo.toml").string() + ":5: key 'optimizer.momentun': unknown key; did you mean 'optimizer.momentum'?");
  std::ofstream(dir_ / "type.toml") << "[train]\nbatch = \"large\"\n";
  expect_error("--config " + (dir_ / "type.toml").string() + " --dry-run", 1, "type.toml:2: key 'train.batch': expected an integer");
  expect_error("--config " + (dir_ / "missing.toml").string() + " --dry-run", 1, "missing.toml: cannot open");
  expect_error("--preset tinyy --dry-run", 2, "unknown preset 'tinyy'; the presets are paper, small, tiny (did you mean 'tiny'?)");
}

TEST_F(TrainApp, BadSetValuesAreUsageErrors) {
  expect_error("--preset tiny --dry-run --set schedule.lr=fast", 2, "--set 'schedule.lr=fast': key 'schedule.lr': 'fast' is not a number");
  expect_error("--preset tiny --dry-run --set model.widht=[1,2,3,4]", 2, "did you mean 'model.widths'?");
  expect_error("--preset tiny --dry-run --set train.batch=0", 2, "key 'train.batch': 0 must be in [1, 65536]");
  expect_error("--preset tiny --dry-run --set optimizer.kind=adam", 2, "did you mean 'adamw'?");
  expect_error("--preset tiny --dry-run --set nokey", 2, "expected key=value");
  expect_error("--preset tiny --dry-run --profile-steps 9", 2, "--profile-steps '9': expected A:B");
  expect_error("--preset tiny --dry-run --profile-steps 5:2000", 2, "need 1 <= A <= B <= 1000");
  expect_error("--preset tiny --dry-run --profile-steps a:3", 2, "'a' is not an integer");
  expect_error("--dry-run", 2, "give exactly one of --preset NAME or --config FILE");
  expect_error("--preset tiny --config x.toml --dry-run", 2, "excludes");
  expect_error("--preset tiny --dry-run --steps 0", 2, "--steps");
  expect_error("--preset tiny --dry-run --device cdua", 2, "--device");
}

TEST_F(TrainApp, ResumeChecksTheCheckpoint) {
  const fs::path run_dir = dir_ / "run";
  expect_error("--preset tiny --dry-run --resume --out " + run_dir.string(), 1, "there is no checkpoint to resume from");
  fs::create_directories(run_dir);
  deeper::nn::TrainConfig c = deeper::nn::load_preset("tiny");
  c.output.dir = run_dir.string();
  deeper::nn::ParameterStore store(deeper::Device::cpu(), deeper::nn::resnet10_layout(c.model), c.optimizer.kind);
  store.initialize(1);
  deeper::nn::save_checkpoint(run_dir / "checkpoint.safetensors", store, {250, 8000, 1, 8000, 0}, c);

  const Outcome ok = run("--preset tiny --dry-run --device cpu --resume --out " + run_dir.string());
  ASSERT_EQ(ok.status, 0) << ok.err;
  EXPECT_NE(ok.out.find("resume:          from step 250 (8000 images), checkpoint checked"), std::string::npos) << ok.out;
  expect_error("--preset tiny --dry-run --resume --set model.classes=20 --out " + run_dir.string(), 1,
               "cannot resume: 'model.classes' is 16 in the checkpoint but 20 now");
  expect_error("--preset tiny --dry-run --resume --steps 250 --out " + run_dir.string(), 1, "is at step 250, the end of a 250-step run");
  expect_error("--preset tiny --device cpu --out " + run_dir.string(), 1, "exists: pass --resume to continue that run");
}

}  // namespace
