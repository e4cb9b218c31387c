// gcmi_cc_all_pairs: equal to the per-pair reference gcmi_cc, exact fused permutation statistics,
// uniform null p-values, family-wise error at alpha, and clear errors.
#include "infotheory/allpairs.h"
#include "kernels/gcmi/permutations.h"

#include "core/error.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace info = deeper::info;

namespace {

struct Data {
  std::int64_t units, features, n;
  std::vector<double> x, y;
};

// y: independent normals; x: some units are monotone functions of a feature plus noise.
Data make_data(std::int64_t units, std::int64_t features, std::int64_t n, unsigned seed, double coupling) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal;
  Data d{units, features, n, std::vector<double>(static_cast<std::size_t>(units * n)),
         std::vector<double>(static_cast<std::size_t>(features * n))};
  for (auto& v : d.y) v = normal(gen);
  for (std::int64_t u = 0; u < units; ++u) {
    const std::int64_t f = u % features;
    for (std::int64_t t = 0; t < n; ++t) {
      const double signal = u % 3 == 0 ? coupling * d.y[static_cast<std::size_t>(f * n + t)] : 0.0;
      d.x[static_cast<std::size_t>(u * n + t)] = std::exp(signal + normal(gen));
    }
  }
  return d;
}

}  // namespace

TEST(AllPairs, EqualsThePerPairReferenceForEveryTiePolicy) {
  Data d = make_data(13, 4, 150, 1, 0.8);
  for (std::int64_t t = 0; t < d.n; t += 3) d.x[static_cast<std::size_t>(t)] = 1.0;  // ties in unit 0
  for (auto ties : {info::TiePolicy::stable, info::TiePolicy::jitter, info::TiePolicy::average}) {
    info::AllPairsOptions o;
    o.gcmi.ties = ties;
    o.gcmi.seed = 5;
    const auto r = info::gcmi_cc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.n, o);
    for (std::int64_t u = 0; u < d.units; ++u) {
      for (std::int64_t f = 0; f < d.features; ++f) {
        // The per-pair call numbers its variables x = 0, y = 1; the engine numbers all rows, so
        // jitter keys differ: compare jitter on tie-free rows only.
        if (ties == info::TiePolicy::jitter && u == 0) continue;
        const double expect = info::gcmi_cc(d.x.data() + u * d.n, 1, d.y.data() + f * d.n, 1, d.n, o.gcmi);
        EXPECT_NEAR(r.mi[static_cast<std::size_t>(u * d.features + f)], expect, 1e-12)
            << info::tie_policy_name(ties) << " u=" << u << " f=" << f;
      }
    }
    EXPECT_GT(r.tie_fraction_x[0], 0.3);
    EXPECT_EQ(r.tie_fraction_x[1], 0.0);
  }
}

TEST(AllPairs, Float32GemmIsWithinItsRoundingOfFloat64) {
  const Data d = make_data(40, 6, 500, 2, 0.5);
  info::AllPairsOptions o64, o32;
  o32.precision = info::GemmPrecision::f32;
  const auto a = info::gcmi_cc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.n, o64);
  const auto b = info::gcmi_cc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.n, o32);
  double worst = 0;
  for (std::size_t i = 0; i < a.mi.size(); ++i) worst = std::max(worst, std::fabs(a.mi[i] - b.mi[i]));
  EXPECT_LT(worst, 1e-5);  // far below the null SD (~1/(2 N ln 2) = 1.4e-3 bits here)
  EXPECT_GT(worst, 0.0);   // and it really ran in another precision
}

TEST(AllPairs, FusedPermutationStatisticsEqualTheMaterialisedNull) {
  const Data d = make_data(9, 3, 80, 3, 0.6);
  info::AllPairsOptions o;
  o.permutations = 37;  // not a multiple of the permutation batch
  o.permutation_seed = 11;
  const auto r = info::gcmi_cc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.n, o);
  std::vector<std::uint32_t> exceed(r.mi.size(), 0u);
  std::vector<std::int32_t> perm(static_cast<std::size_t>(d.n));
  std::vector<double> y_p(static_cast<std::size_t>(d.n));
  for (int p = 0; p < o.permutations; ++p) {
    deeper::kernels::fisher_yates_permutation(11, static_cast<std::uint64_t>(p), static_cast<std::int32_t>(d.n), perm.data());
    double max_all = -1e300;
    for (std::int64_t f = 0; f < d.features; ++f) {
      // copnorm commutes with the permutation, so permuting raw y is the same null.
      for (std::int64_t t = 0; t < d.n; ++t) y_p[static_cast<std::size_t>(t)] = d.y[static_cast<std::size_t>(f * d.n + perm[static_cast<std::size_t>(t)])];
      double max_f = -1e300;
      for (std::int64_t u = 0; u < d.units; ++u) {
        const double mi = info::gcmi_cc(d.x.data() + u * d.n, 1, y_p.data(), 1, d.n);
        const auto i = static_cast<std::size_t>(u * d.features + f);
        if (mi >= r.mi[i] - 1e-12) ++exceed[i];
        max_f = std::max(max_f, mi);
      }
      EXPECT_NEAR(r.max_null[static_cast<std::size_t>(p * d.features + f)], max_f, 1e-10) << "p=" << p << " f=" << f;
      max_all = std::max(max_all, max_f);
    }
    EXPECT_NEAR(r.max_null_all[static_cast<std::size_t>(p)], max_all, 1e-10) << "p=" << p;
  }
  EXPECT_EQ(r.exceed, exceed);
  EXPECT_DOUBLE_EQ(r.p_value(0, 0), (1.0 + exceed[0]) / 38.0);
}

TEST(AllPairs, NullPValuesAreUniform) {
  // Independent data: 400 pairs, P = 199. Kolmogorov-Smirnov against U(0, 1) at alpha = 0.001.
  const Data d = make_data(100, 4, 120, 4, 0.0);
  info::AllPairsOptions o;
  o.permutations = 199;
  o.permutation_seed = 3;
  const auto r = info::gcmi_cc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.n, o);
  std::vector<double> p;
  for (std::int64_t u = 0; u < d.units; ++u) {
    for (std::int64_t f = 0; f < d.features; ++f) p.push_back(r.p_value(u, f));
  }
  std::sort(p.begin(), p.end());
  double ks = 0;
  const auto m = static_cast<double>(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) {
    ks = std::max({ks, std::fabs((static_cast<double>(i) + 1) / m - p[i]), std::fabs(static_cast<double>(i) / m - p[i])});
  }
  EXPECT_LT(ks, 1.95 / std::sqrt(m)) << "KS distance " << ks;
}

TEST(AllPairs, MaxStatControlsTheFamilyWiseErrorRate) {
  // 300 null datasets of 20 x 2 pairs: the fraction with any p_FWE <= 0.05 must be near 0.05.
  int false_positive_sets = 0;
  const int sets = 300;
  for (int s = 0; s < sets; ++s) {
    const Data d = make_data(20, 2, 60, 1000u + static_cast<unsigned>(s), 0.0);
    info::AllPairsOptions o;
    o.permutations = 99;
    o.permutation_seed = static_cast<std::uint64_t>(s);
    const auto r = info::gcmi_cc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.n, o);
    const auto p_fwe = info::maxstat_p_values(r);
    if (*std::min_element(p_fwe.begin(), p_fwe.end()) <= 0.05) ++false_positive_sets;
  }
  const double rate = static_cast<double>(false_positive_sets) / sets;
  EXPECT_GT(rate, 0.015);
  EXPECT_LT(rate, 0.095);  // 0.05 +- 3.5 binomial SD
}

TEST(AllPairs, StrongCouplingIsSignificantAfterCorrection) {
  const Data d = make_data(30, 3, 300, 5, 1.0);
  info::AllPairsOptions o;
  o.permutations = 99;
  const auto r = info::gcmi_cc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.n, o);
  const auto p_fwe = info::maxstat_p_values(r);
  EXPECT_DOUBLE_EQ(p_fwe[0], 0.01);  // unit 0 is coupled to feature 0: beyond every null maximum
  EXPECT_GT(info::maxstat_threshold(r, 0.05), 0.0);
  EXPECT_LT(info::maxstat_threshold(r, 0.05), r.mi[0]);
}

TEST(AllPairs, BenjaminiHochbergMatchesAWorkedExample) {
  // m = 5: q_i = min over j >= i of p_(j) m / j.
  const std::vector<double> p = {0.01, 0.04, 0.03, 0.20, 0.005};
  const std::vector<double> q = info::fdr_bh(p);
  const std::vector<double> expect = {0.025, 0.05, 0.05, 0.20, 0.025};
  for (std::size_t i = 0; i < p.size(); ++i) EXPECT_NEAR(q[i], expect[i], 1e-15) << i;
}

TEST(AllPairs, BadInputsAreClearErrors) {
  const Data d = make_data(3, 2, 10, 6, 0.0);
  const auto message = [&](auto&& f) {
    try {
      f();
    } catch (const deeper::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message([&] { info::gcmi_cc_all_pairs(d.x.data(), 3, d.y.data(), 2, 2); }).find("more trials"), std::string::npos);
  EXPECT_NE(message([&] { info::gcmi_cc_all_pairs(d.x.data(), 0, d.y.data(), 2, 10); }).find("at least one variable"),
            std::string::npos);
  std::vector<double> x = d.x;
  x[4] = std::nan("");
  EXPECT_FALSE(message([&] { info::gcmi_cc_all_pairs(x.data(), 3, d.y.data(), 2, 10); }).empty());
  info::AllPairsOptions o;
  o.permutations = -1;
  EXPECT_NE(message([&] { info::gcmi_cc_all_pairs(d.x.data(), 3, d.y.data(), 2, 10, o); }).find("negative"), std::string::npos);
}
