// gcmi_cc_all_pairs_mv and gcmi_model_cd_batched_mv: equal to the per-pair reference estimators
// (gcmi_cc, gcmi_model_cd) to 1e-9 bits, the analytic MI of a 3-D Gaussian pair, invariance to
// monotone transforms of each dimension, bit-identical to the univariate engines when d = 1
// (MI, exceedance counts, null maxima), fused permutation statistics equal to a materialised null,
// uniform null p-values, tiling, and clear errors.
#include "infotheory/allpairs_mv.h"
#include "kernels/gcmi/permutations.h"

#include "core/error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace info = deeper::info;

namespace {

std::size_t at(std::int64_t i) { return static_cast<std::size_t>(i); }

// `count` variables of dimension d over n trials, (count * d) x n: variable v's dimensions are
// monotone transforms of mixtures of a shared latent (per variable of `source`, if given) and noise.
struct Set {
  std::int64_t count, n;
  int d;
  std::vector<double> v;
  const double* var(std::int64_t i) const { return v.data() + i * d * n; }
};

Set make_set(std::int64_t count, int d, std::int64_t n, std::mt19937_64& gen, const Set* source, double coupling) {
  std::normal_distribution<double> normal;
  Set s{count, n, d, std::vector<double>(at(count * d * n))};
  for (std::int64_t c = 0; c < count; ++c) {
    for (int i = 0; i < d; ++i) {
      const double mix = 0.3 * normal(gen);  // within-variable correlation between dimensions
      for (std::int64_t t = 0; t < n; ++t) {
        double value = normal(gen);
        if (i > 0) value += mix * s.v[at((c * d) * n + t)];
        if (source != nullptr && c % 2 == 0) {
          const std::int64_t src = c % source->count;
          value += coupling * std::asinh(source->v[at((src * source->d + (i % source->d)) * n + t)]);
        }
        s.v[at((c * d + i) * n + t)] = (i % 2 == 0) ? std::exp(value) : value * value * value + value;
      }
    }
  }
  return s;
}

// Every third trial of the given row set to 2.0 (ties).
void add_ties(Set& s, std::int64_t row) {
  for (std::int64_t t = 0; t < s.n; t += 3) s.v[at(row * s.n + t)] = 2.0;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const deeper::Error& e) {
    return e.what();
  }
  return {};
}

// Labels 0..K-1 over n trials in a shuffled order, class k with weight 1 + k % 3.
std::vector<std::int32_t> make_labels(std::int64_t n, int classes, std::mt19937_64& gen) {
  std::vector<std::int32_t> l(at(n));
  std::int64_t weights = 0;
  for (int k = 0; k < classes; ++k) weights += 1 + k % 3;
  std::int64_t t = 0;
  for (int k = 0; k < classes; ++k) {
    const std::int64_t nk = k + 1 < classes ? n * (1 + k % 3) / weights : n - t;
    for (std::int64_t i = 0; i < nk; ++i) l[at(t++)] = k;
  }
  std::shuffle(l.begin(), l.end(), gen);
  return l;
}

// Shifts every dimension of the even variables of s by the label (mean and spread).
void couple_to_labels(Set& s, const std::vector<std::int32_t>& labels) {
  for (std::int64_t c = 0; c < s.count; c += 2) {
    for (int i = 0; i < s.d; ++i) {
      for (std::int64_t t = 0; t < s.n; ++t) {
        double& v = s.v[at((c * s.d + i) * s.n + t)];
        const double k = labels[at(t)];
        v = v * (1.0 + 0.15 * k * (i + 1)) + 0.3 * k * (i % 2 == 0 ? 1.0 : -1.0);
      }
    }
  }
}

}  // namespace

TEST(MvCc, EqualsThePerPairReference) {
  std::mt19937_64 gen(5);
  for (const int dx : {1, 2, 3}) {
    for (const int dy : {1, 2, 3}) {
      const std::int64_t n = 160;
      const Set y = make_set(3, dy, n, gen, nullptr, 0.0);
      Set x = make_set(5, dx, n, gen, &y, 0.8);
      add_ties(x, 1 * dx);  // variable 1, dimension 0
      for (const auto ties : {info::TiePolicy::stable, info::TiePolicy::average}) {
        for (const bool bias : {true, false}) {
          info::AllPairsOptions o;
          o.gcmi.ties = ties;
          o.gcmi.bias_correct = bias;
          const auto r = info::gcmi_cc_all_pairs_mv(x.v.data(), x.count, dx, y.v.data(), y.count, dy, n, o);
          ASSERT_EQ(r.mi.size(), at(x.count * y.count));
          double largest = 0.0;
          for (std::int64_t u = 0; u < x.count; ++u) {
            for (std::int64_t f = 0; f < y.count; ++f) {
              const double expect = info::gcmi_cc(x.var(u), dx, y.var(f), dy, n, o.gcmi);
              EXPECT_NEAR(r.mi[at(u * y.count + f)], expect, 1e-9) << dx << "x" << dy << " u" << u << " f" << f;
              largest = std::max(largest, expect);
            }
          }
          EXPECT_GT(largest, 0.1) << "the coupled pairs carry information";
          EXPECT_NEAR(r.tie_fraction_x[1], info::tie_fraction(x.var(1), n), 0.0);
          // f32 GEMMs: within 1e-5 bits of f64.
          o.precision = info::GemmPrecision::f32;
          const auto r32 = info::gcmi_cc_all_pairs_mv(x.v.data(), x.count, dx, y.v.data(), y.count, dy, n, o);
          for (std::size_t i = 0; i < r.mi.size(); ++i) EXPECT_NEAR(r32.mi[i], r.mi[i], 1e-5);
        }
      }
    }
  }
}

TEST(MvCc, AnalyticThreeDimensionalGaussianPair) {
  // Canonical correlations 0.6, 0.4, 0.2 hidden behind invertible linear mixes of each side:
  // I = -1/2 sum log2(1 - rho^2) = 0.4771 bits; sampling SD at N = 20000 about 0.008 bits.
  const std::int64_t n = 20000;
  const double rho[3] = {0.6, 0.4, 0.2};
  const double mix_x[3][3] = {{1.0, 0.5, -0.3}, {0.2, 1.0, 0.4}, {-0.6, 0.1, 1.0}};
  const double mix_y[3][3] = {{0.7, -0.2, 0.0}, {0.4, 1.1, 0.3}, {0.0, -0.5, 0.9}};
  std::mt19937_64 gen(17);
  std::normal_distribution<double> normal;
  std::vector<double> x(at(3 * n)), y(at(3 * n));
  for (std::int64_t t = 0; t < n; ++t) {
    double a[3], b[3];
    for (int i = 0; i < 3; ++i) {
      a[i] = normal(gen);
      b[i] = rho[i] * a[i] + std::sqrt(1.0 - rho[i] * rho[i]) * normal(gen);
    }
    for (int i = 0; i < 3; ++i) {
      x[at(i * n + t)] = mix_x[i][0] * a[0] + mix_x[i][1] * a[1] + mix_x[i][2] * a[2];
      y[at(i * n + t)] = mix_y[i][0] * b[0] + mix_y[i][1] * b[1] + mix_y[i][2] * b[2];
    }
  }
  double truth = 0.0;
  for (const double r : rho) truth -= 0.5 * std::log2(1.0 - r * r);
  EXPECT_NEAR(truth, 0.47714, 1e-4);
  const auto r = info::gcmi_cc_all_pairs_mv(x.data(), 1, 3, y.data(), 1, 3, n);
  EXPECT_NEAR(r.mi[0], truth, 0.03);
  EXPECT_NEAR(r.mi[0], info::gcmi_cc(x.data(), 3, y.data(), 3, n), 1e-9);
  // Strictly monotone transforms of each dimension leave every rank, hence the result, unchanged.
  std::vector<double> xt = x, yt = y;
  for (std::int64_t t = 0; t < n; ++t) {
    xt[at(t)] = std::exp(x[at(t)]);
    xt[at(n + t)] = x[at(n + t)] * x[at(n + t)] * x[at(n + t)];
    xt[at(2 * n + t)] = -std::atan(x[at(2 * n + t)]);  // decreasing: flips that dimension's sign
    yt[at(n + t)] = std::tanh(y[at(n + t)]) * 10.0 + 3.0;
  }
  const auto rt = info::gcmi_cc_all_pairs_mv(xt.data(), 1, 3, yt.data(), 1, 3, n);
  EXPECT_NEAR(rt.mi[0], r.mi[0], 1e-12);
  // A pair of independent 3-D variables: about 0 after the bias correction.
  std::vector<double> z(at(3 * n));
  for (auto& v : z) v = normal(gen);
  const auto r0 = info::gcmi_cc_all_pairs_mv(x.data(), 1, 3, z.data(), 1, 3, n);
  EXPECT_NEAR(r0.mi[0], 0.0, 2e-3);
}

TEST(MvCc, OneDimensionalIsBitIdenticalToTheUnivariateEngine) {
  std::mt19937_64 gen(23);
  const std::int64_t n = 140;
  const Set y = make_set(4, 1, n, gen, nullptr, 0.0);
  Set x = make_set(9, 1, n, gen, &y, 0.5);
  add_ties(x, 3);
  for (const auto ties : {info::TiePolicy::stable, info::TiePolicy::jitter, info::TiePolicy::average}) {
    for (const auto precision : {info::GemmPrecision::f64, info::GemmPrecision::f32}) {
      info::AllPairsOptions o;
      o.gcmi.ties = ties;
      o.gcmi.seed = 7;
      o.permutations = 70;
      o.permutation_seed = 12;
      o.precision = precision;
      const auto uni = info::gcmi_cc_all_pairs(x.v.data(), x.count, y.v.data(), y.count, n, o);
      const auto mv = info::gcmi_cc_all_pairs_mv(x.v.data(), x.count, 1, y.v.data(), y.count, 1, n, o);
      EXPECT_EQ(mv.mi, uni.mi);
      EXPECT_EQ(mv.exceed, uni.exceed);
      EXPECT_EQ(mv.max_null, uni.max_null);
      EXPECT_EQ(mv.max_null_all, uni.max_null_all);
      EXPECT_EQ(mv.tie_fraction_x, uni.tie_fraction_x);
      EXPECT_EQ(mv.tie_fraction_y, uni.tie_fraction_y);
      EXPECT_EQ(info::maxstat_p_values(mv), info::maxstat_p_values(uni));
    }
  }
}

TEST(MvCc, PermutationStatisticsEqualAMaterialisedNull) {
  std::mt19937_64 gen(31);
  const std::int64_t n = 120, P = 45;
  for (const auto& [dx, dy] : {std::pair{3, 1}, std::pair{2, 2}, std::pair{3, 2}}) {
    const Set y = make_set(2, dy, n, gen, nullptr, 0.0);
    const Set x = make_set(4, dx, n, gen, &y, 0.3);
    info::AllPairsOptions o;
    o.permutations = P;
    o.permutation_seed = 99;
    const auto r = info::gcmi_cc_all_pairs_mv(x.v.data(), x.count, dx, y.v.data(), y.count, dy, n, o);
    std::vector<std::uint32_t> exceed(at(x.count * y.count), 0);
    std::vector<double> max_null(at(P * y.count), -1e300), max_all(at(P), -1e300);
    std::vector<std::int32_t> perm(at(n));
    std::vector<double> yp(y.v.size());
    for (std::int64_t p = 0; p < P; ++p) {
      deeper::kernels::fisher_yates_permutation(99, static_cast<std::uint64_t>(p), static_cast<std::int32_t>(n), perm.data());
      for (std::int64_t row = 0; row < y.count * dy; ++row) {
        for (std::int64_t t = 0; t < n; ++t) yp[at(row * n + t)] = y.v[at(row * n + perm[at(t)])];
      }
      for (std::int64_t u = 0; u < x.count; ++u) {
        for (std::int64_t f = 0; f < y.count; ++f) {
          const double mi = info::gcmi_cc(x.var(u), dx, yp.data() + f * dy * n, dy, n);
          const double obs = r.mi[at(u * y.count + f)];
          ASSERT_GT(std::fabs(mi - obs), 1e-9) << "a near tie would make the count ambiguous";
          exceed[at(u * y.count + f)] += mi >= obs;
          max_null[at(p * y.count + f)] = std::max(max_null[at(p * y.count + f)], mi);
          max_all[at(p)] = std::max(max_all[at(p)], mi);
        }
      }
    }
    EXPECT_EQ(r.exceed, exceed) << dx << "x" << dy;
    for (std::size_t i = 0; i < max_null.size(); ++i) EXPECT_NEAR(r.max_null[i], max_null[i], 1e-9);
    for (std::size_t i = 0; i < max_all.size(); ++i) EXPECT_NEAR(r.max_null_all[i], max_all[i], 1e-9);
    EXPECT_EQ(r.p_value(0, 0), (1.0 + exceed[0]) / (1.0 + P));
  }
}

TEST(MvCc, TilingDoesNotChangeTheResults) {
  std::mt19937_64 gen(41);
  const std::int64_t n = 100;
  const Set y = make_set(2, 2, n, gen, nullptr, 0.0);
  const Set x = make_set(7, 3, n, gen, &y, 0.6);
  info::AllPairsOptions o;
  o.permutations = 30;
  o.gcmi.ties = info::TiePolicy::jitter;
  const auto whole = info::gcmi_cc_all_pairs_mv(x.v.data(), x.count, 3, y.v.data(), y.count, 2, n, o);
  const auto tiled = info::gcmi_cc_all_pairs_mv(x.v.data(), x.count, 3, y.v.data(), y.count, 2, n, o, 3);
  for (std::size_t i = 0; i < whole.mi.size(); ++i) EXPECT_NEAR(tiled.mi[i], whole.mi[i], 1e-13);
  EXPECT_EQ(tiled.exceed, whole.exceed);
  for (std::size_t i = 0; i < whole.max_null_all.size(); ++i) EXPECT_NEAR(tiled.max_null_all[i], whole.max_null_all[i], 1e-13);
}

TEST(MvCc, NullPValuesAreUniform) {
  // 300 independent 3-D vertices against one scalar response: p = (1 + count) / 100 is uniform
  // on {0.01, ..., 1}; its Kolmogorov-Smirnov distance from U(0, 1) stays small.
  std::mt19937_64 gen(53);
  const std::int64_t n = 150, units = 300;
  const Set y = make_set(1, 1, n, gen, nullptr, 0.0);
  const Set x = make_set(units, 3, n, gen, nullptr, 0.0);
  info::AllPairsOptions o;
  o.permutations = 99;
  o.permutation_seed = 5;
  const auto r = info::gcmi_cc_all_pairs_mv(x.v.data(), units, 3, y.v.data(), 1, 1, n, o);
  std::vector<double> p;
  for (std::int64_t u = 0; u < units; ++u) p.push_back(r.p_value(u, 0));
  std::sort(p.begin(), p.end());
  double ks = 0.0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    ks = std::max(ks, std::fabs(static_cast<double>(i + 1) / static_cast<double>(p.size()) - p[i]));
  }
  EXPECT_LT(ks, 0.1);
  double mean = 0.0;
  for (double v : r.mi) mean += v / static_cast<double>(units);
  EXPECT_NEAR(mean, 0.0, 3e-3);  // bias-corrected null MI averages to about 0
}

TEST(MvCd, EqualsThePerVariableReference) {
  std::mt19937_64 gen(61);
  const std::int64_t n = 240;
  for (const int d : {1, 2, 3}) {
    for (const int classes : {2, 5, 12}) {
      const auto labels = make_labels(n, classes, gen);
      Set x = make_set(5, d, n, gen, nullptr, 0.0);
      couple_to_labels(x, labels);
      add_ties(x, 1 * d);
      for (const auto ties : {info::TiePolicy::stable, info::TiePolicy::average}) {
        for (const auto sums : {info::ClassSums::one_hot_gemm, info::ClassSums::segmented}) {
          info::AllPairsOptions o;
          o.gcmi.ties = ties;
          o.gcmi.bias_correct = ties == info::TiePolicy::stable;  // and once without the correction
          const auto r = info::gcmi_model_cd_batched_mv(x.v.data(), x.count, d, labels.data(), n, classes, o, sums);
          ASSERT_EQ(r.mi.size(), at(x.count));
          for (std::int64_t u = 0; u < x.count; ++u) {
            const double expect = info::gcmi_model_cd(x.var(u), d, labels.data(), n, classes, o.gcmi);
            EXPECT_NEAR(r.mi[at(u)], expect, 1e-9) << "d " << d << " K " << classes << " u " << u;
          }
          EXPECT_GT(r.mi[0], 0.015);
          o.precision = info::GemmPrecision::f32;
          const auto r32 = info::gcmi_model_cd_batched_mv(x.v.data(), x.count, d, labels.data(), n, classes, o, sums);
          for (std::size_t i = 0; i < r.mi.size(); ++i) EXPECT_NEAR(r32.mi[i], r.mi[i], 1e-5);
        }
      }
    }
  }
}

TEST(MvCd, OneDimensionalIsBitIdenticalToTheUnivariateEngine) {
  std::mt19937_64 gen(67);
  const std::int64_t n = 150;
  for (const int classes : {3, 11}) {
    const auto labels = make_labels(n, classes, gen);
    Set x = make_set(6, 1, n, gen, nullptr, 0.0);
    couple_to_labels(x, labels);
    add_ties(x, 1);
    for (const auto sums : {info::ClassSums::one_hot_gemm, info::ClassSums::segmented, info::ClassSums::automatic}) {
      for (const auto precision : {info::GemmPrecision::f64, info::GemmPrecision::f32}) {
        info::AllPairsOptions o;
        o.gcmi.ties = info::TiePolicy::jitter;
        o.gcmi.seed = 2;
        o.permutations = 50;
        o.permutation_seed = 8;
        o.precision = precision;
        const auto uni = info::gcmi_model_cd_batched(x.v.data(), x.count, labels.data(), n, classes, o, sums);
        const auto mv = info::gcmi_model_cd_batched_mv(x.v.data(), x.count, 1, labels.data(), n, classes, o, sums);
        EXPECT_EQ(mv.mi, uni.mi);
        EXPECT_EQ(mv.exceed, uni.exceed);
        EXPECT_EQ(mv.max_null, uni.max_null);
        EXPECT_EQ(mv.max_null_all, uni.max_null_all);
        EXPECT_EQ(mv.tie_fraction_x, uni.tie_fraction_x);
      }
    }
  }
}

TEST(MvCd, PermutationStatisticsEqualAMaterialisedNullAndTilesAgree) {
  std::mt19937_64 gen(71);
  const std::int64_t n = 130, P = 40;
  const int d = 3, classes = 4;
  const auto labels = make_labels(n, classes, gen);
  Set x = make_set(5, d, n, gen, nullptr, 0.0);
  couple_to_labels(x, labels);
  info::AllPairsOptions o;
  o.permutations = P;
  o.permutation_seed = 21;
  for (const auto sums : {info::ClassSums::one_hot_gemm, info::ClassSums::segmented}) {
    const auto r = info::gcmi_model_cd_batched_mv(x.v.data(), x.count, d, labels.data(), n, classes, o, sums);
    std::vector<std::uint32_t> exceed(at(x.count), 0);
    std::vector<double> max_null(at(P), -1e300);
    std::vector<std::int32_t> perm(at(n)), lp(at(n));
    for (std::int64_t p = 0; p < P; ++p) {
      deeper::kernels::fisher_yates_permutation(21, static_cast<std::uint64_t>(p), static_cast<std::int32_t>(n), perm.data());
      for (std::int64_t t = 0; t < n; ++t) lp[at(t)] = labels[at(perm[at(t)])];
      for (std::int64_t u = 0; u < x.count; ++u) {
        const double mi = info::gcmi_model_cd(x.var(u), d, lp.data(), n, classes);
        ASSERT_GT(std::fabs(mi - r.mi[at(u)]), 1e-9);
        exceed[at(u)] += mi >= r.mi[at(u)];
        max_null[at(p)] = std::max(max_null[at(p)], mi);
      }
    }
    EXPECT_EQ(r.exceed, exceed);
    for (std::int64_t p = 0; p < P; ++p) {
      EXPECT_NEAR(r.max_null[at(p)], max_null[at(p)], 1e-9);
      EXPECT_NEAR(r.max_null_all[at(p)], max_null[at(p)], 1e-9);
    }
    const auto tiled = info::gcmi_model_cd_batched_mv(x.v.data(), x.count, d, labels.data(), n, classes, o, sums, 2);
    for (std::size_t i = 0; i < r.mi.size(); ++i) EXPECT_NEAR(tiled.mi[i], r.mi[i], 1e-13);
    EXPECT_EQ(tiled.exceed, r.exceed);
  }
}

TEST(MvErrors, BadInputsNameTheProblem) {
  std::mt19937_64 gen(83);
  const std::int64_t n = 40;
  const Set y = make_set(2, 1, n, gen, nullptr, 0.0);
  Set x = make_set(3, 3, n, gen, nullptr, 0.0);
  const auto cc = [&](const std::vector<double>& xv, int dx, std::int64_t trials, info::AllPairsOptions o = {},
                      std::int64_t tile = 0) {
    return error_of([&] { info::gcmi_cc_all_pairs_mv(xv.data(), 3, dx, y.v.data(), 2, 1, trials, o, tile); });
  };
  EXPECT_NE(cc(x.v, 3, 4).find("too few trials: N = 4 for 3-D x and 1-D y"), std::string::npos) << cc(x.v, 3, 4);
  EXPECT_EQ(cc(x.v, 3, 5), "");  // N = 5 > 3 + 1
  EXPECT_NE(cc(x.v, 3, 2).find("N = 2 for 3-D x"), std::string::npos) << cc(x.v, 3, 2);
  EXPECT_NE(cc(x.v, 0, n).find("dimension 0"), std::string::npos);
  EXPECT_NE(cc(x.v, 17, n).find("dimension 17"), std::string::npos);
  info::AllPairsOptions bf16;
  bf16.precision = info::GemmPrecision::bf16;
  EXPECT_NE(cc(x.v, 3, n, bf16).find("bf16"), std::string::npos);
  EXPECT_NE(cc(x.v, 3, n, {}, -1).find("tile_units"), std::string::npos);
  std::vector<double> bad = x.v;
  bad[at((2 * 3 + 1) * n + 7)] = std::nan("");
  EXPECT_NE(cc(bad, 3, n).find("variable 2, dimension 1, trial 7"), std::string::npos) << cc(bad, 3, n);
  std::vector<double> collinear = x.v;  // variable 1: dimension 2 = 3 * dimension 0 (same ranks)
  for (std::int64_t t = 0; t < n; ++t) collinear[at((1 * 3 + 2) * n + t)] = 3.0 * collinear[at((1 * 3) * n + t)];
  EXPECT_NE(cc(collinear, 3, n).find("x variable 1: its 3 dimensions are collinear"), std::string::npos)
      << cc(collinear, 3, n);
  EXPECT_NE(error_of([&] { info::gcmi_cc_all_pairs_mv(nullptr, 3, 3, y.v.data(), 2, 1, n); }).find("null"),
            std::string::npos);

  std::vector<std::int32_t> labels(at(n), 0);
  for (std::int64_t t = 0; t < n; t += 2) labels[at(t)] = 1;
  const auto cd = [&](const std::vector<double>& xv, const std::vector<std::int32_t>& l, int classes) {
    return error_of([&] { info::gcmi_model_cd_batched_mv(xv.data(), 3, 3, l.data(), n, classes); });
  };
  EXPECT_EQ(cd(x.v, labels, 2), "");
  std::vector<std::int32_t> small = labels;
  std::fill(small.begin(), small.end(), 0);
  small[3] = small[9] = small[11] = 1;  // class 1 has N_k = 3 = d
  EXPECT_NE(cd(x.v, small, 2).find("class 1 has only N_k = 3"), std::string::npos) << cd(x.v, small, 2);
  small[5] = 1;  // N_k = 4 > d
  EXPECT_EQ(cd(x.v, small, 2), "");
  EXPECT_NE(cd(x.v, labels, 1).find("out of range"), std::string::npos);
  EXPECT_NE(cd(collinear, labels, 2).find("variable 1: its 3 dimensions are collinear"), std::string::npos)
      << cd(collinear, labels, 2);
  EXPECT_NE(cd(bad, labels, 2).find("variable 2, dimension 1, trial 7"), std::string::npos);
}
