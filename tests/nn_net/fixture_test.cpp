// Parity with PyTorch: tests/fixtures/resnet10_parity.safetensors, written by
// tools/make_resnet_fixture.py (needs PyTorch; not part of the test run), holds a small ResNet-10's
// weights, inputs, logits, loss, every gradient, the BN statistics after one forward and a 10-step
// SGD loss trajectory. Without the file the test skips, naming the script; with it, every value
// must match (a file that differs fails).
#include "net_test_util.h"

#include "core/safetensors.h"
#include "kernels/nn/optimizer.h"
#include "nn/network.h"
#include "nn/trainer.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>

namespace {

using deeper::Device;
using deeper::nn::BnMode;
using deeper::nn::ParamKind;
namespace dk = deeper::kernels;

const std::filesystem::path kFixture = std::filesystem::path(DEEPER_SOURCE_DIR) / "tests/fixtures/resnet10_parity.safetensors";

std::vector<float> tensor(const deeper::io::SafetensorsFile& f, const std::string& name,
                          const std::vector<std::int64_t>& shape) {
  const auto* t = f.find(name);
  if (t == nullptr) {
    ADD_FAILURE() << kFixture.string() << ": no tensor '" << name << "'";
    return {};
  }
  EXPECT_EQ(t->array.shape, shape) << name;
  return t->array.to_vector<float>();
}

TEST(TorchParity, LogitsLossGradientsStatisticsAndTenSgdSteps) {
  if (!std::filesystem::exists(kFixture)) {
    GTEST_SKIP() << kFixture.string() << " is not there; make it with tools/make_resnet_fixture.py (needs PyTorch)";
  }
  const auto f = deeper::io::read_safetensors(kFixture);
  deeper::nn::ModelConfig m;
  m.widths = nlohmann::json::parse(f.metadata.at("widths")).get<std::vector<std::int64_t>>();
  m.input_size = std::stoll(f.metadata.at("input_size"));
  m.classes = std::stoll(f.metadata.at("classes"));
  m.conv_bias = true;
  m.bn_momentum = 0.99;
  m.bn_epsilon = 1e-3;
  const std::int64_t B = std::stoll(f.metadata.at("batch"));
  const auto layout = deeper::nn::resnet10_layout(m);

  std::vector<float> params0(static_cast<std::size_t>(layout.param_buffer_elements), 0.0f);
  for (const auto& v : layout.params) {
    const auto t = tensor(f, v.name, v.shape);
    ASSERT_EQ(static_cast<std::int64_t>(t.size()), v.numel) << v.name;
    std::copy(t.begin(), t.end(), params0.begin() + v.offset);
  }
  std::vector<float> stats0(static_cast<std::size_t>(layout.stat_buffer_elements), 0.0f);
  for (const auto& v : layout.stats) {
    if (v.kind == ParamKind::bn_running_var) std::fill_n(stats0.begin() + v.offset, v.numel, 1.0f);
  }
  const auto images = tensor(f, "input.images", {B, m.input_size, m.input_size, 3});
  const auto* labels_t = f.find("input.labels");
  ASSERT_NE(labels_t, nullptr);
  const auto labels = labels_t->array.to_vector<std::int32_t>();
  ASSERT_EQ(static_cast<std::int64_t>(labels.size()), B);

  // One forward and backward.
  std::vector<float> params = params0, stats = stats0, grads(params.size(), 0.0f);
  deeper::nn::Network net(Device::cpu(), layout, B);
  const deeper::nn::NetworkBuffersT<float> b{params.data(), grads.data(), stats.data(), nullptr};
  const float* logits = net.forward(b, images.data(), B, BnMode::train);
  const auto r = net.loss(labels.data());
  net.backward(b);
  net_test::expect_close(std::vector<float>(logits, logits + B * m.classes), tensor(f, "expected.logits", {B, m.classes}),
                         1e-4, 1e-3, "logits");
  EXPECT_NEAR(r.loss, tensor(f, "expected.loss", {1}).at(0), 1e-5 * (1 + r.loss));
  for (const auto& v : layout.params) {
    const auto want = tensor(f, "grad." + v.name, v.shape);
    if (want.empty()) continue;
    double d = 0, n = 0, worst = 0;
    for (std::int64_t i = 0; i < v.numel; ++i) {
      const double g = grads[static_cast<std::size_t>(v.offset + i)], w = want[static_cast<std::size_t>(i)];
      d += (g - w) * (g - w);
      n += w * w;
      worst = std::max(worst, std::abs(g - w));
    }
    if (v.kind == ParamKind::conv_bias) {
      EXPECT_LT(worst, 1e-6) << v.name;  // zero up to rounding on both sides
    } else {
      EXPECT_LE(std::sqrt(d), 1e-3 * std::sqrt(n) + 1e-7) << v.name;
    }
  }
  for (const auto& v : layout.stats) {
    const auto want = tensor(f, "after_forward." + v.name, v.shape);
    net_test::expect_close(std::vector<float>(stats.begin() + v.offset, stats.begin() + v.offset + v.numel), want, 1e-5,
                           1e-4, v.name);
  }

  // Ten SGD steps on the same batch, as torch.optim.SGD with two parameter groups.
  const auto want_losses = tensor(f, "sgd.loss", {std::stoll(f.metadata.at("steps"))});
  params = params0;
  stats = stats0;
  std::vector<float> momentum(params.size(), 0.0f);
  dk::SgdParams p;
  p.n = static_cast<std::int64_t>(params.size());
  p.weights = params.data();
  p.grads = grads.data();
  p.momentum_buffer = momentum.data();
  p.lr = std::stod(f.metadata.at("lr"));
  p.momentum = std::stod(f.metadata.at("momentum"));
  p.weight_decay = std::stod(f.metadata.at("weight_decay"));
  p.segments = deeper::nn::weight_decay_segments(layout);
  for (std::size_t t = 0; t < want_losses.size(); ++t) {
    net.forward(b, images.data(), B, BnMode::train);
    const double loss = net.loss(labels.data()).loss;
    EXPECT_NEAR(loss, want_losses[t], 1e-3 * (1 + std::abs(want_losses[t]))) << "SGD step " << t + 1;
    net.backward(b);
    p.step = static_cast<std::int64_t>(t) + 1;
    dk::sgd_step(Device::cpu(), p);
  }
  // Every tensor of the file was used (no stale names).
  std::size_t expected = 2 * layout.params.size() + layout.stats.size() + 5;
  EXPECT_EQ(f.tensors.size(), expected);
}

}  // namespace
