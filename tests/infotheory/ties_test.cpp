// Tie policies of copnorm: stable (trial order, -0.0 == +0.0), jitter (seeded, reproducible, keyed
// by the trial), average (mid-ranks, demeaned), the tie fraction, and the stable-tie pitfall.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/special_functions.h"
#include "infotheory/gcmi.h"
#include "kernels/gcmi/copnorm.h"
#include "test_data.h"

namespace {

using namespace deeper::info;
using deeper::info::testing::normals;

// A ReLU-like variable: max(0, g - 0.2), about 58% exact zeros, every third zero written as -0.0.
std::vector<double> relu_like(std::uint64_t seed, std::int64_t n) {
  auto v = normals(seed, 7, n);
  int zeros = 0;
  for (double& e : v) {
    e = std::max(0.0, e - 0.2);
    if (e == 0.0 && zeros++ % 3 == 0) e = -0.0;
  }
  return v;
}

TEST(Ties, StableRanksTiesInTrialOrder) {
  const std::int64_t n = 400;
  const auto x = relu_like(20, n);
  std::vector<double> out(n);
  copnorm(x.data(), n, out.data(), TiePolicy::stable);
  const auto table = copnorm_table(n);
  // The zeros (of either sign) take the lowest ranks, in trial order.
  std::size_t k = 0;
  for (std::int64_t t = 0; t < n; ++t) {
    if (x[t] == 0.0) {
      EXPECT_EQ(out[t], table[k++]) << t;
    }
  }
  EXPECT_GT(k, n / 2);
  // Every row is a permutation of the table.
  std::vector<double> sorted(out);
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, table);
}

TEST(Ties, TieFraction) {
  const double x[] = {0.0, -0.0, 1.0, 1.0, 2.0};
  EXPECT_DOUBLE_EQ(tie_fraction(x, 5), 0.4);
  const auto g = normals(21, 1, 100);
  EXPECT_EQ(tie_fraction(g.data(), 100), 0.0);
  const auto r = relu_like(21, 1000);
  EXPECT_GT(tie_fraction(r.data(), 1000), kTieWarnFraction);
}

// copnorm_rows reads each row's tie fraction off its own sort: the same as tie_fraction, under
// every policy, with -0.0 == +0.0, and rows with and without ties.
TEST(Ties, CopnormRowsReportsTheTieFractionOfEachRow) {
  const std::int64_t n = 300;
  std::vector<double> x;
  for (std::uint64_t r = 0; r < 4; ++r) {
    const auto row = r % 2 == 0 ? relu_like(30 + r, n) : normals(30 + r, 1, n);
    x.insert(x.end(), row.begin(), row.end());
  }
  x[n + 5] = x[n + 9];  // one tie in an otherwise tie-free row
  for (const auto policy : {TiePolicy::stable, TiePolicy::jitter, TiePolicy::average}) {
    std::vector<double> out(x.size()), fractions(4, -1.0);
    copnorm_rows(x.data(), 4, n, out.data(), policy, 7, 0, fractions.data());
    for (std::int64_t r = 0; r < 4; ++r) {
      EXPECT_EQ(fractions[static_cast<std::size_t>(r)], tie_fraction(x.data() + r * n, n)) << r;
    }
    EXPECT_DOUBLE_EQ(fractions[1], 1.0 / n);
  }
}

TEST(Ties, JitterIsReproducibleAndSeeded) {
  const std::int64_t n = 300;
  const auto x = relu_like(22, n);
  std::vector<double> a(n), b(n), c(n), d(n);
  copnorm(x.data(), n, a.data(), TiePolicy::jitter, 5, 0);
  copnorm(x.data(), n, b.data(), TiePolicy::jitter, 5, 0);
  copnorm(x.data(), n, c.data(), TiePolicy::jitter, 6, 0);
  copnorm(x.data(), n, d.data(), TiePolicy::jitter, 5, 1);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);  // another seed orders the ties differently
  EXPECT_NE(a, d);  // so does another variable
  // Only the tied values move; the row stays a permutation of the table.
  std::vector<double> stable(n);
  copnorm(x.data(), n, stable.data(), TiePolicy::stable);
  for (std::int64_t t = 0; t < n; ++t) {
    if (x[t] != 0.0) {
      EXPECT_EQ(a[t], stable[t]);
    }
  }
  std::vector<double> sorted(a);
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, copnorm_table(n));
  // Reproducible through the estimators too.
  const auto y = normals(22, 2, n);
  GcmiOptions opt;
  opt.ties = TiePolicy::jitter;
  opt.seed = 5;
  EXPECT_EQ(gcmi_cc(x.data(), 1, y.data(), 1, n, opt), gcmi_cc(x.data(), 1, y.data(), 1, n, opt));
  GcmiOptions other = opt;
  other.seed = 6;
  EXPECT_NE(gcmi_cc(x.data(), 1, y.data(), 1, n, opt), gcmi_cc(x.data(), 1, y.data(), 1, n, other));
}

TEST(Ties, JitterOnTieFreeDataIsStable) {
  const auto x = normals(23, 1, 200);
  std::vector<double> a(200), b(200);
  copnorm(x.data(), 200, a.data(), TiePolicy::jitter, 77, 3);
  copnorm(x.data(), 200, b.data(), TiePolicy::stable);
  EXPECT_EQ(a, b);
}

// The jitter key follows the trial: permuting the trials (with their ids) permutes the output.
TEST(Ties, JitterKeyFollowsTheTrial) {
  const std::int64_t n = 120;
  const auto x = relu_like(24, n);
  std::vector<std::int64_t> ids(n), perm(n);
  std::iota(ids.begin(), ids.end(), 0);
  std::iota(perm.begin(), perm.end(), 0);
  std::reverse(perm.begin(), perm.end());
  std::rotate(perm.begin(), perm.begin() + 17, perm.end());
  std::vector<double> xp(n), out(n), outp(n);
  for (std::int64_t i = 0; i < n; ++i) xp[i] = x[perm[i]];
  copnorm_gathered(x.data(), ids.data(), n, out.data(), TiePolicy::jitter, 3, 2);
  copnorm_gathered(xp.data(), perm.data(), n, outp.data(), TiePolicy::jitter, 3, 2);
  for (std::int64_t i = 0; i < n; ++i) EXPECT_EQ(outp[i], out[perm[i]]) << i;
  EXPECT_EQ(jitter_word(3, 2, 10), jitter_word(3, 2, 10));
  EXPECT_NE(jitter_word(3, 2, 10), jitter_word(3, 2, 11));
  EXPECT_NE(jitter_word(3, 2, 10), jitter_word(3, 3, 10));
}

TEST(Ties, AverageUsesMidRanksAndDemeans) {
  const double x[] = {3.0, 1.0, -0.0, 0.0, 2.0};  // ranks 5, 3, 1.5, 1.5, 4
  double out[5];
  copnorm(x, 5, out, TiePolicy::average);
  const double raw[] = {deeper::ndtri(5 / 6.0), deeper::ndtri(3 / 6.0), deeper::ndtri(1.5 / 6.0),
                        deeper::ndtri(1.5 / 6.0), deeper::ndtri(4 / 6.0)};
  const double mean = (raw[0] + raw[1] + raw[2] + raw[3] + raw[4]) / 5;
  EXPECT_GT(std::fabs(mean), 0.005);  // the ties break the table's antisymmetry
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(out[i], raw[i] - mean, 1e-15) << i;
  EXPECT_EQ(out[2], out[3]);
  // Order-free: reversing the trials reverses the output.
  const double rx[] = {2.0, 0.0, -0.0, 1.0, 3.0};
  double rout[5];
  copnorm(rx, 5, rout, TiePolicy::average);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(rout[i], out[4 - i]);
}

TEST(Ties, AverageOnTieFreeDataIsStableUpToTheMean) {
  const auto x = normals(25, 1, 101);
  std::vector<double> a(101), s(101);
  copnorm(x.data(), 101, a.data(), TiePolicy::average);
  copnorm(x.data(), 101, s.data(), TiePolicy::stable);
  for (int i = 0; i < 101; ++i) EXPECT_NEAR(a[i], s[i], 1e-15);
}

// The pitfall of stable ties (docs/gcmi.md): when the other variable follows trial order, the
// trial-order tie break manufactures information. Jitter and average do not.
TEST(Ties, StablePitfallWithTrialOrderedVariable) {
  const std::int64_t n = 1000;
  auto x = relu_like(26, n);  // independent of the trial index
  std::vector<double> trial(n);
  std::iota(trial.begin(), trial.end(), 0.0);
  const double stable = gcmi_cc(x.data(), 1, trial.data(), 1, n);
  GcmiOptions jit;
  jit.ties = TiePolicy::jitter;
  jit.seed = 1;
  GcmiOptions avg;
  avg.ties = TiePolicy::average;
  EXPECT_GT(stable, 0.05);  // ~0.08 bits; the null SD at N = 1000 is ~7e-4
  EXPECT_LT(std::fabs(gcmi_cc(x.data(), 1, trial.data(), 1, n, jit)), 0.01);
  EXPECT_LT(std::fabs(gcmi_cc(x.data(), 1, trial.data(), 1, n, avg)), 0.01);
}

// The reference and the GCMI kernels' CPU backend (kernels/gcmi/copnorm.h) rank every row the same
// way, ties included, under stable and jitter: one definition of the jitter key.
TEST(Ties, SameOrderAsTheCopnormKernel) {
  const std::int64_t rows = 4, n = 333;
  std::vector<double> x(rows * n);
  for (std::int64_t r = 0; r < rows; ++r) {
    const auto v = relu_like(27 + r, n);
    for (std::int64_t i = 0; i < n; ++i) x[r * n + i] = static_cast<float>(v[i] * 3.0);  // float-exact values
  }
  std::vector<float> xf(x.begin(), x.end());
  const auto table = copnorm_table(n);
  std::vector<float> table_f(table.begin(), table.end());
  for (const auto& [policy, ties] : {std::pair{TiePolicy::stable, deeper::kernels::CopnormTies::stable},
                                     std::pair{TiePolicy::jitter, deeper::kernels::CopnormTies::jitter}}) {
    std::vector<float> kout(rows * n);
    std::vector<std::uint32_t> bad(rows), tie_counts(rows);
    deeper::kernels::CopnormParams p;
    p.in = xf.data();
    p.rows = rows;
    p.n = n;
    p.table = table_f.data();
    p.out = kout.data();
    p.bad = bad.data();
    p.ties = tie_counts.data();
    p.policy = ties;
    p.seed = 99;
    p.variable_offset = 7;
    deeper::kernels::cpu_impl::copnorm_rows(p);
    std::vector<double> out(rows * n);
    copnorm_rows(x.data(), rows, n, out.data(), policy, 99, 7);
    for (std::int64_t r = 0; r < rows; ++r) {
      EXPECT_EQ(bad[r], 0u);
      EXPECT_DOUBLE_EQ(tie_fraction(x.data() + r * n, n), static_cast<double>(tie_counts[r]) / n);
      for (std::int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(static_cast<float>(out[r * n + i]), kout[r * n + i])
            << tie_policy_name(policy) << " " << r << " " << i;
      }
    }
  }
}

TEST(Ties, PolicyNames) {
  for (TiePolicy t : {TiePolicy::stable, TiePolicy::jitter, TiePolicy::average}) {
    EXPECT_EQ(parse_tie_policy(tie_policy_name(t)), t);
  }
}

}  // namespace
