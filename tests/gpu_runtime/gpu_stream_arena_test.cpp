// Streams, event timing, the arena and tensors on a real GPU.
#include <gtest/gtest.h>

#include "core/error.h"
#include "kernels/runtime/arena.h"
#include "kernels/runtime/stream.h"
#include "kernels/runtime/tensor.h"
#include "tests/support/gpu_test_util.h"
#include "tests/support/error_of.h"

#include <cstdint>
#include <cstdio>
#include <numeric>
#include <utility>
#include <vector>

namespace deeper {
namespace {

using test_util::error_of;

constexpr Device gpu = Device::cuda(0);

TEST(GpuStream, StreamHasANativeHandleAndEventsTimeCopies) {
  DEEPER_REQUIRE_CUDA();
  Stream stream(gpu);
  EXPECT_NE(stream.native(), nullptr);
  const std::size_t bytes = 256 << 20;
  DeviceBuffer a(gpu, bytes);
  DeviceBuffer b(gpu, bytes);
  Event start(gpu);
  Event stop(gpu);
  start.record(stream);
  for (int i = 0; i < 4; ++i) copy_bytes(b.data(), gpu, a.data(), gpu, bytes, &stream);
  stop.record(stream);
  stop.synchronize();
  const double ms = elapsed_ms(start, stop);
  EXPECT_GT(ms, 0.0);
  // 4 x 256 MiB read + written; no GPU moves that in under 0.1 ms (that would be > 20 TB/s).
  EXPECT_GT(ms, 0.1);
  EXPECT_LT(ms, 10000.0);
  const double gb_per_s = 2.0 * 4 * static_cast<double>(bytes) / (ms * 1e6);
  std::printf("device-to-device copy: %.0f GB/s over %.3f ms\n", gb_per_s, ms);
  Stream moved(std::move(stream));
  EXPECT_EQ(stream.native(), nullptr);  // NOLINT(bugprone-use-after-move)
  EXPECT_NO_THROW(moved.synchronize());
}

// A concurrent stream does not wait for the default stream, so an event must order them: a long
// copy on the default stream, then (ordered by the event) a fill and a copy on the concurrent
// stream; the host copy of the result on that stream sees the fill over the copied bytes.
TEST(GpuStream, ConcurrentStreamsOrderWithTheDefaultStreamThroughEvents) {
  DEEPER_REQUIRE_CUDA();
  Stream side(gpu, StreamOrder::concurrent);
  EXPECT_NE(side.native(), nullptr);
  const std::size_t bytes = 64 << 20;
  DeviceBuffer a(gpu, bytes), b(gpu, bytes);
  fill_bytes(a.data(), gpu, 0x11, bytes);
  copy_bytes(b.data(), gpu, a.data(), gpu, bytes);  // synchronous: b holds 0x11
  Event copied(gpu);
  fill_bytes(a.data(), gpu, 0x22, bytes, nullptr);
  for (int i = 0; i < 8; ++i) copy_bytes(b.data(), gpu, a.data(), gpu, bytes, nullptr);  // b := 0x22, slowly
  copied.record(nullptr);
  wait_for_event(&side, copied);
  fill_bytes(b.data(), gpu, 0x33, 4096, &side);  // after the copies, so it is not overwritten
  std::vector<unsigned char> host(8192);
  copy_bytes(host.data(), Device::cpu(), b.data(), gpu, host.size(), &side);
  side.synchronize();
  EXPECT_EQ(host[0], 0x33);
  EXPECT_EQ(host[4095], 0x33);
  EXPECT_EQ(host[4096], 0x22);
  EXPECT_EQ(host[8191], 0x22);
}

TEST(GpuStream, HostAndCudaEventsDoNotMix) {
  DEEPER_REQUIRE_CUDA();
  Stream stream(gpu);
  Event host_event(Device::cpu());
  const std::string message = error_of([&] { host_event.record(stream); });
  EXPECT_NE(message.find("cannot record an event of cpu on a stream of cuda:0"), std::string::npos) << message;
}

TEST(GpuArena, CarvesDeviceMemoryWithoutNewAllocations) {
  DEEPER_REQUIRE_CUDA();
  Arena arena(gpu, 64 << 20);
  Stream stream(gpu);
  std::vector<float> host(1000);
  std::iota(host.begin(), host.end(), 0.0f);
  const Tensor source = Tensor::view(host.data(), {10, 100}, DType::f32, Device::cpu());
  const std::uint64_t before = DeviceBuffer::allocation_count();
  for (int step = 0; step < 50; ++step) {
    const ArenaScope scope(arena);
    Tensor x = Tensor::view(arena, {10, 100}, DType::f32, "x");
    Tensor y = Tensor::view(arena, {10, 100}, DType::f32, "y");
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(y.data_raw()) % buffer_alignment, 0u);
    x.copy_from(source, &stream);
    y.copy_from(x, &stream);
  }
  stream.synchronize();
  EXPECT_EQ(DeviceBuffer::allocation_count(), before);
  EXPECT_EQ(arena.used(), 0u);
  EXPECT_NE(
      error_of([&] { arena.allocate(std::size_t{65} << 20, "too_big"); }).find("arena on cuda:0 is full"),
      std::string::npos);
}

TEST(GpuTensor, ToAndFromTheDeviceKeepsValues) {
  DEEPER_REQUIRE_CUDA();
  Tensor host = Tensor::empty({3, 4, 5, 2}, DType::f32, Device::cpu(), Layout::nhwc);
  float* p = host.data<float>();
  std::iota(p, p + host.numel(), 1.0f);
  const Tensor device = host.to(gpu);
  EXPECT_EQ(device.device(), gpu);
  EXPECT_EQ(device.layout(), Layout::nhwc);
  // Device-to-device through a slice, then back.
  Tensor other = Tensor::empty({3, 4, 5, 2}, DType::f32, gpu, Layout::nhwc);
  other.fill_zero();
  other.slice(1, 3).copy_from(device.slice(1, 3));
  const Tensor back = other.to(Device::emu());
  const float* q = back.data<float>();
  for (std::int64_t i = 0; i < 40; ++i) ASSERT_EQ(q[i], 0.0f) << i;
  for (std::int64_t i = 40; i < back.numel(); ++i) ASSERT_EQ(q[i], p[i]) << i;
}

}  // namespace
}  // namespace deeper
