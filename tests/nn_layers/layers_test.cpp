// ReLU, add, max-pool, global average pool, linear and cross-entropy: gradient checks of the CPU
// references in double, and the emulated kernels against the CPU (odd sizes, both pack widths,
// poisoned outputs), with the special cases (NaN, ties, padding, invalid labels).
#include "nn_test_util.h"

#include "kernels/nn/activation.h"
#include "kernels/nn/cross_entropy.h"
#include "kernels/nn/linear.h"
#include "kernels/nn/optimizer.h"
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

TEST(PoolDivisor, MatchesIntegerDivision) {
  std::vector<std::uint32_t> ns = {0, 1, 2, 3, 4, 5, 7, 8, 63, 64, 65, 1000, 65535, 65536, 65537, 0x7ffffffeu, 0x7fffffffu};
  std::mt19937 gen(21);
  for (int i = 0; i < 2000; ++i) ns.push_back(static_cast<std::uint32_t>(gen() & 0x7fffffffu));
  std::vector<std::int64_t> ds;
  for (std::int64_t d = 1; d <= 300; ++d) ds.push_back(d);
  for (int b = 9; b <= 30; ++b) {
    for (const std::int64_t e : {-1, 0, 1}) ds.push_back((std::int64_t{1} << b) + e);
  }
  for (const std::int64_t d : {std::int64_t{3} << 20, std::int64_t{56} * 56, std::int64_t{27} * 27 * 16,
                               (std::int64_t{1} << 31) - 1}) {
    ds.push_back(d);
  }
  for (const std::int64_t d : ds) {
    const auto div = dk::PoolDivisor::make(d);
    std::size_t bad = 0;
    for (const std::uint32_t n : ns) {
      // also the dividends next to multiples of d, where a wrong multiplier shows first
      const std::uint64_t m = (n / d) * d;
      for (const std::uint64_t v : {std::uint64_t{n}, m, m == 0 ? 0 : m - 1, m + d - 1}) {
        if (v >= (std::uint64_t{1} << 31)) continue;
        const auto x = static_cast<std::uint32_t>(v);
        if (div.div(x) != x / d && ++bad <= 3) ADD_FAILURE() << x << " / " << d << ": got " << div.div(x);
      }
    }
    EXPECT_EQ(bad, 0u) << "d " << d;
  }
}

bool nn_aligned16(const void* ptr) { return reinterpret_cast<std::uintptr_t>(ptr) % 16 == 0; }

// got[i] == want[i] for every i (infinities included), NaN exactly where want is NaN.
void expect_same_values(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  std::size_t bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const bool ok = std::isnan(want[i]) ? std::isnan(got[i]) : got[i] == want[i];
    if (!ok && ++bad <= 5) ADD_FAILURE() << what << "[" << i << "]: got " << got[i] << ", want " << want[i];
  }
  EXPECT_EQ(bad, 0u) << what << ": values differ";
}

// The max-pool kernels against the CPU: y and argmax equal, dx bit-identical (the gather adds in
// the CPU's order). `offset` floats (and ints) shift x, y, argmax, dy, dx off 16-byte alignment,
// which forces the scalar path; C % 4 == 0 with offset 0 takes the float4 path.
void expect_maxpool_matches_cpu(const PoolShape& sh, std::size_t offset, unsigned seed) {
  SCOPED_TRACE(::testing::Message() << sh.n << "x" << sh.h << "x" << sh.w << "x" << sh.c << " k " << sh.k << " s " << sh.s
                                    << " p " << sh.p << " offset " << offset);
  const std::int64_t Ho = dk::pool_output_size(sh.h, sh.k, sh.s, sh.p), Wo = dk::pool_output_size(sh.w, sh.k, sh.s, sh.p);
  const std::size_t in = static_cast<std::size_t>(sh.n * sh.h * sh.w * sh.c), out = static_cast<std::size_t>(sh.n * Ho * Wo * sh.c);
  auto x = random_vector(in + offset, seed);
  for (std::size_t i = 0; i < in + offset; i += 3) x[i] = std::round(x[i] * 2.0f);  // many ties
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  x[offset + in / 2] = nan;
  x[offset + in / 3 + 1] = nan;
  x[offset + in / 5 + 2] = -inf;
  x[offset + in - 1] = inf;
  const auto dy = random_vector(out + offset, seed + 1);
  std::vector<float> y[2], dx[2];
  std::vector<std::int32_t> am[2];
  std::vector<std::uint16_t> yb[2];  // the bf16 copy of y, written with it
  for (int d = 0; d < 2; ++d) {
    const Device& device = d == 0 ? kCpu : kEmu;
    y[d] = poisoned(out + offset);
    yb[d].assign(out + offset, 0xFFFFu);
    dx[d] = poisoned(in + offset);
    am[d].assign(out + offset, -5);
    const float* px = x.data() + offset;
    if (offset == 0) {
      ASSERT_TRUE(nn_aligned16(px) && nn_aligned16(y[d].data()) && nn_aligned16(am[d].data()) &&
                  nn_aligned16(dy.data()) && nn_aligned16(dx[d].data()));
    }
    dk::maxpool_forward(device, {sh.n, sh.h, sh.w, sh.c, sh.k, sh.s, sh.p, px, y[d].data() + offset, am[d].data() + offset,
                                 yb[d].data() + offset});
    for (std::size_t i = offset; i < out + offset; ++i) {
      ASSERT_EQ(yb[d][i], dk::float_to_bf16_bits(y[d][i])) << "bf16 copy of y at " << i << (d ? " (emu)" : " (cpu)");
    }
    dk::maxpool_backward(device, {sh.n, sh.h, sh.w, sh.c, sh.k, sh.s, sh.p, dy.data() + offset, am[d].data() + offset,
                                  dx[d].data() + offset});
  }
  expect_same_values(y[1], y[0], "maxpool y");
  EXPECT_EQ(am[1], am[0]);
  expect_same_values(dx[1], dx[0], "maxpool dx");
}

TEST(PoolParity, MaxPoolVectorAndScalarPathsMatchTheCpu) {
  // k 3 takes the unrolled kernel, other k the general one; s 3 > k 2 leaves inputs in no window
  const PoolShape shapes[] = {
      {2, 9, 11, 64, 3, 2, 1}, {1, 12, 12, 4, 3, 2, 0}, {2, 8, 8, 8, 2, 2, 0}, {1, 6, 7, 4, 5, 1, 2},
      {1, 7, 8, 12, 2, 3, 1},  {2, 9, 11, 5, 3, 2, 1},  {1, 12, 12, 3, 3, 2, 0}, {1, 6, 7, 3, 5, 1, 2},
      {1, 7, 8, 5, 2, 3, 0},   {1, 5, 5, 1, 1, 1, 0},   {1, 4, 9, 6, 4, 2, 2},
  };
  unsigned seed = 30;
  for (const PoolShape& sh : shapes) {
    expect_maxpool_matches_cpu(sh, 0, seed);
    if (sh.c % 4 == 0) expect_maxpool_matches_cpu(sh, 1, seed);  // the same shape on the scalar path
    seed += 2;
  }
}

TEST(MaxPoolForward, VectorLanesKeepTheirOwnNaNTiesAndInfinities) {
  // 1 x 3 x 3 x 4, k 3, s 1, p 1 -> 3 x 3: each channel is a different pattern, so a lane that
  // takes another lane's decision shows. Channel 0: ties (first wins); 1: NaN late in the window;
  // 2: all -inf (first input of the window wins); 3: NaN first, a larger value after.
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::vector<float> x(36);
  for (int i = 0; i < 9; ++i) {
    x[i * 4 + 0] = i % 2 == 0 ? 2.0f : 1.0f;
    x[i * 4 + 1] = i == 8 ? nan : static_cast<float>(i);
    x[i * 4 + 2] = -inf;
    x[i * 4 + 3] = i == 0 ? nan : 100.0f;
  }
  for (const Device& device : {kCpu, kEmu}) {
    std::vector<float> y = poisoned(36);
    std::vector<std::int32_t> am(36, -5);
    dk::maxpool_forward(device, {1, 3, 3, 4, 3, 1, 1, x.data(), y.data(), am.data()});
    for (int oh = 0; oh < 3; ++oh) {
      for (int ow = 0; ow < 3; ++ow) {
        SCOPED_TRACE(::testing::Message() << "output " << oh << ", " << ow);
        const int o = (oh * 3 + ow) * 4;
        const int h0 = std::max(oh - 1, 0), w0 = std::max(ow - 1, 0), h1 = std::min(oh + 1, 2), w1 = std::min(ow + 1, 2);
        // channel 0: 2 at even positions; the first even position in row-major window order
        int first_even = -1;
        for (int h = h0; h <= h1 && first_even < 0; ++h) {
          for (int w = w0; w <= w1; ++w) {
            if ((h * 3 + w) % 2 == 0) {
              first_even = h * 3 + w;
              break;
            }
          }
        }
        EXPECT_EQ(y[o], 2.0f);
        EXPECT_EQ(am[o], first_even);
        // channel 1: NaN at (2, 2) when in the window, else the largest index (the last position)
        if (h1 == 2 && w1 == 2) {
          EXPECT_TRUE(std::isnan(y[o + 1]));
        } else {
          EXPECT_EQ(y[o + 1], static_cast<float>(h1 * 3 + w1));
        }
        EXPECT_EQ(am[o + 1], h1 * 3 + w1);
        EXPECT_EQ(y[o + 2], -inf);
        EXPECT_EQ(am[o + 2], h0 * 3 + w0);
        if (h0 == 0 && w0 == 0) {
          EXPECT_TRUE(std::isnan(y[o + 3]));
          EXPECT_EQ(am[o + 3], 0);
        } else {
          EXPECT_EQ(y[o + 3], 100.0f);
          EXPECT_EQ(am[o + 3], h0 * 3 + w0);
        }
      }
    }
  }
}

TEST(MaxPoolBackward, SumsEveryWindowThatChoseAnInputPerLane) {
  // 1 x 3 x 3 x 4, k 3, s 1, p 1. Channel c: 5 at input 2c, elsewhere -(i + 1) (so a window
  // without the 5 chooses its first input). dx[i] = the sum of dy over the windows that chose i.
  std::vector<float> x(36), dy(36);
  for (int i = 0; i < 9; ++i) {
    for (int c = 0; c < 4; ++c) x[i * 4 + c] = i == 2 * c ? 5.0f : -static_cast<float>(i + 1);
  }
  for (int o = 0; o < 9; ++o) {
    for (int c = 0; c < 4; ++c) dy[o * 4 + c] = static_cast<float>(1 << o) * static_cast<float>(c + 1);  // exact sums
  }
  for (const Device& device : {kCpu, kEmu}) {
    std::vector<float> y = poisoned(36), dx = poisoned(36);
    std::vector<std::int32_t> am(36, -5);
    dk::maxpool_forward(device, {1, 3, 3, 4, 3, 1, 1, x.data(), y.data(), am.data()});
    dk::maxpool_backward(device, {1, 3, 3, 4, 3, 1, 1, dy.data(), am.data(), dx.data()});
    for (int c = 0; c < 4; ++c) {
      const int mh = (2 * c) / 3, mw = (2 * c) % 3;
      std::vector<float> want(9, 0.0f);
      for (int oh = 0; oh < 3; ++oh) {
        for (int ow = 0; ow < 3; ++ow) {
          const bool has_max = std::abs(oh - mh) <= 1 && std::abs(ow - mw) <= 1;
          const int chosen = has_max ? 2 * c : std::max(oh - 1, 0) * 3 + std::max(ow - 1, 0);
          EXPECT_EQ(am[(oh * 3 + ow) * 4 + c], chosen);
          want[chosen] += dy[(oh * 3 + ow) * 4 + c];
        }
      }
      for (int i = 0; i < 9; ++i) EXPECT_EQ(dx[i * 4 + c], want[i]) << "channel " << c << ", input " << i;
    }
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
