// gcmi_model_cd_batched: equal to the per-variable gcmi_model_cd for both class-sum methods (ties,
// K = 2, 5, 40, unbalanced classes, a class of 2 trials), fused label-permutation statistics equal
// to a materialised null, uniform null p-values, and clear errors.
#include "infotheory/allpairs_cd.h"
#include "kernels/gcmi/permutations.h"
#include "test_data.h"

#include <gtest/gtest.h>

namespace info = deeper::info;
using namespace allpairs_more;

namespace {

struct CdData {
  std::int64_t units, n;
  int classes;
  std::vector<double> x;
  std::vector<std::int32_t> labels;
};

// Units 0, 2, 4, ... shift with the label (mean and spread); unit 1 has ties.
CdData make_cd(std::int64_t units, std::int64_t n, int classes, std::int64_t small, unsigned seed, double effect) {
  std::mt19937_64 gen(seed);
  CdData d{units, n, classes, normals(units, n, gen), labels(n, classes, small, gen)};
  for (std::int64_t u = 0; u < units; u += 2) {
    for (std::int64_t t = 0; t < n; ++t) {
      const double k = d.labels[static_cast<std::size_t>(t)];
      double& v = d.x[static_cast<std::size_t>(u * n + t)];
      v = std::exp(effect * k * 0.3 + v * (1.0 + 0.1 * effect * k));
    }
  }
  if (units > 1) add_ties(d.x, 1, n);
  return d;
}

const info::ClassSums kMethods[] = {info::ClassSums::one_hot_gemm, info::ClassSums::segmented};

}  // namespace

TEST(BatchedCd, EqualsThePerVariableReference) {
  struct Case {
    int classes;
    std::int64_t n, small;
  };
  for (const Case c : {Case{2, 150, 40}, Case{5, 200, 2}, Case{40, 400, 2}}) {
    const CdData d = make_cd(7, c.n, c.classes, c.small, 11u + static_cast<unsigned>(c.classes), 1.0);
    for (auto ties : {info::TiePolicy::stable, info::TiePolicy::jitter, info::TiePolicy::average}) {
      for (const auto method : kMethods) {
        info::AllPairsOptions o;
        o.gcmi.ties = ties;
        o.gcmi.seed = 3;
        o.gcmi.bias_correct = ties != info::TiePolicy::average;  // and once without the correction
        const auto r = info::gcmi_model_cd_batched(d.x.data(), d.units, d.labels.data(), d.n, d.classes, o, method);
        ASSERT_EQ(r.mi.size(), static_cast<std::size_t>(d.units));
        for (std::int64_t u = 0; u < d.units; ++u) {
          // Jitter keys number the variables: the batch's unit u is the reference's variable 0,
          // so compare jitter on unit 0 and on tie-free units.
          if (ties == info::TiePolicy::jitter && u == 1) continue;
          const double expect = info::gcmi_model_cd(d.x.data() + u * d.n, 1, d.labels.data(), d.n, d.classes, o.gcmi);
          EXPECT_NEAR(r.mi[static_cast<std::size_t>(u)], expect, 1e-10)
              << "K=" << c.classes << " " << info::tie_policy_name(ties) << " method " << static_cast<int>(method) << " u=" << u;
        }
        EXPECT_GT(r.tie_fraction_x[1], 0.3);
      }
    }
  }
}

TEST(BatchedCd, Float32GemmIsWithinItsRoundingOfFloat64) {
  const CdData d = make_cd(20, 500, 3, 100, 5, 0.5);
  info::AllPairsOptions o32;
  o32.precision = info::GemmPrecision::f32;
  const auto a = info::gcmi_model_cd_batched(d.x.data(), d.units, d.labels.data(), d.n, d.classes, {}, kMethods[0]);
  const auto b = info::gcmi_model_cd_batched(d.x.data(), d.units, d.labels.data(), d.n, d.classes, o32, kMethods[0]);
  double worst = 0;
  for (std::size_t i = 0; i < a.mi.size(); ++i) worst = std::max(worst, std::fabs(a.mi[i] - b.mi[i]));
  EXPECT_LT(worst, 1e-5);
  EXPECT_GT(worst, 0.0);
}

TEST(BatchedCd, FusedPermutationStatisticsEqualTheMaterialisedNull) {
  const CdData d = make_cd(6, 90, 4, 5, 21, 0.4);
  for (const auto method : kMethods) {
    info::AllPairsOptions o;
    o.permutations = 37;  // not a multiple of either batch
    o.permutation_seed = 13;
    const auto r = info::gcmi_model_cd_batched(d.x.data(), d.units, d.labels.data(), d.n, d.classes, o, method);
    ASSERT_EQ(r.features, 1);
    std::vector<std::uint32_t> exceed(static_cast<std::size_t>(d.units), 0u);
    std::vector<std::int32_t> perm(static_cast<std::size_t>(d.n)), lab(static_cast<std::size_t>(d.n));
    for (int p = 0; p < o.permutations; ++p) {
      deeper::kernels::fisher_yates_permutation(13, static_cast<std::uint64_t>(p), static_cast<std::int32_t>(d.n), perm.data());
      for (std::int64_t t = 0; t < d.n; ++t) lab[static_cast<std::size_t>(t)] = d.labels[static_cast<std::size_t>(perm[static_cast<std::size_t>(t)])];
      double max_all = -1e300;
      for (std::int64_t u = 0; u < d.units; ++u) {
        const double mi = info::gcmi_model_cd(d.x.data() + u * d.n, 1, lab.data(), d.n, d.classes);
        if (mi >= r.mi[static_cast<std::size_t>(u)] - 1e-12) ++exceed[static_cast<std::size_t>(u)];
        max_all = std::max(max_all, mi);
      }
      EXPECT_NEAR(r.max_null_all[static_cast<std::size_t>(p)], max_all, 1e-10) << "p=" << p;
      EXPECT_EQ(r.max_null[static_cast<std::size_t>(p)], r.max_null_all[static_cast<std::size_t>(p)]);
    }
    EXPECT_EQ(r.exceed, exceed) << static_cast<int>(method);
    EXPECT_DOUBLE_EQ(r.p_value(0, 0), (1.0 + exceed[0]) / 38.0);
    EXPECT_EQ(info::maxstat_p_values(r).size(), static_cast<std::size_t>(d.units));
  }
}

TEST(BatchedCd, NullPValuesAreUniformAndMaxStatFindsTheEffect) {
  CdData d = make_cd(400, 120, 3, 30, 31, 0.0);  // effect 0: every unit independent of the labels
  info::AllPairsOptions o;
  o.permutations = 199;
  o.permutation_seed = 2;
  const auto r = info::gcmi_model_cd_batched(d.x.data(), d.units, d.labels.data(), d.n, d.classes, o);
  std::vector<double> p;
  for (std::int64_t u = 0; u < d.units; ++u) p.push_back(r.p_value(u, 0));
  EXPECT_LT(ks_uniform(p), 1.95 / std::sqrt(static_cast<double>(p.size())));
  // A strong effect in unit 0 is beyond every null maximum.
  for (std::int64_t t = 0; t < d.n; ++t) d.x[static_cast<std::size_t>(t)] += 2.0 * d.labels[static_cast<std::size_t>(t)];
  const auto s = info::gcmi_model_cd_batched(d.x.data(), d.units, d.labels.data(), d.n, d.classes, o, info::ClassSums::segmented);
  EXPECT_DOUBLE_EQ(info::maxstat_p_values(s)[0], 1.0 / 200.0);
}

TEST(BatchedCd, BadInputsAreClearErrors) {
  CdData d = make_cd(3, 30, 3, 10, 41, 0.0);
  const auto call = [&](const std::vector<std::int32_t>& labels, int classes, info::AllPairsOptions o = {}) {
    return error_of([&] { info::gcmi_model_cd_batched(d.x.data(), d.units, labels.data(), d.n, classes, o); });
  };
  std::vector<std::int32_t> gap(static_cast<std::size_t>(d.n), 0);
  gap[0] = 2;
  EXPECT_NE(call(gap, 3).find("class 1 is empty"), std::string::npos) << call(gap, 3);
  std::vector<std::int32_t> lonely(static_cast<std::size_t>(d.n), 0);
  lonely[5] = 1;
  EXPECT_NE(call(lonely, 2).find("class 1 has only N_k = 1"), std::string::npos) << call(lonely, 2);
  std::vector<std::int32_t> out_of_range = d.labels;
  out_of_range[4] = 7;
  EXPECT_NE(call(out_of_range, 3).find("out of range"), std::string::npos);
  info::AllPairsOptions bf16;
  bf16.precision = info::GemmPrecision::bf16;
  EXPECT_NE(call(d.labels, 3, bf16).find("bf16"), std::string::npos);
  d.x[2 * d.n + 4] = std::nan("");
  EXPECT_NE(call(d.labels, 3).find("variable 2, trial 4"), std::string::npos) << call(d.labels, 3);
}
