// The kernel emulator runs CUDA kernels with CUDA's semantics: each test launches a kernel from
// emu_test_kernels.cu under the emulator and checks it against a plain CPU computation.
#include "kernels/emu/emulator.h"
#include "tests/emu/emu_test_kernels.h"

#include "core/error.h"

#include "tests/support/error_of.h"

#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace emu = deeper::testk::emu_impl;

namespace {

std::vector<float> random_floats(int n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = dist(gen);
  return v;
}

constexpr float kPoison = -12345.0f;

using deeper::test_util::error_of;

}  // namespace

TEST(Emulator, BlockSumMatchesCpu) {
  const std::uint64_t launches_before = deeper::emu::stats().launches;
  for (int n : {1, 255, 256, 1000, 4096}) {
    const auto in = random_floats(n, 7u + static_cast<unsigned>(n));
    const int blocks = (n + 255) / 256;
    std::vector<float> sums(static_cast<std::size_t>(blocks), kPoison);
    emu::block_sum(in.data(), sums.data(), n, /*with_sync=*/true, nullptr);
    for (int b = 0; b < blocks; ++b) {
      double expect = 0;
      for (int i = b * 256; i < std::min(n, (b + 1) * 256); ++i) expect += in[static_cast<std::size_t>(i)];
      EXPECT_NEAR(sums[static_cast<std::size_t>(b)], expect, 1e-4) << "n=" << n << " block " << b;
    }
  }
  const deeper::emu::Stats after = deeper::emu::stats();
  EXPECT_EQ(after.launches - launches_before, 5u);  // the kernels really ran in the emulator
  EXPECT_GT(after.context_switches, 0u);
}

TEST(Emulator, MissingSyncthreadsGivesAWrongSumForSomeSeed) {
  const int n = 256;
  // Two inputs, alternated, all positive: a term read before it was stored (a garbage or stale
  // value from the other input) shows in the sum.
  const std::vector<float> inputs[2] = {random_floats(n, 3, 0.5f, 1.0f), random_floats(n, 4, 2.0f, 3.0f)};
  int wrong = 0;
  for (std::uint64_t seed = 0; seed < 16; ++seed) {
    const auto& in = inputs[seed % 2];
    const double expect = std::accumulate(in.begin(), in.end(), 0.0);
    deeper::emu::set_seed(seed);
    float sum = kPoison;
    emu::block_sum(in.data(), &sum, n, /*with_sync=*/false, nullptr);
    if (!(std::fabs(sum - expect) < 1e-3)) ++wrong;
  }
  EXPECT_GT(wrong, 0) << "the emulator's interleaving never exposed the missing __syncthreads";
  // The correct kernel is right for every seed.
  for (std::uint64_t seed = 0; seed < 16; ++seed) {
    const auto& in = inputs[seed % 2];
    deeper::emu::set_seed(seed);
    float sum = kPoison;
    emu::block_sum(in.data(), &sum, n, /*with_sync=*/true, nullptr);
    EXPECT_NEAR(sum, std::accumulate(in.begin(), in.end(), 0.0), 1e-3) << "seed " << seed;
  }
  deeper::emu::set_seed(1);
}

TEST(Emulator, WarpShuffleSumMatchesCpu) {
  for (int n : {32, 100, 128, 1000}) {
    const auto in = random_floats(n, 11u + static_cast<unsigned>(n));
    const int warps = (n + 31) / 32;
    std::vector<float> sums(static_cast<std::size_t>(warps), kPoison);
    emu::warp_sum(in.data(), sums.data(), n, nullptr);
    for (int w = 0; w < warps; ++w) {
      double expect = 0;
      for (int i = w * 32; i < std::min(n, (w + 1) * 32); ++i) expect += in[static_cast<std::size_t>(i)];
      EXPECT_NEAR(sums[static_cast<std::size_t>(w)], expect, 1e-4) << "n=" << n << " warp " << w;
    }
  }
}

TEST(Emulator, AtomicMinOnPackedDepthIdKeysFindsTheNearest) {
  const int n = 1000;
  auto depth = random_floats(n, 5, 0.1f, 100.0f);
  depth[617] = 0.05f;  // the unique nearest
  depth[618] = 0.05f;  // a tie: the smaller index wins
  depth[300] = 0.0500001f;
  unsigned long long best = std::numeric_limits<unsigned long long>::max();
  emu::packed_depth_min(depth.data(), &best, n, nullptr);
  EXPECT_EQ(best & 0xFFFFFFFFull, 617u);
  float best_depth;
  const auto bits = static_cast<unsigned>(best >> 32);
  std::memcpy(&best_depth, &bits, 4);
  EXPECT_EQ(best_depth, 0.05f);
}

TEST(Emulator, WarpIntrinsicsMatchTheirDefinitions) {
  std::vector<int> in(64);
  for (int t = 0; t < 64; ++t) in[static_cast<std::size_t>(t)] = (t * 37 + 11) % 97 - 20;
  std::vector<int> out(11 * 64, -99);
  emu::warp_intrinsics(in.data(), out.data(), nullptr);
  const auto at = [&](int k, int t) { return out[static_cast<std::size_t>(k * 64 + t)]; };
  const auto v = [&](int t) { return in[static_cast<std::size_t>(t)]; };
  for (int t = 0; t < 64; ++t) {
    const int lane = t & 31, base = t - lane;
    EXPECT_EQ(at(0, t), v(base + 5)) << t;
    EXPECT_EQ(at(1, t), lane >= 3 ? v(t - 3) : v(t)) << t;
    EXPECT_EQ(at(2, t), v(t ^ 1)) << t;
    EXPECT_EQ(at(3, t), (lane % 8) + 2 < 8 ? v(t + 2) : v(t)) << t;
    unsigned ballot = 0, match = 0;
    int any = 0, all = 1;
    unsigned sum = 0;
    for (int l = 0; l < 32; ++l) {
      if (v(base + l) > 0) ballot |= 1u << l;
      if (v(base + l) % 4 == v(t) % 4) match |= 1u << l;
      any |= v(base + l) > 100;
      all &= v(base + l) >= 0;
      sum += static_cast<unsigned>(v(base + l));
    }
    EXPECT_EQ(static_cast<unsigned>(at(4, t)), ballot) << t;
    EXPECT_EQ(at(5, t), any) << t;
    EXPECT_EQ(at(6, t), all) << t;
    EXPECT_EQ(static_cast<unsigned>(at(7, t)), match) << t;
    EXPECT_EQ(static_cast<unsigned>(at(8, t)), sum) << t;
    EXPECT_EQ(at(9, t), lane < 16 ? v(base + 15 - lane) : -1) << t;
    EXPECT_EQ(at(10, t), lane < 24 ? 0x00FFFFFF : -2) << t;
  }
}

TEST(Emulator, WmmaTileProductMatchesCpu) {
  std::vector<__half> a(256), b(256);
  std::vector<float> c(256), expect(256);
  const auto ra = random_floats(256, 21), rb = random_floats(256, 22), rc = random_floats(256, 23);
  for (int i = 0; i < 256; ++i) {
    a[static_cast<std::size_t>(i)] = __float2half(ra[static_cast<std::size_t>(i)]);
    b[static_cast<std::size_t>(i)] = __float2half(rb[static_cast<std::size_t>(i)]);
    c[static_cast<std::size_t>(i)] = rc[static_cast<std::size_t>(i)];
  }
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 16; ++j) {
      double acc = c[static_cast<std::size_t>(i * 16 + j)];
      for (int k = 0; k < 16; ++k) {  // A row-major (i, k); B column-major (k, j) at k + 16 j
        acc += static_cast<double>(__half2float(a[static_cast<std::size_t>(i * 16 + k)])) *
               __half2float(b[static_cast<std::size_t>(k + 16 * j)]);
      }
      expect[static_cast<std::size_t>(i * 16 + j)] = static_cast<float>(acc);
    }
  }
  emu::wmma_gemm_16(a.data(), b.data(), c.data(), nullptr);
  for (int i = 0; i < 256; ++i) EXPECT_NEAR(c[static_cast<std::size_t>(i)], expect[static_cast<std::size_t>(i)], 1e-5) << i;
}

TEST(Emulator, DynamicSharedMemoryReversesEachBlock) {
  for (int n : {1, 127, 128, 300}) {
    const auto in = random_floats(n, 31u + static_cast<unsigned>(n));
    std::vector<float> out(static_cast<std::size_t>(n), kPoison);
    emu::reverse_blocks_dynamic(in.data(), out.data(), n, nullptr);
    for (int base = 0; base < n; base += 128) {
      const int count = std::min(128, n - base);
      for (int t = 0; t < count; ++t) {
        EXPECT_EQ(out[static_cast<std::size_t>(base + t)], in[static_cast<std::size_t>(base + count - 1 - t)]);
      }
    }
  }
}

TEST(Emulator, BarrierPredicatesCountAllAny) {
  for (int n : {1, 33, 256, 1024}) {
    std::vector<int> pred(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) pred[static_cast<std::size_t>(i)] = (i % 3 == 0);
    std::vector<int> out(3, -1);
    emu::barrier_predicates(pred.data(), out.data(), n, nullptr);
    const int count = (n + 2) / 3;
    EXPECT_EQ(out[0], count);
    EXPECT_EQ(out[1], count == n ? 1 : 0);
    EXPECT_EQ(out[2], 1);
  }
}

TEST(Emulator, AtomicAddAndIncBuildAHistogram) {
  const int n = 1000, bins = 7;
  std::vector<int> values(n);
  std::vector<float> weights(n);
  for (int i = 0; i < n; ++i) {
    values[static_cast<std::size_t>(i)] = (i * 131) % 1009;
    weights[static_cast<std::size_t>(i)] = 0.25f * static_cast<float>(i % 5);
  }
  std::vector<float> hist(bins, 0.0f);
  std::vector<unsigned> counts(bins, 0u);
  emu::histogram(values.data(), weights.data(), hist.data(), counts.data(), n, bins, nullptr);
  std::vector<double> expect_hist(bins, 0.0);
  std::vector<unsigned> expect_counts(bins, 0u);
  for (int i = 0; i < n; ++i) {
    expect_hist[static_cast<std::size_t>(values[static_cast<std::size_t>(i)] % bins)] += weights[static_cast<std::size_t>(i)];
    ++expect_counts[static_cast<std::size_t>(values[static_cast<std::size_t>(i)] % bins)];
  }
  for (int b = 0; b < bins; ++b) {
    EXPECT_NEAR(hist[static_cast<std::size_t>(b)], expect_hist[static_cast<std::size_t>(b)], 1e-3);
    EXPECT_EQ(counts[static_cast<std::size_t>(b)], expect_counts[static_cast<std::size_t>(b)]);
  }
}

TEST(Emulator, ShuffleWithAnExitedLaneIsReportedAsADeadlock) {
  std::vector<int> out(32, 0);
  const std::string what = error_of([&] { emu::shuffle_after_exit(out.data(), nullptr); });
  EXPECT_NE(what.find("deadlock"), std::string::npos) << what;
  EXPECT_NE(what.find("shuffle_after_exit"), std::string::npos) << what;
  EXPECT_NE(what.find("has exited"), std::string::npos) << what;
}

TEST(Emulator, BadLaunchConfigurationsAreRejectedWithTheKernelName) {
  std::vector<int> out(2048, 0);
  const std::string too_many = error_of([&] { emu::launch_with_block(1025, out.data(), nullptr); });
  EXPECT_NE(too_many.find("write_thread_index"), std::string::npos) << too_many;
  EXPECT_NE(too_many.find("1024"), std::string::npos) << too_many;
  const std::string zero = error_of([&] { emu::launch_with_block(0, out.data(), nullptr); });
  EXPECT_NE(zero.find("zero"), std::string::npos) << zero;
  emu::launch_with_block(1024, out.data(), nullptr);  // the limit itself is fine
  for (int t = 0; t < 1024; ++t) EXPECT_EQ(out[static_cast<std::size_t>(t)], t);
}

TEST(Emulator, SameSeedSameInterleaving) {
  const int n = 256;
  const auto in = random_floats(n, 4, 0.5f, 1.0f);
  // Three runs: the second and third start from the same stale shared memory (left by a run with
  // the same seed and input), so with the same interleaving they must agree bit for bit.
  float first = 0, second = 0;
  deeper::emu::set_seed(42);
  emu::block_sum(in.data(), &first, n, false, nullptr);
  deeper::emu::set_seed(42);
  emu::block_sum(in.data(), &first, n, false, nullptr);
  deeper::emu::set_seed(42);
  emu::block_sum(in.data(), &second, n, false, nullptr);
  EXPECT_TRUE(first == second || (std::isnan(first) && std::isnan(second))) << first << " vs " << second;
  deeper::emu::set_seed(1);
}
