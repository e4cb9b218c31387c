// Helpers of the nn_layers suite: random data, poisoned outputs, tolerant comparison, errors, and
// a central-difference gradient check in double.
#pragma once

#include "core/error.h"
#include "kernels/runtime/device.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace deeper::kernels {}

namespace nn_test {

namespace dk = deeper::kernels;
using deeper::Device;

inline const Device kCpu = Device::cpu();
inline const Device kEmu = Device::emu();

template <typename T = float>
std::vector<T> random_vector(std::size_t n, unsigned seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(dist(gen));
  return v;
}

template <typename T>
std::vector<double> to_double(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

// A vector of n poisoned floats (a value no kernel writes), so unwritten outputs show.
inline std::vector<float> poisoned(std::size_t n) { return std::vector<float>(n, -7.77e17f); }

// Every got[i] within atol + rtol·|want[i]| of want[i] (NaN only where want is NaN).
template <typename A, typename B>
void expect_close(const std::vector<A>& got, const std::vector<B>& want, double atol, double rtol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  std::size_t bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = static_cast<double>(got[i]), w = static_cast<double>(want[i]);
    const bool ok = std::isnan(w) ? std::isnan(g) : std::abs(g - w) <= atol + rtol * std::abs(w);
    if (!ok && ++bad <= 5) ADD_FAILURE() << what << "[" << i << "]: got " << g << ", want " << w;
  }
  EXPECT_EQ(bad, 0u) << what << ": values out of tolerance";
}

inline void expect_error(const std::function<void()>& f, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning '" << fragment << "'";
  } catch (const deeper::Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

// Largest |numeric - analytic| / max(|numeric|, |analytic|, 1) over the entries of `x`, the numeric
// gradient of loss() by central differences with step h (x is perturbed in place and restored).
inline double gradient_error(std::vector<double>& x, const std::function<double()>& loss,
                             const std::vector<double>& analytic, double h = 1e-5) {
  EXPECT_EQ(x.size(), analytic.size());
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + h;
    const double up = loss();
    x[i] = saved - h;
    const double down = loss();
    x[i] = saved;
    const double numeric = (up - down) / (2 * h);
    worst = std::max(worst, std::abs(numeric - analytic[i]) / std::max({std::abs(numeric), std::abs(analytic[i]), 1.0}));
  }
  return worst;
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

constexpr double kGradTol = 1e-7;

}  // namespace nn_test
