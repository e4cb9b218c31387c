// core/special_functions: ndtri against known quantiles and the round trip through erfc, digamma
// against its exact forms at integers and half-integers.
#include "core/special_functions.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numbers>

namespace {

constexpr long double kEulerGamma = 0.57721566490153286060651209L;

// Phi(x) = erfc(-x / sqrt 2) / 2, accurate in the lower tail.
double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::numbers::sqrt2); }

TEST(Ndtri, KnownQuantiles) {
  EXPECT_EQ(deeper::ndtri(0.5), 0.0);
  EXPECT_NEAR(deeper::ndtri(0.975), 1.959963984540054, 2e-15);
  EXPECT_NEAR(deeper::ndtri(0.025), -1.959963984540054, 2e-15);
  EXPECT_NEAR(deeper::ndtri(0.75), 0.6744897501960817, 1e-15);
  EXPECT_NEAR(deeper::ndtri(0.8413447460685429), 1.0, 2e-15);
  EXPECT_NEAR(deeper::ndtri(1e-10), -6.361340902404056, 1e-14);
  // Far tail (r > 5 branch of AS 241): Phi^-1(1e-300) = -37.047096299361199 (mpmath).
  EXPECT_NEAR(deeper::ndtri(1e-300), -37.0470962993612, 1e-13);
  EXPECT_NEAR(deeper::ndtri(1e-20), -9.262340089798408, 1e-13);
}

TEST(Ndtri, EdgesAndOutOfRange) {
  EXPECT_EQ(deeper::ndtri(0.0), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(deeper::ndtri(1.0), std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(deeper::ndtri(-1e-12)));
  EXPECT_TRUE(std::isnan(deeper::ndtri(1.0 + 1e-12)));
  EXPECT_TRUE(std::isnan(deeper::ndtri(std::numeric_limits<double>::quiet_NaN())));
  EXPECT_TRUE(std::isfinite(deeper::ndtri(std::numeric_limits<double>::denorm_min())));
}

// Phi(ndtri(p)) == p to a few ulp over all three branches of AS 241 (lower tail, where Phi is
// well conditioned in relative terms).
TEST(Ndtri, RoundTripThroughErfc) {
  double worst = 0.0;
  for (double p = 1e-300; p < 0.5; p *= 1.37) {
    const double back = normal_cdf(deeper::ndtri(p));
    worst = std::max(worst, std::fabs(back - p) / p);
  }
  // The relative condition number of Phi at x is |x| phi(x) / Phi(x) ~ x^2 (< 1400 here), so a
  // 1e-16 relative error in x (and erfc's own) becomes a few 1e-13 in Phi.
  EXPECT_LT(worst, 1e-12);
  for (double p = 0.01; p < 0.99; p += 0.0137) {
    EXPECT_NEAR(normal_cdf(deeper::ndtri(p)), p, 4e-16) << p;
  }
}

TEST(Ndtri, Antisymmetric) {
  for (double p : {0.001, 0.07, 0.2, 0.3, 0.4999})
    EXPECT_NEAR(deeper::ndtri(p), -deeper::ndtri(1.0 - p), 1e-14);
}

TEST(Digamma, ExactValues) {
  EXPECT_NEAR(deeper::digamma(1.0), -0.5772156649015329, 1e-15);
  EXPECT_NEAR(deeper::digamma(0.5), -1.9635100260214235, 1e-15);
}

// psi(n) = -gamma + sum_{k<n} 1/k and psi(n + 1/2) = -gamma - 2 ln 2 + sum_{k<=n} 2/(2k - 1). The sums
// are accumulated in long double so that their own rounding stays below the tolerance.
TEST(Digamma, IntegersAndHalfIntegers) {
  long double harmonic = 0.0L, odd = 0.0L;
  for (int n = 1; n <= 600; ++n) {
    const double at_n = static_cast<double>(-kEulerGamma + harmonic);
    EXPECT_NEAR(deeper::digamma(n), at_n, 2e-15 * std::max(1.0, std::fabs(at_n))) << n;
    harmonic += 1.0L / n;
    odd += 2.0L / (2.0L * n - 1.0L);
    const double expected = static_cast<double>(-kEulerGamma - 2.0L * std::numbers::ln2_v<long double> + odd);
    EXPECT_NEAR(deeper::digamma(n + 0.5), expected, 2e-15 * std::max(1.0, std::fabs(expected))) << n;
  }
}

TEST(Digamma, LargeArgumentsReflectionAndPoles) {
  // psi(x) ~ ln x - 1/(2x) for large x.
  EXPECT_NEAR(deeper::digamma(1e6), std::log(1e6) - 0.5e-6 - 1.0 / 12e12, 1e-15 * std::log(1e6));
  // Reflection: psi(-1/2) = psi(3/2) + pi / tan(pi / 2) ... = psi(1/2) + 2.
  EXPECT_NEAR(deeper::digamma(-0.5), -1.9635100260214235 + 2.0, 1e-14);
  EXPECT_TRUE(std::isnan(deeper::digamma(0.0)));
  EXPECT_NEAR(deeper::digamma(479.5), 6.171700779011566, 1e-15);  // mpmath
  EXPECT_TRUE(std::isnan(deeper::digamma(-3.0)));
  EXPECT_TRUE(std::isnan(deeper::digamma(std::numeric_limits<double>::quiet_NaN())));
}

}  // namespace
