// ccc, co-information (continuous z) and model cd on CUDA against the fp64 CPU engines at a larger
// size than the emulator tests: MI within fp32 / bf16 rounding, the same exceedance counts except
// for null statistics within rounding of the observed one, the same maxima.
#include "infotheory/allpairs_cond_device.h"
#include "kernels/runtime/device.h"

#include <gtest/gtest.h>

#include "tests/gcmi_cond_emu/cond_test_data.h"

#include "tests/support/gpu_test_util.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace info = deeper::info;

#if DEEPER_HAVE_CUDA_KERNELS
namespace {

const deeper::Device kGpu = deeper::Device::cuda(0);

using Data = deeper::test::CondData;

// z drives some y and some x, y drives some x: conditioning changes the MI.
Data make_data(std::int64_t units, std::int64_t features, std::int64_t n, unsigned seed) {
  return deeper::test::cond_data(units, features, n, seed, {0.5, 7, 0.4, 5, 0.4});
}

// MI and maxima within tol bits. Exceedance counts: f32 equal except (by at most 2) for a few pairs
// whose null statistic ties the observed one within fp32 rounding; bf16 rounds every copula value
// (relative 2^-9), a perturbation of the data that moves many statistics across each other by
// about the null's spacing (much more near MI = 0, where the χ² density of the null diverges), so
// there only the size of the differences is bounded (p-values within 1/4 and on average within
// 1/40 of the CPU's; 7 of P = 40 was the largest seen on an H200).
void expect_same(const info::AllPairsResult& cpu, const info::AllPairsResult& gpu, double tol, bool f32) {
  ASSERT_EQ(gpu.mi.size(), cpu.mi.size());
  double worst = 0;
  for (std::size_t i = 0; i < cpu.mi.size(); ++i) worst = std::max(worst, std::abs(gpu.mi[i] - cpu.mi[i]));
  EXPECT_LE(worst, tol);
  ASSERT_EQ(gpu.exceed.size(), cpu.exceed.size());
  const auto pairs = static_cast<double>(cpu.exceed.size()), P = static_cast<double>(cpu.permutations);
  std::size_t differ = 0;
  std::int64_t largest = 0;
  double total = 0;
  for (std::size_t i = 0; i < cpu.exceed.size(); ++i) {
    const std::int64_t delta = std::abs(static_cast<std::int64_t>(gpu.exceed[i]) - static_cast<std::int64_t>(cpu.exceed[i]));
    differ += delta != 0;
    largest = std::max(largest, delta);
    total += static_cast<double>(delta);
  }
  if (f32) {
    EXPECT_LE(largest, 2);
    EXPECT_LE(static_cast<double>(differ), 0.002 * pairs + 2);
  } else {
    EXPECT_LE(static_cast<double>(largest), std::max(2.0, P / 4));
    EXPECT_LE(total / pairs, std::max(0.5, P / 40));
  }
  double worst_max = 0;
  for (std::size_t i = 0; i < cpu.max_null.size(); ++i) worst_max = std::max(worst_max, std::abs(gpu.max_null[i] - cpu.max_null[i]));
  for (std::size_t i = 0; i < cpu.max_null_all.size(); ++i) {
    worst_max = std::max(worst_max, std::abs(gpu.max_null_all[i] - cpu.max_null_all[i]));
  }
  EXPECT_LE(worst_max, tol);
}

TEST(GpuGcmiCond, CccAndCoinfoMatchTheCpuEngines) {
  DEEPER_REQUIRE_CUDA();
  const Data d = make_data(3000, 8, 400, 1);
  info::AllPairsOptions o;
  o.permutations = 40;
  o.permutation_seed = 7;
  const auto ccc_cpu = info::gccmi_ccc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, o);
  const auto coi_cpu = info::coinfo_ccc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, o);
  for (auto precision : {info::GemmPrecision::f32, info::GemmPrecision::bf16}) {
    SCOPED_TRACE(precision == info::GemmPrecision::f32 ? "f32" : "bf16");
    o.precision = precision;
    const bool f32 = precision == info::GemmPrecision::f32;
    const auto ccc = info::gccmi_ccc_all_pairs(kGpu, d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, o);
    expect_same(ccc_cpu, ccc, f32 ? 5e-5 : 1e-2, f32);
    const auto coi = info::coinfo_ccc_all_pairs(kGpu, d.x.data(), d.units, d.y.data(), d.features, d.z.data(), d.n, o);
    expect_same(coi_cpu, coi, f32 ? 5e-5 : 1e-2, f32);
    // The fp32 upload can tie two values that differ in fp64 (a few rows at this size): the device
    // counts the ties of the float values.
    for (std::int64_t u = 0; u < d.units; ++u) {
      std::vector<float> row(d.x.begin() + u * d.n, d.x.begin() + (u + 1) * d.n);
      std::sort(row.begin(), row.end());
      const auto ties = static_cast<double>(row.size()) - static_cast<double>(std::unique(row.begin(), row.end()) - row.begin());
      EXPECT_EQ(ccc.tie_fraction_x[static_cast<std::size_t>(u)], ties / static_cast<double>(d.n)) << u;
    }
  }
}

TEST(GpuGcmiCond, ModelCdMatchesTheCpuEngine) {
  DEEPER_REQUIRE_CUDA();
  const std::int64_t units = 4000, n = 600;
  const int classes = 5;
  std::mt19937_64 gen(3);
  std::normal_distribution<double> normal;
  std::vector<std::int32_t> labels(static_cast<std::size_t>(n));
  for (std::int64_t t = 0; t < n; ++t) labels[static_cast<std::size_t>(t)] = static_cast<std::int32_t>(t % classes);
  std::shuffle(labels.begin(), labels.end(), gen);
  std::vector<double> x(static_cast<std::size_t>(units * n));
  for (std::int64_t u = 0; u < units; ++u) {
    for (std::int64_t t = 0; t < n; ++t) {
      x[static_cast<std::size_t>(u * n + t)] = (u % 9 == 0 ? 0.3 * labels[static_cast<std::size_t>(t)] : 0.0) + normal(gen);
    }
  }
  info::AllPairsOptions o;
  o.permutations = 100;
  o.permutation_seed = 1;
  const auto cpu = info::gcmi_model_cd_batched(x.data(), units, labels.data(), n, classes, o);
  for (auto precision : {info::GemmPrecision::f32, info::GemmPrecision::bf16}) {
    SCOPED_TRACE(precision == info::GemmPrecision::f32 ? "f32" : "bf16");
    o.precision = precision;
    const bool f32 = precision == info::GemmPrecision::f32;
    const auto gpu = info::gcmi_model_cd_batched(kGpu, x.data(), units, labels.data(), n, classes, o);
    expect_same(cpu, gpu, f32 ? 5e-5 : 1e-2, f32);
  }
}

}  // namespace
#endif
