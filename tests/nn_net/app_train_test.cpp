// deeper-train trains for real: a short tiny run on the CPU (metrics, evaluation, checkpoint,
// config.toml, summary), --resume continuing it, a non-finite loss stopping with exit 1 naming the
// step, and a bad --conv-math, --conv-kernel or --prefetch.
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

namespace {

namespace fs = std::filesystem;

using deeper::test::Outcome;
using deeper::test::slurp;

class TrainRun : public deeper::test::ProgramTest {
 protected:
  TrainRun() : ProgramTest(DEEPER_TRAIN_BINARY, "deeper-train") {}
};

// tiny, shortened: 3 steps of 16 images at 32 px, an evaluation of 16 images at the end.
const std::string kShort =
    "--preset tiny --device cpu --quiet --set train.batch=16 --set model.input_size=32 --set eval.images=16 "
    "--set train.log_every=1 --set schedule.warmup_steps=1 ";

TEST_F(TrainRun, TrainsWritesTheRunFolderAndResumes) {
  const fs::path run_dir = dir_ / "run";
  const Outcome o = run(kShort + "--steps 3 --out " + run_dir.string());
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_NE(o.out.find("steps:           0 to 3 of 3"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("held-out images (chance 6.25%)"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("images/s"), std::string::npos) << o.out;
  EXPECT_TRUE(fs::exists(run_dir / "checkpoint.safetensors"));
  EXPECT_TRUE(fs::exists(run_dir / "config.toml"));
  const std::string metrics = slurp(run_dir / "metrics.jsonl");
  EXPECT_EQ(std::count(metrics.begin(), metrics.end(), '\n'), 4) << metrics;  // 3 train + 1 eval
  EXPECT_NE(metrics.find("\"kind\":\"eval\""), std::string::npos);
  EXPECT_NE(metrics.find("\"by_factor\""), std::string::npos);

  // Continue to 5 steps.
  const Outcome r = run(kShort + "--steps 5 --resume --out " + run_dir.string());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("steps:           3 to 5 of 5"), std::string::npos) << r.out;
  const std::string after = slurp(run_dir / "metrics.jsonl");
  EXPECT_NE(after.find("\"step\":5"), std::string::npos) << after;
  // Fresh training over it is refused.
  const Outcome again = run(kShort + "--steps 5 --out " + run_dir.string());
  EXPECT_EQ(again.status, 1);
  EXPECT_NE(again.err.find("exists: pass --resume"), std::string::npos) << again.err;
}

TEST_F(TrainRun, NonFiniteLossStopsWithExitOneNamingTheStep) {
  const Outcome o = run(kShort + "--steps 20 --set schedule.kind=constant --set schedule.lr=1e30 --set "
                                 "optimizer.momentum=0.0 --out " + (dir_ / "nan").string());
  EXPECT_EQ(o.status, 1) << o.out;
  EXPECT_EQ(o.err.rfind("deeper-train: error: ", 0), 0u) << o.err;
  EXPECT_NE(o.err.find(" at step "), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("stopping"), std::string::npos) << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
}

TEST_F(TrainRun, BadConvMathIsAUsageError) {
  const Outcome o = run("--preset tiny --dry-run --conv-math fast");
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.err.find("--conv-math 'fast'"), std::string::npos) << o.err;
}

TEST_F(TrainRun, BadConvKernelIsAUsageError) {
  const Outcome o = run("--preset tiny --dry-run --conv-kernel 4");
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.err.find("--conv-kernel '4'"), std::string::npos) << o.err;
}

TEST_F(TrainRun, BadPrefetchIsAUsageError) {
  const Outcome o = run("--preset tiny --dry-run --prefetch yes");
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.err.find("--prefetch: render prefetch 'yes' is not one of auto, on, off"), std::string::npos) << o.err;
}

}  // namespace
