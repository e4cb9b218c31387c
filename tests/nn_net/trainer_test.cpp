// The training loop (nn/trainer.h) on rendered faces, on the CPU: overfitting 8 identities to 100%
// accuracy, bit-identical resume, the NaN guard with an absurd learning rate, corrupted checkpoints,
// metrics and evaluation records, data draws.
#include "net_test_util.h"

#include "core/error.h"
#include "nn/checkpoint.h"
#include "nn/data.h"
#include "nn/metrics.h"
#include "nn/trainer.h"
#include "renderer/face_model.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include <unistd.h>

namespace {

using deeper::Device;
using deeper::nn::Trainer;
using deeper::nn::TrainConfig;
using deeper::nn::TrainerOptions;
namespace fs = std::filesystem;

const deeper::render::FaceModel& face_model() {
  static const deeper::render::FaceModel model = [] {
    deeper::render::ProceduralOptions o;
    o.texture_size = 64;
    o.shape_components = 20;
    o.texture_components = 20;
    return deeper::render::make_procedural_model(o);
  }();
  return model;
}

// A new, empty folder per test process (the pid keeps concurrent runs of the suite apart).
fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("deeper_nn_net_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

// 8 identities at 32 px, tiny widths; every other factor fixed, so each identity is one image.
TrainConfig overfit_config(const fs::path& dir) {
  TrainConfig c;
  c.model = net_test::tiny_model({8, 16, 16, 32}, 32, 8);
  c.model.bn_momentum = 0.8;
  c.train.batch = 16;
  c.train.steps = 60;
  c.train.log_every = 10;
  c.optimizer.momentum = 0.9;
  c.schedule.kind = deeper::nn::ScheduleKind::constant;
  c.schedule.lr = 0.05;
  c.eval.images = 32;
  c.eval.every = 1000;
  c.checkpoint.every = 0;
  c.output.dir = dir.string();
  auto& r = c.render;
  r.yaw_deg = r.pitch_deg = r.roll_deg = {0.0, 0.0};
  r.scale = {1.0, 1.0};
  r.translate_x = r.translate_y = {0.0, 0.0};
  r.light_yaw_deg = r.light_pitch_deg = {0.0, 0.0};
  r.ambient = {0.45, 0.45};
  r.diffuse = {0.7, 0.7};
  r.expressions = {"neutral"};
  r.expression_intensity = {0.0, 0.0};
  return c;
}

TrainerOptions quiet_options() {
  TrainerOptions o;
  o.face_model = &face_model();
  o.progress.mode = deeper::ProgressMode::lines;
  o.progress.line_interval_s = 1e9;
  return o;
}

std::vector<nlohmann::json> read_metrics(const fs::path& dir) {
  std::ifstream in(dir / "metrics.jsonl");
  std::vector<nlohmann::json> out;
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line));
  return out;
}

// 6 steps of 8 images whose draws differ from image to image (yaw, expression and intensity), on a
// step-dependent cosine schedule with weight decay: the runs that must match bit for bit.
TrainConfig varied_config(const fs::path& dir) {
  TrainConfig c = overfit_config(dir);
  c.train.steps = 6;
  c.train.batch = 8;
  c.train.log_every = 1;
  c.eval.images = 0;
  c.schedule.kind = deeper::nn::ScheduleKind::cosine;
  c.schedule.warmup_steps = 2;
  c.render.yaw_deg = {-20.0, 20.0};
  c.render.expressions = {"neutral", "happy", "sad"};
  c.render.expression_intensity = {0.0, 1.0};
  c.optimizer.weight_decay = 1e-3;
  return c;
}

// The checkpoints in a and b hold the same training state, weights, statistics and momentum, and
// both metrics logs the same records (kind and loss), bit for bit.
void expect_same_runs(const fs::path& a, const fs::path& b, const TrainConfig& config, std::size_t records) {
  const auto layout = deeper::nn::resnet10_layout(config.model);
  deeper::nn::ParameterStore sa(Device::cpu(), layout, deeper::nn::OptimizerKind::sgd),
      sb(Device::cpu(), layout, deeper::nn::OptimizerKind::sgd);
  const auto state_a = deeper::nn::load_checkpoint(a / "checkpoint.safetensors", sa, config);
  const auto state_b = deeper::nn::load_checkpoint(b / "checkpoint.safetensors", sb, config);
  EXPECT_EQ(state_a, state_b);
  EXPECT_EQ(sa.download_params(), sb.download_params());
  EXPECT_EQ(sa.download_stats(), sb.download_stats());
  EXPECT_EQ(sa.download_optimizer_state(0), sb.download_optimizer_state(0));
  const auto ra = read_metrics(a), rb = read_metrics(b);
  ASSERT_EQ(ra.size(), records);
  ASSERT_EQ(rb.size(), records);
  for (std::size_t i = 0; i < records; ++i) {
    EXPECT_EQ(ra[i]["kind"], rb[i]["kind"]) << "record " << i;
    EXPECT_EQ(ra[i]["loss"], rb[i]["loss"]) << "record " << i;
  }
}

TEST(Trainer, OverfitsEightIdentitiesToFullAccuracy) {
  const auto dir = fresh_dir("overfit");
  const auto t0 = std::chrono::steady_clock::now();
  // A cosine schedule ends with a small learning rate, so the weights settle and the running BN
  // statistics (the held-out evaluation's) catch up with them; at a constant rate the held-out
  // accuracy swings between ~50% and 100% from one evaluation to the next.
  TrainConfig c = overfit_config(dir);
  c.schedule.kind = deeper::nn::ScheduleKind::cosine;
  c.schedule.lr = 0.1;
  c.schedule.warmup_steps = 5;
  Trainer trainer(c, quiet_options());
  const auto summary = trainer.run();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(summary.end_step, 60);
  ASSERT_TRUE(summary.last_eval.has_value());
  EXPECT_EQ(summary.last_eval->accuracy, 1.0) << "eval loss " << summary.last_eval->loss;
  EXPECT_EQ(summary.last_accuracy, 1.0) << "last training loss " << summary.last_loss;
  EXPECT_LT(seconds, 120.0);
  // Records: 6 train records, one eval record with per-factor levels, a final checkpoint.
  const auto records = read_metrics(dir);
  int train = 0, eval = 0;
  for (const auto& r : records) {
    if (r["kind"] == "train") ++train;
    if (r["kind"] == "eval") {
      ++eval;
      EXPECT_EQ(r["eval_images"], 32);
      EXPECT_EQ(r["by_factor"]["expression"]["neutral"]["n"], 32);
      EXPECT_EQ(r["by_factor"]["yaw"].size(), 1u);  // fixed: one bin
      EXPECT_TRUE(r["by_factor"].contains("age"));
    }
  }
  EXPECT_EQ(train, 6);
  EXPECT_EQ(eval, 1);
  EXPECT_LT(records.front()["accuracy"].get<double>(), 1.0);
  EXPECT_TRUE(fs::exists(dir / "checkpoint.safetensors"));
  fs::remove_all(dir);
}

// A run interrupted after 3 of 6 steps and resumed equals the straight run, bit for bit.
TEST(Trainer, ResumeContinuesBitIdentically) {
  const auto a = fresh_dir("resume_a"), b = fresh_dir("resume_b");
  const TrainConfig ca = varied_config(a), cb = varied_config(b);
  {
    Trainer straight(ca, quiet_options());
    straight.run();
  }
  {
    TrainerOptions o = quiet_options();
    o.stop_after = 3;
    Trainer first(cb, o);
    const auto s = first.run();
    EXPECT_EQ(s.end_step, 3);
  }
  {
    TrainerOptions o = quiet_options();
    o.resume = true;
    Trainer second(cb, o);
    EXPECT_EQ(second.state().step, 3);
    const auto s = second.run();
    EXPECT_EQ(s.start_step, 3);
    EXPECT_EQ(s.end_step, 6);
  }
  expect_same_runs(a, b, ca, 6);  // every step's loss too
  // A resumed run beyond its end is refused.
  TrainerOptions o = quiet_options();
  o.resume = true;
  EXPECT_THROW(Trainer(ca, o), deeper::Error);
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST(Trainer, AbsurdLearningRateStopsNamingTheStepAndKeepsTheLastGoodCheckpoint) {
  const auto dir = fresh_dir("nan");
  TrainConfig c = overfit_config(dir);
  c.train.steps = 40;
  c.train.batch = 8;
  c.checkpoint.every = 1;
  c.eval.images = 0;
  c.optimizer.momentum = 0.0;
  c.schedule.lr = 1e30;  // diverges within a few steps
  c.schedule.kind = deeper::nn::ScheduleKind::constant;
  Trainer trainer(c, quiet_options());
  try {
    trainer.run();
    FAIL() << "no NaN stop";
  } catch (const deeper::nn::NonFiniteError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("at step " + std::to_string(e.step())), std::string::npos) << what;
    EXPECT_NE(what.find("stopping"), std::string::npos) << what;
    EXPECT_GE(e.step(), 1);
    std::cout << "NaN stop: " << what << "\n";
    // The checkpoint on disk loads and holds finite weights.
    if (fs::exists(dir / "checkpoint.safetensors")) {
      EXPECT_NE(what.find("checkpoint.safetensors"), std::string::npos) << what;
      deeper::nn::ParameterStore s(Device::cpu(), deeper::nn::resnet10_layout(c.model), c.optimizer.kind);
      const auto state = deeper::nn::load_checkpoint(dir / "checkpoint.safetensors", s, c);
      EXPECT_LT(state.step, e.step());
      EXPECT_EQ(deeper::nn::first_non_finite(s.download_params()), -1);
    }
  }
  fs::remove_all(dir);
}

TEST(Trainer, CorruptedOrForeignCheckpointsAreRejected) {
  const auto dir = fresh_dir("corrupt");
  TrainConfig c = overfit_config(dir);
  c.train.steps = 2;
  c.train.batch = 4;
  c.eval.images = 0;
  {
    TrainerOptions o = quiet_options();
    o.stop_after = 1;
    Trainer(c, o).run();
  }
  const fs::path ckpt = dir / "checkpoint.safetensors";
  // A fresh run over an existing checkpoint is refused.
  EXPECT_THROW(Trainer(c, quiet_options()), deeper::Error);
  // Flip bytes in the header: rejected with the file named.
  std::string bytes;
  {
    std::ifstream in(ckpt, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto resume = [&] {
    TrainerOptions o = quiet_options();
    o.resume = true;
    Trainer t(c, o);
  };
  {
    std::string bad = bytes;
    bad[12] = '#';
    bad[20] = '}';
    std::ofstream(ckpt, std::ios::binary) << bad;
    try {
      resume();
      ADD_FAILURE() << "corrupted header accepted";
    } catch (const deeper::Error& e) {
      EXPECT_NE(std::string(e.what()).find("checkpoint.safetensors"), std::string::npos) << e.what();
    }
  }
  {
    std::ofstream(ckpt, std::ios::binary) << bytes.substr(0, bytes.size() / 2);  // truncated
    EXPECT_THROW(resume(), deeper::Error);
  }
  {
    std::ofstream(ckpt, std::ios::binary) << bytes;  // intact again, but another model
    TrainConfig other = c;
    other.model.classes = 9;
    TrainerOptions o = quiet_options();
    o.resume = true;
    EXPECT_THROW(Trainer(other, o), deeper::Error);
    EXPECT_NO_THROW(resume());
  }
  fs::remove_all(dir);
}

TEST(TrainData, DrawsAreAFunctionOfSeedAndIndexAndHonourTheExpressionSubset) {
  TrainConfig c = overfit_config(fresh_dir("unused"));
  c.render.expressions = {"happy", "sad", "fear"};
  c.render.yaw_deg = {-10.0, 10.0};
  const auto s = deeper::nn::render_sampling(c, 7);
  const auto a = deeper::nn::draw_factors(c, s, 100, 50);
  const auto b = deeper::nn::draw_factors(c, s, 120, 10);
  int seen[7] = {};
  for (const auto& f : a) {
    ++seen[f.expression];
    EXPECT_GE(f.identity, 0);
    EXPECT_LT(f.identity, 8);
    EXPECT_GE(f.yaw, -10.0f);
    EXPECT_LE(f.yaw, 10.0f);
  }
  EXPECT_EQ(seen[0] + seen[2] + seen[4] + seen[5], 0);  // neutral, surprise, disgust, anger never drawn
  EXPECT_GT(seen[1], 0);
  EXPECT_GT(seen[6], 0);
  EXPECT_GT(seen[3], 0);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(a[static_cast<std::size_t>(20 + i)].identity, b[static_cast<std::size_t>(i)].identity);
    EXPECT_EQ(a[static_cast<std::size_t>(20 + i)].yaw, b[static_cast<std::size_t>(i)].yaw);
    EXPECT_EQ(a[static_cast<std::size_t>(20 + i)].expression, b[static_cast<std::size_t>(i)].expression);
  }
  EXPECT_NE(deeper::nn::eval_seed(7), 7u);
  c.render.expressions = {"smile"};
  EXPECT_THROW(deeper::nn::render_sampling(c, 7), deeper::Error);
}

TEST(TrainData, Sh9LightingDrawsShCoefficientsAndKeepsTheOtherFactors) {
  TrainConfig c = overfit_config(fresh_dir("unused"));
  c.render.expressions = {"happy", "sad", "fear"};  // the trainer's own expression-subset draw too
  const auto lambert = deeper::nn::draw_factors(c, deeper::nn::render_sampling(c, 7), 0, 20);
  c.render.lighting = "sh9";
  const auto sh = deeper::nn::draw_factors(c, deeper::nn::render_sampling(c, 7), 0, 20);
  ASSERT_EQ(sh.size(), lambert.size());
  for (std::size_t i = 0; i < sh.size(); ++i) {
    EXPECT_EQ(lambert[i].lighting, deeper::kernels::Lighting::lambert);
    EXPECT_EQ(sh[i].lighting, deeper::kernels::Lighting::sh9);
    EXPECT_EQ(sh[i].identity, lambert[i].identity);
    EXPECT_EQ(sh[i].expression, lambert[i].expression);
    EXPECT_EQ(sh[i].yaw, lambert[i].yaw);
    EXPECT_GT(sh[i].sh[0], 0.0f);  // DC, default range [1.6, 2.6]
    EXPECT_EQ(sh[i].sh[0], sh[i].sh[9]);  // one draw per basis function, shared by r, g, b
  }
  EXPECT_NE(sh[0].sh[3], sh[1].sh[3]);
}

std::vector<float> host_images(const deeper::nn::FaceData& d, std::int64_t batch) {
  const auto& t = d.images();
  std::vector<float> out(static_cast<std::size_t>(batch * t.dim(1) * t.dim(2) * 3));
  deeper::copy_bytes(out.data(), Device::cpu(), t.data_raw(), t.device(), out.size() * sizeof(float));
  return out;
}

std::vector<std::int32_t> host_labels(const deeper::nn::FaceData& d, std::int64_t batch) {
  std::vector<std::int32_t> out(static_cast<std::size_t>(batch));
  deeper::copy_bytes(out.data(), Device::cpu(), d.labels(), d.images().device(), out.size() * sizeof(std::int32_t));
  return out;
}

// The double-buffered feed: a prefetched batch is the batch render() gives, survives a render() in
// between (the evaluation), and a prefetch of another range is dropped and the asked range rendered.
TEST(TrainData, PrefetchedBatchesAreTheRenderedOnesAndMismatchesRenderAnew) {
  TrainConfig c = overfit_config(fresh_dir("unused"));
  c.render.yaw_deg = {-30.0, 30.0};
  c.render.expressions = {"neutral", "happy"};
  c.render.expression_intensity = {0.0, 1.0};
  deeper::nn::FaceData reference(Device::cpu(), c, face_model(), 4);
  auto expected = [&](std::uint64_t first) {
    reference.render(reference.train_sampling(), first, 4);
    return std::pair(host_images(reference, 4), host_labels(reference, 4));
  };
  const auto b0 = expected(0), b4 = expected(4), b8 = expected(8), b12 = expected(12);
  ASSERT_NE(b0.first, b4.first);

  deeper::nn::FaceData d(Device::cpu(), c, face_model(), 4);
  EXPECT_FALSE(d.acquire(0, 4));  // nothing prefetched: rendered now
  EXPECT_EQ(host_images(d, 4), b0.first);
  EXPECT_EQ(host_labels(d, 4), b0.second);
  d.prefetch(4, 4);
  EXPECT_EQ(host_images(d, 4), b0.first);  // the current batch is untouched by the prefetch
  d.release();
  d.render(d.eval_sampling(), 0, 3);  // an evaluation batch between two steps
  EXPECT_TRUE(d.acquire(4, 4));
  EXPECT_EQ(host_images(d, 4), b4.first);
  EXPECT_EQ(host_labels(d, 4), b4.second);
  EXPECT_EQ(d.factors().size(), 4u);
  d.prefetch(8, 4);
  d.release();
  EXPECT_FALSE(d.acquire(12, 4));  // not the prefetched range
  EXPECT_EQ(host_images(d, 4), b12.first);
  EXPECT_EQ(host_labels(d, 4), b12.second);
  d.prefetch(8, 4);  // the same slot again, without a release in between
  EXPECT_TRUE(d.acquire(8, 4));
  EXPECT_EQ(host_images(d, 4), b8.first);
  EXPECT_EQ(d.prefetch_hits(), 2);
  EXPECT_THROW(d.prefetch(0, 5), deeper::Error);  // beyond max_batch
  EXPECT_EQ(deeper::nn::parse_render_prefetch("auto"), deeper::nn::RenderPrefetch::automatic);
  EXPECT_STREQ(deeper::nn::render_prefetch_name(deeper::nn::parse_render_prefetch("off")), "off");
  EXPECT_THROW(deeper::nn::parse_render_prefetch("yes"), deeper::Error);
}

// Training with the next batch prefetched gives the same run as rendering each batch in its step:
// the same losses and the same weights, bit for bit, evaluations in between included.
TEST(Trainer, PrefetchedRunEqualsTheSerialRun) {
  auto config = [](const fs::path& dir) {
    TrainConfig c = varied_config(dir);
    c.eval.images = 8;
    c.eval.every = 2;
    return c;
  };
  const auto a = fresh_dir("prefetch_off"), b = fresh_dir("prefetch_on");
  for (const auto& [dir, mode] : {std::pair(a, deeper::nn::RenderPrefetch::off), std::pair(b, deeper::nn::RenderPrefetch::on)}) {
    TrainerOptions o = quiet_options();
    o.prefetch = mode;
    Trainer t(config(dir), o);
    t.run();
    // Prefetched: every step after the first takes its batch from the step before, evaluations
    // in between included.
    EXPECT_EQ(t.data().prefetch_hits(), mode == deeper::nn::RenderPrefetch::on ? 5 : 0);
  }
  expect_same_runs(a, b, config(a), 9);  // 6 train records, 3 evaluations
  fs::remove_all(a);
  fs::remove_all(b);
}

}  // namespace
