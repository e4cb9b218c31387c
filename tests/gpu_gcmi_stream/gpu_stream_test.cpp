// gcmi_cc_all_pairs_streamed on CUDA: several tiles with overlapped transfers against one untiled
// run (bit-identical) and against the fp64 CPU engine (fp32 rounding).
#include "infotheory/allpairs_stream.h"
#include "kernels/runtime/device.h"

#include <gtest/gtest.h>

#include "tests/support/gpu_test_util.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace info = deeper::info;

#if DEEPER_HAVE_CUDA_KERNELS
namespace {

const deeper::Device kGpu = deeper::Device::cuda(0);

TEST(GpuGcmiStream, TiledEqualsUntiledAndTheCpu) {
  DEEPER_REQUIRE_CUDA();
  const std::int64_t units = 5000, features = 16, n = 500;
  std::mt19937_64 gen(5);
  std::normal_distribution<double> normal;
  std::vector<double> x(static_cast<std::size_t>(units * n)), y(static_cast<std::size_t>(features * n));
  for (auto& v : y) v = normal(gen);
  for (std::int64_t u = 0; u < units; ++u) {
    for (std::int64_t t = 0; t < n; ++t) {
      const double signal = u % 7 == 0 ? 0.5 * y[static_cast<std::size_t>((u % features) * n + t)] : 0.0;
      x[static_cast<std::size_t>(u * n + t)] = static_cast<float>(signal + normal(gen));
    }
  }
  info::AllPairsOptions o;
  o.permutations = 50;
  o.permutation_seed = 3;
  o.precision = info::GemmPrecision::f32;
  const auto whole = info::gcmi_cc_all_pairs(kGpu, x.data(), units, y.data(), features, n, o);
  const auto tiled =
      info::gcmi_cc_all_pairs_streamed(kGpu, info::unit_source(x.data(), n), units, y.data(), features, n, o, {1024});
  EXPECT_EQ(tiled.mi, whole.mi);
  EXPECT_EQ(tiled.exceed, whole.exceed);
  EXPECT_EQ(tiled.max_null, whole.max_null);
  EXPECT_EQ(tiled.max_null_all, whole.max_null_all);
  EXPECT_EQ(tiled.tie_fraction_x, whole.tie_fraction_x);

  auto o64 = o;
  o64.precision = info::GemmPrecision::f64;
  const auto cpu = info::gcmi_cc_all_pairs(x.data(), units, y.data(), features, n, o64);
  double worst = 0;
  std::int64_t exceed_differs = 0;
  for (std::size_t i = 0; i < cpu.mi.size(); ++i) {
    worst = std::max(worst, std::abs(cpu.mi[i] - tiled.mi[i]));
    if (cpu.exceed[i] != tiled.exceed[i]) {
      ++exceed_differs;
      EXPECT_LE(std::abs(static_cast<long>(cpu.exceed[i]) - static_cast<long>(tiled.exceed[i])), 1) << i;
    }
  }
  EXPECT_LT(worst, 1e-4);
  EXPECT_LE(exceed_differs, static_cast<std::int64_t>(cpu.exceed.size() / 1000));
  for (std::size_t i = 0; i < cpu.max_null_all.size(); ++i) EXPECT_NEAR(cpu.max_null_all[i], tiled.max_null_all[i], 1e-4);
}

}  // namespace
#else
TEST(GpuGcmiStream, NeedsTheCudaPass) { GTEST_SKIP() << "this build has no CUDA kernels (DEEPER_WITH_CUDA=OFF)"; }
#endif
