// The arena: aligned bump allocation, scopes, exhaustion errors, and no allocation in steady state.
#include <gtest/gtest.h>

#include "core/error.h"
#include "kernels/runtime/arena.h"
#include "kernels/runtime/tensor.h"
#include "tests/support/error_of.h"

#include <cstdint>
#include <limits>

namespace deeper {
namespace {

using test_util::error_of;

std::uintptr_t address(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

TEST(Arena, BumpAllocatesAligned) {
  Arena arena(Device::emu(), 4096);
  EXPECT_EQ(arena.capacity(), 4096u);
  EXPECT_EQ(arena.device(), Device::emu());
  void* a = arena.allocate(10, "a");
  void* b = arena.allocate(300, "b");
  void* c = arena.allocate(256, "c");
  EXPECT_EQ(a, arena.base());
  EXPECT_EQ(address(b) - address(a), 256u);
  EXPECT_EQ(address(c) - address(b), 512u);
  for (void* p : {a, b, c}) EXPECT_EQ(address(p) % buffer_alignment, 0u);
  EXPECT_EQ(arena.used(), 1024u);
  EXPECT_EQ(arena.high_water(), 1024u);
}

TEST(Arena, ZeroByteRequestConsumesNothing) {
  Arena arena(Device::cpu(), 1024);
  arena.allocate(1, "x");
  void* p = arena.allocate(0, "empty");
  EXPECT_EQ(address(p) - address(arena.base()), 256u);
  EXPECT_EQ(arena.used(), 256u);
}

TEST(Arena, MarksAndScopesReleaseButHighWaterRemains) {
  Arena arena(Device::cpu(), 8192);
  arena.allocate(1000, "params");
  const Arena::Mark mark = arena.mark();
  {
    const ArenaScope scope(arena);
    arena.allocate(3000, "activations");
    EXPECT_EQ(arena.used(), 1024u + 3072u);
  }
  EXPECT_EQ(arena.used(), 1024u);
  arena.allocate(100, "workspace");
  arena.reset(mark);
  EXPECT_EQ(arena.used(), 1024u);
  EXPECT_EQ(arena.high_water(), 4096u);
  arena.reset();
  EXPECT_EQ(arena.used(), 0u);
  EXPECT_EQ(arena.high_water(), 4096u);
}

TEST(Arena, ResetToAStaleMarkThrows) {
  Arena arena(Device::cpu(), 4096);
  arena.allocate(512, "a");
  const Arena::Mark late = arena.mark();
  arena.reset();
  const std::string message = error_of([&] { arena.reset(late); });
  EXPECT_NE(message.find("cannot reset to offset 512 beyond the 0 bytes in use"), std::string::npos)
      << message;
}

TEST(Arena, ExhaustionNamesTheRequestNameUsedAndCapacity) {
  Arena arena(Device::emu(), 4096);
  arena.allocate(3000, "conv1.out");
  const std::string message = error_of([&] { arena.allocate(2000, "conv2.out"); });
  EXPECT_EQ(message,
            "arena on emu is full: cannot allocate 'conv2.out' (2 KiB, 2000 bytes); 3 KiB of 4 KiB used "
            "(3072 of 4096 bytes), high water 3 KiB");
  EXPECT_EQ(arena.used(), 3072u) << "a failed request changes nothing";
}

TEST(Arena, HugeRequestDoesNotOverflow) {
  Arena arena(Device::cpu(), 4096);
  arena.allocate(256, "a");
  const std::size_t huge = std::numeric_limits<std::size_t>::max() - 100;
  const std::string message = error_of([&] { arena.allocate(huge, "huge"); });
  EXPECT_NE(message.find(std::to_string(huge) + " bytes"), std::string::npos) << message;
  EXPECT_EQ(arena.used(), 256u);
}

TEST(Arena, LastAllocationMayUseAnUnalignedTail) {
  Arena arena(Device::cpu(), 1000);
  arena.allocate(700, "a");  // takes 768
  EXPECT_NO_THROW(arena.allocate(232, "tail"));
  EXPECT_EQ(arena.used(), 1000u);
  EXPECT_THROW(arena.allocate(1, "more"), Error);
}

TEST(Arena, SteadyStateLoopAllocatesNoDeviceMemory) {
  Arena arena(Device::emu(), 1 << 20);
  const std::uint64_t before = DeviceBuffer::allocation_count();
  for (int step = 0; step < 100; ++step) {
    const ArenaScope scope(arena);
    Tensor input = Tensor::view(arena, {8, 16, 16, 3}, DType::f32, "input", Layout::nhwc);
    Tensor hidden = Tensor::view(arena, {8, 8, 8, 32}, DType::bf16, "hidden", Layout::nhwc);
    Tensor logits = Tensor::view(arena, {8, 10}, DType::f32, "logits");
    input.fill_zero();
    hidden.fill_zero();
    logits.copy_from(Tensor::view(input.data_raw(), {8, 10}, DType::f32, Device::emu()));
    EXPECT_FALSE(logits.owns_storage());
  }
  EXPECT_EQ(DeviceBuffer::allocation_count(), before);
  EXPECT_EQ(arena.used(), 0u);
  EXPECT_GT(arena.high_water(), 0u);
}

}  // namespace
}  // namespace deeper
