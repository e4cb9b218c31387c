// kernels/common/mma_sync.cuh on a real GPU: the kernels of tests/emu/mma_test_kernels.cu built by
// nvcc (inline PTX) against the same CPU references as the emulator's tests (tests/emu), and, where
// the result is exact, against the emulator bit for bit. Every test skips, naming the reason,
// without a usable GPU or without the nvcc pass in this build. Each runs one tiny kernel.
#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"
#include "tests/emu/mma_reference.h"
#include "tests/emu/mma_test_kernels.h"
#include "tests/support/gpu_test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#if DEEPER_HAVE_CUDA_KERNELS
namespace {

namespace cuda = deeper::testk::cuda_impl;
namespace emu = deeper::testk::emu_impl;
namespace ref = deeper::test::mma;
using deeper::test::to_gpu;
using deeper::test::to_host;

template <typename T>
T* ptr(deeper::DeviceBuffer& b) {
  return static_cast<T*>(b.data());
}

// The tensor core's fp32 accumulation order and internal precision are unspecified: allow a few
// dozen fp32 ulps of the sum of |terms| (a fragment-layout mistake is off by O(1)).
constexpr double kGpuRelTolerance = 1e-5;

void check_mma_chain_on_gpu(int steps, unsigned seed) {
  const ref::MmaChainCase k = ref::mma_chain_case(steps, seed);
  auto a = to_gpu(k.a), b = to_gpu(k.b), c = to_gpu(k.c), d = to_gpu(std::vector<float>(32 * 4, -12345.0f));
  cuda::mma_chain(ptr<const std::uint32_t>(a), ptr<const std::uint32_t>(b), ptr<const float>(c), ptr<float>(d), steps,
                  nullptr);
  const auto got = to_host<float>(d);
  for (int lane = 0; lane < 32; ++lane) {
    for (int i = 0; i < 4; ++i) {
      const auto at = static_cast<std::size_t>(lane * 4 + i);
      ASSERT_NEAR(got[at], k.expect[at], kGpuRelTolerance * k.abs_sum[at])
          << "lane " << lane << " d[" << i << "], steps " << steps << ", seed " << seed;
    }
  }
}

}  // namespace

TEST(GpuMma, MmaMatchesTheDoubleReferenceOnRandomBf16Tiles) {
  DEEPER_REQUIRE_CUDA();
  for (unsigned seed = 1; seed <= 4; ++seed) check_mma_chain_on_gpu(1, seed);
  check_mma_chain_on_gpu(3, 11);
  check_mma_chain_on_gpu(8, 12);
}

TEST(GpuMma, MmaOnSmallIntegersIsExactAndAgreesWithTheEmulator) {
  DEEPER_REQUIRE_CUDA();
  const auto A = ref::small_integer_bf16(16 * 16, 5), B = ref::small_integer_bf16(16 * 8, 6);
  std::vector<float> C(16 * 8);
  for (std::size_t i = 0; i < C.size(); ++i) C[i] = static_cast<float>(static_cast<int>(i % 7) - 3);
  const auto fa = ref::a_fragments(A), fb = ref::b_fragments(B);
  const auto fc = ref::c_fragments(C);
  std::vector<float> emu_d(32 * 4, -12345.0f);
  emu::mma_chain(fa.data(), fb.data(), fc.data(), emu_d.data(), 1, nullptr);
  auto a = to_gpu(fa), b = to_gpu(fb), c = to_gpu(fc), d = to_gpu(std::vector<float>(32 * 4, -12345.0f));
  cuda::mma_chain(ptr<const std::uint32_t>(a), ptr<const std::uint32_t>(b), ptr<const float>(c), ptr<float>(d), 1,
                  nullptr);
  const auto got = to_host<float>(d);
  const auto expect = ref::reference_product(A, B, std::vector<double>(C.begin(), C.end()), 16, 8, 16, 8);
  for (int lane = 0; lane < 32; ++lane) {
    for (int i = 0; i < 4; ++i) {
      const auto at = static_cast<std::size_t>(lane * 4 + i);
      ASSERT_EQ(got[at], static_cast<float>(expect[static_cast<std::size_t>(ref::c_row(lane, i) * 8 + ref::c_col(lane, i))]))
          << lane << " " << i;
    }
  }
  EXPECT_EQ(got, emu_d);
}

TEST(GpuMma, LdmatrixFollowsTheDocumentedLaneMappingAndAgreesWithTheEmulator) {
  DEEPER_REQUIRE_CUDA();
  const auto rows = ref::random_bf16(33 * 8, 21);
  std::vector<int> row_of_lane(32);
  std::iota(row_of_lane.begin(), row_of_lane.end(), 0);
  std::shuffle(row_of_lane.begin(), row_of_lane.end(), std::mt19937(22));
  constexpr std::uint32_t kUntouched = 0xDEADBEEFu;
  std::vector<std::uint32_t> emu_out(6 * 32 * 4, kUntouched);
  emu::ldmatrix_all(rows.data(), row_of_lane.data(), emu_out.data(), nullptr);
  auto d_rows = to_gpu(rows), d_row_of_lane = to_gpu(row_of_lane);
  auto d_out = to_gpu(std::vector<std::uint32_t>(6 * 32 * 4, kUntouched));
  cuda::ldmatrix_all(ptr<const std::uint16_t>(d_rows), ptr<const int>(d_row_of_lane), ptr<std::uint32_t>(d_out),
                     nullptr);
  const auto out = to_host<std::uint32_t>(d_out);
  const int counts[6] = {1, 2, 4, 1, 2, 4};
  for (int v = 0; v < 6; ++v) {
    for (int lane = 0; lane < 32; ++lane) {
      for (int j = 0; j < 4; ++j) {
        const std::uint32_t expect =
            j < counts[v] ? ref::ldmatrix_expected(rows, row_of_lane, j, lane, v >= 3) : kUntouched;
        ASSERT_EQ(out[static_cast<std::size_t>((v * 32 + lane) * 4 + j)], expect)
            << "variant x" << counts[v] << (v >= 3 ? "_trans" : "") << " lane " << lane << " r[" << j << "]";
      }
    }
  }
  EXPECT_EQ(out, emu_out);
}

TEST(GpuMma, CpAsyncLdmatrixAndMmaComputeATileProductFromSharedMemory) {
  DEEPER_REQUIRE_CUDA();
  const ref::RoundTripCase k = ref::roundtrip_case(31);
  auto a = to_gpu(k.A), b = to_gpu(k.B), c = to_gpu(k.C);
  auto d = to_gpu(std::vector<float>(16 * 16, -12345.0f)), d_x2 = to_gpu(std::vector<float>(16 * 8, -12345.0f));
  cuda::ldmatrix_mma_roundtrip(ptr<const std::uint16_t>(a), ptr<const std::uint16_t>(b), ptr<const float>(c),
                               ptr<float>(d), ptr<float>(d_x2), nullptr);
  const auto got = to_host<float>(d), got_x2 = to_host<float>(d_x2);
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 16; ++j) {
      const auto at = static_cast<std::size_t>(i * 16 + j);
      ASSERT_NEAR(got[at], k.expect[at], kGpuRelTolerance * k.abs_sum[at]) << "x4_trans " << i << "," << j;
      if (j < 8) {
        ASSERT_NEAR(got_x2[static_cast<std::size_t>(i * 8 + j)], k.expect[at], kGpuRelTolerance * k.abs_sum[at])
            << "x2_trans " << i << "," << j;
      }
    }
  }
}

// What the GPU guarantees (the emulator's tests also check what is still pending, which on a GPU
// is unspecified): wait<1> completes the older group, wait<0> both, a zero-fill copy writes zeros,
// and a committed copy is complete after wait<0>.
TEST(GpuMma, CpAsyncGroupsAndZeroFill) {
  DEEPER_REQUIRE_CUDA();
  const auto src = ref::random_floats(16, 41);
  auto d_src = to_gpu(src);
  auto d_out = to_gpu(std::vector<float>(28, -12345.0f));
  cuda::cp_async_probe(ptr<const float>(d_src), ptr<float>(d_out), 0, nullptr);
  const auto out = to_host<float>(d_out);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[static_cast<std::size_t>(8 + i)], src[static_cast<std::size_t>(i)]) << "wait<1> " << i;
  for (int i = 0; i < 8; ++i) EXPECT_EQ(out[static_cast<std::size_t>(16 + i)], src[static_cast<std::size_t>(i)]) << "wait<0> " << i;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[static_cast<std::size_t>(24 + i)], 0.0f) << "zero fill " << i;

  auto d_out5 = to_gpu(std::vector<float>(8, -12345.0f));
  cuda::cp_async_probe(ptr<const float>(d_src), ptr<float>(d_out5), 5, nullptr);
  const auto out5 = to_host<float>(d_out5);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out5[static_cast<std::size_t>(4 + i)], src[static_cast<std::size_t>(i)]) << i;
}

TEST(GpuMma, CpAsyncCopiesAreVisibleToOtherThreadsAfterWaitAndBarrier) {
  DEEPER_REQUIRE_CUDA();
  const auto src = ref::random_floats(64 * 4, 44);
  auto d_src = to_gpu(src);
  auto d_out = to_gpu(std::vector<float>(64 * 4, -12345.0f));
  cuda::cp_async_neighbour(ptr<const float>(d_src), ptr<float>(d_out), true, nullptr);
  const auto out = to_host<float>(d_out);
  for (int t = 0; t < 64; ++t) {
    for (int i = 0; i < 4; ++i) {
      ASSERT_EQ(out[static_cast<std::size_t>(4 * t + i)], src[static_cast<std::size_t>(4 * ((t + 1) % 64) + i)]) << t;
    }
  }
}

#else
TEST(GpuMma, NeedsTheCudaPass) { GTEST_SKIP() << "this build has no CUDA kernels (DEEPER_WITH_CUDA=OFF)"; }
#endif
