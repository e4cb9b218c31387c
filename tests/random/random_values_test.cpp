// The word -> value conversions of kernels/common/random.h at their boundaries (the exact values
// the documentation promises), Lemire's acceptance rule at its edge cases, and RandomSequence.
#include <gtest/gtest.h>

#include <cstdint>
#include <set>

#include "kernels/common/random.h"

namespace {

namespace rng = deeper::rng;

TEST(RandomValues, UniformFloatEnds) {
  EXPECT_EQ(rng::uniform_float(0u), 0.0f);
  EXPECT_EQ(rng::uniform_float(0xFFu), 0.0f);  // the low 8 bits are not used
  EXPECT_EQ(rng::uniform_float(0x100u), 0x1p-24f);
  EXPECT_EQ(rng::uniform_float(0x80000000u), 0.5f);
  EXPECT_EQ(rng::uniform_float(0xFFFFFFFFu), 1.0f - 0x1p-24f);
  EXPECT_EQ(rng::uniform_float_open(0u), 0x1p-24f);
  EXPECT_EQ(rng::uniform_float_open(0x1FFu), 0x1p-24f);  // the low 9 bits are not used
  EXPECT_EQ(rng::uniform_float_open(0x200u), 3 * 0x1p-24f);
  EXPECT_EQ(rng::uniform_float_open(0xFFFFFFFFu), 1.0f - 0x1p-24f);
}

TEST(RandomValues, UniformDoubleEnds) {
  EXPECT_EQ(rng::uniform_double(0u, 0u), 0.0);
  EXPECT_EQ(rng::uniform_double(0u, 0x800u), 0x1p-53);  // lo's bit 11 is the last bit used
  EXPECT_EQ(rng::uniform_double(0u, 0x7FFu), 0.0);
  EXPECT_EQ(rng::uniform_double(0x80000000u, 0u), 0.5);
  EXPECT_EQ(rng::uniform_double(0xFFFFFFFFu, 0xFFFFFFFFu), 1.0 - 0x1p-53);
  EXPECT_EQ(rng::uniform_double_open(0u, 0u), 0x1p-53);
  EXPECT_EQ(rng::uniform_double_open(0u, 0x1000u), 3 * 0x1p-53);
  EXPECT_EQ(rng::uniform_double_open(0xFFFFFFFFu, 0xFFFFFFFFu), 1.0 - 0x1p-53);
}

TEST(RandomValues, FourPerCallHelpersMatchScalars) {
  const rng::Philox4x32Block b = rng::random_block(3, 4, 5);
  const rng::Float4 u = rng::uniform_float4(b);
  const rng::Float4 o = rng::uniform_float_open4(b);
  const rng::Float4 z = rng::normal_float4(b);
  const rng::Float2 z01 = rng::normal_float2(b.w[0], b.w[1]);
  const rng::Float2 z23 = rng::normal_float2(b.w[2], b.w[3]);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(u.v[i], rng::uniform_float(b.w[i]));
    EXPECT_EQ(o.v[i], rng::uniform_float_open(b.w[i]));
  }
  EXPECT_EQ(z.v[0], z01.x);
  EXPECT_EQ(z.v[1], z01.y);
  EXPECT_EQ(z.v[2], z23.x);
  EXPECT_EQ(z.v[3], z23.y);
  const rng::Double2 d = rng::uniform_double2(b);
  EXPECT_EQ(d.x, rng::uniform_double(b.w[0], b.w[1]));
  EXPECT_EQ(d.y, rng::uniform_double(b.w[2], b.w[3]));
}

TEST(RandomValues, LemireAcceptance) {
  std::uint32_t out = 99;
  // bound 1: every word accepted, value 0.
  EXPECT_TRUE(rng::uniform_int_try(0u, 1u, &out));
  EXPECT_EQ(out, 0u);
  EXPECT_TRUE(rng::uniform_int_try(0xFFFFFFFFu, 1u, &out));
  EXPECT_EQ(out, 0u);
  // A power of two: 2^32 mod bound = 0, nothing rejected, the value is the top bits.
  for (std::uint32_t x : {0u, 1u, 0x12345678u, 0xFFFFFFFFu}) {
    EXPECT_TRUE(rng::uniform_int_try(x, 1024u, &out));
    EXPECT_EQ(out, x >> 22);
  }
  // bound 2^32 - 1: 2^32 mod bound = 1, so exactly the word whose low product is 0 (x = 0) is rejected.
  EXPECT_FALSE(rng::uniform_int_try(0u, 0xFFFFFFFFu, &out));
  EXPECT_TRUE(rng::uniform_int_try(1u, 0xFFFFFFFFu, &out));
  EXPECT_EQ(out, 0u);
  EXPECT_TRUE(rng::uniform_int_try(0xFFFFFFFFu, 0xFFFFFFFFu, &out));
  EXPECT_EQ(out, 0xFFFFFFFEu);
  // bound 3 * 2^30: 2^32 mod bound = 2^30; x = 1 gives low = 3 * 2^30 >= 2^30 (kept), x = 4 gives
  // low = 0 (rejected), x = 5 gives low = 3 * 2^30 (kept, value 3).
  EXPECT_TRUE(rng::uniform_int_try(1u, 3u << 30, &out));
  EXPECT_EQ(out, 0u);
  EXPECT_FALSE(rng::uniform_int_try(4u, 3u << 30, &out));
  EXPECT_TRUE(rng::uniform_int_try(5u, 3u << 30, &out));
  EXPECT_EQ(out, 3u);
}

TEST(RandomValues, SequenceIsReproducibleAndInRange) {
  rng::RandomSequence a(1, 2, 3), b(1, 2, 3), c(1, 2, 4);
  std::set<std::uint32_t> seen;
  bool differs = false;
  for (int i = 0; i < 1000; ++i) {
    const std::uint32_t x = a.uniform_int(10);
    EXPECT_EQ(x, b.uniform_int(10));
    EXPECT_LT(x, 10u);
    seen.insert(x);
    differs = differs || x != c.uniform_int(10);
    const float u = a.uniform_float_open();
    EXPECT_EQ(u, b.uniform_float_open());
    EXPECT_GT(u, 0.0f);
    EXPECT_LT(u, 1.0f);
    const double d = a.uniform_double();
    EXPECT_EQ(d, b.uniform_double());
    EXPECT_GE(d, 0.0);
    EXPECT_LT(d, 1.0);
    c.uniform_float_open();
    c.uniform_double();
  }
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_TRUE(differs);
}

}  // namespace
