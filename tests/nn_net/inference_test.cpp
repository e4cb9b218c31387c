// The inference API (nn/inference.h): decisions, logits and lab-layer activations in inference
// mode, loaded from a checkpoint, emu against cpu, layer lists and bad input.
#include "net_test_util.h"

#include "core/error.h"
#include "kernels/runtime/tensor.h"
#include "nn/checkpoint.h"
#include "nn/inference.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace {

using namespace net_test;
using deeper::DType;
using deeper::Tensor;
using deeper::nn::InferenceModel;

deeper::nn::TrainConfig tiny_config() {
  deeper::nn::TrainConfig c;
  c.model = tiny_model({4, 8, 8, 8}, 20, 6);
  c.train.batch = 4;
  return c;
}

Tensor images_on(const Device& device, std::int64_t batch, std::int64_t size, unsigned seed) {
  const auto host = random_images(batch, size, seed);
  Tensor t = Tensor::empty({batch, size, size, 3}, DType::f32, device);
  deeper::copy_bytes(t.data_raw(), device, host.data(), Device::cpu(), t.nbytes());
  return t;
}

TEST(Inference, DecisionsLogitsAndEveryLabLayerFromACheckpoint) {
  const auto c = tiny_config();
  const auto layout = deeper::nn::resnet10_layout(c.model);
  deeper::nn::ParameterStore store(Device::cpu(), layout, c.optimizer.kind);
  store.initialize(7);
  store.upload_params(random_params(layout, 7));
  std::vector<float> stats = store.download_stats();
  for (std::size_t i = 0; i < stats.size(); ++i) stats[i] += 0.01f * static_cast<float>(i % 7);
  store.upload_stats(stats);
  const auto dir = std::filesystem::temp_directory_path() / "deeper_nn_net_inference";
  std::filesystem::create_directories(dir);
  const auto path = dir / "checkpoint.safetensors";
  deeper::nn::save_checkpoint(path, store, {}, c);

  InferenceModel direct(store, 6);
  InferenceModel loaded = InferenceModel::from_checkpoint(path, Device::cpu(), 6);
  EXPECT_EQ(loaded.input_size(), 20);
  const Tensor images = images_on(Device::cpu(), 5, 20, 3);
  direct.run(images);
  loaded.run(images);
  EXPECT_EQ(loaded.batch(), 5);
  for (int l = 1; l <= 11; ++l) {
    EXPECT_EQ(loaded.activation_host(l), direct.activation_host(l)) << "layer " << l;
    EXPECT_EQ(loaded.activation(l).numel(), 5 * loaded.units(l)) << "layer " << l;
  }
  EXPECT_EQ(loaded.activation(3).layout(), deeper::Layout::nhwc);
  EXPECT_EQ(loaded.activation(3).shape(), deeper::Shape({5, 4, 4, 4}));
  EXPECT_EQ(loaded.activation(10).shape(), deeper::Shape({5, 8}));
  EXPECT_EQ(loaded.logits().shape(), deeper::Shape({5, 6}));
  // Decisions are the argmax of the logits.
  const auto logits = loaded.activation_host(11);
  const auto d = loaded.decisions_host();
  ASSERT_EQ(d.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    const auto row = logits.begin() + 6 * i;
    EXPECT_EQ(d[static_cast<std::size_t>(i)], std::max_element(row, row + 6) - row);
  }
  // An image's outputs do not depend on its batch (inference mode: no batch statistics), up to
  // rounding: the cpu's sgemm may block a 1-row and a 5-row product differently.
  const Tensor one = images.slice(2, 3);
  loaded.run(one);
  const auto single = loaded.activation_host(11);
  for (int k = 0; k < 6; ++k) {
    const float want = logits[static_cast<std::size_t>(12 + k)];
    EXPECT_NEAR(single[static_cast<std::size_t>(k)], want, 1e-5f * std::max(1.0f, std::abs(want))) << "logit " << k;
  }
  std::filesystem::remove_all(dir);
}

TEST(Inference, EmuMatchesCpu) {
  const auto c = tiny_config();
  const auto layout = deeper::nn::resnet10_layout(c.model);
  deeper::nn::ParameterStore cpu_store(Device::cpu(), layout, c.optimizer.kind), emu_store(Device::emu(), layout, c.optimizer.kind);
  const auto p = random_params(layout, 9);
  cpu_store.upload_params(p);
  emu_store.upload_params(p);
  cpu_store.upload_stats(std::vector<float>(static_cast<std::size_t>(layout.stat_buffer_elements), 0.7f));
  emu_store.upload_stats(std::vector<float>(static_cast<std::size_t>(layout.stat_buffer_elements), 0.7f));
  InferenceModel a(cpu_store, 3), b(emu_store, 3);
  a.run(images_on(Device::cpu(), 3, 20, 4));
  b.run(images_on(Device::emu(), 3, 20, 4));
  for (int l : {1, 5, 9, 10, 11}) expect_close(b.activation_host(l), a.activation_host(l), 1e-4, 1e-4, "layer " + std::to_string(l));
  EXPECT_EQ(b.decisions_host(), a.decisions_host());
}

TEST(Inference, LayerListsAndBadInput) {
  EXPECT_EQ(deeper::nn::parse_lab_layers("1-11"), (std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
  EXPECT_EQ(deeper::nn::parse_lab_layers("9,2,3,2"), (std::vector<int>{2, 3, 9}));
  EXPECT_EQ(deeper::nn::parse_lab_layers("1-3,10"), (std::vector<int>{1, 2, 3, 10}));
  for (const char* bad : {"", "0", "12", "a", "3-1", "1,,2", "1-"}) {
    EXPECT_THROW(deeper::nn::parse_lab_layers(bad), deeper::Error) << bad;
  }
  const auto c = tiny_config();
  const auto layout = deeper::nn::resnet10_layout(c.model);
  deeper::nn::ParameterStore store(Device::cpu(), layout, c.optimizer.kind);
  store.initialize(1);
  InferenceModel m(store, 2);
  auto expect_error = [](const std::function<void()>& f, const std::string& fragment) {
    try {
      f();
      ADD_FAILURE() << "no error; expected '" << fragment << "'";
    } catch (const deeper::Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error([&] { m.activation(1); }, "no run yet");
  expect_error([&] { m.run(images_on(Device::cpu(), 3, 20, 1)); }, "batch 3 is not in [1, 2]");
  expect_error([&] { m.run(images_on(Device::cpu(), 2, 24, 1)); }, "B x 20 x 20 x 3");
  expect_error([&] { m.run(Tensor::empty({2, 20, 20, 3}, DType::f64)); }, "must be f32");
  expect_error([&] { m.run(images_on(Device::emu(), 2, 20, 1)); }, "the model on cpu");
  m.run(images_on(Device::cpu(), 2, 20, 1));
  expect_error([&] { m.activation(0); }, "lab layer 0");
  expect_error([] { InferenceModel::from_checkpoint("/nonexistent/ckpt.safetensors", Device::cpu(), 2); }, "nonexistent");
}

}  // namespace
