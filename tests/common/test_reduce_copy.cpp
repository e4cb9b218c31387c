// reduce_sum and copy: the emulated CUDA kernels against the CPU reference, on odd sizes, with
// poisoned outputs so that an unwritten element shows.
#include "kernels/common/copy.h"
#include "kernels/common/reduce.h"
#include "kernels/emu/emulator.h"

#include "core/error.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace dk = deeper::kernels;
using deeper::Backend;
using deeper::Device;

namespace {

const Device kEmu{Backend::emu, 0};
const Device kCpu{Backend::cpu, 0};

std::vector<float> random_floats(std::int64_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = dist(gen);
  return v;
}

float sum_on(const Device& device, const std::vector<float>& in) {
  const auto n = static_cast<std::int64_t>(in.size());
  std::vector<float> partials(dk::reduce_sum_blocks(n), NAN);
  float out = NAN;
  dk::reduce_sum(device, dk::ReduceSumParams{in.data(), n, partials.data(), &out});
  return out;
}

}  // namespace

TEST(ReduceSum, EmulatedKernelMatchesCpuReference) {
  const std::uint64_t launches = deeper::emu::stats().launches;
  for (std::int64_t n : {0, 1, 31, 256, 1000, 1025, 65537, 300000}) {
    const auto in = random_floats(n, static_cast<unsigned>(n) + 1);
    double exact = 0;
    for (float v : in) exact += v;
    const float emu = sum_on(kEmu, in), cpu = sum_on(kCpu, in);
    const double tol = 1e-6 * std::sqrt(static_cast<double>(n) + 1) * 8 + 1e-6;
    EXPECT_NEAR(emu, exact, tol) << "n=" << n;
    EXPECT_NEAR(cpu, exact, tol) << "n=" << n;
    EXPECT_NEAR(emu, cpu, tol) << "n=" << n;
  }
  EXPECT_EQ(deeper::emu::stats().launches - launches, 16u);  // two kernels per size, under the emulator
}

TEST(ReduceSum, RejectsBadArguments) {
  float out = 0, partial = 0;
  EXPECT_THROW(dk::reduce_sum(kCpu, dk::ReduceSumParams{nullptr, 10, &partial, &out}), deeper::Error);
  EXPECT_THROW(dk::reduce_sum(kCpu, dk::ReduceSumParams{&out, -1, &partial, &out}), deeper::Error);
}

TEST(Copy, EmulatedKernelCopiesEveryByteAtAnyAlignment) {
  std::vector<unsigned char> src(5000);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 7 + 3);
  for (std::size_t src_off : {0u, 1u, 5u}) {
    for (std::size_t dst_off : {0u, 3u}) {
      for (std::int64_t bytes : {0, 1, 15, 16, 17, 4000}) {
        std::vector<unsigned char> dst(5000, 0xEE);
        dk::copy(kEmu, dk::CopyParams{src.data() + src_off, dst.data() + dst_off, bytes});
        for (std::size_t i = 0; i < dst.size(); ++i) {
          const bool inside = i >= dst_off && i < dst_off + static_cast<std::size_t>(bytes);
          const unsigned char expect = inside ? src[i - dst_off + src_off] : 0xEE;
          ASSERT_EQ(dst[i], expect) << "src+" << src_off << " dst+" << dst_off << " bytes " << bytes << " at " << i;
        }
      }
    }
  }
}

TEST(Copy, CudaBackendWithoutAGpuFailsClearly) {
  if (deeper::probe_cuda().device_count > 0) GTEST_SKIP() << "a GPU is present; tests/gpu_* cover the cuda backend";
  std::vector<unsigned char> a(16), b(16);
  try {
    dk::copy(Device{Backend::cuda, 0}, dk::CopyParams{a.data(), b.data(), 16});
    FAIL() << "a cuda copy without a GPU must throw";
  } catch (const deeper::Error& e) {
    EXPECT_NE(std::string(e.what()).find("copy"), std::string::npos) << e.what();  // names the kernel
  }
}
