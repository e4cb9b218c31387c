// SGD and AdamW: hand-computed steps, several steps against an independent transcription of
// PyTorch's update formulas in double (torch.optim.SGD / AdamW, single-tensor path), weight-decay
// segments, the bf16 copy, and emulator against CPU.
#include "nn_test_util.h"

#include "kernels/nn/optimizer.h"

namespace {

using namespace nn_test;

TEST(Bf16, RoundsToNearestEvenAndKeepsNaN) {
  EXPECT_EQ(dk::float_to_bf16_bits(1.0f), 0x3F80);
  EXPECT_EQ(dk::float_to_bf16_bits(-2.0f), 0xC000);
  // 1 + 2^-8 is halfway between bf16 1.0 and 1.0078125: ties to even (1.0)
  EXPECT_EQ(dk::float_to_bf16_bits(1.00390625f), 0x3F80);
  // 1 + 3·2^-8 is halfway between 1.0078125 (odd) and 1.015625 (even): rounds up
  EXPECT_EQ(dk::float_to_bf16_bits(1.01171875f), 0x3F82);
  EXPECT_EQ(dk::float_to_bf16_bits(1.0f + 1.0f / 128 + 1.0f / 4096), 0x3F81);
  EXPECT_EQ(dk::float_to_bf16_bits(std::numeric_limits<float>::infinity()), 0x7F80);
  const std::uint16_t nan = dk::float_to_bf16_bits(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7F80, 0x7F80);
  EXPECT_NE(nan & 0x007F, 0);
}

TEST(Sgd, HandComputedStepsWithMomentum) {
  // w = 1, g = 0.5 both steps, lr 0.1, momentum 0.9:
  //   step 1: buf = 0.5, w = 0.95;  step 2: buf = 0.9·0.5 + 0.5 = 0.95, w = 0.95 - 0.095 = 0.855
  // Nesterov: step 1: g' = 0.5 + 0.9·0.5 = 0.95, w = 0.905; step 2: buf = 0.95, g' = 0.5 + 0.855,
  //   w = 0.905 - 0.1355 = 0.7695. Weight decay 0.1 on a second value w = 2, g = 0:
  //   g = 0.2, w = 2 - 0.02 = 1.98 (no momentum).
  for (const Device& device : {kCpu, kEmu}) {
    for (const bool nesterov : {false, true}) {
      std::vector<float> w = {1.0f}, g = {0.5f}, buf = {123.0f};
      dk::SgdParams p;
      p.n = 1;
      p.weights = w.data();
      p.grads = g.data();
      p.momentum_buffer = buf.data();
      p.lr = 0.1f;
      p.momentum = 0.9f;
      p.nesterov = nesterov;
      p.step = 1;
      dk::sgd_step(device, p);
      EXPECT_NEAR(w[0], nesterov ? 0.905 : 0.95, 1e-6);
      EXPECT_NEAR(buf[0], 0.5, 1e-7);
      p.step = 2;
      dk::sgd_step(device, p);
      EXPECT_NEAR(w[0], nesterov ? 0.7695 : 0.855, 1e-6);
      EXPECT_NEAR(buf[0], 0.95, 1e-6);
    }
    std::vector<float> w = {2.0f}, g = {0.0f};
    dk::SgdParams p;
    p.n = 1;
    p.weights = w.data();
    p.grads = g.data();
    p.lr = 0.1f;
    p.weight_decay = 0.1f;
    dk::sgd_step(device, p);
    EXPECT_NEAR(w[0], 1.98, 1e-6);
  }
}

TEST(AdamW, HandComputedFirstStep) {
  // Step 1: m = 0.1·g, v = 0.001·g², m̂ = g, v̂ = g², so w = w·(1 - lr·wd) - lr·g / (|g| + eps):
  // w = 1, g = 0.5, lr 0.01, wd 0.1 -> 0.999 - 0.01 = 0.989; g = -2 -> 0.999 + 0.01 = 1.009.
  for (const Device& device : {kCpu, kEmu}) {
    std::vector<float> w = {1.0f, 1.0f}, g = {0.5f, -2.0f}, m = {0, 0}, v = {0, 0};
    dk::AdamWParams p;
    p.n = 2;
    p.weights = w.data();
    p.grads = g.data();
    p.exp_avg = m.data();
    p.exp_avg_sq = v.data();
    p.lr = 0.01f;
    p.weight_decay = 0.1f;
    dk::adamw_step(device, p);
    EXPECT_NEAR(w[0], 0.989, 1e-6);
    EXPECT_NEAR(w[1], 1.009, 1e-6);
    EXPECT_NEAR(m[0], 0.05, 1e-7);
    EXPECT_NEAR(v[1], 0.004, 1e-8);
  }
}

// PyTorch's SGD and AdamW for one tensor, transcribed in double from torch/optim/{sgd,adamw}.py.
struct TorchSgd {
  double lr, momentum, dampening, wd;
  bool nesterov;
  std::vector<double> buf;
  bool has_buf = false;
  void step(std::vector<double>& w, const std::vector<double>& grad, const std::vector<bool>& decay) {
    if (!has_buf) buf.assign(w.size(), 0);
    for (std::size_t i = 0; i < w.size(); ++i) {
      double d_p = grad[i];
      if (wd != 0 && decay[i]) d_p += wd * w[i];
      if (momentum != 0) {
        buf[i] = has_buf ? buf[i] * momentum + (1 - dampening) * d_p : d_p;
        d_p = nesterov ? d_p + momentum * buf[i] : buf[i];
      }
      w[i] -= lr * d_p;
    }
    has_buf = true;
  }
};

struct TorchAdamW {
  double lr, beta1, beta2, eps, wd;
  std::vector<double> m, v;
  int t = 0;
  void step(std::vector<double>& w, const std::vector<double>& grad, const std::vector<bool>& decay) {
    if (t == 0) m.assign(w.size(), 0), v.assign(w.size(), 0);
    ++t;
    const double bc1 = 1 - std::pow(beta1, t), bc2 = 1 - std::pow(beta2, t);
    for (std::size_t i = 0; i < w.size(); ++i) {
      if (decay[i]) w[i] *= 1 - lr * wd;
      m[i] = m[i] + (1 - beta1) * (grad[i] - m[i]);
      v[i] = v[i] * beta2 + (1 - beta2) * grad[i] * grad[i];
      w[i] -= (lr / bc1) * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + eps);
    }
  }
};

// Three segments: decay, no decay, decay.
dk::ParamSegments three_segments(std::int64_t n, std::vector<bool>& decay) {
  dk::ParamSegments s;
  s.size = 3;
  s.segment[0] = {0, n / 3, true};
  s.segment[1] = {n / 3, n / 2 - n / 3, false};
  s.segment[2] = {n / 2, n - n / 2, true};
  decay.assign(static_cast<std::size_t>(n), true);
  for (std::int64_t i = n / 3; i < n / 2; ++i) decay[i] = false;
  return s;
}

TEST(Sgd, FiveStepsMatchPyTorchsFormulasOnEveryBackend) {
  const std::int64_t n = 1001;
  for (const bool nesterov : {false, true}) {
    for (const Device& device : {kCpu, kEmu}) {
      std::vector<bool> decay;
      dk::SgdParams p;
      p.n = n;
      p.lr = 0.05f;
      p.momentum = 0.9f;
      p.dampening = nesterov ? 0.0f : 0.1f;
      p.weight_decay = 5e-4f;
      p.nesterov = nesterov;
      p.segments = three_segments(n, decay);
      auto w = random_vector(n, 30);
      std::vector<float> buf = poisoned(n);
      std::vector<std::uint16_t> bf16(n, 0xFFFF);
      p.weights = w.data();
      p.momentum_buffer = buf.data();
      p.weights_bf16 = bf16.data();
      TorchSgd ref{0.05, 0.9, nesterov ? 0.0 : 0.1, 5e-4, nesterov, {}, false};
      auto want = to_double(w);
      for (int step = 1; step <= 5; ++step) {
        const auto g = random_vector(n, 40 + step);
        p.grads = g.data();
        p.step = step;
        dk::sgd_step(device, p);
        ref.step(want, to_double(g), decay);
      }
      expect_close(w, want, 1e-6, 1e-5, nesterov ? "nesterov" : "momentum");
      for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(bf16[i], dk::float_to_bf16_bits(w[i])) << i;
    }
  }
}

TEST(AdamW, FiveStepsMatchPyTorchsFormulasOnEveryBackend) {
  const std::int64_t n = 777;
  for (const Device& device : {kCpu, kEmu}) {
    std::vector<bool> decay;
    dk::AdamWParams p;
    p.n = n;
    p.lr = 3e-3f;
    p.weight_decay = 0.05f;
    p.segments = three_segments(n, decay);
    auto w = random_vector(n, 31);
    std::vector<float> m(n, 0.0f), v(n, 0.0f);
    std::vector<std::uint16_t> bf16(n, 0xFFFF);
    p.weights = w.data();
    p.exp_avg = m.data();
    p.exp_avg_sq = v.data();
    p.weights_bf16 = bf16.data();
    TorchAdamW ref{3e-3, 0.9, 0.999, 1e-8, 0.05, {}, {}};
    auto want = to_double(w);
    for (int step = 1; step <= 5; ++step) {
      const auto g = random_vector(n, 50 + step, -0.1, 0.1);
      p.grads = g.data();
      p.step = step;
      dk::adamw_step(device, p);
      ref.step(want, to_double(g), decay);
    }
    expect_close(w, want, 1e-6, 1e-5, "adamw weights");
    expect_close(m, ref.m, 1e-7, 1e-5, "exp_avg");
    expect_close(v, ref.v, 1e-9, 1e-5, "exp_avg_sq");
    for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(bf16[i], dk::float_to_bf16_bits(w[i])) << i;
  }
}

TEST(Optimizers, EmulatorMatchesTheCpuBitForBitWithoutSegments) {
  const std::int64_t n = 3000;
  const auto w0 = random_vector(n, 60), g = random_vector(n, 61);
  std::vector<float> w[2], buf[2], m[2], v[2];
  for (int d = 0; d < 2; ++d) {
    const Device& device = d == 0 ? kCpu : kEmu;
    w[d] = w0;
    buf[d] = poisoned(n);
    dk::SgdParams s;
    s.n = n;
    s.weights = w[d].data();
    s.grads = g.data();
    s.momentum_buffer = buf[d].data();
    s.lr = 0.1f;
    s.momentum = 0.9f;
    s.weight_decay = 1e-4f;
    for (int step = 1; step <= 3; ++step) {
      s.step = step;
      dk::sgd_step(device, s);
    }
    m[d].assign(n, 0.0f);
    v[d].assign(n, 0.0f);
    dk::AdamWParams a;
    a.n = n;
    a.weights = w[d].data();
    a.grads = g.data();
    a.exp_avg = m[d].data();
    a.exp_avg_sq = v[d].data();
    for (int step = 1; step <= 3; ++step) {
      a.step = step;
      dk::adamw_step(device, a);
    }
  }
  // Both evaluate the same float operations in the same order; allow only contraction-level
  // differences (an FMA) in case the host compiler contracts.
  expect_close(w[1], w[0], 0, 2e-7, "weights");
  expect_close(m[1], m[0], 0, 2e-7, "exp_avg");
}

}  // namespace
