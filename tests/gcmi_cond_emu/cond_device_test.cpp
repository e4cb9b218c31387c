// The device paths of ccc, co-information (continuous z) and model cd on the emulator equal the
// fp64 CPU engines within fp32 / bf16 rounding, with the same permutation statistics; their
// kernels (kernels/gcmi/conditional.h, the allpairs extras) equal the cpu reference; bad input is
// a clear error.
#include "infotheory/allpairs_cond_device.h"
#include "kernels/emu/emulator.h"
#include "kernels/gcmi/allpairs.h"
#include "kernels/gcmi/conditional.h"
#include "kernels/gcmi/permutations.h"

#include "core/error.h"

#include <gtest/gtest.h>

#include "tests/gcmi_cond_emu/cond_test_data.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <tuple>
#include <vector>

namespace info = deeper::info;
namespace kernels = deeper::kernels;

namespace {

const deeper::Device kEmu{deeper::Backend::emu, 0};
const deeper::Device kCpu = deeper::Device::cpu();

using Data = deeper::test::CondData;

// z drives some y and some x, y drives some x: conditioning changes the MI.
Data make_data(std::int64_t units, std::int64_t features, std::int64_t n, unsigned seed) {
  return deeper::test::cond_data(units, features, n, seed);
}

std::vector<std::int32_t> make_labels(std::int64_t n, int classes, unsigned seed) {
  std::mt19937_64 gen(seed);
  std::vector<std::int32_t> labels(static_cast<std::size_t>(n));
  for (std::int64_t t = 0; t < n; ++t) labels[static_cast<std::size_t>(t)] = static_cast<std::int32_t>(t % classes);
  std::shuffle(labels.begin(), labels.end(), gen);
  return labels;
}

// Units whose x depends on the labels (class means differ).
std::vector<double> make_cd_x(std::int64_t units, const std::vector<std::int32_t>& labels, unsigned seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal;
  const auto n = static_cast<std::int64_t>(labels.size());
  std::vector<double> x(static_cast<std::size_t>(units * n));
  for (std::int64_t u = 0; u < units; ++u) {
    for (std::int64_t t = 0; t < n; ++t) {
      const double signal = u % 3 == 0 ? 0.8 * labels[static_cast<std::size_t>(t)] : 0.0;
      x[static_cast<std::size_t>(u * n + t)] = signal + normal(gen);
    }
  }
  return x;
}

// The device result equals the CPU one: MI within tol bits, maxima within tol, exceedance counts
// equal except (by at most 1) for at most `mismatches` pairs, where a null statistic ties the
// observed one within rounding.
void expect_same(const info::AllPairsResult& cpu, const info::AllPairsResult& dev, double tol, std::size_t mismatches) {
  ASSERT_EQ(dev.mi.size(), cpu.mi.size());
  for (std::size_t i = 0; i < cpu.mi.size(); ++i) EXPECT_NEAR(dev.mi[i], cpu.mi[i], tol) << "pair " << i;
  ASSERT_EQ(dev.exceed.size(), cpu.exceed.size());
  std::size_t differ = 0;
  for (std::size_t i = 0; i < cpu.exceed.size(); ++i) {
    const auto a = static_cast<std::int64_t>(dev.exceed[i]), b = static_cast<std::int64_t>(cpu.exceed[i]);
    EXPECT_LE(std::abs(a - b), 1) << "pair " << i;
    differ += a != b;
  }
  EXPECT_LE(differ, mismatches);
  ASSERT_EQ(dev.max_null.size(), cpu.max_null.size());
  for (std::size_t i = 0; i < cpu.max_null.size(); ++i) EXPECT_NEAR(dev.max_null[i], cpu.max_null[i], tol) << i;
  ASSERT_EQ(dev.max_null_all.size(), cpu.max_null_all.size());
  for (std::size_t i = 0; i < cpu.max_null_all.size(); ++i) EXPECT_NEAR(dev.max_null_all[i], cpu.max_null_all[i], tol);
}

template <typename F>
void expect_error(F&& f, const std::string& words) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one containing '" << words << "'";
  } catch (const deeper::Error& e) {
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(CondDeviceOnTheEmulator, CccMatchesTheCpuEngine) {
  const Data d = make_data(24, 4, 80, 1);
  info::AllPairsOptions o;
  o.permutations = 10;
  o.permutation_seed = 9;
  const auto cpu = info::gccmi_ccc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, o);
  // The conditioning matters here: ccc differs from cc for the z-driven pairs.
  const auto cc = info::gcmi_cc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.n, {});
  double largest_change = 0;
  for (std::size_t i = 0; i < cpu.mi.size(); ++i) largest_change = std::max(largest_change, std::abs(cc.mi[i] - cpu.mi[i]));
  EXPECT_GT(largest_change, 0.05);
  for (auto precision : {info::GemmPrecision::f32, info::GemmPrecision::bf16}) {
    SCOPED_TRACE(precision == info::GemmPrecision::f32 ? "f32" : "bf16");
    o.precision = precision;
    const auto emu = info::gccmi_ccc_all_pairs(kEmu, d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, o);
    const bool f32 = precision == info::GemmPrecision::f32;
    expect_same(cpu, emu, f32 ? 2e-5 : 2e-2, f32 ? 1 : cpu.mi.size() / 5);
    EXPECT_EQ(emu.tie_fraction_x, cpu.tie_fraction_x);
    EXPECT_EQ(emu.tie_fraction_y, cpu.tie_fraction_y);
  }
}

TEST(CondDeviceOnTheEmulator, CoinfoMatchesTheCpuEngine) {
  const Data d = make_data(20, 3, 72, 2);
  info::AllPairsOptions o;
  o.permutations = 10;
  o.permutation_seed = 5;
  const auto cpu = info::coinfo_ccc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, o);
  for (auto precision : {info::GemmPrecision::f32, info::GemmPrecision::bf16}) {
    SCOPED_TRACE(precision == info::GemmPrecision::f32 ? "f32" : "bf16");
    o.precision = precision;
    const auto emu = info::coinfo_ccc_all_pairs(kEmu, d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, o);
    const bool f32 = precision == info::GemmPrecision::f32;
    expect_same(cpu, emu, f32 ? 2e-5 : 2e-2, f32 ? 1 : cpu.mi.size() / 5);
  }
  // Without permutations: only the co-information.
  o.permutations = 0;
  o.precision = info::GemmPrecision::f32;
  const auto plain = info::coinfo_ccc_all_pairs(kEmu, d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, o);
  EXPECT_TRUE(plain.exceed.empty());
  for (std::size_t i = 0; i < cpu.mi.size(); ++i) EXPECT_NEAR(plain.mi[i], cpu.mi[i], 2e-5);
}

TEST(CondDeviceOnTheEmulator, ModelCdMatchesTheCpuEngine) {
  const std::int64_t units = 24, n = 90;
  const auto labels = make_labels(n, 3, 3);
  const auto x = make_cd_x(units, labels, 4);
  info::AllPairsOptions o;
  o.permutations = 10;
  o.permutation_seed = 2;
  const auto cpu = info::gcmi_model_cd_batched(x.data(), units, labels.data(), n, 3, o);
  for (auto precision : {info::GemmPrecision::f32, info::GemmPrecision::bf16}) {
    SCOPED_TRACE(precision == info::GemmPrecision::f32 ? "f32" : "bf16");
    o.precision = precision;
    const auto emu = info::gcmi_model_cd_batched(kEmu, x.data(), units, labels.data(), n, 3, o);
    const bool f32 = precision == info::GemmPrecision::f32;
    expect_same(cpu, emu, f32 ? 2e-5 : 2e-2, f32 ? 1 : cpu.mi.size() / 5);
    EXPECT_EQ(emu.tie_fraction_x, cpu.tie_fraction_x);
    EXPECT_EQ(emu.features, 1);
  }
}

TEST(CondDeviceOnTheEmulator, JitterTiesAndNoBiasLikeTheCpuEngines) {
  Data d = make_data(6, 2, 64, 5);
  for (std::int64_t t = 0; t < d.n; t += 2) d.x[static_cast<std::size_t>(t)] = 0.0;  // ReLU-like unit 0
  for (std::int64_t t = 0; t < d.n; t += 3) d.z[static_cast<std::size_t>(t)] = 0.0;
  info::AllPairsOptions o;
  o.gcmi.ties = info::TiePolicy::jitter;
  o.gcmi.seed = 17;
  o.gcmi.bias_correct = false;
  o.permutations = 4;
  const auto ccc = info::gccmi_ccc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, o);
  const auto coi = info::coinfo_ccc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, o);
  const auto labels = make_labels(d.n, 2, 6);
  const auto cd = info::gcmi_model_cd_batched(d.x.data(), d.units, labels.data(), d.n, 2, o);
  o.precision = info::GemmPrecision::f32;
  expect_same(ccc, info::gccmi_ccc_all_pairs(kEmu, d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, o), 2e-5, 1);
  expect_same(coi, info::coinfo_ccc_all_pairs(kEmu, d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, o), 2e-5, 1);
  const auto cd_emu = info::gcmi_model_cd_batched(kEmu, d.x.data(), d.units, labels.data(), d.n, 2, o);
  expect_same(cd, cd_emu, 2e-5, 1);
  EXPECT_NEAR(cd_emu.tie_fraction_x[0], 31.0 / 64.0, 1e-12);
}

TEST(CondDeviceOnTheEmulator, CpuDeviceRunsTheCpuEngines) {
  const Data d = make_data(5, 2, 30, 7);
  info::AllPairsOptions o;
  o.permutations = 3;
  const auto a = info::gccmi_ccc_all_pairs(kCpu, d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, o);
  const auto b = info::gccmi_ccc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, o);
  EXPECT_EQ(a.mi, b.mi);
  EXPECT_EQ(a.exceed, b.exceed);
}

TEST(CondDeviceOnTheEmulator, BadInputIsAClearError) {
  Data d = make_data(4, 2, 40, 8);
  info::AllPairsOptions o;  // f64: CPU only
  const auto ccc = [&](const info::AllPairsOptions& opt) {
    info::gccmi_ccc_all_pairs(kEmu, d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, opt);
  };
  expect_error([&] { ccc(o); }, "precision f64 runs on the CPU backend");
  o.precision = info::GemmPrecision::f32;
  o.gcmi.ties = info::TiePolicy::average;
  expect_error([&] { ccc(o); }, "--ties average runs on the CPU backend only");
  o.gcmi.ties = info::TiePolicy::stable;
  expect_error([&] { info::coinfo_ccc_all_pairs(kEmu, nullptr, 4, d.y.data(), 2, d.z.data(), 40, o); }, "null data pointer");
  expect_error([&] { info::gccmi_ccc_all_pairs(kEmu, d.x.data(), 4, d.y.data(), 2, d.z.data(), 3, o); },
               "needs more trials than the joint dimension 3");
  // x variable 2 is z itself; y variable 1 is 2 z.
  Data copy = d;
  std::copy(d.z.begin(), d.z.end(), copy.x.begin() + 2 * d.n);
  expect_error([&] { info::gccmi_ccc_all_pairs(kEmu, copy.x.data(), 4, copy.y.data(), 2, copy.z.data(), 40, o); },
               "x variable 2 is (numerically) a copy of z");
  expect_error([&] { info::coinfo_ccc_all_pairs(kEmu, copy.x.data(), 4, copy.y.data(), 2, copy.z.data(), 40, o); },
               "x variable 2 is (numerically) a copy of z");
  copy = d;
  for (std::int64_t t = 0; t < d.n; ++t) copy.y[static_cast<std::size_t>(d.n + t)] = 2.0 * d.z[static_cast<std::size_t>(t)];
  expect_error([&] { info::gccmi_ccc_all_pairs(kEmu, copy.x.data(), 4, copy.y.data(), 2, copy.z.data(), 40, o); },
               "y variable 1 is (numerically) a copy of z");
  copy = d;
  copy.y[5] = std::nan("");
  expect_error([&] { info::gccmi_ccc_all_pairs(kEmu, copy.x.data(), 4, copy.y.data(), 2, copy.z.data(), 40, o); },
               "non-finite value");
  copy.y[5] = 1e300;  // finite in fp64, not in fp32
  expect_error([&] { info::gccmi_ccc_all_pairs(kEmu, copy.x.data(), 4, copy.y.data(), 2, copy.z.data(), 40, o); },
               "y variable 0 is not finite in fp32");
  // model cd: labels out of range, a class of one trial, too many classes for the kernel.
  auto labels = make_labels(d.n, 2, 1);
  const auto cd = [&](const std::vector<std::int32_t>& l, int k) {
    info::gcmi_model_cd_batched(kEmu, d.x.data(), d.units, l.data(), d.n, k, o);
  };
  labels[3] = 7;
  expect_error([&] { cd(labels, 2); }, "labels");
  std::vector<std::int32_t> one(static_cast<std::size_t>(d.n), 0);
  one[0] = 1;
  expect_error([&] { cd(one, 2); }, "gcmi_model_cd_batched");
  std::vector<std::int32_t> many(static_cast<std::size_t>(70 * 2));
  for (std::size_t t = 0; t < many.size(); ++t) many[t] = static_cast<std::int32_t>(t % 70);
  std::vector<double> x(many.size() * 2, 0.0);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(static_cast<double>(i));
  expect_error([&] { info::gcmi_model_cd_batched(kEmu, x.data(), 2, many.data(), 140, 70, o); },
               "70 classes is more than the device kernel's 64");
  expect_error([&] { info::gcmi_model_cd_batched(kEmu, d.x.data(), d.units, nullptr, d.n, 2, o); }, "labels");
}

TEST(CondKernelsOnTheEmulator, AllPairsExtrasMatchTheCpuAndAreOffByDefault) {
  const std::int64_t U = 9, F = 5, N = 40, P = 6;
  std::mt19937_64 gen(11);
  std::normal_distribution<float> normal;
  std::vector<float> zx(U * N), zy(F * N), scale_obs(F), scale_perm(P * F);
  for (auto& v : zx) v = normal(gen);
  for (auto& v : zy) v = normal(gen);
  std::uniform_real_distribution<float> uniform(1.0f, 3.0f);
  for (auto& v : scale_obs) v = uniform(gen);
  for (auto& v : scale_perm) v = uniform(gen);
  std::vector<std::int32_t> perms(P * N);
  kernels::make_permutations(3, 0, P, N, perms.data());
  struct Out {
    std::vector<float> mi, r2, r, max_pf, max_p;
    std::vector<std::uint32_t> exceed;
  };
  const auto run = [&](const deeper::Device& dev, bool extras) {
    Out o{std::vector<float>(U * F), std::vector<float>(U * F), std::vector<float>(U * F), std::vector<float>(P * F),
          std::vector<float>(P), std::vector<std::uint32_t>(U * F)};
    kernels::AllPairsParams a;
    a.zx = zx.data();
    a.zy = zy.data();
    a.units = U;
    a.features = F;
    a.n = N;
    a.s_n = 30.0;
    a.bias = 0.01;
    a.mi = o.mi.data();
    a.r2 = o.r2.data();
    a.perms = perms.data();
    a.n_perms = P;
    a.exceed = o.exceed.data();
    a.max_r2_pf = o.max_pf.data();
    a.max_r2_p = o.max_p.data();
    if (extras) {
      a.r = o.r.data();
      a.scale_obs = scale_obs.data();
      a.scale_perm = scale_perm.data();
    }
    kernels::allpairs_mi(dev, a);
    return o;
  };
  const Out cpu = run(kCpu, true), emu = run(kEmu, true), plain = run(kEmu, false);
  for (std::int64_t i = 0; i < U * F; ++i) {
    const auto k = static_cast<std::size_t>(i);
    EXPECT_NEAR(emu.r[k], cpu.r[k], 1e-6);
    EXPECT_NEAR(emu.r2[k], cpu.r2[k], 1e-6);
    EXPECT_NEAR(emu.mi[k], cpu.mi[k], 1e-5);
    // r2 = r² times the feature's scale (clamped), and r is the plain run's correlation.
    const float r = emu.r[k];
    EXPECT_NEAR(emu.r2[k], std::min(r * r * scale_obs[static_cast<std::size_t>(i % F)], kernels::kAllPairsMaxR2), 1e-6);
    EXPECT_NEAR(plain.r2[k], r * r, 1e-6);
    EXPECT_LE(std::abs(static_cast<int>(emu.exceed[k]) - static_cast<int>(cpu.exceed[k])), 1);
  }
  for (std::size_t i = 0; i < cpu.max_pf.size(); ++i) EXPECT_NEAR(emu.max_pf[i], cpu.max_pf[i], 1e-6);
  // The scales change the statistics: the scaled maxima are larger than the plain ones.
  for (std::size_t i = 0; i < cpu.max_p.size(); ++i) EXPECT_GT(emu.max_p[i], plain.max_p[i]);
  EXPECT_EQ(plain.r, std::vector<float>(U * F, 0.0f));  // r stays unwritten when not asked for
}

TEST(CondKernelsOnTheEmulator, CoinfoNullAndCdModelMatchTheCpuReference) {
  // coinfo_null on random correlations.
  const std::int64_t U = 300, F = 2, P = 5, Q = P + 1;
  std::mt19937_64 gen(13);
  std::uniform_real_distribution<float> r(-0.6f, 0.6f);
  std::vector<float> rxy(U * F), rxz(U * Q), ryz(Q * F);
  for (auto& v : rxy) v = r(gen);
  for (auto& v : rxz) v = r(gen);
  for (auto& v : ryz) v = r(gen);
  const auto run_coinfo = [&](const deeper::Device& dev) {
    std::vector<float> coi(U * F);
    std::vector<std::uint32_t> exceed(U * F), max_pf(P * F), max_p(P);
    kernels::CoinfoNullParams k;
    k.rxy = rxy.data();
    k.rxz = rxz.data();
    k.ryz = ryz.data();
    k.units = U;
    k.features = F;
    k.n_perms = P;
    k.bias_mi = 0.01;
    k.bias_cmi = 0.02;
    k.coi = coi.data();
    k.exceed = exceed.data();
    k.max_pf_key = max_pf.data();
    k.max_p_key = max_p.data();
    kernels::coinfo_null(dev, k);
    return std::make_tuple(coi, exceed, max_pf, max_p);
  };
  const auto [coi_c, ex_c, mpf_c, mp_c] = run_coinfo(kCpu);
  const auto [coi_e, ex_e, mpf_e, mp_e] = run_coinfo(kEmu);
  EXPECT_EQ(coi_e, coi_c);  // the same fp32 expression everywhere
  EXPECT_EQ(ex_e, ex_c);
  EXPECT_EQ(mpf_e, mpf_c);
  EXPECT_EQ(mp_e, mp_c);
  // Spot check against the definition.
  const float v = kernels::coinfo_value(rxy[0], rxz[0], ryz[0], 0.01f, 0.02f);
  const double rho = (rxy[0] - static_cast<double>(rxz[0]) * ryz[0]) /
                     std::sqrt((1.0 - static_cast<double>(rxz[0]) * rxz[0]) * (1.0 - static_cast<double>(ryz[0]) * ryz[0]));
  const double expected = (-0.5 * std::log2(1.0 - static_cast<double>(rxy[0]) * rxy[0]) - 0.01) -
                          (-0.5 * std::log2(1.0 - rho * rho) - 0.02);
  EXPECT_NEAR(v, expected, 1e-6);
  EXPECT_EQ(kernels::cond_key_value(kernels::cond_key(-2.5f)), -2.5f);
  EXPECT_LT(kernels::cond_key(-3.0f), kernels::cond_key(-2.5f));
  EXPECT_LT(kernels::cond_key(-0.0f), kernels::cond_key(1e-30f));

  // cd_model on random data with K = 3 and 4 labellings.
  const std::int64_t units = 40, n = 50, perms = 3, q_count = perms + 1;
  std::normal_distribution<float> normal;
  std::vector<float> z(units * n);
  for (auto& x : z) x = normal(gen);
  std::vector<std::int32_t> labels(n * q_count), counts{17, 17, 16};
  for (std::int64_t q = 0; q < q_count; ++q) {
    std::vector<std::int32_t> l(n);
    for (std::int64_t t = 0; t < n; ++t) l[t] = static_cast<std::int32_t>(t % 3);
    std::shuffle(l.begin(), l.end(), gen);
    for (std::int64_t t = 0; t < n; ++t) labels[t * q_count + q] = l[t];
  }
  const auto run_cd = [&](const deeper::Device& dev) {
    std::vector<float> mi(units);
    std::vector<std::uint32_t> exceed(units), max_key(perms);
    kernels::CdModelParams k;
    k.z = z.data();
    k.labels = labels.data();
    k.counts = counts.data();
    k.units = units;
    k.n = n;
    k.n_perms = perms;
    k.classes = 3;
    k.s_n = 49.0;
    k.constant = 0.003;
    k.mi = mi.data();
    k.exceed = exceed.data();
    k.max_key = max_key.data();
    kernels::cd_model(dev, k, kernels::CdPass::observed);
    kernels::cd_model(dev, k, kernels::CdPass::permuted);
    return std::make_tuple(mi, exceed, max_key);
  };
  const auto [mi_c, cex_c, max_c] = run_cd(kCpu);
  const auto [mi_e, cex_e, max_e] = run_cd(kEmu);
  for (std::int64_t u = 0; u < units; ++u) EXPECT_NEAR(mi_e[u], mi_c[u], 1e-6);
  for (std::int64_t u = 0; u < units; ++u) EXPECT_LE(std::abs(static_cast<int>(cex_e[u]) - static_cast<int>(cex_c[u])), 1);
  for (std::int64_t p = 0; p < perms; ++p) {
    EXPECT_NEAR(kernels::cond_key_value(max_e[p]), kernels::cond_key_value(max_c[p]), 1e-6);
  }
  // Bad parameters.
  kernels::CdModelParams bad;
  bad.n = 10;
  bad.classes = 0;
  bad.s_n = 1;
  expect_error([&] { kernels::cd_model(kEmu, bad, kernels::CdPass::observed); }, "cd_model: 0 classes");
  kernels::CoinfoNullParams cbad;
  cbad.units = 3;
  cbad.features = 1;
  expect_error([&] { kernels::coinfo_null(kEmu, cbad); }, "coinfo_null: null input");
  kernels::ResidualiseParams rbad;
  rbad.rows = 2;
  rbad.n = 5;
  rbad.s_n = -1;
  expect_error([&] { kernels::residualise_rows(kEmu, rbad); }, "S_N = -1");
}

TEST(CondKernelsOnTheEmulator, ResidualisedRowsHaveTheTableNormAndTheRightCorrelations) {
  const std::int64_t rows = 5, n = 64;
  std::mt19937_64 gen(21);
  std::normal_distribution<float> normal;
  std::vector<float> z(n), zx(rows * n), out(rows * n), out_cpu(rows * n), a(rows), a_cpu(rows);
  for (auto& v : z) v = normal(gen);
  double s_n = 0;
  for (float v : z) s_n += static_cast<double>(v) * v;
  // Rows: permutations of z (so |row|² = S_N), shuffled from trial (rows - r) * 10 on; row 0 is z.
  for (std::int64_t r = 0; r < rows; ++r) {
    std::vector<float> row = z;
    if (r > 0) std::shuffle(row.begin() + (rows - r) * 10, row.end(), gen);
    std::copy(row.begin(), row.end(), zx.begin() + r * n);
  }
  kernels::ResidualiseParams p;
  p.zx = zx.data();
  p.z = z.data();
  p.rows = rows;
  p.n = n;
  p.s_n = s_n;
  p.out = out.data();
  p.a = a.data();
  kernels::residualise_rows(kEmu, p);
  p.out = out_cpu.data();
  p.a = a_cpu.data();
  kernels::residualise_rows(kCpu, p);
  for (std::int64_t r = 1; r < rows; ++r) {
    double dot_z = 0, norm = 0, dot_x = 0;
    for (std::int64_t k = 0; k < n; ++k) {
      const double v = out[static_cast<std::size_t>(r * n + k)];
      dot_z += v * z[static_cast<std::size_t>(k)];
      norm += v * v;
      dot_x += v * zx[static_cast<std::size_t>(r * n + k)];
    }
    EXPECT_NEAR(a[r], a_cpu[r], 1e-6);
    EXPECT_NEAR(dot_z / s_n, 0.0, 1e-6) << r;  // orthogonal to z
    EXPECT_NEAR(norm / s_n, 1.0, 1e-6) << r;    // the table's norm
    EXPECT_NEAR(dot_x / s_n, std::sqrt(1.0 - static_cast<double>(a[r]) * a[r]), 1e-5) << r;
    for (std::int64_t k = 0; k < n; ++k) EXPECT_NEAR(out[r * n + k], out_cpu[r * n + k], 1e-6);
  }
  // Row 0 is z itself: 1 - a² <= 1e-12, reported as a NaN a and a NaN row on every backend.
  EXPECT_TRUE(std::isnan(a[0]) && std::isnan(a_cpu[0]));
  EXPECT_TRUE(std::isnan(out[0]) && std::isnan(out_cpu[0]));
}

TEST(CondDeviceOnTheEmulator, TilesOfUnitsGiveTheUntiledBits) {
  Data d = make_data(23, 3, 60, 12);
  info::AllPairsOptions o;
  o.permutations = 6;
  o.permutation_seed = 8;
  o.gcmi.ties = info::TiePolicy::jitter;  // jitter keys follow the global unit index
  o.gcmi.seed = 3;
  for (std::int64_t t = 0; t < d.n; t += 2) d.x[static_cast<std::size_t>(20 * d.n + t)] = 1.0;  // ties in unit 20
  o.precision = info::GemmPrecision::f32;
  const auto source = info::unit_source(d.x.data(), d.n);
  for (const bool coi : {false, true}) {
    SCOPED_TRACE(coi ? "coi" : "ccc");
    const auto whole = coi ? info::coinfo_ccc_all_pairs(kEmu, d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, o)
                           : info::gccmi_ccc_all_pairs(kEmu, d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, o);
    info::TileOptions tiles;
    tiles.tile_units = 7;  // 7, 7, 7, 2
    const auto tiled =
        coi ? info::coinfo_ccc_all_pairs_streamed(kEmu, source, d.units, d.y.data(), d.features, d.z.data(), d.n, o, tiles)
            : info::gccmi_ccc_all_pairs_streamed(kEmu, source, d.units, d.y.data(), d.features, d.z.data(), d.n, o, tiles);
    EXPECT_EQ(tiled.mi, whole.mi);
    EXPECT_EQ(tiled.exceed, whole.exceed);
    EXPECT_EQ(tiled.max_null, whole.max_null);
    EXPECT_EQ(tiled.max_null_all, whole.max_null_all);
    EXPECT_EQ(tiled.tie_fraction_x, whole.tie_fraction_x);
    EXPECT_GT(whole.tie_fraction_x[20], 0.4);
    // The cpu device gathers the tiles and runs the CPU engine.
    info::AllPairsOptions f64 = o;
    f64.precision = info::GemmPrecision::f64;
    const auto cpu = coi ? info::coinfo_ccc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, f64)
                         : info::gccmi_ccc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, f64);
    const auto cpu_streamed =
        coi ? info::coinfo_ccc_all_pairs_streamed(kCpu, source, d.units, d.y.data(), d.features, d.z.data(), d.n, f64, tiles)
            : info::gccmi_ccc_all_pairs_streamed(kCpu, source, d.units, d.y.data(), d.features, d.z.data(), d.n, f64, tiles);
    for (std::size_t i = 0; i < cpu.mi.size(); ++i) EXPECT_NEAR(cpu_streamed.mi[i], cpu.mi[i], 1e-6);  // x rounded to float
    expect_same(cpu, tiled, 2e-5, 1);
  }
  // Errors of the streamed path: a negative tile size, an empty source, a non-finite x (named globally).
  info::TileOptions bad;
  bad.tile_units = -1;
  expect_error([&] { info::gccmi_ccc_all_pairs_streamed(kEmu, source, d.units, d.y.data(), d.features, d.z.data(), d.n, o, bad); },
               "tile_units is -1");
  expect_error([&] { info::coinfo_ccc_all_pairs_streamed(kEmu, {}, d.units, d.y.data(), d.features, d.z.data(), d.n, o); },
               "the unit source is empty");
  d.x[static_cast<std::size_t>(15 * d.n + 3)] = std::nan("");
  info::TileOptions tiles;
  tiles.tile_units = 7;
  expect_error([&] {
    info::gccmi_ccc_all_pairs_streamed(kEmu, info::unit_source(d.x.data(), d.n), d.units, d.y.data(), d.features, d.z.data(), d.n, o, tiles);
  }, "x variable 15 is not finite in fp32");
}
