// Analytic and behavioural checks of the estimators: closed forms, the bivariate Gaussian at large
// N, independence with and without bias correction, invariance to monotone transforms, the
// lower-bound property (donut, y = x^2), the all-pairs GEMM formula of gcmi.md section 10.1, and
// identities between estimators.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "infotheory/gcmi.h"
#include "test_data.h"

namespace {

using namespace deeper::info;
using deeper::info::testing::normals;
using deeper::info::testing::uniform_labels;

// y = rho x + sqrt(1 - rho^2) e.
std::vector<double> correlated(const std::vector<double>& x, const std::vector<double>& e, double rho) {
  std::vector<double> y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) y[i] = rho * x[i] + std::sqrt(1 - rho * rho) * e[i];
  return y;
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  double mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) mx += x[i] / n, my += y[i] / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

TEST(Behaviour, UnivariatePluginIsTheClosedForm) {
  const auto x = normals(10, 1, 300), y = correlated(x, normals(10, 2, 300), 0.3);
  const double r = pearson(x, y);
  EXPECT_NEAR(mi_gg(x.data(), 1, y.data(), 1, 300, false), -0.5 * std::log2(1 - r * r), 1e-13);
}

// rho = 0.5: -1/2 log2(0.75) = 0.2075187496394219 bits. At N = 1e5 the estimate's SD is ~0.0023.
TEST(Behaviour, BivariateGaussianRhoHalf) {
  const std::int64_t n = 100000;
  const auto x = normals(11, 1, n), y = correlated(x, normals(11, 2, n), 0.5);
  const double truth = 0.2075187496394219;
  EXPECT_NEAR(mi_gg(x.data(), 1, y.data(), 1, n), truth, 0.01);
  EXPECT_NEAR(gcmi_cc(x.data(), 1, y.data(), 1, n), truth, 0.01);
  // A monotone distortion of the marginals changes mi_gg but not gcmi_cc.
  std::vector<double> ex(x.size());
  std::transform(x.begin(), x.end(), ex.begin(), [](double v) { return std::exp(2 * v); });
  EXPECT_LT(mi_gg(ex.data(), 1, y.data(), 1, n), truth - 0.03);
  EXPECT_EQ(gcmi_cc(ex.data(), 1, y.data(), 1, n), gcmi_cc(x.data(), 1, y.data(), 1, n));
}

// Under independence the plug-in MI has mean ~ 1/(2 N ln 2) = 3.6e-3 bits at N = 200 (SD ~5e-3);
// the bias-corrected one has mean ~0. 400 replicates give a standard error of the mean of ~2.5e-4.
TEST(Behaviour, IndependenceIsNearZeroAfterBiasCorrection) {
  const std::int64_t n = 200;
  const int reps = 400;
  GcmiOptions plug;
  plug.bias_correct = false;
  double mean_bc = 0, mean_plug = 0;
  for (int r = 0; r < reps; ++r) {
    const auto x = normals(12, 2 * r, n), y = normals(12, 2 * r + 1, n);
    mean_bc += gcmi_cc(x.data(), 1, y.data(), 1, n) / reps;
    mean_plug += gcmi_cc(x.data(), 1, y.data(), 1, n, plug) / reps;
  }
  EXPECT_NEAR(mean_bc, 0.0, 1e-3);
  EXPECT_NEAR(mean_plug, 1.0 / (2 * n * std::numbers::ln2), 1e-3);
  EXPECT_NEAR(mean_plug - mean_bc, mi_bias_bits(1, 1, n), 1e-12);  // c(200) = 3.6e-3 per estimate
}

TEST(Behaviour, InvarianceToStrictlyMonotoneTransforms) {
  const std::int64_t n = 250;
  const auto x = normals(13, 1, 2 * n), z = normals(13, 3, n);
  const auto y = correlated(std::vector<double>(x.begin(), x.begin() + n), normals(13, 2, n), 0.4);
  const auto labels = uniform_labels(13, 4, n, 3);
  std::vector<double> fx(x.size()), fy(y.size()), fz(z.size());
  std::transform(x.begin(), x.end(), fx.begin(), [](double v) { return std::exp(v) + 3; });
  std::transform(y.begin(), y.end(), fy.begin(), [](double v) { return v * v * v; });
  std::transform(z.begin(), z.end(), fz.begin(), [](double v) { return std::atan(5 * v); });
  EXPECT_EQ(gcmi_cc(x.data(), 2, y.data(), 1, n), gcmi_cc(fx.data(), 2, fy.data(), 1, n));
  EXPECT_EQ(gcmi_model_cd(x.data(), 2, labels.data(), n, 3),
            gcmi_model_cd(fx.data(), 2, labels.data(), n, 3));
  EXPECT_EQ(gccmi_ccc(x.data(), 2, y.data(), 1, z.data(), 1, n),
            gccmi_ccc(fx.data(), 2, fy.data(), 1, fz.data(), 1, n));
  EXPECT_EQ(gccmi_ccd(x.data(), 2, y.data(), 1, labels.data(), n, 3),
            gccmi_ccd(fx.data(), 2, fy.data(), 1, labels.data(), n, 3));
  // A decreasing transform flips the sign of the copula data: the same MI up to rounding.
  std::vector<double> neg(y.size());
  std::transform(y.begin(), y.end(), neg.begin(), [](double v) { return -v; });
  EXPECT_NEAR(gcmi_cc(x.data(), 2, y.data(), 1, n), gcmi_cc(x.data(), 2, neg.data(), 1, n), 1e-13);
}

// GCMI is a lower bound: dependence a Gaussian copula cannot express is invisible to it.
TEST(Behaviour, LowerBoundDonutAndSquare) {
  const std::int64_t n = 4000;
  const auto u = normals(14, 1, n), e = normals(14, 2, 2 * n);
  std::vector<double> theta(n), rx(n), ry(n), sq(n);
  for (std::int64_t i = 0; i < n; ++i) {
    theta[i] = std::numbers::pi * u[i];
    rx[i] = std::cos(theta[i]) + 0.05 * e[i];
    ry[i] = std::sin(theta[i]) + 0.05 * e[n + i];
    sq[i] = u[i] * u[i];
  }
  EXPECT_LT(std::fabs(gcmi_cc(rx.data(), 1, ry.data(), 1, n)), 0.01);  // a ring: strongly dependent
  EXPECT_LT(std::fabs(gcmi_cc(u.data(), 1, sq.data(), 1, n)), 0.01);   // y = x^2, deterministic
}

// gcmi.md 10.1: with stable ties, gcmi_cc = -1/(2 ln 2) log1p(-r^2) - c(N), r = <zx, zy> / S_N.
TEST(Behaviour, UnivariateAllPairsFormula) {
  const std::int64_t n = 777;
  const auto x = normals(15, 1, n), y = correlated(x, normals(15, 2, n), -0.2);
  std::vector<double> zx(n), zy(n);
  copnorm(x.data(), n, zx.data());
  copnorm(y.data(), n, zy.data());
  double g = 0;
  for (std::int64_t i = 0; i < n; ++i) g += zx[i] * zy[i];
  const double r = g / copnorm_sum_of_squares(n);
  const double formula = -std::log1p(-r * r) / (2 * std::numbers::ln2) - mi_bias_bits(1, 1, n);
  EXPECT_NEAR(gcmi_cc(x.data(), 1, y.data(), 1, n), formula, 1e-13);
}

TEST(Behaviour, IdentitiesBetweenEstimators) {
  const std::int64_t n = 300;
  const auto x = normals(16, 1, n), z = normals(16, 3, n);
  const auto y = correlated(x, normals(16, 2, n), 0.5);
  const auto labels = uniform_labels(16, 4, n, 4);
  const double ixy = gcmi_cc(x.data(), 1, y.data(), 1, n);
  EXPECT_DOUBLE_EQ(coinfo_ccc(x.data(), 1, y.data(), 1, z.data(), 1, n),
                   ixy - gccmi_ccc(x.data(), 1, y.data(), 1, z.data(), 1, n));
  EXPECT_DOUBLE_EQ(coinfo_ccd(x.data(), 1, y.data(), 1, labels.data(), n, 4),
                   ixy - gccmi_ccd(x.data(), 1, y.data(), 1, labels.data(), n, 4));
  // Co-information is symmetric: I(x;y) - I(x;y|z) = I(x;z) - I(x;z|y) (up to the bias terms,
  // which are symmetric too for scalars).
  EXPECT_NEAR(coinfo_ccc(x.data(), 1, y.data(), 1, z.data(), 1, n),
              coinfo_ccc(x.data(), 1, z.data(), 1, y.data(), 1, n), 1e-12);
  const PidMmi pid = pid_mmi(x.data(), 1, y.data(), 1, z.data(), 1, n);
  EXPECT_DOUBLE_EQ(pid.redundancy, redundancy_mmi(x.data(), 1, y.data(), 1, z.data(), 1, n));
  EXPECT_DOUBLE_EQ(pid.redundancy, std::min(ixy, gcmi_cc(x.data(), 1, z.data(), 1, n)));
  EXPECT_EQ(std::min(pid.unique1, pid.unique2), 0.0);
  // The model-cd estimator with a single class carries no information.
  const std::vector<std::int32_t> one(n, 0);
  EXPECT_NEAR(mi_model_gd(x.data(), 1, one.data(), n, 1), 0.0, 1e-15);
  EXPECT_NEAR(mi_mixture_gd(x.data(), 1, one.data(), n, 1), 0.0, 1e-14);
}

// Class-dependent means are seen by both continuous-discrete estimators, and the mixture
// estimator (no bias correction) is at least the plug-in model estimator here.
TEST(Behaviour, ContinuousDiscreteSeesClassMeans) {
  const std::int64_t n = 2000;
  const auto labels = uniform_labels(17, 1, n, 2);
  auto x = normals(17, 2, n);
  for (std::int64_t i = 0; i < n; ++i) x[i] += 2.0 * labels[i];  // two unit Gaussians 2 SD apart
  const double model = gcmi_model_cd(x.data(), 1, labels.data(), n, 2);
  const double mixture = gcmi_mixture_cd(x.data(), 1, labels.data(), n, 2);
  // The true MI of an equal mixture of N(0,1) and N(2,1) with its label is about 0.486 bits.
  EXPECT_GT(model, 0.35);
  EXPECT_NEAR(mixture, 0.486, 0.06);
  std::vector<std::int32_t> shuffled(labels.rbegin(), labels.rend());
  EXPECT_LT(std::fabs(gcmi_model_cd(x.data(), 1, shuffled.data(), n, 2)), 0.01);
}

TEST(Behaviour, CopnormRowsEqualsRowWiseCopnorm) {
  const std::int64_t n = 50;
  const auto x = normals(18, 1, 3 * n);
  std::vector<double> rows(x.size()), one(n);
  copnorm_rows(x.data(), 3, n, rows.data(), TiePolicy::jitter, 9, 4);
  for (int r = 0; r < 3; ++r) {
    copnorm(x.data() + r * n, n, one.data(), TiePolicy::jitter, 9, 4 + r);
    for (std::int64_t i = 0; i < n; ++i) EXPECT_EQ(rows[r * n + i], one[i]);
  }
}

}  // namespace
