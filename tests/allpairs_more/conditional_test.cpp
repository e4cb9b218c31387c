// gccmi_ccd_all_pairs, gccmi_ccc_all_pairs and the co-information engines: equal to the per-pair
// references (ties, K = 2, 5, 40, unbalanced classes, a class of 3 trials), fused statistics equal
// to materialised nulls (within-class permutations of y, plain permutations of y, permutations of
// z), calibrated nulls (KS), and clear errors.
#include "infotheory/allpairs_conditional.h"
#include "kernels/gcmi/permutations.h"
#include "test_data.h"

#include <gtest/gtest.h>

namespace info = deeper::info;
using namespace allpairs_more;

namespace {

// x (U x N) and y (F x N) depend on z (continuous, N) and on the labels; x also on y.
struct CondData {
  std::int64_t units, features, n;
  int classes;
  std::vector<double> x, y, z;
  std::vector<std::int32_t> labels;
};

CondData make_cond(std::int64_t units, std::int64_t features, std::int64_t n, int classes, std::int64_t small,
                   unsigned seed, double xy, double via_z) {
  std::mt19937_64 gen(seed);
  CondData d{units, features, n, classes, normals(units, n, gen), normals(features, n, gen), normals(1, n, gen),
             labels(n, classes, small, gen)};
  for (std::int64_t t = 0; t < n; ++t) {
    const double zt = d.z[static_cast<std::size_t>(t)] + 0.5 * d.labels[static_cast<std::size_t>(t)];
    for (std::int64_t f = 0; f < features; ++f) d.y[static_cast<std::size_t>(f * n + t)] += via_z * zt;
    for (std::int64_t u = 0; u < units; ++u) {
      double& v = d.x[static_cast<std::size_t>(u * n + t)];
      v = std::exp(0.5 * (v + via_z * zt + (u % 2 == 0 ? xy * d.y[static_cast<std::size_t>((u % features) * n + t)] : 0.0)));
    }
  }
  if (units > 1) add_ties(d.x, 1, n);
  return d;
}

const double* row(const std::vector<double>& v, std::int64_t r, std::int64_t n) { return v.data() + r * n; }

// y's rows permuted within the classes as gccmi_ccd_all_pairs documents (permutation p).
std::vector<double> permute_within(const CondData& d, std::uint64_t seed, int p) {
  std::vector<std::vector<std::int64_t>> members(static_cast<std::size_t>(d.classes));
  for (std::int64_t t = 0; t < d.n; ++t) members[static_cast<std::size_t>(d.labels[static_cast<std::size_t>(t)])].push_back(t);
  std::vector<double> y_p = d.y;
  for (int k = 0; k < d.classes; ++k) {
    const auto& m = members[static_cast<std::size_t>(k)];
    std::vector<std::int32_t> perm(m.size());
    deeper::kernels::fisher_yates_permutation(seed, static_cast<std::uint64_t>(p) * d.classes + k, static_cast<std::int32_t>(m.size()),
                                              perm.data());
    for (std::int64_t f = 0; f < d.features; ++f) {
      for (std::size_t s = 0; s < m.size(); ++s) {
        y_p[static_cast<std::size_t>(f * d.n + m[s])] = d.y[static_cast<std::size_t>(f * d.n + m[static_cast<std::size_t>(perm[s])])];
      }
    }
  }
  return y_p;
}

// Plain permutation p of every row of v.
std::vector<double> permute_rows(const std::vector<double>& v, std::int64_t n, std::uint64_t seed, int p) {
  std::vector<std::int32_t> perm(static_cast<std::size_t>(n));
  deeper::kernels::fisher_yates_permutation(seed, static_cast<std::uint64_t>(p), static_cast<std::int32_t>(n), perm.data());
  std::vector<double> out(v.size());
  for (std::size_t r = 0; r < v.size() / static_cast<std::size_t>(n); ++r) {
    for (std::int64_t t = 0; t < n; ++t) out[r * n + t] = v[r * n + perm[static_cast<std::size_t>(t)]];
  }
  return out;
}

// Checks a result's fused statistics against statistic(u, f, p) computed per pair.
template <typename Stat>
void expect_fused_equals_materialised(const info::AllPairsResult& r, Stat&& statistic) {
  std::vector<std::uint32_t> exceed(r.mi.size(), 0u);
  for (int p = 0; p < r.permutations; ++p) {
    double max_all = -1e300;
    for (std::int64_t f = 0; f < r.features; ++f) {
      double max_f = -1e300;
      for (std::int64_t u = 0; u < r.units; ++u) {
        const double t = statistic(u, f, p);
        const auto i = static_cast<std::size_t>(u * r.features + f);
        if (t >= r.mi[i] - 1e-12) ++exceed[i];
        max_f = std::max(max_f, t);
      }
      EXPECT_NEAR(r.max_null[static_cast<std::size_t>(p * r.features + f)], max_f, 1e-10) << "p=" << p << " f=" << f;
      max_all = std::max(max_all, max_f);
    }
    EXPECT_NEAR(r.max_null_all[static_cast<std::size_t>(p)], max_all, 1e-10) << "p=" << p;
  }
  EXPECT_EQ(r.exceed, exceed);
}

}  // namespace

TEST(BatchedCcd, EqualsThePerPairReference) {
  struct Case {
    int classes;
    std::int64_t n, small;
  };
  for (const Case c : {Case{2, 150, 30}, Case{5, 200, 8}, Case{40, 1200, 8}}) {
    const CondData d = make_cond(5, 3, c.n, c.classes, c.small, 7u + static_cast<unsigned>(c.classes), 0.8, 0.7);
    for (auto ties : {info::TiePolicy::stable, info::TiePolicy::jitter, info::TiePolicy::average}) {
      info::AllPairsOptions o;
      o.gcmi.ties = ties;
      o.gcmi.seed = 4;
      const auto r = info::gccmi_ccd_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.labels.data(), d.n, d.classes, o);
      const auto co = info::coinfo_ccd_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.labels.data(), d.n, d.classes, o);
      for (std::int64_t u = 0; u < d.units; ++u) {
        // Jitter keys number the variables (the batch's x row u is variable u, the reference's
        // x is variable 0): they matter only for tied rows, so skip the tied unit 1 under jitter.
        if (ties == info::TiePolicy::jitter && u == 1) continue;
        for (std::int64_t f = 0; f < d.features; ++f) {
          const auto i = static_cast<std::size_t>(u * d.features + f);
          const double* xu = row(d.x, u, d.n);
          const double* yf = row(d.y, f, d.n);
          EXPECT_NEAR(r.mi[i], info::gccmi_ccd(xu, 1, yf, 1, d.labels.data(), d.n, d.classes, o.gcmi), 1e-10)
              << "K=" << c.classes << " " << info::tie_policy_name(ties) << " u=" << u << " f=" << f;
          EXPECT_NEAR(co.mi[i], info::coinfo_ccd(xu, 1, yf, 1, d.labels.data(), d.n, d.classes, o.gcmi), 1e-10);
        }
      }
    }
  }
}

TEST(BatchedCcd, JitterTiesFollowTheVariableNumbering) {
  // Jitter keys: x rows 0..U-1, y rows U..U+F-1. With one variable on each side they are the
  // reference's numbering (x 0, y 1), so the tied unit agrees too.
  const CondData d = make_cond(2, 1, 120, 3, 20, 5, 0.8, 0.5);
  info::AllPairsOptions o;
  o.gcmi.ties = info::TiePolicy::jitter;
  o.gcmi.seed = 9;
  std::vector<double> x1(d.x.begin() + d.n, d.x.end());  // the tied unit alone
  const auto r = info::gccmi_ccd_all_pairs(x1.data(), 1, d.y.data(), 1, d.labels.data(), d.n, d.classes, o);
  EXPECT_NEAR(r.mi[0], info::gccmi_ccd(x1.data(), 1, d.y.data(), 1, d.labels.data(), d.n, d.classes, o.gcmi), 1e-10);
}

TEST(BatchedCcd, WithinClassPermutationsEqualTheMaterialisedNull) {
  const CondData d = make_cond(5, 3, 100, 4, 8, 17, 0.5, 0.8);
  info::AllPairsOptions o;
  o.permutations = 29;
  o.permutation_seed = 8;
  const auto r = info::gccmi_ccd_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.labels.data(), d.n, d.classes, o);
  std::vector<std::vector<double>> y_p;
  for (int p = 0; p < o.permutations; ++p) y_p.push_back(permute_within(d, 8, p));
  expect_fused_equals_materialised(r, [&](std::int64_t u, std::int64_t f, int p) {
    return info::gccmi_ccd(row(d.x, u, d.n), 1, row(y_p[static_cast<std::size_t>(p)], f, d.n), 1, d.labels.data(), d.n, d.classes);
  });
}

TEST(BatchedCcd, OneClassIsPlainCcWithThePlainPermutations) {
  const CondData d = make_cond(6, 2, 80, 2, 40, 19, 0.6, 0.0);
  const std::vector<std::int32_t> one(static_cast<std::size_t>(d.n), 0);
  info::AllPairsOptions o;
  o.permutations = 40;
  o.permutation_seed = 5;
  const auto a = info::gccmi_ccd_all_pairs(d.x.data(), d.units, d.y.data(), d.features, one.data(), d.n, 1, o);
  const auto b = info::gcmi_cc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.n, o);
  for (std::size_t i = 0; i < a.mi.size(); ++i) EXPECT_NEAR(a.mi[i], b.mi[i], 1e-12);
  EXPECT_EQ(a.exceed, b.exceed);
}

TEST(BatchedCcd, WithinClassNullIsCalibratedWhenXAndYShareOnlyTheClass) {
  // 200 independent datasets in which x and y both depend strongly on the class but not on each
  // other given it: I(x;y) > 0, I(x;y|z) = 0. Within-class permutations keep the class effect, so
  // the p-values are uniform (KS; one pair per dataset, so that they are independent).
  std::vector<double> p;
  for (unsigned s = 0; s < 200; ++s) {
    std::mt19937_64 gen(500 + s);
    const std::int64_t n = 60;
    std::vector<double> x = normals(1, n, gen), y = normals(1, n, gen);
    const std::vector<std::int32_t> l = labels(n, 3, 15, gen);
    for (std::int64_t t = 0; t < n; ++t) {
      x[static_cast<std::size_t>(t)] += 1.5 * l[static_cast<std::size_t>(t)];
      y[static_cast<std::size_t>(t)] += 1.5 * l[static_cast<std::size_t>(t)];
    }
    info::AllPairsOptions o;
    o.permutations = 99;
    o.permutation_seed = s;
    p.push_back(info::gccmi_ccd_all_pairs(x.data(), 1, y.data(), 1, l.data(), n, 3, o).p_value(0, 0));
    if (s == 0) {
      EXPECT_GT(info::gcmi_cc(x.data(), 1, y.data(), 1, n), 0.1);  // the class effect is strong
    }
  }
  EXPECT_LT(ks_uniform(p), 1.95 / std::sqrt(static_cast<double>(p.size())));
}

TEST(BatchedCcc, EqualsThePerPairReferenceAndItsBias) {
  const CondData d = make_cond(7, 3, 1000, 2, 300, 29, 0.8, 0.9);
  for (auto ties : {info::TiePolicy::stable, info::TiePolicy::average}) {
    info::AllPairsOptions o;
    o.gcmi.ties = ties;
    const auto r = info::gccmi_ccc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, o);
    const auto co = info::coinfo_ccc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, o);
    for (std::int64_t u = 0; u < d.units; ++u) {
      for (std::int64_t f = 0; f < d.features; ++f) {
        const auto i = static_cast<std::size_t>(u * d.features + f);
        EXPECT_NEAR(r.mi[i], info::gccmi_ccc(row(d.x, u, d.n), 1, row(d.y, f, d.n), 1, d.z.data(), 1, d.n, o.gcmi), 1e-10);
        EXPECT_NEAR(co.mi[i], info::coinfo_ccc(row(d.x, u, d.n), 1, row(d.y, f, d.n), 1, d.z.data(), 1, d.n, o.gcmi), 1e-10);
      }
    }
  }
  info::AllPairsOptions plugin;
  plugin.gcmi.bias_correct = false;
  const auto a = info::gccmi_ccc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n);
  const auto b = info::gccmi_ccc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, plugin);
  EXPECT_NEAR(b.mi[0] - a.mi[0], 7.238809e-04, 1e-9);  // gcmi.md §12: ccc bias (1,1,1) at N = 1000
}

TEST(BatchedCcc, PermutationsOfYEqualTheMaterialisedNull) {
  const CondData d = make_cond(4, 3, 90, 2, 30, 31, 0.6, 0.8);
  info::AllPairsOptions o;
  o.permutations = 23;
  o.permutation_seed = 6;
  const auto r = info::gccmi_ccc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, o);
  std::vector<std::vector<double>> y_p;
  for (int p = 0; p < o.permutations; ++p) y_p.push_back(permute_rows(d.y, d.n, 6, p));
  expect_fused_equals_materialised(r, [&](std::int64_t u, std::int64_t f, int p) {
    return info::gccmi_ccc(row(d.x, u, d.n), 1, row(y_p[static_cast<std::size_t>(p)], f, d.n), 1, d.z.data(), 1, d.n);
  });
}

TEST(BatchedCoinfo, PermutationsOfZEqualTheMaterialisedNull) {
  const CondData d = make_cond(4, 3, 90, 2, 30, 37, 0.6, 0.8);
  info::AllPairsOptions o;
  o.permutations = 70;  // more than one batch of z permutations
  o.permutation_seed = 12;
  const auto r = info::coinfo_ccc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, o);
  std::vector<std::vector<double>> z_p;
  for (int p = 0; p < o.permutations; ++p) z_p.push_back(permute_rows(d.z, d.n, 12, p));
  expect_fused_equals_materialised(r, [&](std::int64_t u, std::int64_t f, int p) {
    return info::coinfo_ccc(row(d.x, u, d.n), 1, row(d.y, f, d.n), 1, z_p[static_cast<std::size_t>(p)].data(), 1, d.n);
  });
}

TEST(BatchedCoinfo, ZPermutationNullIsCalibratedUnderStrongXYDependence) {
  // 200 independent datasets: x depends strongly on y, z on neither (coI = 0). The z-permutation
  // p-values are uniform (KS; one pair per dataset).
  std::vector<double> p;
  for (unsigned s = 0; s < 200; ++s) {
    const CondData d = make_cond(1, 1, 60, 2, 30, 900 + s, 1.5, 0.0);
    info::AllPairsOptions o;
    o.permutations = 99;
    o.permutation_seed = s;
    p.push_back(info::coinfo_ccc_all_pairs(d.x.data(), 1, d.y.data(), 1, d.z.data(), d.n, o).p_value(0, 0));
  }
  EXPECT_LT(ks_uniform(p), 1.95 / std::sqrt(static_cast<double>(p.size())));
}

TEST(BatchedConditional, BadInputsAreClearErrors) {
  CondData d = make_cond(3, 2, 40, 3, 10, 43, 0.0, 0.0);
  std::vector<std::int32_t> two = d.labels;
  std::fill(two.begin(), two.end(), 0);
  two[3] = two[7] = 1;  // class 1 has 2 trials: ccd needs N_k > 2
  const auto ccd = [&](const std::vector<std::int32_t>& l, int k, info::AllPairsOptions o = {}) {
    return error_of([&] { info::gccmi_ccd_all_pairs(d.x.data(), d.units, d.y.data(), d.features, l.data(), d.n, k, o); });
  };
  EXPECT_NE(ccd(two, 2).find("class 1 has only N_k = 2"), std::string::npos) << ccd(two, 2);
  EXPECT_NE(ccd(two, 3).find("class 2 is empty"), std::string::npos) << ccd(two, 3);
  info::AllPairsOptions perm;
  perm.permutations = 5;
  EXPECT_NE(error_of([&] {
              info::coinfo_ccd_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.labels.data(), d.n, d.classes, perm);
            }).find("not implemented"),
            std::string::npos);
  EXPECT_NE(error_of([&] { info::gccmi_ccc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.z.data(), 3); })
                .find("more trials"),
            std::string::npos);
  std::vector<double> copy_of_z(d.x);
  std::copy(d.z.begin(), d.z.end(), copy_of_z.begin() + d.n);  // x variable 1 is z
  EXPECT_NE(error_of([&] { info::gccmi_ccc_all_pairs(copy_of_z.data(), d.units, d.y.data(), d.features, d.z.data(), d.n); })
                .find("x variable 1"),
            std::string::npos);
  d.y[1 * d.n + 9] = INFINITY;
  EXPECT_NE(ccd(d.labels, d.classes).find("y: non-finite value (inf) in variable 1, trial 9"), std::string::npos)
      << ccd(d.labels, d.classes);
}
