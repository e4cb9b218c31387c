// The CPU reference of conv2d against the definition written as naive loops (scatter form for both
// gradients, unlike the reference's gather and per-channel forms), its accumulate flag, and
// gradient checks of dgrad and wgrad by central differences of the forward in double.
#include "kernels/nn/conv2d.h"

#include <gtest/gtest.h>

#include "tests/nn_conv/conv_test_util.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace {

using namespace conv_test;
namespace ci = dk::cpu_impl;

// y[n,p,q,k] = sum x * w, with dx and dw by scattering every product back (the adjoint, directly).
struct Naive {
  std::vector<double> y, dx, dw;
};

Naive naive(const dk::Conv2dShape& s, const std::vector<double>& x, const std::vector<double>& w,
            const std::vector<double>& dy) {
  const int P = s.out_height(), Q = s.out_width();
  Naive out{std::vector<double>(static_cast<std::size_t>(s.y_elements())),
            std::vector<double>(static_cast<std::size_t>(s.x_elements())),
            std::vector<double>(static_cast<std::size_t>(s.w_elements()))};
  for (std::int64_t n = 0; n < s.batch; ++n) {
    for (int p = 0; p < P; ++p) {
      for (int q = 0; q < Q; ++q) {
        for (int k = 0; k < s.out_channels; ++k) {
          const std::size_t yi = static_cast<std::size_t>(((n * P + p) * Q + q) * s.out_channels + k);
          for (int r = 0; r < s.kernel_h; ++r) {
            for (int t = 0; t < s.kernel_w; ++t) {
              const int h = p * s.stride_h - s.pad_top + r, wi = q * s.stride_w - s.pad_left + t;
              if (h < 0 || h >= s.height || wi < 0 || wi >= s.width) continue;
              for (int c = 0; c < s.in_channels; ++c) {
                const auto xi = static_cast<std::size_t>(((n * s.height + h) * s.width + wi) * s.in_channels + c);
                const auto wj = static_cast<std::size_t>(((k * s.kernel_h + r) * s.kernel_w + t) * s.in_channels + c);
                out.y[yi] += x[xi] * w[wj];
                out.dx[xi] += dy[yi] * w[wj];
                out.dw[wj] += dy[yi] * x[xi];
              }
            }
          }
        }
      }
    }
  }
  return out;
}

void expect_near_all(const std::vector<double>& got, const std::vector<double>& want, double tol, const char* what,
                     const std::string& name) {
  ASSERT_EQ(got.size(), want.size());
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
  EXPECT_LE(worst, tol) << what << " " << name;
}

TEST(ConvReference, MatchesNaiveLoopsInDoubleAndFloat) {
  for (const auto& c : small_cases()) {
    const auto& s = c.shape;
    const auto xf = random_values(s.x_elements(), 1), wf = random_values(s.w_elements(), 2),
               dyf = random_values(s.y_elements(), 3);
    const auto x = to_double(xf), w = to_double(wf), dy = to_double(dyf);
    const Naive want = naive(s, x, w, dy);
    std::vector<double> y(want.y.size(), 7.0), dx(want.dx.size(), 7.0), dw(want.dw.size(), 7.0);
    ci::conv2d_forward_ref<double>(s, x.data(), w.data(), y.data());
    ci::conv2d_dgrad_ref<double>(s, dy.data(), w.data(), dx.data());
    ci::conv2d_wgrad_ref<double>(s, x.data(), dy.data(), dw.data());
    expect_near_all(y, want.y, 1e-12, "forward", c.name);
    expect_near_all(dx, want.dx, 1e-12, "dgrad", c.name);
    expect_near_all(dw, want.dw, 1e-12, "wgrad", c.name);
    // float: within float rounding of the naive sums
    std::vector<float> yf(want.y.size()), dxf(want.dx.size()), dwf(want.dw.size());
    ci::conv2d_forward_ref<float>(s, xf.data(), wf.data(), yf.data());
    ci::conv2d_dgrad_ref<float>(s, dyf.data(), wf.data(), dxf.data());
    ci::conv2d_wgrad_ref<float>(s, xf.data(), dyf.data(), dwf.data());
    EXPECT_TRUE(close_to(yf, expected(dk::ConvOp::forward, s, xf, wf), 1e-5)) << c.name;
    EXPECT_TRUE(close_to(dxf, expected(dk::ConvOp::dgrad, s, dyf, wf), 1e-5)) << c.name;
    EXPECT_TRUE(close_to(dwf, expected(dk::ConvOp::wgrad, s, xf, dyf), 1e-5)) << c.name;
  }
}

TEST(ConvReference, NaiveLoopsAreNotTrivial) {
  // The stride-2 cases leave some inputs unread (zero dx) and the padded ones see zeros: the naive
  // sums must still be non-zero almost everywhere for the comparison above to mean anything.
  const auto s = small_cases()[1].shape;
  const auto x = to_double(random_values(s.x_elements(), 1)), w = to_double(random_values(s.w_elements(), 2)),
             dy = to_double(random_values(s.y_elements(), 3));
  const Naive n = naive(s, x, w, dy);
  for (const auto* v : {&n.y, &n.dx, &n.dw}) {
    EXPECT_EQ(std::count(v->begin(), v->end(), 0.0), 0);
  }
}

TEST(ConvReference, AccumulateAddsToTheOutput) {
  const auto s = small_cases()[2].shape;
  const auto x = to_double(random_values(s.x_elements(), 4)), w = to_double(random_values(s.w_elements(), 5)),
             dy = to_double(random_values(s.y_elements(), 6));
  std::vector<double> y0(static_cast<std::size_t>(s.y_elements())), dx0(static_cast<std::size_t>(s.x_elements())),
      dw0(static_cast<std::size_t>(s.w_elements()));
  ci::conv2d_forward_ref<double>(s, x.data(), w.data(), y0.data());
  ci::conv2d_dgrad_ref<double>(s, dy.data(), w.data(), dx0.data());
  ci::conv2d_wgrad_ref<double>(s, x.data(), dy.data(), dw0.data());
  for (auto* v : {&y0, &dx0, &dw0}) {
    std::vector<double> acc(v->size());
    for (std::size_t i = 0; i < acc.size(); ++i) acc[i] = 0.25 * static_cast<double>(i % 7);
    auto start = acc;
    if (v == &y0) ci::conv2d_forward_ref<double>(s, x.data(), w.data(), acc.data(), true);
    if (v == &dx0) ci::conv2d_dgrad_ref<double>(s, dy.data(), w.data(), acc.data(), true);
    if (v == &dw0) ci::conv2d_wgrad_ref<double>(s, x.data(), dy.data(), acc.data(), true);
    for (std::size_t i = 0; i < acc.size(); ++i) ASSERT_NEAR(acc[i], start[i] + (*v)[i], 1e-12);
  }
}

// L(x, w) = sum g .* conv(x, w): dL/dx = dgrad(g, w), dL/dw = wgrad(x, g). Central differences with
// step 1e-3 (L is bilinear, so they are exact up to rounding); every element is checked, with the
// tolerance relative to max(|analytic|, |numeric|, 1).
TEST(ConvReference, GradientsMatchCentralDifferences) {
  for (const auto& c : small_cases()) {
    const auto& s = c.shape;
    if (s.x_elements() > 1200 || s.w_elements() > 2000) continue;  // the bigger cases add nothing here
    auto x = to_double(random_values(s.x_elements(), 11));
    auto w = to_double(random_values(s.w_elements(), 12));
    const auto g = to_double(random_values(s.y_elements(), 13));
    std::vector<double> y(g.size()), dx(x.size()), dw(w.size());
    auto loss = [&] {
      ci::conv2d_forward_ref<double>(s, x.data(), w.data(), y.data());
      double l = 0;
      for (std::size_t i = 0; i < y.size(); ++i) l += g[i] * y[i];
      return l;
    };
    ci::conv2d_dgrad_ref<double>(s, g.data(), w.data(), dx.data());
    ci::conv2d_wgrad_ref<double>(s, x.data(), g.data(), dw.data());
    const double eps = 1e-3;
    auto check = [&](std::vector<double>& v, const std::vector<double>& analytic, const char* what) {
      for (std::size_t i = 0; i < v.size(); ++i) {
        const double keep = v[i];
        v[i] = keep + eps;
        const double up = loss();
        v[i] = keep - eps;
        const double down = loss();
        v[i] = keep;
        const double numeric = (up - down) / (2 * eps);
        const double scale = std::max({std::abs(numeric), std::abs(analytic[i]), 1.0});
        ASSERT_NEAR(analytic[i], numeric, 1e-9 * scale) << what << " element " << i << " of " << c.name;
      }
    };
    check(x, dx, "dx");
    check(w, dw, "dw");
  }
}

}  // namespace
