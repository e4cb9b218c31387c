// kernels/common/wgmma.cuh on a real GPU (sm_90a): the kernels of tests/emu/wgmma_test_kernels.cu
// built by nvcc against the same double reference as the emulator's tests (tests/emu/test_wgmma.cpp).
// This is what checks the emulator's reading of the descriptor and fragment layouts against the
// hardware. Skips, naming the reason, without a usable GPU or without an sm_90a build.
#include "kernels/runtime/memory.h"
#include "tests/emu/mma_reference.h"
#include "tests/emu/wgmma_test_kernels.h"
#include "tests/support/gpu_test_util.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#if DEEPER_HAVE_CUDA_KERNELS
namespace {

namespace cuda = deeper::testk::cuda_impl;
namespace ref = deeper::test::mma;
using deeper::test::to_gpu;
using deeper::test::to_host;

void check_tile_on_gpu(int n, int trans_a, int trans_b, bool with_c, unsigned seed) {
  const ref::WgmmaTileCase k = ref::wgmma_tile_case(n, seed, with_c);
  auto a = to_gpu(k.A), b = to_gpu(k.B), c = to_gpu(k.C);
  auto d = to_gpu(std::vector<float>(static_cast<std::size_t>(64 * n), -12345.0f));
  cuda::wgmma_tile(static_cast<const std::uint16_t*>(a.data()), static_cast<const std::uint16_t*>(b.data()),
                   static_cast<const float*>(c.data()), static_cast<float*>(d.data()), n, trans_a, trans_b,
                   with_c ? 0 : 1, 128, nullptr);
  const auto got = to_host<float>(d);
  for (int m = 0; m < 64; ++m) {
    for (int j = 0; j < n; ++j) {
      const auto at = static_cast<std::size_t>(m * n + j);
      ASSERT_NEAR(got[at], k.expect[at], 1e-5 * k.abs_sum[at] + 1e-30)
          << "D[" << m << "][" << j << "], n " << n << ", trans_a " << trans_a << ", trans_b " << trans_b
          << " (a layout mistake is off by O(1))";
    }
  }
}

}  // namespace

TEST(GpuWgmma, MatchesTheDoubleReferenceForEveryShapeAndMajor) {
  DEEPER_REQUIRE_CUDA();
#if !DEEPER_CUDA_SM90A
  GTEST_SKIP() << "this build has no sm_90a code (CMAKE_CUDA_ARCHITECTURES does not list 90a): wgmma is not compiled";
#endif
  for (int n : {64, 128}) {
    for (int ta = 0; ta < 2; ++ta) {
      for (int tb = 0; tb < 2; ++tb) check_tile_on_gpu(n, ta, tb, true, static_cast<unsigned>(10 * n + 2 * ta + tb));
    }
  }
  check_tile_on_gpu(64, 0, 1, false, 5);
  check_tile_on_gpu(128, 1, 0, false, 6);
}
#endif
