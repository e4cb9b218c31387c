// Accuracy of deeper's portable log / sin / cos (kernels/common/random.h, rng::portable) and of the
// Box-Muller normals built on them, against the C library in long double (x87 extended precision:
// 64-bit significands, far more than the float and double results need). These functions are
// deeper's own so that the GPU and the CPU compute the same bits; this suite checks that they are
// also accurate: log, sin and cos within 1.5 ulp of the true value in float and in double (measured
// worst cases when written: log 0.82 / 1.11 ulp, sin/cos 1.14 / 1.15 ulp), Box-Muller normals within
// 3 ulp of the radius (measured 1.81 / 1.91).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <limits>

#include "kernels/common/random.h"

namespace {

namespace rng = deeper::rng;

// |got - ref| in units of the last place of ref in type T (ulp of the smallest normal below it).
template <typename T>
double ulp_error(T got, long double ref) {
  const long double mag = std::fabs(ref);
  const long double floor_mag = static_cast<long double>(std::numeric_limits<T>::min());
  int e = 0;
  std::frexp(mag > floor_mag ? mag : floor_mag, &e);  // mag in [2^(e-1), 2^e)
  const long double ulp = std::ldexp(1.0L, e - std::numeric_limits<T>::digits);
  return static_cast<double>(std::fabs(static_cast<long double>(got) - ref) / ulp);
}

// A deterministic spread of 32-bit words (a Weyl sequence; no dependence on the generator under test).
std::uint32_t weyl32(std::uint64_t i) {
  return static_cast<std::uint32_t>((i * 0x9E3779B97F4A7C15ull) >> 32);
}
std::uint64_t weyl64(std::uint64_t i) { return (i + 1) * 0x9E3779B97F4A7C15ull; }

TEST(PortableMath, LogFloatWithin1_5Ulp) {
  double worst = 0;
  float worst_x = 0;
  // Every 89th float bit pattern from 2^-40 to 2^40 (all exponents, a spread of mantissas), and
  // every float in [1 - 2^-10, 1 + 2^-10] where the result is small.
  auto check = [&](float x) {
    const double err = ulp_error(rng::portable::log(x), std::log(static_cast<long double>(x)));
    if (err > worst) {
      worst = err;
      worst_x = x;
    }
  };
  const std::uint32_t lo = std::bit_cast<std::uint32_t>(0x1p-40f), hi = std::bit_cast<std::uint32_t>(0x1p40f);
  for (std::uint32_t b = lo; b < hi; b += 89) check(std::bit_cast<float>(b));
  for (float x = 1.0f - 0x1p-10f; x <= 1.0f + 0x1p-10f; x = std::nextafter(x, 2.0f)) check(x);
  EXPECT_EQ(rng::portable::log(1.0f), 0.0f);
  EXPECT_LE(worst, 1.5) << "at x = " << worst_x;
}

TEST(PortableMath, LogDoubleWithin1_5Ulp) {
  double worst = 0;
  double worst_x = 0;
  auto check = [&](double x) {
    const double err = ulp_error(rng::portable::log(x), std::log(static_cast<long double>(x)));
    if (err > worst) {
      worst = err;
      worst_x = x;
    }
  };
  // 2^22 values spread over [2^-70, 2^70) and 2^20 values within 2^-20 of 1.
  for (std::uint64_t i = 0; i < (1u << 21); ++i) {
    const double m = 1.0 + static_cast<double>(weyl64(i) >> 12) * 0x1p-52;  // [1, 2)
    check(std::ldexp(m, static_cast<int>(i % 140) - 70));
  }
  for (std::uint64_t i = 0; i < (1u << 20); ++i) {
    check(1.0 + (static_cast<double>(weyl64(i) >> 11) * 0x1p-53 - 0.5) * 0x1p-19);
  }
  EXPECT_EQ(rng::portable::log(1.0), 0.0);
  EXPECT_LE(worst, 1.5) << "at x = " << worst_x;
}

// The reference: the same exact quadrant reduction (integers), then sin/cos of the reduced angle
// 2 pi r / 2^bits, |angle| <= pi/4, in long double, rotated by the quadrant. Reducing first keeps
// the reference accurate near the zeros of sin and cos.
struct RefSinCos {
  long double sin, cos;
};
RefSinCos reference_sincos_turns(std::uint64_t k, int bits) {
  const std::uint64_t quarter = std::uint64_t{1} << (bits - 2);
  const std::uint64_t shifted = (k & ((quarter << 2) - 1)) + quarter / 2;
  const unsigned quadrant = static_cast<unsigned>(shifted / quarter) & 3u;
  const long double r = static_cast<long double>(static_cast<std::int64_t>(shifted % quarter) -
                                                 static_cast<std::int64_t>(quarter / 2));
  const long double angle = 2.0L * 3.14159265358979323846264338327950288L * std::ldexp(r, -bits);
  const long double s = std::sin(angle), c = std::cos(angle);
  switch (quadrant) {
    case 0:
      return {s, c};
    case 1:
      return {c, -s};
    case 2:
      return {-s, -c};
    default:
      return {-c, s};
  }
}

TEST(PortableMath, SinCosTurns24Within1_5Ulp) {
  double worst = 0;
  std::uint32_t worst_k = 0;
  auto check = [&](std::uint32_t k) {
    const rng::portable::SinCosF sc = rng::portable::sincos_turns24(k);
    const RefSinCos ref = reference_sincos_turns(k, 24);
    const double e = std::max(ulp_error(sc.sin, ref.sin), ulp_error(sc.cos, ref.cos));
    if (e > worst) {
      worst = e;
      worst_k = k;
    }
  };
  for (std::uint32_t k = 0; k < (1u << 24); k += 5) check(k);  // a fifth of all arguments
  for (std::uint32_t q = 0; q < 4; ++q) {                      // and all around the octant edges
    for (std::uint32_t d = 0; d < 4096; ++d) {
      check(((q << 22) + (1u << 21) - 2048 + d) & 0xFFFFFFu);
      check(((q << 22) - 2048 + d) & 0xFFFFFFu);
    }
  }
  EXPECT_LE(worst, 1.5) << "at k = " << worst_k;
  // Exact quadrant points.
  EXPECT_EQ(rng::portable::sincos_turns24(0).cos, 1.0f);
  EXPECT_EQ(rng::portable::sincos_turns24(1u << 22).sin, 1.0f);
  EXPECT_EQ(rng::portable::sincos_turns24(2u << 22).cos, -1.0f);
  EXPECT_EQ(rng::portable::sincos_turns24(3u << 22).sin, -1.0f);
}

TEST(PortableMath, SinCosTurns53Within1_5Ulp) {
  double worst = 0;
  std::uint64_t worst_k = 0;
  for (std::uint64_t i = 0; i < (1u << 21); ++i) {
    const std::uint64_t k = weyl64(i) >> 11;
    const rng::portable::SinCosD sc = rng::portable::sincos_turns53(k);
    const RefSinCos ref = reference_sincos_turns(k, 53);
    const double e = std::max(ulp_error(sc.sin, ref.sin), ulp_error(sc.cos, ref.cos));
    if (e > worst) {
      worst = e;
      worst_k = k;
    }
  }
  EXPECT_LE(worst, 1.5) << "at k = " << worst_k;
}

// Box-Muller from words: the float and double normals agree with the same formula evaluated in
// long double from the same words, within a few ulp of the radius r (z = r cos, r sin).
TEST(PortableMath, BoxMullerMatchesLongDoubleFormula) {
  const long double two_pi = 2.0L * 3.14159265358979323846264338327950288L;
  double worst_f = 0, worst_d = 0;
  for (std::uint64_t i = 0; i < (1u << 19); ++i) {
    const std::uint32_t a = weyl32(2 * i), b = weyl32(2 * i + 1);
    {
      const rng::Float2 z = rng::normal_float2(a, b);
      const long double u = static_cast<long double>(static_cast<float>(a | 1u)) * 0x1p-32L;
      const long double r = std::sqrt(-2.0L * std::log(u));
      const long double t = two_pi * static_cast<long double>(b >> 8) * 0x1p-24L;
      const long double ulp_r = std::ldexp(1.0L, std::ilogb(r > 0x1p-20L ? r : 0x1p-20L) - 23);
      worst_f = std::max(worst_f, static_cast<double>(std::fabs(z.x - r * std::cos(t)) / ulp_r));
      worst_f = std::max(worst_f, static_cast<double>(std::fabs(z.y - r * std::sin(t)) / ulp_r));
    }
    {
      const std::uint32_t c = weyl32(i * 3 + 17), d = weyl32(i * 5 + 3);
      const rng::Double2 z = rng::normal_double2(a, b, c, d);
      const std::uint64_t ua = ((static_cast<std::uint64_t>(a) << 32) | b) | 1u;
      const long double u = static_cast<long double>(static_cast<double>(ua)) * 0x1p-64L;
      const long double r = std::sqrt(-2.0L * std::log(u));
      const std::uint64_t tk = ((static_cast<std::uint64_t>(c) << 32) | d) >> 11;
      const long double t = two_pi * (static_cast<long double>(tk) * 0x1p-53L);
      const long double ulp_r = std::ldexp(1.0L, std::ilogb(r > 0x1p-40L ? r : 0x1p-40L) - 52);
      worst_d = std::max(worst_d, static_cast<double>(std::fabs(z.x - r * std::cos(t)) / ulp_r));
      worst_d = std::max(worst_d, static_cast<double>(std::fabs(z.y - r * std::sin(t)) / ulp_r));
    }
  }
  EXPECT_LE(worst_f, 3.0);
  EXPECT_LE(worst_d, 3.0);
  std::printf("Box-Muller worst error: float %.3f ulp(r), double %.3f ulp(r)\n", worst_f, worst_d);
}

// The extremes of the Box-Muller radius: u = 2^-32 (float) and 2^-64 (double) give the largest
// |z|; u rounding to 1 gives z = 0.
TEST(PortableMath, BoxMullerExtremes) {
  const rng::Float2 big = rng::normal_float2(0u, 0u);  // u = 2^-32, theta = 0
  EXPECT_NEAR(big.x, std::sqrt(64.0 * std::log(2.0)), 1e-5);
  EXPECT_EQ(big.y, 0.0f);
  const rng::Float2 zero = rng::normal_float2(0xFFFFFFFFu, 0u);  // u rounds to 1
  EXPECT_EQ(zero.x, 0.0f);
  const rng::Double2 bigd = rng::normal_double2(0u, 0u, 0u, 0u);
  EXPECT_NEAR(bigd.x, std::sqrt(128.0 * std::log(2.0)), 1e-12);
}

}  // namespace
