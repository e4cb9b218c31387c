// Device and pinned buffers, copies in every direction and fills, verified on a real GPU.
#include <gtest/gtest.h>

#include "core/error.h"
#include "kernels/runtime/cuda_check.h"
#include "kernels/runtime/memory.h"
#include "kernels/runtime/stream.h"
#include "tests/support/gpu_test_util.h"
#include "tests/support/error_of.h"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

namespace deeper {
namespace {

using test_util::error_of;

constexpr Device gpu = Device::cuda(0);

TEST(GpuMemory, DeviceBufferIsDeviceMemory) {
  DEEPER_REQUIRE_CUDA();
  const std::uint64_t before = DeviceBuffer::allocation_count();
  DeviceBuffer buffer(gpu, 1 << 20);
  EXPECT_EQ(DeviceBuffer::allocation_count(), before + 1);
  ASSERT_NE(buffer.data(), nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(buffer.data()) % buffer_alignment, 0u);
  cudaPointerAttributes attributes{};
  DEEPER_CUDA_CHECK(cudaPointerGetAttributes(&attributes, buffer.data()));
  EXPECT_EQ(attributes.type, cudaMemoryTypeDevice);
  EXPECT_EQ(attributes.device, 0);
}

TEST(GpuMemory, TooLargeNamesSizeDeviceAndFreeMemory) {
  DEEPER_REQUIRE_CUDA();
  const std::size_t huge = std::size_t{1} << 50;  // 1 PiB
  const std::string message = error_of([&] { DeviceBuffer buffer(gpu, huge); });
  EXPECT_NE(message.find("cannot allocate 1 PiB (" + std::to_string(huge) + " bytes) on cuda:0"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("free of"), std::string::npos) << message;
  EXPECT_NE(message.find("cudaMalloc(&data, bytes) failed at kernels/runtime/memory.cpp:"), std::string::npos)
      << message;
  // The failure left no error behind for the next launch check.
  EXPECT_NO_THROW(DEEPER_CUDA_CHECK_LAST("after_oom"));
}

TEST(GpuMemory, PinnedBufferIsPageLocked) {
  DEEPER_REQUIRE_CUDA();
  PinnedBuffer buffer(1 << 16);
  EXPECT_TRUE(buffer.pinned());
  cudaPointerAttributes attributes{};
  DEEPER_CUDA_CHECK(cudaPointerGetAttributes(&attributes, buffer.data()));
  EXPECT_EQ(attributes.type, cudaMemoryTypeHost);
}

TEST(GpuMemory, RoundTripHostToDeviceToDeviceToHost) {
  DEEPER_REQUIRE_CUDA();
  const std::size_t count = (1 << 20) + 37;
  std::vector<std::uint32_t> src(count);
  std::iota(src.begin(), src.end(), 7u);
  const std::size_t bytes = count * sizeof(std::uint32_t);
  DeviceBuffer a(gpu, bytes);
  DeviceBuffer b(gpu, bytes);
  copy_bytes(a.data(), gpu, src.data(), Device::cpu(), bytes);
  copy_bytes(b.data(), gpu, a.data(), gpu, bytes);
  std::vector<std::uint32_t> back(count, 0);
  copy_bytes(back.data(), Device::cpu(), b.data(), gpu, bytes);
  EXPECT_EQ(back, src);
  // emu memory is host memory too.
  DeviceBuffer emu(Device::emu(), bytes);
  copy_bytes(emu.data(), Device::emu(), b.data(), gpu, bytes);
  EXPECT_EQ(std::memcmp(emu.data(), src.data(), bytes), 0);
}

TEST(GpuMemory, AsyncCopiesThroughPinnedMemoryOnAStream) {
  DEEPER_REQUIRE_CUDA();
  const std::size_t bytes = 8 << 20;
  PinnedBuffer up(bytes);
  PinnedBuffer down(bytes);
  auto* in = static_cast<unsigned char*>(up.data());
  for (std::size_t i = 0; i < bytes; ++i) in[i] = static_cast<unsigned char>(i * 31 + 5);
  std::memset(down.data(), 0, bytes);
  DeviceBuffer device(gpu, bytes);
  Stream stream(gpu);
  copy_bytes(device.data(), gpu, up.data(), Device::cpu(), bytes, &stream);
  copy_bytes(down.data(), Device::cpu(), device.data(), gpu, bytes, &stream);
  stream.synchronize();
  EXPECT_EQ(std::memcmp(up.data(), down.data(), bytes), 0);
}

TEST(GpuMemory, FillSetsDeviceBytes) {
  DEEPER_REQUIRE_CUDA();
  DeviceBuffer buffer(gpu, 1000);
  fill_bytes(buffer.data(), gpu, 0x7f, 1000);
  Stream stream(gpu);
  fill_bytes(buffer.data(), gpu, 0, 10, &stream);
  std::vector<unsigned char> back(1000);
  copy_bytes(back.data(), Device::cpu(), buffer.data(), gpu, 1000, &stream);
  stream.synchronize();
  EXPECT_EQ(back[9], 0);
  EXPECT_EQ(back[10], 0x7f);
  EXPECT_EQ(back[999], 0x7f);
}

TEST(GpuMemory, StreamOfAnUnrelatedDeviceIsRefused) {
  DEEPER_REQUIRE_CUDA();
  if (probe_cuda().device_count < 2) GTEST_SKIP() << "needs two GPUs";
  DeviceBuffer buffer(gpu, 64);
  Stream other(Device::cuda(1));
  std::vector<unsigned char> host(64);
  const std::string message =
      error_of([&] { copy_bytes(host.data(), Device::cpu(), buffer.data(), gpu, 64, &other); });
  EXPECT_NE(message.find("cannot run on a stream of cuda:1"), std::string::npos) << message;
}

}  // namespace
}  // namespace deeper
