// Bad input gives a deeper::Error whose message names the problem: too few trials, NaN/Inf, labels
// out of range, an empty class, a class too small for its covariance, zero MAD, a covariance that
// is not positive definite, null pointers, an unknown tie policy.
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "infotheory/gcmi.h"
#include "test_data.h"

namespace {

using namespace deeper::info;
using deeper::info::testing::expect_error;
using deeper::info::testing::normals;

TEST(Errors, TooFewTrials) {
  const auto x = normals(30, 1, 8), y = normals(30, 2, 8);
  expect_error([&] { gcmi_cc(x.data(), 2, y.data(), 2, 4, {}); },
               "too few trials: N = 4 for a joint dimension of 4");
  expect_error([&] { mi_gg(x.data(), 1, y.data(), 1, 2); }, "too few trials");
  expect_error([&] { ent_g(x.data(), 3, 2); }, "too few trials");
  expect_error([&] { cmi_ggg(x.data(), 1, y.data(), 1, x.data(), 1, 3); }, "too few trials");
  expect_error([&] { entropy_bias_bits(3, 3); }, "more trials than dimensions");
  expect_error([&] { mi_bias_bits(2, 2, 4); }, "more trials than dimensions");
}

TEST(Errors, NonFiniteData) {
  auto x = normals(31, 1, 50);
  const auto y = normals(31, 2, 50);
  x[17] = std::numeric_limits<double>::quiet_NaN();
  expect_error([&] { gcmi_cc(x.data(), 1, y.data(), 1, 50, {}); },
               "non-finite value (nan) at dimension 0, trial 17");
  x[17] = -std::numeric_limits<double>::infinity();
  expect_error([&] { mi_gg(y.data(), 1, x.data(), 1, 50); }, "mi_gg: y: non-finite value (-inf)");
  std::vector<double> out(50);
  expect_error([&] { copnorm(x.data(), 50, out.data()); }, "non-finite");
  expect_error([&] { tie_fraction(x.data(), 50); }, "non-finite");
}

TEST(Errors, Labels) {
  const std::int64_t n = 40;
  const auto x = normals(32, 1, 2 * n), y = normals(32, 2, n);
  std::vector<std::int32_t> labels(n);
  for (std::int64_t t = 0; t < n; ++t) labels[t] = static_cast<std::int32_t>(t % 3);
  labels[9] = 3;
  expect_error([&] { gcmi_model_cd(x.data(), 1, labels.data(), n, 3, {}); },
               "label 3 at trial 9 is out of range (labels must be 0..2)");
  labels[9] = -1;
  expect_error([&] { mi_mixture_gd(x.data(), 1, labels.data(), n, 3); }, "out of range");
  labels[9] = 0;
  expect_error([&] { gccmi_ccd(x.data(), 1, y.data(), 1, labels.data(), n, 4, {}); }, "class 3 is empty");
  expect_error([&] { mi_model_gd(x.data(), 1, labels.data(), n, 0); },
               "number of classes must be at least 1");
  // A class with N_k <= d: class 2 gets two trials, too few for a 2-dimensional covariance.
  for (std::int64_t t = 0; t < n; ++t) labels[t] = t < 2 ? 2 : static_cast<std::int32_t>(t % 2);
  expect_error([&] { gcmi_model_cd(x.data(), 2, labels.data(), n, 3, {}); },
               "class 2 has only N_k = 2 trials; its covariance of dimension 2 needs N_k > 2");
  expect_error([&] { gcmi_mixture_cd(x.data(), 2, labels.data(), n, 3, {}); }, "class 2 has only N_k = 2");
  expect_error([&] { gccmi_ccd(x.data(), 1, y.data(), 1, labels.data(), n, 3, {}); }, "needs N_k > 2");
  expect_error([&] { mi_model_gd(x.data(), 1, nullptr, n, 2); }, "null labels pointer");
}

TEST(Errors, ZeroMad) {
  const std::int64_t n = 30;
  auto x = normals(33, 1, n);
  std::vector<std::int32_t> labels(n);
  for (std::int64_t t = 0; t < n; ++t) labels[t] = static_cast<std::int32_t>(t % 2);
  for (std::int64_t t = 1; t < 21; t += 2) x[t] = 4.0;  // 10 of class 1's 15 values are equal
  expect_error([&] { gcmi_mixture_cd(x.data(), 1, labels.data(), n, 2, {}); },
               "class 1 has zero median absolute deviation in dimension 0");
}

TEST(Errors, NotPositiveDefinite) {
  const std::int64_t n = 60;
  auto x = normals(34, 1, 2 * n);
  const auto y = normals(34, 2, n);
  for (std::int64_t t = 0; t < n; ++t) x[n + t] = 2.0 * x[t];  // the second dimension duplicates the first
  expect_error([&] { mi_gg(x.data(), 2, y.data(), 1, n); }, "not positive definite");
  expect_error([&] { ent_g(x.data(), 2, n); }, "Cholesky pivot 2 of 2");
  std::vector<double> constant(n, 1.5);
  expect_error([&] { mi_gg(constant.data(), 1, y.data(), 1, n); }, "not positive definite");
  // Copula data of identical variables are collinear too.
  expect_error([&] { gcmi_cc(y.data(), 1, y.data(), 1, n, {}); }, "not positive definite");
}

TEST(Errors, NullPointersAndBadArguments) {
  const auto x = normals(35, 1, 20);
  std::vector<double> out(20);
  expect_error([&] { gcmi_cc(nullptr, 1, x.data(), 1, 20, {}); }, "gcmi_cc: x: null data pointer");
  expect_error([&] { gcmi_cc(x.data(), 0, x.data(), 1, 20, {}); }, "dimension must be at least 1");
  expect_error([&] { copnorm(x.data(), 20, nullptr); }, "null output pointer");
  expect_error([&] { copnorm(x.data(), 20, const_cast<double*>(x.data())); }, "must not alias");
  expect_error([&] { copnorm(x.data(), 0, out.data()); }, "at least one trial");
  expect_error([&] { copnorm_table(0); }, "at least one trial");
  std::vector<std::int64_t> ids(20, 0);
  ids[5] = std::int64_t{1} << 32;
  expect_error([&] { copnorm_gathered(x.data(), ids.data(), 20, out.data(), TiePolicy::jitter, 1, 0); },
               "trial 4294967296 does not fit the jitter key");
  expect_error([&] { parse_tie_policy("random"); }, "unknown tie policy 'random'");
}

}  // namespace
