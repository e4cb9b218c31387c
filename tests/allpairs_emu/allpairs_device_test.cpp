// gcmi_cc_all_pairs on the emulator (the CUDA kernels of kernels/gcmi run on the CPU) equals the
// fp64 CPU engine within fp32 / bf16 rounding, with the same permutation statistics.
#include "infotheory/allpairs.h"
#include "kernels/emu/emulator.h"

#include "core/error.h"

#include <gtest/gtest.h>

#include "tests/allpairs_emu/engine_test_data.h"

#include <cmath>
#include <random>
#include <vector>

namespace info = deeper::info;

namespace {

const deeper::Device kEmu{deeper::Backend::emu, 0};

using Data = deeper::test::EngineData;

Data make_data(std::int64_t units, std::int64_t features, std::int64_t n, unsigned seed) {
  return deeper::test::engine_data(units, features, n, seed);
}

}  // namespace

TEST(AllPairsOnTheEmulator, MatchesTheCpuEngineWithPermutations) {
  const Data d = make_data(21, 5, 90, 1);
  info::AllPairsOptions cpu_options;
  cpu_options.permutations = 12;
  cpu_options.permutation_seed = 4;
  const auto cpu = info::gcmi_cc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.n, cpu_options);
  const std::uint64_t launches = deeper::emu::stats().launches;
  for (auto precision : {info::GemmPrecision::f32, info::GemmPrecision::bf16}) {
    info::AllPairsOptions o = cpu_options;
    o.precision = precision;
    const auto emu = info::gcmi_cc_all_pairs(kEmu, d.x.data(), d.units, d.y.data(), d.features, d.n, o);
    const double tol = precision == info::GemmPrecision::f32 ? 2e-5 : 2e-2;  // bits
    ASSERT_EQ(emu.mi.size(), cpu.mi.size());
    std::size_t count_mismatch = 0;
    for (std::size_t i = 0; i < cpu.mi.size(); ++i) {
      EXPECT_NEAR(emu.mi[i], cpu.mi[i], tol) << i;
      count_mismatch += emu.exceed[i] != cpu.exceed[i];
    }
    // Counts may differ only where a null statistic ties the observed one within rounding.
    EXPECT_LE(count_mismatch, precision == info::GemmPrecision::f32 ? 1u : cpu.mi.size() / 5) << "precision";
    for (std::size_t i = 0; i < cpu.max_null.size(); ++i) EXPECT_NEAR(emu.max_null[i], cpu.max_null[i], tol) << i;
    for (std::size_t i = 0; i < cpu.max_null_all.size(); ++i) EXPECT_NEAR(emu.max_null_all[i], cpu.max_null_all[i], tol);
    EXPECT_EQ(emu.tie_fraction_x, cpu.tie_fraction_x);
  }
  EXPECT_GE(deeper::emu::stats().launches - launches, 4u);  // copnorm twice and all-pairs, per precision
}

TEST(AllPairsOnTheEmulator, JitterTiesRankLikeTheCpuEngine) {
  Data d = make_data(6, 2, 64, 2);
  for (std::int64_t t = 0; t < d.n; t += 2) d.x[static_cast<std::size_t>(t)] = 0.0;  // ReLU-like unit 0
  info::AllPairsOptions o;
  o.gcmi.ties = info::TiePolicy::jitter;
  o.gcmi.seed = 17;
  const auto cpu = info::gcmi_cc_all_pairs(d.x.data(), d.units, d.y.data(), d.features, d.n, o);
  o.precision = info::GemmPrecision::f32;
  const auto emu = info::gcmi_cc_all_pairs(kEmu, d.x.data(), d.units, d.y.data(), d.features, d.n, o);
  for (std::size_t i = 0; i < cpu.mi.size(); ++i) EXPECT_NEAR(emu.mi[i], cpu.mi[i], 2e-5) << i;
  EXPECT_NEAR(emu.tie_fraction_x[0], 31.0 / 64.0, 1e-12);
}

TEST(AllPairsOnTheEmulator, UnsupportedChoicesAreClearErrors) {
  const Data d = make_data(3, 2, 20, 3);
  info::AllPairsOptions o;  // f64
  EXPECT_THROW(info::gcmi_cc_all_pairs(kEmu, d.x.data(), 3, d.y.data(), 2, 20, o), deeper::Error);
  o.precision = info::GemmPrecision::f32;
  o.gcmi.ties = info::TiePolicy::average;
  EXPECT_THROW(info::gcmi_cc_all_pairs(kEmu, d.x.data(), 3, d.y.data(), 2, 20, o), deeper::Error);
  o.gcmi.ties = info::TiePolicy::stable;
  std::vector<double> x = d.x;
  x[5] = INFINITY;
  try {
    info::gcmi_cc_all_pairs(kEmu, x.data(), 3, d.y.data(), 2, 20, o);
    FAIL() << "Inf must be rejected";
  } catch (const deeper::Error& e) {
    EXPECT_NE(std::string(e.what()).find("x variable 0"), std::string::npos) << e.what();
  }
}
