// Buffers and copies on the host backends (cpu, emu), and the errors for impossible requests.
#include <gtest/gtest.h>

#include "core/error.h"
#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"
#include "kernels/runtime/stream.h"
#include "tests/support/error_of.h"

#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

namespace deeper {
namespace {

using test_util::error_of;

bool aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % buffer_alignment == 0; }

TEST(DeviceBuffer, HostBackendsGiveAlignedWritableMemory) {
  for (const Device device : {Device::cpu(), Device::emu()}) {
    const std::uint64_t before = DeviceBuffer::allocation_count();
    DeviceBuffer buffer(device, 1000);
    EXPECT_EQ(DeviceBuffer::allocation_count(), before + 1);
    ASSERT_NE(buffer.data(), nullptr);
    EXPECT_TRUE(aligned(buffer.data()));
    EXPECT_EQ(buffer.bytes(), 1000u);
    EXPECT_EQ(buffer.device(), device);
    std::memset(buffer.data(), 0x5a, buffer.bytes());
    EXPECT_EQ(static_cast<unsigned char*>(buffer.data())[999], 0x5a);
  }
}

TEST(DeviceBuffer, ZeroBytesHoldsNothingAndCountsNoAllocation) {
  const std::uint64_t before = DeviceBuffer::allocation_count();
  DeviceBuffer empty(Device::cpu(), 0);
  EXPECT_EQ(empty.data(), nullptr);
  EXPECT_EQ(empty.bytes(), 0u);
  EXPECT_EQ(DeviceBuffer::allocation_count(), before);
  // A zero-byte CUDA buffer needs no GPU either.
  DeviceBuffer empty_cuda(Device::cuda(0), 0);
  EXPECT_EQ(empty_cuda.data(), nullptr);
}

TEST(DeviceBuffer, MovesOwnership) {
  DeviceBuffer a(Device::emu(), 64);
  void* const p = a.data();
  DeviceBuffer b(std::move(a));
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(b.bytes(), 64u);
  EXPECT_EQ(b.device(), Device::emu());
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(a.bytes(), 0u);
  DeviceBuffer c(Device::cpu(), 32);
  c = std::move(b);
  EXPECT_EQ(c.data(), p);
  EXPECT_EQ(c.device(), Device::emu());
}

TEST(DeviceBuffer, AbsurdSizeNamesTheSizeAndDevice) {
  const std::size_t absurd = std::numeric_limits<std::size_t>::max() - 7;
  const std::string message = error_of([&] { DeviceBuffer buffer(Device::emu(), absurd); });
  EXPECT_NE(message.find(std::to_string(absurd) + " bytes"), std::string::npos) << message;
  EXPECT_NE(message.find("on emu"), std::string::npos) << message;
  EXPECT_NE(message.find("larger than this machine's"), std::string::npos) << message;
}

TEST(DeviceBuffer, CudaWithoutAGpuNamesTheSizeDeviceAndReason) {
  if (probe_cuda().device_count > 0) GTEST_SKIP() << "a CUDA device is usable here";
  const std::string message = error_of([] { DeviceBuffer buffer(Device::cuda(0), 4096); });
  EXPECT_EQ(message,
            "cannot allocate 4 KiB (4096 bytes) on cuda:0: CUDA is unusable: " + probe_cuda().reason);
}

TEST(PinnedBuffer, FallsBackToAlignedHostMemoryWithoutCuda) {
  PinnedBuffer buffer(4096);
  ASSERT_NE(buffer.data(), nullptr);
  EXPECT_TRUE(aligned(buffer.data()));
  EXPECT_EQ(buffer.bytes(), 4096u);
  EXPECT_EQ(buffer.pinned(), probe_cuda().device_count > 0);
  std::memset(buffer.data(), 1, buffer.bytes());
  PinnedBuffer moved(std::move(buffer));
  EXPECT_EQ(moved.bytes(), 4096u);
  EXPECT_EQ(buffer.data(), nullptr);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(PinnedBuffer(0).data(), nullptr);
}

TEST(PinnedBuffer, AbsurdSizeNamesTheSize) {
  const std::size_t absurd = std::numeric_limits<std::size_t>::max();
  const std::string message = error_of([&] { PinnedBuffer buffer(absurd); });
  EXPECT_NE(message.find(std::to_string(absurd) + " bytes"), std::string::npos) << message;
}

TEST(CopyBytes, BetweenHostBackendsWithAndWithoutAStream) {
  std::vector<int> src(1000);
  std::iota(src.begin(), src.end(), 0);
  DeviceBuffer cpu(Device::cpu(), src.size() * sizeof(int));
  DeviceBuffer emu(Device::emu(), src.size() * sizeof(int));
  copy_bytes(cpu.data(), Device::cpu(), src.data(), Device::cpu(), cpu.bytes());
  Stream stream(Device::emu());
  copy_bytes(emu.data(), Device::emu(), cpu.data(), Device::cpu(), emu.bytes(), &stream);
  std::vector<int> back(src.size(), -1);
  copy_bytes(back.data(), Device::cpu(), emu.data(), Device::emu(), emu.bytes());
  EXPECT_EQ(back, src);
}

TEST(CopyBytes, ZeroBytesAcceptsNullPointers) {
  EXPECT_NO_THROW(copy_bytes(nullptr, Device::cpu(), nullptr, Device::cuda(0), 0));
  EXPECT_NO_THROW(fill_bytes(nullptr, Device::cuda(0), 0, 0));
}

TEST(CopyBytes, NullPointerIsAnError) {
  int value = 0;
  const std::string message = error_of([&] { copy_bytes(&value, Device::cpu(), nullptr, Device::emu(), 4); });
  EXPECT_NE(message.find("the source pointer is null"), std::string::npos) << message;
  EXPECT_NE(message.find("from emu to cpu"), std::string::npos) << message;
  EXPECT_NE(error_of([&] { fill_bytes(nullptr, Device::cpu(), 0, 4); }).find("null"), std::string::npos);
}

TEST(CopyBytes, ToCudaWithoutAGpuSaysWhy) {
  if (probe_cuda().device_count > 0) GTEST_SKIP() << "a CUDA device is usable here";
  int host = 1;
  int fake_device_memory = 0;
  const std::string message =
      error_of([&] { copy_bytes(&fake_device_memory, Device::cuda(0), &host, Device::cpu(), sizeof(int)); });
  EXPECT_EQ(message,
            "cannot copy 4 B (4 bytes) from cpu to cuda:0: CUDA is unusable: " + probe_cuda().reason);
  EXPECT_NE(error_of([&] { fill_bytes(&fake_device_memory, Device::cuda(0), 1, 4); }).find("cannot fill 4 B"),
            std::string::npos);
  EXPECT_EQ(fake_device_memory, 0);
}

TEST(FillBytes, SetsEveryByteOnHostBackends) {
  DeviceBuffer buffer(Device::emu(), 300);
  fill_bytes(buffer.data(), Device::emu(), 0xab, buffer.bytes());
  const auto* bytes = static_cast<const unsigned char*>(buffer.data());
  for (std::size_t i = 0; i < buffer.bytes(); ++i) ASSERT_EQ(bytes[i], 0xab) << i;
  fill_bytes(buffer.data(), Device::emu(), 0, 100);
  EXPECT_EQ(bytes[99], 0);
  EXPECT_EQ(bytes[100], 0xab);
}

}  // namespace
}  // namespace deeper
