// Metrics JSON Lines, resume truncation, the NaN/Inf guard and the training monitor (fake clock).
#include "nn/metrics.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <vector>

namespace {

using namespace deeper;
using namespace deeper::nn;
namespace fs = std::filesystem;

std::vector<nlohmann::json> read_lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

class Metrics : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("deeper-nn-metrics-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = dir_ / "metrics.jsonl";
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_, path_;
};

TEST_F(Metrics, RecordsAreOneJsonObjectPerLine) {
  {
    MetricsLog log(path_);
    log.write(StepRecord{10, 320, 2.5, 0.25, 0.1, 800.0, 0.4});
    log.write(nlohmann::json{{"kind", "eval"}, {"step", 10}, {"accuracy", 0.5}});
  }
  const auto lines = read_lines(path_);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["kind"], "train");
  EXPECT_EQ(lines[0]["step"], 10);
  EXPECT_EQ(lines[0]["images"], 320);
  EXPECT_DOUBLE_EQ(lines[0]["loss"].get<double>(), 2.5);
  EXPECT_DOUBLE_EQ(lines[0]["accuracy"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(lines[0]["lr"].get<double>(), 0.1);
  EXPECT_DOUBLE_EQ(lines[0]["images_per_s"].get<double>(), 800.0);
  EXPECT_DOUBLE_EQ(lines[0]["elapsed_s"].get<double>(), 0.4);
  EXPECT_EQ(lines[1]["kind"], "eval");
  // A fresh run starts an empty file.
  { MetricsLog log(path_); }
  EXPECT_EQ(fs::file_size(path_), 0u);
}

TEST_F(Metrics, ResumeDropsRecordsAfterTheCheckpoint) {
  {
    MetricsLog log(path_);
    for (int s = 10; s <= 50; s += 10) log.write(StepRecord{s, s * 4, 1.0, 0.0, 0.1, 1.0, 1.0});
  }
  {
    MetricsLog log(path_, 30);  // the checkpoint was at step 30; steps 40 and 50 will run again
    log.write(StepRecord{40, 160, 0.5, 0.0, 0.1, 1.0, 1.0});
  }
  const auto lines = read_lines(path_);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[2]["step"], 30);
  EXPECT_EQ(lines[3]["step"], 40);
  EXPECT_DOUBLE_EQ(lines[3]["loss"].get<double>(), 0.5);
  // A resume with no file yet starts one.
  fs::remove(path_);
  { MetricsLog log(path_, 30); }
  EXPECT_TRUE(fs::exists(path_));
  // A damaged line is an error naming the file and line.
  {
    std::ofstream out(path_);
    out << "{\"step\": 1}\nnot json\n";
  }
  try {
    MetricsLog log(path_, 5);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path_.string() + ":2: not a metrics record"), std::string::npos) << e.what();
  }
}

TEST(Guard, NonFiniteLossStopsNamingTheStep) {
  EXPECT_NO_THROW(check_finite_loss(2.3, 5, "x"));
  try {
    check_finite_loss(std::nan(""), 1234, "the last good checkpoint, step 1000, is kept in run/checkpoint.safetensors");
    FAIL() << "no error";
  } catch (const NonFiniteError& e) {
    EXPECT_EQ(e.step(), 1234);
    EXPECT_STREQ(e.what(), "loss is nan at step 1234; stopping (the last good checkpoint, step 1000, is kept in "
                           "run/checkpoint.safetensors)");
  }
  EXPECT_THROW(check_finite_loss(std::numeric_limits<double>::infinity(), 1, ""), NonFiniteError);
  std::vector<float> g(10, 1.0f);
  EXPECT_EQ(first_non_finite(g), -1);
  EXPECT_NO_THROW(check_finite_values(g, "gradients", 3, ""));
  g[7] = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(first_non_finite(g), 7);
  try {
    check_finite_values(g, "gradients", 3, "note");
    FAIL() << "no error";
  } catch (const NonFiniteError& e) {
    EXPECT_STREQ(e.what(), "gradients element 7 is -inf at step 3; stopping (note)");
  }
}

TEST_F(Metrics, MonitorWritesMeansRatesAndStopsOnNan) {
  double t = 100.0;
  MetricsLog log(path_);
  MonitorOptions o;
  o.total_steps = 7;
  o.batch = 4;
  o.log_every = 3;
  o.progress.mode = ProgressMode::silent;
  o.clock = [&] { return t; };
  {
    TrainMonitor m(log, o);
    for (int s = 1; s <= 7; ++s) {
      t += 0.5;  // 8 images/s
      m.step_done(s, static_cast<double>(s), s % 2 ? 1.0 : 0.0, 0.01 * s);
    }
    m.finish();
    EXPECT_EQ(m.records_written(), 3);
  }
  const auto lines = read_lines(path_);
  ASSERT_EQ(lines.size(), 3u);  // steps 3, 6 and the last, 7
  EXPECT_EQ(lines[0]["step"], 3);
  EXPECT_EQ(lines[0]["images"], 12);
  EXPECT_DOUBLE_EQ(lines[0]["loss"].get<double>(), 2.0);  // mean of 1, 2, 3
  EXPECT_DOUBLE_EQ(lines[0]["accuracy"].get<double>(), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(lines[0]["lr"].get<double>(), 0.03);
  EXPECT_DOUBLE_EQ(lines[0]["images_per_s"].get<double>(), 8.0);
  EXPECT_DOUBLE_EQ(lines[0]["elapsed_s"].get<double>(), 1.5);
  EXPECT_EQ(lines[1]["step"], 6);
  EXPECT_DOUBLE_EQ(lines[1]["loss"].get<double>(), 5.0);
  EXPECT_EQ(lines[2]["step"], 7);
  EXPECT_DOUBLE_EQ(lines[2]["loss"].get<double>(), 7.0);
  EXPECT_DOUBLE_EQ(lines[2]["elapsed_s"].get<double>(), 3.5);

  // A resumed monitor continues from its start step; a NaN names the step and the checkpoint.
  MetricsLog log2(dir_ / "m2.jsonl");
  o.start_step = 3;
  TrainMonitor m(log2, o);
  m.checkpoint_written(3, "run/checkpoint.safetensors");
  m.step_done(4, 1.0, 0.0, 0.1);
  try {
    m.step_done(5, std::nan(""), 0.0, 0.1);
    FAIL() << "no error";
  } catch (const NonFiniteError& e) {
    EXPECT_EQ(e.step(), 5);
    EXPECT_NE(std::string(e.what()).find("loss is nan at step 5; stopping (the last good checkpoint, step 3, is kept in "
                                         "run/checkpoint.safetensors)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(m.step_done(9, 1.0, 0.0, 0.1), Error);  // steps must come in order
}

}  // namespace
