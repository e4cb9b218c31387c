// ReLU, add, max-pool, global average pool, linear and cross-entropy: gradient checks of the CPU
// references in double, and the emulated kernels against the CPU (odd sizes, both pack widths,
// poisoned outputs), with the special cases (NaN, ties, padding, invalid labels).
#include "nn_test_util.h"

#include "kernels/nn/activation.h"
#include "kernels/nn/cross_entropy.h"
#include "kernels/nn/linear.h"
#include "kernels/nn/pooling.h"

namespace {

using namespace nn_test;

// ---------------------------------------------------------------------------------------------
// ReLU and add.

TEST(ReluGrad, MatchesCentralDifferences) {
  auto x = random_vector<double>(40, 1);
  const auto w = random_vector<double>(40, 2);
  for (const double v : x) ASSERT_GT(std::abs(v), 1e-3);
  const auto forward = [&] {
    std::vector<double> y(x.size());
    dk::cpu_impl::relu_forward(dk::ReluParamsT<double>{static_cast<std::int64_t>(x.size()), x.data(), y.data()});
    return y;
  };
  const auto y = forward();
  std::vector<double> dx(x.size());
  dk::cpu_impl::relu_backward(
      dk::ReluBackwardParamsT<double>{static_cast<std::int64_t>(x.size()), w.data(), y.data(), dx.data()});
  EXPECT_LT(gradient_error(x, [&] { return dot(w, forward()); }, dx), kGradTol);
}

TEST(ElementwiseParity, ReluAndAddMatchTheCpuOnBothPackWidths) {
  for (const std::size_t offset : {std::size_t{0}, std::size_t{1}}) {
    for (const std::int64_t n : {std::int64_t{1}, std::int64_t{7}, std::int64_t{1000}, std::int64_t{4096}}) {
      auto x = random_vector(n + offset, 3), g = random_vector(n + offset, 4);
      x[offset] = std::numeric_limits<float>::quiet_NaN();
      std::vector<float> y[2], dx[2], sum[2];
      for (int d = 0; d < 2; ++d) {
        const Device& device = d == 0 ? kCpu : kEmu;
        y[d] = poisoned(n + offset);
        dx[d] = poisoned(n + offset);
        sum[d] = poisoned(n + offset);
        dk::relu_forward(device, {n, x.data() + offset, y[d].data() + offset});
        dk::relu_backward(device, {n, g.data() + offset, y[d].data() + offset, dx[d].data() + offset});
        dk::add(device, {n, x.data() + offset, g.data() + offset, sum[d].data() + offset});
      }
      expect_close(y[1], y[0], 0, 0, "relu");
      expect_close(dx[1], dx[0], 0, 0, "relu backward");
      expect_close(sum[1], sum[0], 0, 0, "add");
      EXPECT_TRUE(std::isnan(y[1][offset]));
      EXPECT_EQ(dx[1][offset], 0.0f);  // the gradient does not pass a NaN output
    }
  }
  // add in place (accumulating a gradient)
  std::vector<float> acc = {1, 2, 3, 4, 5}, more = {10, 20, 30, 40, 50};
  dk::add(kEmu, {5, acc.data(), more.data(), acc.data()});
  EXPECT_EQ(acc, (std::vector<float>{11, 22, 33, 44, 55}));
}

// ---------------------------------------------------------------------------------------------
// Pooling.

struct PoolShape {
  std::int64_t n, h, w, c;
  int k, s, p;
};

TEST(MaxPoolGrad, MatchesCentralDifferences) {
  for (const PoolShape sh : {PoolShape{2, 7, 6, 3, 3, 2, 1}, PoolShape{1, 7, 7, 2, 3, 2, 0}, PoolShape{1, 5, 6, 2, 2, 2, 1}}) {
    SCOPED_TRACE(::testing::Message() << "k " << sh.k << " s " << sh.s << " p " << sh.p);
    const std::int64_t Ho = dk::pool_output_size(sh.h, sh.k, sh.s, sh.p), Wo = dk::pool_output_size(sh.w, sh.k, sh.s, sh.p);
    auto x = random_vector<double>(static_cast<std::size_t>(sh.n * sh.h * sh.w * sh.c), 5);  // distinct values
    const auto w = random_vector<double>(static_cast<std::size_t>(sh.n * Ho * Wo * sh.c), 6);
    std::vector<std::int32_t> argmax(w.size());
    const auto forward = [&] {
      std::vector<double> y(w.size());
      dk::MaxPoolParamsT<double> p{sh.n, sh.h, sh.w, sh.c, sh.k, sh.s, sh.p, x.data(), y.data(), argmax.data()};
      dk::cpu_impl::maxpool_forward(p);
      return y;
    };
    forward();
    std::vector<double> dx(x.size());
    dk::cpu_impl::maxpool_backward(
        dk::MaxPoolBackwardParamsT<double>{sh.n, sh.h, sh.w, sh.c, sh.k, sh.s, sh.p, w.data(), argmax.data(), dx.data()});
    EXPECT_LT(gradient_error(x, [&] { return dot(w, forward()); }, dx, 1e-7), kGradTol);
  }
}

TEST(MaxPoolForward, FollowsTheDefinitionWithPaddingTiesAndNaN) {
  // 1 x 4 x 4 x 1, k 3, s 2, p 1 -> 2 x 2; ties pick the first in row-major window order.
  const std::vector<float> x = {1, 5, 5, 0,  //
                                2, 3, 4, 9,  //
                                7, 7, 0, 0,  //
                                std::numeric_limits<float>::quiet_NaN(), 0, 0, 8};
  for (const Device& device : {kCpu, kEmu}) {
    std::vector<float> y = poisoned(4);
    std::vector<std::int32_t> am(4, -5);
    dk::maxpool_forward(device, {1, 4, 4, 1, 3, 2, 1, x.data(), y.data(), am.data()});
    // windows: rows/cols {-1,0,1} x {-1,0,1}: max 5 at (0,1); {-1,0,1} x {1,2,3}: 9 at (1,3);
    // {1,2,3} x {-1,0,1}: NaN at (3,0); {1,2,3} x {1,2,3}: 9 at (1,3)
    EXPECT_EQ(y[0], 5.0f);
    EXPECT_EQ(am[0], 1);
    EXPECT_EQ(y[1], 9.0f);
    EXPECT_EQ(am[1], 7);
    EXPECT_TRUE(std::isnan(y[2]));
    EXPECT_EQ(am[2], 12);
    EXPECT_EQ(y[3], 9.0f);
    EXPECT_EQ(am[3], 7);
  }
}

TEST(PoolParity, EmulatedKernelsMatchTheCpu) {
  for (const PoolShape sh : {PoolShape{2, 9, 11, 5, 3, 2, 1}, PoolShape{1, 12, 12, 33, 3, 2, 0}, PoolShape{2, 8, 8, 4, 2, 2, 0},
                             PoolShape{1, 6, 7, 3, 5, 1, 2}}) {
    SCOPED_TRACE(::testing::Message() << sh.n << "x" << sh.h << "x" << sh.w << "x" << sh.c << " k " << sh.k << " s " << sh.s
                                      << " p " << sh.p);
    const std::int64_t Ho = dk::pool_output_size(sh.h, sh.k, sh.s, sh.p), Wo = dk::pool_output_size(sh.w, sh.k, sh.s, sh.p);
    const std::size_t in = static_cast<std::size_t>(sh.n * sh.h * sh.w * sh.c), out = static_cast<std::size_t>(sh.n * Ho * Wo * sh.c);
    auto x = random_vector(in, 7);
    for (std::size_t i = 0; i < in; i += 5) x[i] = std::round(x[i] * 2.0f);  // ties
    const auto dy = random_vector(out, 8), gdy = random_vector(static_cast<std::size_t>(sh.n * sh.c), 9);
    std::vector<float> y[2], dx[2], avg[2], davg[2];
    std::vector<std::int32_t> am[2];
    for (int d = 0; d < 2; ++d) {
      const Device& device = d == 0 ? kCpu : kEmu;
      y[d] = poisoned(out);
      dx[d] = poisoned(in);
      avg[d] = poisoned(static_cast<std::size_t>(sh.n * sh.c));
      davg[d] = poisoned(in);
      am[d].assign(out, -5);
      dk::maxpool_forward(device, {sh.n, sh.h, sh.w, sh.c, sh.k, sh.s, sh.p, x.data(), y[d].data(), am[d].data()});
      dk::maxpool_backward(device, {sh.n, sh.h, sh.w, sh.c, sh.k, sh.s, sh.p, dy.data(), am[d].data(), dx[d].data()});
      dk::global_avgpool_forward(device, {sh.n, sh.h, sh.w, sh.c, x.data(), avg[d].data()});
      dk::global_avgpool_backward(device, {sh.n, sh.h, sh.w, sh.c, gdy.data(), davg[d].data()});
    }
    expect_close(y[1], y[0], 0, 0, "maxpool y");
    EXPECT_EQ(am[1], am[0]);
    expect_close(dx[1], dx[0], 1e-6, 1e-6, "maxpool dx");
    expect_close(avg[1], avg[0], 1e-6, 1e-5, "avgpool y");
    expect_close(davg[1], davg[0], 0, 1e-6, "avgpool dx");
  }
}

TEST(GlobalAvgPoolGrad, MatchesCentralDifferences) {
  const std::int64_t n = 2, h = 3, w = 4, c = 5;
  auto x = random_vector<double>(static_cast<std::size_t>(n * h * w * c), 10);
  const auto g = random_vector<double>(static_cast<std::size_t>(n * c), 11);
  const auto forward = [&] {
    std::vector<double> y(g.size());
    dk::cpu_impl::global_avgpool_forward(dk::GlobalAvgPoolParamsT<double>{n, h, w, c, x.data(), y.data()});
    return y;
  };
  std::vector<double> dx(x.size());
  dk::cpu_impl::global_avgpool_backward(dk::GlobalAvgPoolBackwardParamsT<double>{n, h, w, c, g.data(), dx.data()});
  EXPECT_LT(gradient_error(x, [&] { return dot(g, forward()); }, dx), kGradTol);
}

// ---------------------------------------------------------------------------------------------
// Linear.

TEST(LinearGrad, MatchesCentralDifferences) {
  const std::int64_t rows = 4, in = 6, out = 3;
  auto x = random_vector<double>(rows * in, 12), wt = random_vector<double>(out * in, 13), b = random_vector<double>(out, 14);
  const auto g = random_vector<double>(rows * out, 15);
  const auto forward = [&] {
    std::vector<double> y(g.size());
    dk::cpu_impl::linear_forward(dk::LinearParamsT<double>{rows, in, out, x.data(), wt.data(), b.data(), y.data()});
    return y;
  };
  std::vector<double> dx(x.size()), dw(wt.size()), db(b.size());
  dk::cpu_impl::linear_backward(
      dk::LinearBackwardParamsT<double>{rows, in, out, x.data(), wt.data(), g.data(), dx.data(), dw.data(), db.data()});
  const auto loss = [&] { return dot(g, forward()); };
  EXPECT_LT(gradient_error(x, loss, dx), kGradTol);
  EXPECT_LT(gradient_error(wt, loss, dw), kGradTol);
  EXPECT_LT(gradient_error(b, loss, db), kGradTol);
}

TEST(LinearParity, EmulatedGemmMatchesTheCpu) {
  const struct {
    std::int64_t rows, in, out;
  } shapes[] = {{3, 5, 7}, {70, 33, 130}, {17, 80, 9}};
  for (const auto& sh : shapes) {
    SCOPED_TRACE(::testing::Message() << sh.rows << " x " << sh.in << " -> " << sh.out);
    const auto x = random_vector(sh.rows * sh.in, 16), wt = random_vector(sh.out * sh.in, 17), b = random_vector(sh.out, 18),
               g = random_vector(sh.rows * sh.out, 19);
    std::vector<float> y[2], dx[2], dw[2], db[2];
    for (int d = 0; d < 2; ++d) {
      const Device& device = d == 0 ? kCpu : kEmu;
      y[d] = poisoned(sh.rows * sh.out);
      dx[d] = poisoned(sh.rows * sh.in);
      dw[d] = poisoned(sh.out * sh.in);
      db[d] = poisoned(sh.out);
      dk::linear_forward(device, {sh.rows, sh.in, sh.out, x.data(), wt.data(), b.data(), y[d].data()});
      dk::linear_backward(device, {sh.rows, sh.in, sh.out, x.data(), wt.data(), g.data(), dx[d].data(), dw[d].data(),
                                   db[d].data()});
    }
    expect_close(y[1], y[0], 1e-5, 1e-5, "y");
    expect_close(dx[1], dx[0], 1e-5, 1e-5, "dx");
    expect_close(dw[1], dw[0], 1e-5, 1e-5, "dweight");
    expect_close(db[1], db[0], 1e-5, 1e-5, "dbias");
  }
  // Without a bias, and only some gradients.
  const std::vector<float> x = {1, 2, 3, 4}, w = {1, 0, 0, 1, 1, 1};  // rows 2, in 2, out 3
  std::vector<float> y = poisoned(6), dw = poisoned(6);
  const std::vector<float> g = {1, 1, 1, 0, 0, 1};
  dk::linear_forward(kEmu, {2, 2, 3, x.data(), w.data(), nullptr, y.data()});
  EXPECT_EQ(y, (std::vector<float>{1, 2, 3, 3, 4, 7}));
  dk::linear_backward(kEmu, {2, 2, 3, x.data(), nullptr, g.data(), nullptr, dw.data(), nullptr});
  EXPECT_EQ(dw, (std::vector<float>{1, 2, 1, 2, 4, 6}));
}

// ---------------------------------------------------------------------------------------------
// Cross-entropy.

TEST(CrossEntropyGrad, MatchesCentralDifferences) {
  const std::int64_t rows = 3, K = 5;
  auto l = random_vector<double>(rows * K, 20, -3.0, 3.0);
  const std::vector<std::int32_t> labels = {2, 0, 4};
  std::vector<double> sample(rows), dl(l.size());
  double loss = 0;
  dk::CrossEntropyParamsT<double> p;
  p.rows = rows;
  p.classes = K;
  p.logits = l.data();
  p.labels = labels.data();
  p.sample_loss = sample.data();
  p.loss = &loss;
  p.grad_scale = 1.0;
  p.dlogits = dl.data();
  dk::cpu_impl::cross_entropy_backward(p);
  const auto f = [&] {
    dk::cpu_impl::cross_entropy_forward(p);
    return loss;
  };
  EXPECT_LT(gradient_error(l, f, dl), kGradTol);
  // the mean loss in closed form for row 0
  f();
  double s = 0;
  for (std::int64_t k = 0; k < K; ++k) s += std::exp(l[k]);
  EXPECT_NEAR(sample[0], std::log(s) - l[2], 1e-12);
}

struct CeRun {
  std::vector<float> sample, dl;
  std::vector<std::int32_t> predicted, correct;
  float loss = 0;
  std::int32_t num_correct = -1;
};

CeRun run_ce(const Device& device, std::int64_t rows, std::int64_t K, const std::vector<float>& l,
             const std::vector<std::int32_t>& labels) {
  CeRun r{poisoned(rows), poisoned(rows * K), std::vector<std::int32_t>(rows, -9), std::vector<std::int32_t>(rows, -9)};
  dk::CrossEntropyParams p;
  p.rows = rows;
  p.classes = K;
  p.logits = l.data();
  p.labels = labels.data();
  p.sample_loss = r.sample.data();
  p.predicted = r.predicted.data();
  p.correct = r.correct.data();
  p.loss = &r.loss;
  p.num_correct = &r.num_correct;
  p.grad_scale = 2.0f;
  p.dlogits = r.dl.data();
  dk::cross_entropy_forward(device, p);
  dk::cross_entropy_backward(device, p);
  return r;
}

TEST(CrossEntropyParity, EmulatedKernelsMatchTheCpu) {
  for (const std::int64_t K : {std::int64_t{7}, std::int64_t{300}}) {
    const std::int64_t rows = 9;
    auto l = random_vector(rows * K, 21, -8.0, 8.0);
    std::vector<std::int32_t> labels(rows);
    for (std::int64_t i = 0; i < rows; ++i) labels[i] = static_cast<std::int32_t>((i * 5) % K);
    // row 0: its label is the argmax; row 1: a tie for the maximum; row 2: a NaN logit
    l[0 * K + labels[0]] = 50.0f;
    l[1 * K + 1] = 60.0f;
    l[1 * K + K - 1] = 60.0f;
    l[2 * K + 3] = std::numeric_limits<float>::quiet_NaN();
    const CeRun cpu = run_ce(kCpu, rows, K, l, labels), emu = run_ce(kEmu, rows, K, l, labels);
    expect_close(emu.sample, cpu.sample, 1e-5, 1e-5, "sample loss");
    expect_close(emu.dl, cpu.dl, 1e-6, 1e-5, "dlogits");
    EXPECT_EQ(emu.predicted, cpu.predicted);
    EXPECT_EQ(emu.correct, cpu.correct);
    EXPECT_EQ(emu.num_correct, cpu.num_correct);
    EXPECT_TRUE(std::isnan(emu.loss) && std::isnan(cpu.loss));  // the NaN row makes the mean NaN
    EXPECT_EQ(emu.predicted[0], labels[0]);
    EXPECT_EQ(emu.correct[0], 1);
    EXPECT_EQ(emu.predicted[1], 1);
    EXPECT_EQ(emu.predicted[2], 3);
    EXPECT_TRUE(std::isnan(emu.sample[2]));
    // each finite gradient row sums to zero and its label entry is negative
    for (std::int64_t i = 3; i < rows; ++i) {
      double s = 0;
      for (std::int64_t k = 0; k < K; ++k) s += emu.dl[i * K + k];
      EXPECT_NEAR(s, 0.0, 1e-6);
      EXPECT_LT(emu.dl[i * K + labels[i]], 0.0f);
    }
    // without the NaN row the mean loss agrees
    labels.erase(labels.begin(), labels.begin() + 3);
    l.erase(l.begin(), l.begin() + 3 * K);
    const CeRun a = run_ce(kCpu, rows - 3, K, l, labels), b = run_ce(kEmu, rows - 3, K, l, labels);
    EXPECT_NEAR(b.loss, a.loss, 1e-5 * std::abs(a.loss));
    double mean = 0;
    for (const float v : a.sample) mean += v;
    EXPECT_NEAR(a.loss, mean / static_cast<double>(rows - 3), 1e-6);
  }
}

TEST(CrossEntropyLabels, OutOfRangeLabelsAreNaNInKernelsAndErrorsOnTheHost) {
  const std::int64_t rows = 3, K = 4;
  const auto l = random_vector(rows * K, 22);
  const std::vector<std::int32_t> labels = {1, -1, 4};
  for (const Device& device : {kCpu, kEmu}) {
    const CeRun r = run_ce(device, rows, K, l, labels);
    EXPECT_FALSE(std::isnan(r.sample[0]));
    EXPECT_TRUE(std::isnan(r.sample[1]) && std::isnan(r.sample[2]));
    EXPECT_EQ(r.correct[1], 0);
    EXPECT_EQ(r.correct[2], 0);
    for (std::int64_t k = 0; k < K; ++k) {
      EXPECT_FALSE(std::isnan(r.dl[k]));
      EXPECT_TRUE(std::isnan(r.dl[K + k]) && std::isnan(r.dl[2 * K + k]));
    }
  }
  expect_error([&] { dk::check_labels(kEmu, labels.data(), rows, K); }, "label -1 of sample 1 is outside [0, 4)");
  const std::vector<std::int32_t> high = {0, 3, 4};
  expect_error([&] { dk::check_labels(kCpu, high.data(), rows, K); }, "label 4 of sample 2");
  EXPECT_NO_THROW(dk::check_labels(kCpu, labels.data(), 1, K));
}

}  // namespace
