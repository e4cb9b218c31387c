// Out-of-bounds shared and global memory accesses in emulated kernels are caught by
// AddressSanitizer (heap and global red zones) or UndefinedBehaviorSanitizer (array bounds) in the
// `sanitize` preset (death tests). Elsewhere these tests skip, saying why.
#include "tests/emu/emu_test_kernels.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define DEEPER_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DEEPER_TEST_ASAN 1
#endif
#endif

namespace emu = deeper::testk::emu_impl;

namespace {
#if !defined(DEEPER_TEST_ASAN)
constexpr const char* kNeedsAsan = "needs AddressSanitizer: run in the `sanitize` preset (scripts/test does)";
#endif
}  // namespace

TEST(EmulatorSanitizer, InBoundsKernelsRunClean) {
  std::vector<float> out(64);
  emu::shared_write_past_end(out.data(), 0, nullptr);
  for (int t = 0; t < 64; ++t) EXPECT_EQ(out[static_cast<std::size_t>(t)], static_cast<float>(t));
  std::vector<float> global(100);
  emu::global_write_past_end(global.data(), 100, 0, nullptr);
  for (float v : global) EXPECT_EQ(v, 1.0f);
}

TEST(EmulatorSanitizerDeathTest, SharedMemoryOverflowIsCaught) {
#if defined(DEEPER_TEST_ASAN)
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  std::vector<float> out(64);
  EXPECT_DEATH(emu::shared_write_past_end(out.data(), 1, nullptr), "AddressSanitizer: global-buffer-overflow|runtime error: index 64 out of bounds");
#else
  GTEST_SKIP() << kNeedsAsan;
#endif
}

TEST(EmulatorSanitizerDeathTest, GlobalMemoryOverflowIsCaught) {
#if defined(DEEPER_TEST_ASAN)
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto out = std::make_unique<float[]>(100);
  EXPECT_DEATH(emu::global_write_past_end(out.get(), 100, 1, nullptr), "AddressSanitizer: heap-buffer-overflow");
#else
  GTEST_SKIP() << kNeedsAsan;
#endif
}
