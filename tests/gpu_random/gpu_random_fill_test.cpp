// random_fill on a real GPU (cuda_impl, compiled by nvcc with __umulhi and the device's
// round-to-nearest intrinsics) against the cpu reference (host compiler, 64-bit multiply, host
// IEEE arithmetic): every distribution, odd sizes, offsets past 2^32 blocks, sizes that need many
// grid-stride rounds, poisoned device buffers with guard elements. Every byte must match; this is
// the check that deeper's random numbers are the same on the GPU as on the CPU and the emulator.
#include <gtest/gtest.h>

#include "kernels/common/random_fill.h"
#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"
#include "kernels/runtime/stream.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

namespace dk = deeper::kernels;
using dk::RandomDistribution;
using dk::RandomFillParams;

constexpr deeper::Device gpu = deeper::Device::cuda(0);
constexpr unsigned char kPoison = 0xA5;

// Skips the test, with the reason, when no CUDA device is usable or there are no nvcc kernels.
#define REQUIRE_GPU_KERNELS()                                                                           \
  do {                                                                                                  \
    const deeper::CudaProbe probe = deeper::probe_cuda();                                               \
    if (probe.device_count == 0) GTEST_SKIP() << "no usable CUDA device: " << probe.reason;             \
    if (!deeper::cuda_kernels_built()) GTEST_SKIP() << "deeper_kernels was built without nvcc kernels"; \
  } while (0)

constexpr RandomDistribution kAllDists[] = {
    RandomDistribution::uniform_f32, RandomDistribution::uniform_open_f32, RandomDistribution::normal_f32,
    RandomDistribution::uniform_f64, RandomDistribution::normal_f64,       RandomDistribution::uniform_u32,
    RandomDistribution::bits_u32,
};

// Fills on the GPU (into a poisoned device buffer with one guard element on each side) and on the
// cpu; returns "" when every byte matches, else a description of the first difference.
std::string compare_gpu_cpu(const RandomFillParams& base, deeper::Stream* stream = nullptr) {
  const std::size_t elem = dk::random_element_size(base.dist);
  const std::size_t bytes = (static_cast<std::size_t>(base.count) + 2) * elem;
  std::vector<unsigned char> expected(bytes, kPoison), got(bytes, 0);
  RandomFillParams p = base;
  p.out = expected.data() + elem;
  dk::cpu_impl::random_fill(p);

  deeper::DeviceBuffer device(gpu, bytes);
  deeper::fill_bytes(device.data(), gpu, kPoison, bytes);
  p.out = static_cast<unsigned char*>(device.data()) + elem;
  dk::random_fill(gpu, p, stream != nullptr ? stream->native() : nullptr);
  if (stream != nullptr) stream->synchronize();
  deeper::copy_bytes(got.data(), deeper::Device::cpu(), device.data(), gpu, bytes);  // synchronizes
  for (std::size_t i = 0; i < bytes; ++i) {
    if (got[i] != expected[i]) {
      const auto element = static_cast<long long>(i / elem) - 1;
      return "first difference at byte " + std::to_string(i) + " (element " + std::to_string(element) +
             (element < 0 || element >= base.count ? ", a guard" : "") + ")";
    }
  }
  return "";
}

TEST(GpuRandomFill, BitIdenticalToCpuReference) {
  REQUIRE_GPU_KERNELS();
  const std::int64_t sizes[] = {1,    3,       255,       257,
                                4099, 1 << 20, 10'000'019};  // the last: many grid-stride rounds
  const std::uint64_t offsets[] = {0, 3, (std::uint64_t{5} << 34) + 1};
  for (RandomDistribution d : kAllDists) {
    for (std::int64_t n : sizes) {
      for (int v = 0; v < 3; ++v) {
        if (n > 5000 && v == 1) continue;
        RandomFillParams p;
        p.count = n;
        p.seed = v == 0 ? 0 : 0x0123456789ABCDEFull + static_cast<std::uint64_t>(n);
        p.stream = static_cast<std::uint32_t>(v * 7 + 1);
        p.offset = offsets[v];
        p.dist = d;
        p.bound = v == 2 ? (3u << 30) : 1000003u;  // 3 * 2^30: a quarter of all words are rejected
        if (v == 1) {
          p.scale = 0.125;
          p.shift = -2.0;
        }
        EXPECT_EQ(compare_gpu_cpu(p), "") << "dist " << static_cast<int>(d) << " n " << n << " variant " << v;
      }
    }
  }
}

TEST(GpuRandomFill, OnANonDefaultStream) {
  REQUIRE_GPU_KERNELS();
  deeper::Stream stream(gpu);
  RandomFillParams p;
  p.count = 123457;
  p.seed = 42;
  p.stream = 3;
  p.dist = RandomDistribution::normal_f32;
  EXPECT_EQ(compare_gpu_cpu(p, &stream), "");
}

}  // namespace
