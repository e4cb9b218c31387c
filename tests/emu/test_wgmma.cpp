// kernels/common/wgmma.cuh under the emulator: wgmma m64nNk16 (N = 64, 128; A and B K-major or
// MN-major in the interleaved layout, with non-dense LBO / SBO) against a double reference, the
// asynchronous semantics (accumulators change only at the wait), and the misuse the emulator reports.
#include "tests/emu/mma_reference.h"
#include "tests/emu/wgmma_test_kernels.h"

#include "tests/support/error_of.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace emu = deeper::testk::emu_impl;
namespace ref = deeper::test::mma;

namespace {

using deeper::test_util::error_of;

void check_tile(int n, int trans_a, int trans_b, bool with_c, unsigned seed) {
  const ref::WgmmaTileCase k = ref::wgmma_tile_case(n, seed, with_c);
  std::vector<float> d(static_cast<std::size_t>(64 * n), -12345.0f);
  emu::wgmma_tile(k.A.data(), k.B.data(), k.C.data(), d.data(), n, trans_a, trans_b, with_c ? 0 : 1, 128, nullptr);
  for (int m = 0; m < 64; ++m) {
    for (int j = 0; j < n; ++j) {
      const auto at = static_cast<std::size_t>(m * n + j);
      ASSERT_NEAR(d[at], k.expect[at], 1e-6 * k.abs_sum[at] + 1e-30)
          << "D[" << m << "][" << j << "], n " << n << ", trans_a " << trans_a << ", trans_b " << trans_b;
    }
  }
}

}  // namespace

TEST(EmulatorWgmma, MatchesTheDoubleReferenceForEveryShapeAndMajor) {
  for (int n : {64, 128}) {
    for (int ta = 0; ta < 2; ++ta) {
      for (int tb = 0; tb < 2; ++tb) check_tile(n, ta, tb, true, static_cast<unsigned>(10 * n + 2 * ta + tb));
    }
  }
}

TEST(EmulatorWgmma, ScaleDZeroIgnoresTheAccumulator) {
  check_tile(64, 0, 1, false, 5);
  check_tile(128, 1, 0, false, 6);
}

TEST(EmulatorWgmma, AccumulatorsChangeOnlyAtTheWait) {
  const ref::WgmmaTileCase k = ref::wgmma_tile_case(64, 7, true);
  std::vector<float> d(64 * 64, -12345.0f);
  emu::wgmma_tile(k.A.data(), k.B.data(), k.C.data(), d.data(), 64, 0, 0, 2, 128, nullptr);
  for (std::size_t i = 0; i < d.size(); ++i) ASSERT_EQ(d[i], k.C[i]) << i;
}

TEST(EmulatorWgmma, MisuseIsReportedWhereAGpuWouldMisbehave) {
  const ref::WgmmaTileCase k = ref::wgmma_tile_case(64, 8, true);
  std::vector<float> d(64 * 64, 0.0f);
  const auto run = [&](int mode, unsigned threads = 128) {
    return error_of([&] { emu::wgmma_tile(k.A.data(), k.B.data(), k.C.data(), d.data(), 64, 0, 0, mode, threads, nullptr); });
  };
  const std::string no_fence = run(3), no_wait = run(4), swizzled = run(5), half_group = run(0, 64);
  EXPECT_NE(no_fence.find("without a wgmma_fence"), std::string::npos) << no_fence;
  EXPECT_NE(no_fence.find("wgmma_tile"), std::string::npos) << no_fence;
  EXPECT_NE(no_wait.find("exited with 2 wgmma operations not yet performed"), std::string::npos) << no_wait;
  EXPECT_NE(swizzled.find("swizzle mode 1"), std::string::npos) << swizzled;
  EXPECT_NE(half_group.find("warpgroup 0, which this 64-thread block does not fill"), std::string::npos) << half_group;
}
