// Checkpoints: round trip of every buffer and the state, the file's layout as any safetensors
// reader sees it, and clear errors for truncated, foreign, mismatched and tampered files, which
// leave the store untouched.
#include "nn/checkpoint.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/safetensors.h"

namespace {

using namespace deeper;
using namespace deeper::nn;
namespace fs = std::filesystem;

TrainConfig tiny_config() {
  TrainConfig c = load_preset("tiny");
  c.model.widths = {4, 8, 8, 16};
  c.model.input_size = 32;
  c.model.classes = 6;
  return c;
}

class Checkpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("deeper-nn-ckpt-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = dir_ / "checkpoint.safetensors";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A store with distinct values everywhere: init, then a recognisable optimizer state and statistics.
  ParameterStore filled(const TrainConfig& c, std::uint64_t seed) {
    ParameterStore s(Device::cpu(), resnet10_layout(c.model), c.optimizer.kind);
    s.initialize(seed);
    for (int slot = 0; slot < s.optimizer_slots(); ++slot) {
      std::vector<float> st(static_cast<std::size_t>(s.param_buffer_elements()), 0.0f);
      for (const auto& v : s.layout().params) {
        for (std::int64_t i = 0; i < v.numel; ++i) st[static_cast<std::size_t>(v.offset + i)] = 0.001f * static_cast<float>(i + slot);
      }
      s.upload_optimizer_state(slot, st);
    }
    std::vector<float> stats = s.download_stats();
    for (const auto& v : s.layout().stats) stats[static_cast<std::size_t>(v.offset)] = 3.5f;
    s.upload_stats(stats);
    return s;
  }

  std::string load_error(const TrainConfig& c) {
    ParameterStore s(Device::cpu(), resnet10_layout(c.model), c.optimizer.kind);
    try {
      load_checkpoint(path_, s, c);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }

  // Rewrites the checkpoint after `edit` changed its contents.
  template <typename F>
  void tamper(F&& edit) {
    io::SafetensorsFile f = io::read_safetensors(path_);
    edit(f);
    io::write_safetensors(path_, f);
  }

  fs::path dir_, path_;
};

TEST_F(Checkpoint, RoundTripRestoresEveryBufferAndTheState) {
  for (const OptimizerKind kind : {OptimizerKind::sgd, OptimizerKind::adamw}) {
    TrainConfig c = tiny_config();
    c.optimizer.kind = kind;
    const ParameterStore a = filled(c, 5);
    const TrainingState state{1234, 1234 * 32, 99, 39488, 512};
    save_checkpoint(path_, a, state, c);
    ParameterStore b(Device::cpu(), resnet10_layout(c.model), kind);
    b.initialize(6);  // different values, all to be replaced
    const TrainingState back = load_checkpoint(path_, b, c);
    EXPECT_EQ(back, state);
    EXPECT_EQ(b.download_params(), a.download_params());
    EXPECT_EQ(b.download_stats(), a.download_stats());
    for (int s = 0; s < a.optimizer_slots(); ++s) EXPECT_EQ(b.download_optimizer_state(s), a.download_optimizer_state(s));
    // The config in the file is the run's.
    EXPECT_EQ(config_to_toml(checkpoint_config(path_)), config_to_toml(c));
  }
}

TEST_F(Checkpoint, TheFileIsPlainSafetensors) {
  const TrainConfig c = tiny_config();
  const ParameterStore a = filled(c, 5);
  save_checkpoint(path_, a, TrainingState{10, 320, 1, 320, 0}, c);
  const io::SafetensorsFile f = io::read_safetensors(path_);
  const NetworkLayout& l = a.layout();
  EXPECT_EQ(f.tensors.size(), 2 * l.params.size() + l.stats.size());
  const auto& w = f.at("stage3.conv1.weight");
  EXPECT_EQ(w.dtype, DType::f32);
  EXPECT_EQ(w.shape, (std::vector<std::int64_t>{8, 3, 3, 4}));
  const std::vector<float> values = w.to_vector<float>();
  const std::vector<float> params = a.download_params();
  const ParamView& v = l.param("stage3.conv1.weight");
  EXPECT_TRUE(std::equal(values.begin(), values.end(), params.begin() + v.offset));
  EXPECT_NE(f.find("optimizer.momentum.fc.weight"), nullptr);
  EXPECT_NE(f.find("stem.bn.running_var"), nullptr);
  EXPECT_EQ(f.metadata.at("deeper.format"), "deeper-train-checkpoint");
  EXPECT_EQ(f.metadata.at("train.step"), "10");
  EXPECT_EQ(f.metadata.at("rng.train_counter"), "320");
  EXPECT_EQ(f.metadata.at("optimizer.kind"), "sgd");
  EXPECT_NE(f.metadata.at("config").find("widths = [4, 8, 8, 16]"), std::string::npos);
}

TEST_F(Checkpoint, TruncatedFileIsRejected) {
  const TrainConfig c = tiny_config();
  save_checkpoint(path_, filled(c, 5), TrainingState{}, c);
  fs::resize_file(path_, fs::file_size(path_) - 100);
  const std::string e = load_error(c);
  EXPECT_NE(e.find(path_.string()), std::string::npos) << e;
  fs::resize_file(path_, 5);
  EXPECT_NE(load_error(c).find(path_.string()), std::string::npos);
  fs::remove(path_);
  EXPECT_NE(load_error(c).find("no such file"), std::string::npos) << load_error(c);
}

TEST_F(Checkpoint, WrongConfigIsRejectedNamingTheKey) {
  const TrainConfig c = tiny_config();
  save_checkpoint(path_, filled(c, 5), TrainingState{}, c);
  TrainConfig other = c;
  other.model.classes = 7;
  EXPECT_NE(load_error(other).find("cannot resume: 'model.classes' is 6 in the checkpoint but 7 now"), std::string::npos)
      << load_error(other);
  other = c;
  other.train.batch = 64;
  EXPECT_NE(load_error(other).find("'train.batch'"), std::string::npos);
  other = c;
  other.optimizer.kind = OptimizerKind::adamw;
  EXPECT_NE(load_error(other).find("'optimizer.kind'"), std::string::npos);
  other = c;
  other.train.steps = 5000;  // a longer run resumes
  EXPECT_EQ(load_error(other), "");
}

TEST_F(Checkpoint, MismatchedTensorsAreRejected) {
  const TrainConfig c = tiny_config();
  save_checkpoint(path_, filled(c, 5), TrainingState{}, c);
  const auto original = io::read_file_bytes(path_);

  tamper([](io::SafetensorsFile& f) {
    for (auto& t : f.tensors) {
      if (t.name == "stage4.conv2.weight") t.array.shape = {8, 3, 6, 4};  // same bytes, wrong shape
    }
  });
  EXPECT_NE(load_error(c).find("tensor 'stage4.conv2.weight' has shape [8, 3, 6, 4] but the model needs [8, 3, 3, 8]"),
            std::string::npos)
      << load_error(c);

  io::write_file_atomic(path_, original);
  tamper([](io::SafetensorsFile& f) {
    std::erase_if(f.tensors, [](const io::SafetensorsTensor& t) { return t.name == "fc.bias"; });
  });
  EXPECT_NE(load_error(c).find("checkpoint has no tensor 'fc.bias'"), std::string::npos) << load_error(c);

  io::write_file_atomic(path_, original);
  tamper([](io::SafetensorsFile& f) {
    const float x = 1.0f;
    f.add("extra.weight", &x, DType::f32, std::vector<std::int64_t>{1});
  });
  EXPECT_NE(load_error(c).find("tensor 'extra.weight' that the model does not have"), std::string::npos) << load_error(c);

  io::write_file_atomic(path_, original);
  tamper([](io::SafetensorsFile& f) {
    for (auto& t : f.tensors) {
      if (t.name == "fc.bias") {
        t.array.dtype = DType::i32;  // same size, wrong dtype
      }
    }
  });
  EXPECT_NE(load_error(c).find("tensor 'fc.bias' is I32, expected F32"), std::string::npos) << load_error(c);

  io::write_file_atomic(path_, original);
  tamper([](io::SafetensorsFile& f) { f.metadata["train.step"] = "12x"; });
  EXPECT_NE(load_error(c).find("'train.step' is '12x', not a non-negative integer"), std::string::npos) << load_error(c);

  io::write_file_atomic(path_, original);
  tamper([](io::SafetensorsFile& f) { f.metadata["deeper.format_version"] = "9"; });
  EXPECT_NE(load_error(c).find("format version 9 is not supported"), std::string::npos) << load_error(c);

  tamper([](io::SafetensorsFile& f) { f.metadata.clear(); });
  EXPECT_NE(load_error(c).find("not a deeper-train checkpoint"), std::string::npos) << load_error(c);
}

TEST_F(Checkpoint, AFailedLoadLeavesTheStoreUntouched) {
  const TrainConfig c = tiny_config();
  save_checkpoint(path_, filled(c, 5), TrainingState{}, c);
  tamper([](io::SafetensorsFile& f) {
    std::erase_if(f.tensors, [](const io::SafetensorsTensor& t) { return t.name == "optimizer.momentum.fc.bias"; });
  });
  ParameterStore s(Device::cpu(), resnet10_layout(c.model), c.optimizer.kind);
  s.initialize(77);
  const auto before = s.download_params();
  EXPECT_THROW(load_checkpoint(path_, s, c), Error);
  EXPECT_EQ(s.download_params(), before);
}

TEST_F(Checkpoint, AFailedSaveKeepsTheOldFile) {
  const TrainConfig c = tiny_config();
  save_checkpoint(path_, filled(c, 5), TrainingState{1, 32, 1, 32, 0}, c);
  const auto before = io::read_file_bytes(path_);
  EXPECT_THROW(save_checkpoint(dir_ / "missing" / "checkpoint.safetensors", filled(c, 6), TrainingState{}, c), Error);
  EXPECT_EQ(io::read_file_bytes(path_), before);
}

}  // namespace
