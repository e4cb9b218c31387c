// Helpers of the render_grad suite: random inputs, fake rasterize outputs, central differences.
#pragma once

#include "kernels/raster/rasterize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

namespace render_grad_test {

inline std::vector<double> random_vector(std::size_t n, unsigned seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> uni(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = uni(gen);
  return v;
}

template <typename T>
std::vector<float> to_float(const std::vector<T>& v) {
  return {v.begin(), v.end()};
}

// A rasterize output (B x H x W x 4) whose ids are `face` (>= 0) except every `hole`-th pixel,
// which is background; barycentrics arbitrary.
inline std::vector<float> fake_rast(std::int64_t pixels, int hole) {
  std::vector<float> r(4 * static_cast<std::size_t>(pixels), 0.25f);
  for (std::int64_t i = 0; i < pixels; ++i) {
    const std::int32_t id = (i % hole == 3) ? -1 : static_cast<std::int32_t>(i % 5);
    std::memcpy(&r[4 * i + 3], &id, sizeof id);
  }
  return r;
}

// d f / d x[i] by central differences in double.
inline double central_difference(std::vector<double>& x, std::size_t i, double eps,
                                 const std::function<double()>& f) {
  const double keep = x[i];
  x[i] = keep + eps;
  const double up = f();
  x[i] = keep - eps;
  const double down = f();
  x[i] = keep;
  return (up - down) / (2 * eps);
}

// Checks every analytic[i] against the central difference of f at x[i]: |a - fd| <= tol (|fd| + floor).
inline void expect_gradient(std::vector<double>& x, const std::vector<double>& analytic, double eps, double tol,
                            double floor, const std::function<double()>& f, const char* what) {
  ASSERT_EQ(x.size(), analytic.size()) << what;
  int bad = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double fd = central_difference(x, i, eps, f);
    if (!(std::fabs(analytic[i] - fd) <= tol * (std::fabs(fd) + floor))) {
      if (++bad <= 5) ADD_FAILURE() << what << "[" << i << "]: analytic " << analytic[i] << ", central difference " << fd;
    }
  }
  EXPECT_EQ(bad, 0) << what;
}

inline double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

}  // namespace render_grad_test
