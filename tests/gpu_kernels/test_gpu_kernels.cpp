// CUDA kernels on a real GPU against the CPU: the execution-model kernels of tests/emu and the
// shared kernels of kernels/common. Every test skips, naming the reason, without a usable GPU or
// without the nvcc pass in this build.
#include "kernels/common/copy.h"
#include "kernels/common/reduce.h"
#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"
#include "tests/emu/emu_test_kernels.h"
#include "tests/support/gpu_test_util.h"

#include <cuda_fp16.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#if DEEPER_HAVE_CUDA_KERNELS
namespace {

using deeper::Device;

const Device kGpu = Device::cuda(0);

using deeper::test::to_gpu;
using deeper::test::to_host;

std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

}  // namespace

TEST(GpuKernels, BlockAndWarpSumsMatchCpu) {
  DEEPER_REQUIRE_CUDA();
  const int n = 100000;
  const auto in = random_floats(n, 1);
  auto d_in = to_gpu(in);
  deeper::DeviceBuffer d_blocks(kGpu, ((n + 255) / 256) * sizeof(float)), d_warps(kGpu, ((n + 31) / 32) * sizeof(float));
  deeper::testk::cuda_impl::block_sum(static_cast<const float*>(d_in.data()), static_cast<float*>(d_blocks.data()), n,
                                      true, nullptr);
  deeper::testk::cuda_impl::warp_sum(static_cast<const float*>(d_in.data()), static_cast<float*>(d_warps.data()), n,
                                     nullptr);
  const auto blocks = to_host<float>(d_blocks), warps = to_host<float>(d_warps);
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    double expect = 0;
    for (std::size_t i = b * 256; i < std::min<std::size_t>(n, (b + 1) * 256); ++i) expect += in[i];
    ASSERT_NEAR(blocks[b], expect, 1e-4) << b;
  }
  for (std::size_t w = 0; w < warps.size(); ++w) {
    double expect = 0;
    for (std::size_t i = w * 32; i < std::min<std::size_t>(n, (w + 1) * 32); ++i) expect += in[i];
    ASSERT_NEAR(warps[w], expect, 1e-4) << w;
  }
}

TEST(GpuKernels, WarpIntrinsicsAgreeWithTheEmulator) {
  DEEPER_REQUIRE_CUDA();
  std::vector<int> in(64);
  for (int t = 0; t < 64; ++t) in[static_cast<std::size_t>(t)] = (t * 37 + 11) % 97 - 20;
  std::vector<int> emu_out(11 * 64, -99);
  deeper::testk::emu_impl::warp_intrinsics(in.data(), emu_out.data(), nullptr);
  auto d_in = to_gpu(in);
  auto d_out = to_gpu(std::vector<int>(11 * 64, -99));
  deeper::testk::cuda_impl::warp_intrinsics(static_cast<const int*>(d_in.data()), static_cast<int*>(d_out.data()),
                                            nullptr);
  EXPECT_EQ(to_host<int>(d_out), emu_out);
}

TEST(GpuKernels, PackedAtomicMinAndWmmaMatchTheEmulator) {
  DEEPER_REQUIRE_CUDA();
  auto depth = random_floats(5000, 2);
  for (auto& d : depth) d = std::fabs(d) + 0.1f;
  depth[4321] = 0.01f;
  auto d_depth = to_gpu(depth);
  auto d_best = to_gpu(std::vector<unsigned long long>{~0ull});
  deeper::testk::cuda_impl::packed_depth_min(static_cast<const float*>(d_depth.data()),
                                             static_cast<unsigned long long*>(d_best.data()), 5000, nullptr);
  EXPECT_EQ(to_host<unsigned long long>(d_best)[0] & 0xFFFFFFFFull, 4321u);

  std::vector<__half> a(256), b(256);
  const auto ra = random_floats(256, 3), rb = random_floats(256, 4), rc = random_floats(256, 5);
  for (std::size_t i = 0; i < 256; ++i) {
    a[i] = __float2half(ra[i]);
    b[i] = __float2half(rb[i]);
  }
  std::vector<float> emu_c = rc;
  deeper::testk::emu_impl::wmma_gemm_16(a.data(), b.data(), emu_c.data(), nullptr);
  auto d_a = to_gpu(a), d_b = to_gpu(b), d_c = to_gpu(rc);
  deeper::testk::cuda_impl::wmma_gemm_16(d_a.data(), d_b.data(), static_cast<float*>(d_c.data()), nullptr);
  const auto gpu_c = to_host<float>(d_c);
  for (std::size_t i = 0; i < 256; ++i) EXPECT_NEAR(gpu_c[i], emu_c[i], 1e-4) << i;
}

TEST(GpuKernels, ReduceSumAndCopyMatchCpu) {
  DEEPER_REQUIRE_CUDA();
  for (std::int64_t n : {1, 1000, 1 << 20, 10000019}) {
    const auto in = random_floats(static_cast<std::size_t>(n), static_cast<unsigned>(n));
    auto d_in = to_gpu(in);
    deeper::DeviceBuffer d_partials(kGpu, deeper::kernels::reduce_sum_blocks(n) * sizeof(float)), d_out(kGpu, 4);
    deeper::kernels::reduce_sum(kGpu, {static_cast<const float*>(d_in.data()), n, static_cast<float*>(d_partials.data()),
                                       static_cast<float*>(d_out.data())});
    double exact = 0;
    for (float v : in) exact += v;
    EXPECT_NEAR(to_host<float>(d_out)[0], exact, 1e-5 * std::sqrt(static_cast<double>(n)) * 8 + 1e-5) << n;

    deeper::DeviceBuffer d_copy(kGpu, in.size() * sizeof(float));
    deeper::kernels::copy(kGpu, {d_in.data(), d_copy.data(), static_cast<std::int64_t>(in.size() * sizeof(float))});
    EXPECT_EQ(to_host<float>(d_copy), in) << n;
  }
}
#else
TEST(GpuKernels, NeedsTheCudaPass) { GTEST_SKIP() << "this build has no CUDA kernels (DEEPER_WITH_CUDA=OFF)"; }
#endif
