// kernels/common/mma_sync.cuh under the emulator: mma.sync m16n8k16 against a double reference with
// every lane's fragment laid out per the PTX ISA, ldmatrix against its documented lane mapping, the
// ldmatrix + mma round trip from shared memory, cp.async's deferred completion, and the errors the
// emulator reports where a GPU would fault or hang.
#include "tests/emu/mma_reference.h"
#include "tests/emu/mma_test_kernels.h"

#include "core/error.h"
#include "kernels/emu/emulator.h"

#include "tests/support/error_of.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace emu = deeper::testk::emu_impl;
namespace ref = deeper::test::mma;

namespace {

using deeper::test_util::error_of;

std::uint32_t bits_of(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

constexpr std::uint32_t kPoisonBits = 0xFFFFFFFFu;  // the emulator's uninitialized shared memory

using ref::random_floats;

// Runs mma_chain on `steps` random (A, B) pairs and C, and checks every lane's d against the double
// reference at that lane's fragment position, within a few fp32 ulps of the sum of |terms|.
void check_mma_chain(int steps, unsigned seed) {
  const ref::MmaChainCase k = ref::mma_chain_case(steps, seed);
  std::vector<float> d(32 * 4, -12345.0f);
  emu::mma_chain(k.a.data(), k.b.data(), k.c.data(), d.data(), steps, nullptr);
  for (int lane = 0; lane < 32; ++lane) {
    for (int i = 0; i < 4; ++i) {
      const auto at = static_cast<std::size_t>(lane * 4 + i);
      ASSERT_NEAR(d[at], k.expect[at], 1e-6 * k.abs_sum[at])
          << "lane " << lane << " d[" << i << "] (row " << ref::c_row(lane, i) << ", col " << ref::c_col(lane, i)
          << "), steps " << steps << ", seed " << seed;
    }
  }
}

}  // namespace

TEST(EmulatorMma, MatchesTheDoubleReferenceOnRandomBf16Tiles) {
  for (unsigned seed = 1; seed <= 4; ++seed) check_mma_chain(1, seed);
}

TEST(EmulatorMma, AccumulatesIntoCAcrossChainedCalls) {
  check_mma_chain(3, 11);
  check_mma_chain(8, 12);
}

TEST(EmulatorMma, IsExactOnSmallIntegers) {
  const auto A = ref::small_integer_bf16(16 * 16, 5), B = ref::small_integer_bf16(16 * 8, 6);
  std::vector<float> C(16 * 8);
  for (std::size_t i = 0; i < C.size(); ++i) C[i] = static_cast<float>(static_cast<int>(i % 7) - 3);
  std::vector<float> d(32 * 4, -12345.0f);
  emu::mma_chain(ref::a_fragments(A).data(), ref::b_fragments(B).data(), ref::c_fragments(C).data(), d.data(), 1,
                 nullptr);
  const auto expect = ref::reference_product(A, B, std::vector<double>(C.begin(), C.end()), 16, 8, 16, 8);
  for (int lane = 0; lane < 32; ++lane) {
    for (int i = 0; i < 4; ++i) {
      const auto at = static_cast<std::size_t>(ref::c_row(lane, i) * 8 + ref::c_col(lane, i));
      ASSERT_EQ(d[static_cast<std::size_t>(lane * 4 + i)], static_cast<float>(expect[at])) << lane << " " << i;
    }
  }
}

TEST(EmulatorMma, LdmatrixFollowsTheDocumentedLaneMapping) {
  const auto rows = ref::random_bf16(33 * 8, 21);
  std::vector<int> row_of_lane(32);
  std::iota(row_of_lane.begin(), row_of_lane.end(), 0);
  std::shuffle(row_of_lane.begin(), row_of_lane.end(), std::mt19937(22));
  constexpr std::uint32_t kUntouched = 0xDEADBEEFu;
  std::vector<std::uint32_t> out(6 * 32 * 4, kUntouched);
  emu::ldmatrix_all(rows.data(), row_of_lane.data(), out.data(), nullptr);
  const int counts[6] = {1, 2, 4, 1, 2, 4};
  for (int v = 0; v < 6; ++v) {
    const bool trans = v >= 3;
    for (int lane = 0; lane < 32; ++lane) {
      for (int j = 0; j < 4; ++j) {
        const std::uint32_t got = out[static_cast<std::size_t>((v * 32 + lane) * 4 + j)];
        const std::uint32_t expect = j < counts[v] ? ref::ldmatrix_expected(rows, row_of_lane, j, lane, trans) : kUntouched;
        ASSERT_EQ(got, expect) << "variant x" << counts[v] << (trans ? "_trans" : "") << " lane " << lane << " r["
                               << j << "]";
      }
    }
  }
}

TEST(EmulatorMma, CpAsyncLdmatrixAndMmaComputeATileProductFromSharedMemory) {
  const ref::RoundTripCase k = ref::roundtrip_case(31);
  std::vector<float> d(16 * 16, -12345.0f), d_x2(16 * 8, -12345.0f);
  emu::ldmatrix_mma_roundtrip(k.A.data(), k.B.data(), k.C.data(), d.data(), d_x2.data(), nullptr);
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 16; ++j) {
      const auto at = static_cast<std::size_t>(i * 16 + j);
      ASSERT_NEAR(d[at], k.expect[at], 1e-6 * k.abs_sum[at]) << "x4_trans " << i << "," << j;
      if (j < 8) {
        ASSERT_NEAR(d_x2[static_cast<std::size_t>(i * 8 + j)], k.expect[at], 1e-6 * k.abs_sum[at])
            << "x2_trans " << i << "," << j;
      }
    }
  }
}

TEST(EmulatorCpAsync, DataAppearsOnlyWhenItsGroupIsWaitedFor) {
  const auto src = random_floats(16, 41);
  std::vector<float> out(28, -12345.0f);
  emu::cp_async_probe(src.data(), out.data(), 0, nullptr);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(bits_of(out[static_cast<std::size_t>(i)]), kPoisonBits) << "before any wait " << i;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[static_cast<std::size_t>(8 + i)], src[static_cast<std::size_t>(i)]) << "wait<1>, group 1";
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(bits_of(out[static_cast<std::size_t>(12 + i)]), kPoisonBits) << "wait<1> leaves group 2 pending " << i;
  }
  for (int i = 0; i < 8; ++i) EXPECT_EQ(out[static_cast<std::size_t>(16 + i)], src[static_cast<std::size_t>(i)]) << "wait<0>";
  for (int i = 0; i < 4; ++i) EXPECT_EQ(bits_of(out[static_cast<std::size_t>(24 + i)]), 0u) << "zero fill " << i;
}

TEST(EmulatorCpAsync, UncommittedCopiesAreNotWaitedFor) {
  const auto src = random_floats(16, 42);
  std::vector<float> out(8, -12345.0f);
  emu::cp_async_probe(src.data(), out.data(), 5, nullptr);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(bits_of(out[static_cast<std::size_t>(i)]), kPoisonBits) << i;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[static_cast<std::size_t>(4 + i)], src[static_cast<std::size_t>(i)]) << i;
}

TEST(EmulatorCpAsync, ReadingAnotherThreadsCopyWithoutABarrierGivesStaleDataForSomeSeed) {
  const auto src = random_floats(64 * 4, 44);
  bool stale_seen = false;
  const std::uint64_t saved_seed = deeper::emu::seed();
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    deeper::emu::set_seed(seed);
    std::vector<float> with(64 * 4, -12345.0f), without(64 * 4, -12345.0f);
    emu::cp_async_neighbour(src.data(), with.data(), true, nullptr);
    emu::cp_async_neighbour(src.data(), without.data(), false, nullptr);
    for (int t = 0; t < 64; ++t) {
      for (int i = 0; i < 4; ++i) {
        const auto at = static_cast<std::size_t>(4 * t + i);
        ASSERT_EQ(with[at], src[static_cast<std::size_t>(4 * ((t + 1) % 64) + i)]) << "seed " << seed << " thread " << t;
        if (bits_of(without[at]) == kPoisonBits) stale_seen = true;
      }
    }
  }
  deeper::emu::set_seed(saved_seed);
  EXPECT_TRUE(stale_seen) << "the missing __syncthreads after cp_async_wait was never caught";
}

TEST(EmulatorCpAsync, BadAddressesSizesAndUnwaitedCopiesAreErrors) {
  const auto src = random_floats(16, 43);
  std::vector<float> out(28, 0.0f);
  const auto probe = [&](int mode) { return error_of([&] { emu::cp_async_probe(src.data(), out.data(), mode, nullptr); }); };
  const std::string misaligned_dst = probe(1), misaligned_src = probe(2), unwaited = probe(3), global_dst = probe(4),
                    too_many = probe(6), shared_src = probe(7);
  EXPECT_NE(misaligned_dst.find("16-byte aligned"), std::string::npos) << misaligned_dst;
  EXPECT_NE(misaligned_dst.find("cp_async_probe"), std::string::npos) << misaligned_dst;
  EXPECT_NE(misaligned_src.find("16-byte aligned"), std::string::npos) << misaligned_src;
  EXPECT_NE(unwaited.find("exited with 1 cp.async copy not yet performed"), std::string::npos) << unwaited;
  EXPECT_NE(global_dst.find("not in shared memory"), std::string::npos) << global_dst;
  EXPECT_NE(too_many.find("src_bytes 17"), std::string::npos) << too_many;
  EXPECT_NE(shared_src.find("is in shared memory"), std::string::npos) << shared_src;
  EXPECT_NO_THROW(emu::cp_async_probe(src.data(), out.data(), 8, nullptr)) << "empty groups pending at exit are allowed";
}

TEST(EmulatorMma, MisuseIsReportedWhereAGpuWouldFaultOrHang) {
  std::vector<std::uint32_t> out(32 * 4, 0);
  const auto misuse = [&](int mode, unsigned threads = 32) {
    return error_of([&] { emu::mma_misuse(mode, threads, out.data(), nullptr); });
  };
  const std::string missing_lane = misuse(0);
  EXPECT_NE(missing_lane.find("deadlock"), std::string::npos) << missing_lane;
  EXPECT_NE(missing_lane.find("mma_m16n8k16_bf16"), std::string::npos) << missing_lane;
  EXPECT_NE(missing_lane.find("lane 3, which has exited"), std::string::npos) << missing_lane;

  const std::string misaligned = misuse(1);
  EXPECT_NE(misaligned.find("ldmatrix_x4: lane 2's row address"), std::string::npos) << misaligned;
  EXPECT_NE(misaligned.find("16-byte aligned"), std::string::npos) << misaligned;

  const std::string global_rows = misuse(2), local_rows = misuse(3);
  EXPECT_NE(global_rows.find("ldmatrix_x2: lane "), std::string::npos) << global_rows;
  EXPECT_NE(global_rows.find("not in shared memory"), std::string::npos) << global_rows;
  EXPECT_NE(local_rows.find("not in shared memory"), std::string::npos) << local_rows;

  const std::string mixed = misuse(4);
  EXPECT_NE(mixed.find("deadlock"), std::string::npos) << mixed;
  EXPECT_NE(mixed.find("ldmatrix_x2"), std::string::npos) << mixed;
  EXPECT_NE(mixed.find("ldmatrix_x4"), std::string::npos) << mixed;

  // x1 uses only lanes 0-7's addresses: the others may be anything.
  EXPECT_NO_THROW(emu::mma_misuse(5, 32, out.data(), nullptr));
  for (int lane = 0; lane < 32; ++lane) {
    const int row = lane / 4, col = 2 * (lane % 4);  // tile[i] = i, rows of 8
    EXPECT_EQ(out[static_cast<std::size_t>(lane * 4)], ref::pack(static_cast<std::uint16_t>(row * 8 + col),
                                                                  static_cast<std::uint16_t>(row * 8 + col + 1)))
        << lane;
  }

  const std::string short_warp = misuse(6, 16);
  EXPECT_NE(short_warp.find("needs all 32 lanes of the warp"), std::string::npos) << short_warp;
}
