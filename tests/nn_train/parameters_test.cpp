// The parameter store: initialisation values and bounds, reproducibility, independence of tensors
// from the layout before them, cpu vs emu bit identity, buffers and errors.
#include "nn/parameters.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/error.h"

namespace {

using namespace deeper;
using namespace deeper::nn;

ModelConfig small_model(std::vector<std::int64_t> widths = {8, 8, 16, 16}) {
  ModelConfig m;
  m.widths = std::move(widths);
  m.input_size = 32;
  m.classes = 5;
  return m;
}

std::vector<float> tensor(const ParameterStore& s, const std::vector<float>& buffer, const std::string& name) {
  const ParamView& v = s.layout().param(name);
  return {buffer.begin() + v.offset, buffer.begin() + v.offset + v.numel};
}

TEST(Parameters, InitialisationFollowsHeAndGlorot) {
  ModelConfig m = small_model({32, 32, 64, 64});
  ParameterStore s(Device::cpu(), resnet10_layout(m), OptimizerKind::sgd);
  s.initialize(42);
  const std::vector<float> p = s.download_params();
  const std::vector<float> st = s.download_stats();
  for (const auto& v : s.layout().params) {
    const std::vector<float> t = tensor(s, p, v.name);
    if (v.kind == ParamKind::conv_weight || v.kind == ParamKind::linear_weight) {
      const double bound = v.kind == ParamKind::conv_weight ? std::sqrt(6.0 / static_cast<double>(v.fan_in))
                                                            : std::sqrt(6.0 / static_cast<double>(v.fan_in + v.fan_out));
      double sum = 0.0, sq = 0.0;
      for (float x : t) {
        ASSERT_GE(x, -bound * (1 + 1e-6)) << v.name;
        ASSERT_LT(x, bound * (1 + 1e-6)) << v.name;
        sum += x;
        sq += static_cast<double>(x) * x;
      }
      const double n = static_cast<double>(t.size());
      // Uniform on [-a, a): mean 0, variance a^2 / 3; checked loosely for the larger tensors.
      if (n >= 2000) {
        EXPECT_NEAR(sum / n, 0.0, 4.0 * bound / std::sqrt(3.0 * n)) << v.name;
        EXPECT_NEAR(sq / n, bound * bound / 3.0, 0.1 * bound * bound / 3.0) << v.name;
      }
    } else {
      const float want = v.kind == ParamKind::bn_gamma ? 1.0f : 0.0f;
      for (float x : t) ASSERT_EQ(x, want) << v.name;
    }
  }
  for (const auto& v : s.layout().stats) {
    const float want = v.kind == ParamKind::bn_running_var ? 1.0f : 0.0f;
    for (float x : tensor(s, st, v.name)) ASSERT_EQ(x, want) << v.name;
  }
  // The alignment gaps are zero.
  std::vector<bool> covered(p.size(), false);
  for (const auto& v : s.layout().params) std::fill_n(covered.begin() + v.offset, v.numel, true);
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (!covered[i]) {
      ASSERT_EQ(p[i], 0.0f) << i;
    }
  }
  for (float g : s.download_grads()) ASSERT_EQ(g, 0.0f);
  for (float g : s.download_optimizer_state(0)) ASSERT_EQ(g, 0.0f);
}

TEST(Parameters, ReproducibleAndSeedDependent) {
  const NetworkLayout l = resnet10_layout(small_model());
  ParameterStore a(Device::cpu(), l, OptimizerKind::sgd), b(Device::cpu(), l, OptimizerKind::adamw),
      c(Device::cpu(), l, OptimizerKind::sgd);
  a.initialize(7);
  b.initialize(7);
  c.initialize(8);
  const auto pa = a.download_params(), pb = b.download_params(), pc = c.download_params();
  ASSERT_EQ(pa.size(), pb.size());
  EXPECT_EQ(std::memcmp(pa.data(), pb.data(), pa.size() * sizeof(float)), 0);
  EXPECT_NE(tensor(a, pa, "stage2.conv1.weight"), tensor(c, pc, "stage2.conv1.weight"));
  // Two tensors of the same shape draw different values.
  EXPECT_NE(tensor(a, pa, "stage2.conv1.weight"), tensor(a, pa, "stage2.conv2.weight"));
}

TEST(Parameters, ATensorsValuesDoNotDependOnTheLayersAfterIt) {
  // Same stem, different later widths: the stem's weights are the same bits.
  ParameterStore a(Device::cpu(), resnet10_layout(small_model({8, 8, 16, 16})), OptimizerKind::sgd);
  ParameterStore b(Device::cpu(), resnet10_layout(small_model({8, 24, 32, 48})), OptimizerKind::sgd);
  a.initialize(3);
  b.initialize(3);
  EXPECT_EQ(tensor(a, a.download_params(), "stem.conv.weight"), tensor(b, b.download_params(), "stem.conv.weight"));
}

TEST(Parameters, EmulatorInitIsBitIdenticalToCpu) {
  const NetworkLayout l = resnet10_layout(small_model({4, 4, 8, 8}));
  ParameterStore cpu(Device::cpu(), l, OptimizerKind::sgd), emu(Device::emu(), l, OptimizerKind::sgd);
  cpu.initialize(11);
  emu.initialize(11);
  const auto a = cpu.download_params(), b = emu.download_params();
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
}

TEST(Parameters, BuffersViewsAndErrors) {
  ParameterStore s(Device::cpu(), resnet10_layout(small_model()), OptimizerKind::adamw);
  EXPECT_EQ(s.optimizer_slots(), 2);
  EXPECT_EQ(optimizer_slot_name(OptimizerKind::adamw, 1), "adam_v");
  EXPECT_EQ(optimizer_slot_name(OptimizerKind::sgd, 0), "momentum");
  EXPECT_THROW((void)optimizer_slot_name(OptimizerKind::sgd, 1), Error);
  EXPECT_THROW((void)s.optimizer_state(2), Error);
  const ParamView& v = s.layout().param("stage3.bn1.beta");
  EXPECT_EQ(s.data("stage3.bn1.beta"), s.params() + v.offset);
  EXPECT_EQ(s.grad("stage3.bn1.beta"), s.grads() + v.offset);
  EXPECT_EQ(s.data("stage3.bn1.running_mean"), s.stats() + s.layout().param("stage3.bn1.running_mean").offset);
  EXPECT_THROW((void)s.grad("stage3.bn1.running_mean"), Error);
  EXPECT_THROW((void)s.data("stage3.bn1.bias"), Error);
  // Uploads check sizes; gradients zero on request.
  EXPECT_THROW(s.upload_params(std::vector<float>(3)), Error);
  s.grads()[5] = 2.0f;
  s.zero_grads();
  EXPECT_EQ(s.download_grads()[5], 0.0f);
  std::vector<float> st(static_cast<std::size_t>(s.param_buffer_elements()), 0.5f);
  s.upload_optimizer_state(1, st);
  EXPECT_EQ(s.download_optimizer_state(1), st);
  s.zero_optimizer_state();
  EXPECT_EQ(s.download_optimizer_state(1)[0], 0.0f);
}

}  // namespace
