// Random numbers for deeper: (seed, stream, index) -> Philox4x32-10 words -> uniform, normal and
// integer values, bit-identical on the cpu, emu and cuda backends. docs/random.md has the design.
//
// Addressing. Every random value in deeper is a pure function of
//   seed   (u64)  the run's seed (--seed),
//   stream (u32)  which random choice this is (identity coefficients, pose, weight init, ...),
//   index  (u64)  which element of that choice (image number, parameter number, ...),
//   draw   (u32)  which 128-bit block of the element's own sequence (0 first; more when one element
//                 needs more than four words, e.g. rejection sampling),
// through one Philox4x32-10 call with
//   key     = { seed & 0xffffffff, seed >> 32 }
//   counter = { index & 0xffffffff, index >> 32, stream, draw }.
// Distinct (stream, index, draw) are distinct counters, so their blocks are independent; nothing is
// carried from one element to the next, so any thread may compute any element.
//
// Bit identity. Each conversion below uses only integer operations, exact conversions of integers
// that fit the mantissa, power-of-two scalings, and IEEE operations that are correctly rounded on
// both the host and the GPU (+, -, *, /, sqrt, fma). Under CUDA the device code calls the explicit
// round-to-nearest intrinsics (__fmul_rn, __fadd_rn, __fdiv_rn, __fsqrt_rn, fmaf, ...), which nvcc
// never contracts into other operations and which --use_fast_math does not replace. The
// transcendental functions Box-Muller needs (log, sin, cos) are deeper's own polynomials
// (rng::portable) built from those operations, never the libm or CUDA math library versions, whose
// results differ in the last bits. Assumptions: the host evaluates float and double in their own
// precision (FLT_EVAL_METHOD == 0, checked below: x86-64 SSE, AArch64), does not contract a*b+c
// into an fma on its own (GCC's default in ISO C++ mode, -ffp-contract=off, which the build's
// -std=c++20 selects), and does not flush subnormals (no -ffast-math; the values computed here stay
// far from the subnormal range anyway).
#pragma once

#include <cstdint>

#include "kernels/common/hd.h"
#include "kernels/common/philox.h"

#if !defined(__CUDA_ARCH__)
#include <bit>
#include <cfloat>
#include <cmath>
static_assert(FLT_EVAL_METHOD == 0,
              "deeper's random numbers need float/double evaluated in their own precision");
#endif

namespace deeper::rng {

// ---------------------------------------------------------------------------------------------
// Addressing

DEEPER_HD_INLINE Philox4x32Key philox_key(std::uint64_t seed) {
  return Philox4x32Key{{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
}

DEEPER_HD_INLINE Philox4x32Block philox_counter(std::uint32_t stream, std::uint64_t index,
                                                std::uint32_t draw = 0) {
  return Philox4x32Block{
      {static_cast<std::uint32_t>(index), static_cast<std::uint32_t>(index >> 32), stream, draw}};
}

// The 128 random bits of (seed, stream, index, draw).
DEEPER_HD_INLINE Philox4x32Block random_block(std::uint64_t seed, std::uint32_t stream, std::uint64_t index,
                                              std::uint32_t draw = 0) {
  return philox4x32_10(philox_counter(stream, index, draw), philox_key(seed));
}

// ---------------------------------------------------------------------------------------------
// Correctly rounded arithmetic that no compiler may fuse or reassociate (see the top comment).

namespace exact {

#if defined(__CUDA_ARCH__)
DEEPER_HD_INLINE float add(float a, float b) { return __fadd_rn(a, b); }
DEEPER_HD_INLINE float sub(float a, float b) { return __fsub_rn(a, b); }
DEEPER_HD_INLINE float mul(float a, float b) { return __fmul_rn(a, b); }
DEEPER_HD_INLINE float div(float a, float b) { return __fdiv_rn(a, b); }
DEEPER_HD_INLINE float sqrt(float a) { return __fsqrt_rn(a); }
DEEPER_HD_INLINE float fma(float a, float b, float c) { return __fmaf_rn(a, b, c); }
DEEPER_HD_INLINE double add(double a, double b) { return __dadd_rn(a, b); }
DEEPER_HD_INLINE double sub(double a, double b) { return __dsub_rn(a, b); }
DEEPER_HD_INLINE double mul(double a, double b) { return __dmul_rn(a, b); }
DEEPER_HD_INLINE double div(double a, double b) { return __ddiv_rn(a, b); }
DEEPER_HD_INLINE double sqrt(double a) { return __dsqrt_rn(a); }
DEEPER_HD_INLINE double fma(double a, double b, double c) { return __fma_rn(a, b, c); }
DEEPER_HD_INLINE std::uint32_t bits(float x) { return __float_as_uint(x); }
DEEPER_HD_INLINE float from_bits(std::uint32_t b) { return __uint_as_float(b); }
DEEPER_HD_INLINE std::uint64_t bits(double x) { return static_cast<std::uint64_t>(__double_as_longlong(x)); }
DEEPER_HD_INLINE double from_bits(std::uint64_t b) { return __longlong_as_double(static_cast<long long>(b)); }
DEEPER_HD_INLINE float to_float(std::uint32_t x) { return __uint2float_rn(x); }
DEEPER_HD_INLINE double to_double(std::uint64_t x) { return __ull2double_rn(x); }
#else
DEEPER_HD_INLINE float add(float a, float b) { return a + b; }
DEEPER_HD_INLINE float sub(float a, float b) { return a - b; }
// On a host with hardware fused multiply-add (x86-64 with -mfma or -march=native, AArch64 always)
// GCC contracts a product that feeds an addition into an fma even across statements (its C++
// default is -ffp-contract=fast), which would change the bits. There each product is written as
// an explicit fma with a -0 addend: exactly the rounded product (x + -0 == x for every x, signed
// zeros included), and a result the compiler cannot fuse any further.
#if defined(__FP_FAST_FMAF) || defined(FP_FAST_FMAF) || defined(__FMA__) || defined(__ARM_FEATURE_FMA)
DEEPER_HD_INLINE float mul(float a, float b) { return std::fma(a, b, -0.0f); }
#else
DEEPER_HD_INLINE float mul(float a, float b) { return a * b; }
#endif
DEEPER_HD_INLINE float div(float a, float b) { return a / b; }
DEEPER_HD_INLINE float sqrt(float a) { return std::sqrt(a); }
DEEPER_HD_INLINE float fma(float a, float b, float c) { return std::fma(a, b, c); }
DEEPER_HD_INLINE double add(double a, double b) { return a + b; }
DEEPER_HD_INLINE double sub(double a, double b) { return a - b; }
#if defined(__FP_FAST_FMA) || defined(FP_FAST_FMA) || defined(__FMA__) || defined(__ARM_FEATURE_FMA)
DEEPER_HD_INLINE double mul(double a, double b) { return std::fma(a, b, -0.0); }
#else
DEEPER_HD_INLINE double mul(double a, double b) { return a * b; }
#endif
DEEPER_HD_INLINE double div(double a, double b) { return a / b; }
DEEPER_HD_INLINE double sqrt(double a) { return std::sqrt(a); }
DEEPER_HD_INLINE double fma(double a, double b, double c) { return std::fma(a, b, c); }
DEEPER_HD_INLINE std::uint32_t bits(float x) { return std::bit_cast<std::uint32_t>(x); }
DEEPER_HD_INLINE float from_bits(std::uint32_t b) { return std::bit_cast<float>(b); }
DEEPER_HD_INLINE std::uint64_t bits(double x) { return std::bit_cast<std::uint64_t>(x); }
DEEPER_HD_INLINE double from_bits(std::uint64_t b) { return std::bit_cast<double>(b); }
DEEPER_HD_INLINE float to_float(std::uint32_t x) { return static_cast<float>(x); }
DEEPER_HD_INLINE double to_double(std::uint64_t x) { return static_cast<double>(x); }
#endif

}  // namespace exact

// ---------------------------------------------------------------------------------------------
// Portable transcendental functions: the same operation sequence, hence the same bits, everywhere.
// Accuracy (tests/random/portable_math_test.cpp): within 1.5 ulp of the true value, in float and in
// double, over the ranges stated.

namespace portable {

// Natural logarithm of a positive, finite, normal float (what Box-Muller needs: (0, 1]).
// x = 2^e (1 + f) with 1 + f in [sqrt(1/2), sqrt(2)); with s = f / (2 + f), z = s^2,
// log(1 + f) = 2 atanh(s) = 2s + s R(z), R(z) = 2z/3 + 2z^2/5 + ... (truncated after 2z^4/9: error
// below 2e-9 for |s| <= 0.1716), evaluated as f - (f^2/2 - s (f^2/2 + R)) (the identity
// 2s = f - s f), which keeps the rounding of s out of the leading term (the scheme of fdlibm's log).
DEEPER_HD_INLINE float log(float x) {
  std::uint32_t b = exact::bits(x);
  int e = static_cast<int>(b >> 23) - 127;
  std::uint32_t mb = (b & 0x007FFFFFu) | 0x3F800000u;  // 1 + f in [1, 2)
  if (mb > 0x3FB504F3u) {                              // > sqrt(2): halve it, e + 1
    mb -= 0x00800000u;
    e += 1;
  }
  const float f = exact::sub(exact::from_bits(mb), 1.0f);  // exact (Sterbenz)
  const float s = exact::div(f, exact::add(2.0f, f));
  const float z = exact::mul(s, s);
  float r = exact::fma(z, 0x1.c71c72p-3f, 0x1.24924ap-2f);  // 2/9, 2/7
  r = exact::fma(z, r, 0x1.99999ap-2f);                     // 2/5
  r = exact::fma(z, r, 0x1.555556p-1f);                     // 2/3
  r = exact::mul(z, r);
  const float hfsq = exact::mul(exact::mul(0.5f, f), f);
  const float log_m = exact::add(f, exact::fma(s, exact::add(hfsq, r), -hfsq));
  const float ef = static_cast<float>(e);  // exact: |e| < 2^8
  // e ln2 + log m with ln 2 = 0x1.62e4p-1 + 0x1.7f7d1cp-20.
  return exact::fma(ef, 0x1.62e4p-1f, exact::fma(ef, 0x1.7f7d1cp-20f, log_m));
}

// Natural logarithm of a positive, finite, normal double; the same scheme with R to 2z^10/21
// (truncation below 1e-18).
DEEPER_HD_INLINE double log(double x) {
  std::uint64_t b = exact::bits(x);
  int e = static_cast<int>(b >> 52) - 1023;
  std::uint64_t mb = (b & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull;
  if (mb > 0x3FF6A09E667F3BCDull) {
    mb -= 0x0010000000000000ull;
    e += 1;
  }
  const double f = exact::sub(exact::from_bits(mb), 1.0);
  const double s = exact::div(f, exact::add(2.0, f));
  const double z = exact::mul(s, s);
  double r = exact::fma(z, 0x1.8618618618618p-4, 0x1.af286bca1af28p-4);  // 2/21, 2/19
  r = exact::fma(z, r, 0x1.e1e1e1e1e1e1ep-4);                            // 2/17
  r = exact::fma(z, r, 0x1.1111111111111p-3);                            // 2/15
  r = exact::fma(z, r, 0x1.3b13b13b13b14p-3);                            // 2/13
  r = exact::fma(z, r, 0x1.745d1745d1746p-3);                            // 2/11
  r = exact::fma(z, r, 0x1.c71c71c71c71cp-3);                            // 2/9
  r = exact::fma(z, r, 0x1.2492492492492p-2);                            // 2/7
  r = exact::fma(z, r, 0x1.999999999999ap-2);                            // 2/5
  r = exact::fma(z, r, 0x1.5555555555555p-1);                            // 2/3
  r = exact::mul(z, r);
  const double hfsq = exact::mul(exact::mul(0.5, f), f);
  const double log_m = exact::add(f, exact::fma(s, exact::add(hfsq, r), -hfsq));
  const double ef = static_cast<double>(e);
  // ln 2 = 0x1.62e42fefp-1 + 0x1.473de6af278edp-34 (hi has 33 bits).
  return exact::fma(ef, 0x1.62e42fefp-1, exact::fma(ef, 0x1.473de6af278edp-34, log_m));
}

struct SinCosF {
  float sin, cos;
};
struct SinCosD {
  double sin, cos;
};

// sin and cos of 2 pi k / 2^24 for a 24-bit k: the reduction to [-pi/4, pi/4] is exact integer
// arithmetic (k is a fraction of a turn), then Taylor polynomials to a^9 (sin) and a^10 (cos).
DEEPER_HD_INLINE SinCosF sincos_turns24(std::uint32_t k) {
  const std::uint32_t shifted = (k & 0x00FFFFFFu) + (1u << 21);  // round to the nearest quadrant
  const std::uint32_t quadrant = (shifted >> 22) & 3u;
  const int r = static_cast<int>(shifted & ((1u << 22) - 1u)) - (1 << 21);  // [-2^21, 2^21)
  // a = r * 2 pi / 2^24 as a_hi + a_lo: 2 pi / 2^24 = C_hi + C_lo = 0x1.921fb6p-22 - 0x1.777a5cp-47,
  // a_hi = r C_hi rounded, a_lo = its exact rounding error (fma) + r C_lo. sin a = a + a^3 P(a^2)
  // adds a_lo below the leading term; cos a = 1 + a^2 Q(a^2) - a_hi a_lo.
  const float rf = static_cast<float>(r);  // exact: |r| <= 2^21
  const float a = exact::mul(rf, 0x1.921fb6p-22f);
  const float a_lo = exact::fma(rf, -0x1.777a5cp-47f, exact::fma(rf, 0x1.921fb6p-22f, -a));
  const float a2 = exact::mul(a, a);
  float ps = exact::fma(a2, 0x1.71de3ap-19f, -0x1.a01a02p-13f);  // 1/9!, -1/7!
  ps = exact::fma(a2, ps, 0x1.111112p-7f);                       // 1/5!
  ps = exact::fma(a2, ps, -0x1.555556p-3f);                      // -1/3!
  const float s = exact::add(a, exact::fma(exact::mul(a, a2), ps, a_lo));
  float pc = exact::fma(a2, -0x1.27e4fcp-22f, 0x1.a01a02p-16f);  // -1/10!, 1/8!
  pc = exact::fma(a2, pc, -0x1.6c16c2p-10f);                     // -1/6!
  pc = exact::fma(a2, pc, 0x1.555556p-5f);                       // 1/4!
  pc = exact::fma(a2, pc, -0.5f);                                // -1/2!
  const float c = exact::add(1.0f, exact::fma(a2, pc, exact::mul(-a, a_lo)));
  switch (quadrant) {
    case 0:
      return SinCosF{s, c};
    case 1:
      return SinCosF{c, -s};
    case 2:
      return SinCosF{-s, -c};
    default:
      return SinCosF{-c, s};
  }
}

// sin and cos of 2 pi k / 2^53 for a 53-bit k; Taylor polynomials to a^17 (sin) and a^18 (cos).
DEEPER_HD_INLINE SinCosD sincos_turns53(std::uint64_t k) {
  const std::uint64_t shifted = (k & ((1ull << 53) - 1u)) + (1ull << 50);
  const std::uint32_t quadrant = static_cast<std::uint32_t>(shifted >> 51) & 3u;
  const std::int64_t r = static_cast<std::int64_t>(shifted & ((1ull << 51) - 1u)) - (std::int64_t{1} << 50);
  // a = r * 2 pi / 2^53 = a_hi + a_lo as above, 2 pi / 2^53 = 0x1.921fb54442d18p-51 + 0x1.1a62633145c07p-105.
  const double rd = static_cast<double>(r);  // exact: |r| <= 2^50
  const double a = exact::mul(rd, 0x1.921fb54442d18p-51);
  const double a_lo = exact::fma(rd, 0x1.1a62633145c07p-105, exact::fma(rd, 0x1.921fb54442d18p-51, -a));
  const double a2 = exact::mul(a, a);
  double ps = exact::fma(a2, 0x1.952c77030ad4ap-49, -0x1.ae7f3e733b81fp-41);  // 1/17!, -1/15!
  ps = exact::fma(a2, ps, 0x1.6124613a86d09p-33);                             // 1/13!
  ps = exact::fma(a2, ps, -0x1.ae64567f544e4p-26);                            // -1/11!
  ps = exact::fma(a2, ps, 0x1.71de3a556c734p-19);                             // 1/9!
  ps = exact::fma(a2, ps, -0x1.a01a01a01a01ap-13);                            // -1/7!
  ps = exact::fma(a2, ps, 0x1.1111111111111p-7);                              // 1/5!
  ps = exact::fma(a2, ps, -0x1.5555555555555p-3);                             // -1/3!
  const double s = exact::add(a, exact::fma(exact::mul(a, a2), ps, a_lo));
  double pc = exact::fma(a2, -0x1.6827863b97d97p-53, 0x1.ae7f3e733b81fp-45);  // -1/18!, 1/16!
  pc = exact::fma(a2, pc, -0x1.93974a8c07c9dp-37);                            // -1/14!
  pc = exact::fma(a2, pc, 0x1.1eed8eff8d898p-29);                             // 1/12!
  pc = exact::fma(a2, pc, -0x1.27e4fb7789f5cp-22);                            // -1/10!
  pc = exact::fma(a2, pc, 0x1.a01a01a01a01ap-16);                             // 1/8!
  pc = exact::fma(a2, pc, -0x1.6c16c16c16c17p-10);                            // -1/6!
  pc = exact::fma(a2, pc, 0x1.5555555555555p-5);                              // 1/4!
  pc = exact::fma(a2, pc, -0.5);                                              // -1/2!
  const double c = exact::add(1.0, exact::fma(a2, pc, exact::mul(-a, a_lo)));
  switch (quadrant) {
    case 0:
      return SinCosD{s, c};
    case 1:
      return SinCosD{c, -s};
    case 2:
      return SinCosD{-s, -c};
    default:
      return SinCosD{-c, s};
  }
}

}  // namespace portable

// ---------------------------------------------------------------------------------------------
// Uniform floating point from random words. Every result is an exact multiple of a power of two:
// no rounding happens anywhere, so these are trivially identical on every backend.

// [0, 1): the top 24 bits, k * 2^-24. All 2^24 values equally likely; 0 included, 1 excluded.
DEEPER_HD_INLINE float uniform_float(std::uint32_t x) { return static_cast<float>(x >> 8) * 0x1p-24f; }

// (0, 1): the top 23 bits, (2k + 1) * 2^-24, the midpoints of a 2^-23 grid. Neither end is
// reachable: the smallest value is 2^-24, the largest 1 - 2^-24.
DEEPER_HD_INLINE float uniform_float_open(std::uint32_t x) {
  return static_cast<float>(((x >> 9) << 1) | 1u) * 0x1p-24f;
}

// [0, 1) from two words: 53 bits (the top 32 of hi, the top 21 of lo), k * 2^-53.
DEEPER_HD_INLINE double uniform_double(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t k = (static_cast<std::uint64_t>(hi) << 21) | (lo >> 11);
  return static_cast<double>(k) * 0x1p-53;
}

// (0, 1) from two words: 52 bits, (2k + 1) * 2^-53; smallest 2^-53, largest 1 - 2^-53.
DEEPER_HD_INLINE double uniform_double_open(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t k = (static_cast<std::uint64_t>(hi) << 20) | (lo >> 12);
  return static_cast<double>((k << 1) | 1u) * 0x1p-53;
}

// ---------------------------------------------------------------------------------------------
// Normal deviates by Box-Muller: z0 = r cos(theta), z1 = r sin(theta), r = sqrt(-2 ln u),
// theta = 2 pi t, with deeper's portable log/sin/cos. Two words give two float N(0,1) values:
//   u = (a | 1) * 2^-32 (rounded to float; in [2^-32, 1], so |z| <= sqrt(64 ln 2) = 6.66),
//   t = the top 24 bits of b, as a fraction of a turn (exact reduction, see sincos_turns24).
// Four words give two double N(0,1) values:
//   u = (a0:a1 | 1) * 2^-64 (rounded to double; |z| <= sqrt(128 ln 2) = 9.42),
//   t = the top 53 bits of b0:b1.
// The int-to-float conversions round to nearest even on every backend (cvt.rn on the GPU, SSE
// cvtsi2ss/sd on the host), so these results, too, are bit-identical everywhere.

struct Float2 {
  float x, y;
};
struct Double2 {
  double x, y;
};

DEEPER_HD_INLINE Float2 normal_float2(std::uint32_t a, std::uint32_t b) {
  const float u = exact::mul(exact::to_float(a | 1u), 0x1p-32f);
  const float r = exact::sqrt(exact::mul(-2.0f, portable::log(u)));
  const portable::SinCosF sc = portable::sincos_turns24(b >> 8);
  return Float2{exact::mul(r, sc.cos), exact::mul(r, sc.sin)};
}

DEEPER_HD_INLINE Double2 normal_double2(std::uint32_t a0, std::uint32_t a1, std::uint32_t b0,
                                        std::uint32_t b1) {
  const std::uint64_t a = (static_cast<std::uint64_t>(a0) << 32) | a1;
  const double u = exact::mul(exact::to_double(a | 1u), 0x1p-64);
  const double r = exact::sqrt(exact::mul(-2.0, portable::log(u)));
  const std::uint64_t t = ((static_cast<std::uint64_t>(b0) << 32) | b1) >> 11;
  const portable::SinCosD sc = portable::sincos_turns53(t);
  return Double2{exact::mul(r, sc.cos), exact::mul(r, sc.sin)};
}

// ---------------------------------------------------------------------------------------------
// Four values per Philox call (what the fill kernel and bulk samplers use).

struct Float4 {
  float v[4];
};

DEEPER_HD_INLINE Float4 uniform_float4(const Philox4x32Block& b) {
  return Float4{{uniform_float(b.w[0]), uniform_float(b.w[1]), uniform_float(b.w[2]), uniform_float(b.w[3])}};
}

DEEPER_HD_INLINE Float4 uniform_float_open4(const Philox4x32Block& b) {
  return Float4{{uniform_float_open(b.w[0]), uniform_float_open(b.w[1]), uniform_float_open(b.w[2]),
                 uniform_float_open(b.w[3])}};
}

// Two Box-Muller pairs: (w0, w1) -> v[0], v[1]; (w2, w3) -> v[2], v[3].
DEEPER_HD_INLINE Float4 normal_float4(const Philox4x32Block& b) {
  const Float2 p = normal_float2(b.w[0], b.w[1]);
  const Float2 q = normal_float2(b.w[2], b.w[3]);
  return Float4{{p.x, p.y, q.x, q.y}};
}

// Two doubles per block: (w0, w1) and (w2, w3).
DEEPER_HD_INLINE Double2 uniform_double2(const Philox4x32Block& b) {
  return Double2{uniform_double(b.w[0], b.w[1]), uniform_double(b.w[2], b.w[3])};
}

// One Box-Muller pair of doubles per block.
DEEPER_HD_INLINE Double2 normal_double2(const Philox4x32Block& b) {
  return normal_double2(b.w[0], b.w[1], b.w[2], b.w[3]);
}

// ---------------------------------------------------------------------------------------------
// Unbiased integers in [0, bound) (Lemire, "Fast random integer generation in an interval",
// ACM TOMACS 2019): the high half of x * bound, rejecting the x whose low half falls below
// 2^32 mod bound. Exactly uniform; a word is rejected with probability (2^32 mod bound) / 2^32
// < bound / 2^32. bound == 0 returns 0 (callers validate bound >= 1).

// One attempt: true and *out set when x is accepted for this bound.
DEEPER_HD_INLINE bool uniform_int_try(std::uint32_t x, std::uint32_t bound, std::uint32_t* out) {
  const std::uint64_t m = static_cast<std::uint64_t>(x) * bound;
  const std::uint32_t low = static_cast<std::uint32_t>(m);
  *out = static_cast<std::uint32_t>(m >> 32);
  if (low >= bound) return true;                         // fast path: low >= bound > threshold
  const std::uint32_t threshold = (0u - bound) % bound;  // 2^32 mod bound
  return low >= threshold;
}

// The integer for word `lane` (0..3) of element `index`: draw 0 first, and on rejection the same
// word of draws 1, 2, ... (each a fresh Philox block). Terminates with probability 1; the expected
// number of extra draws is below bound / (2^32 - bound).
DEEPER_HD_INLINE std::uint32_t uniform_int_at(std::uint64_t seed, std::uint32_t stream, std::uint64_t index,
                                              int lane, std::uint32_t first_word, std::uint32_t bound) {
  std::uint32_t out = 0;
  std::uint32_t x = first_word;
  for (std::uint32_t draw = 1; !uniform_int_try(x, bound, &out); ++draw) {
    x = random_block(seed, stream, index, draw).w[lane];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// A sequence of random words for one (seed, stream, index): the four words of draw 0, then of
// draw 1, and so on (2^32 draws, 2^34 words, before it repeats). For code that needs a variable
// number of values per element: a Fisher-Yates shuffle, rejection sampling, a face's factors.

class RandomSequence {
 public:
  DEEPER_HD_INLINE RandomSequence(std::uint64_t seed, std::uint32_t stream, std::uint64_t index)
      : key_(philox_key(seed)), counter_(philox_counter(stream, index, 0)) {}

  DEEPER_HD_INLINE std::uint32_t next_u32() {
    if (used_ == 4) refill();
    return block_.w[used_++];
  }
  DEEPER_HD_INLINE float uniform_float() { return rng::uniform_float(next_u32()); }
  DEEPER_HD_INLINE float uniform_float_open() { return rng::uniform_float_open(next_u32()); }
  DEEPER_HD_INLINE double uniform_double() {
    const std::uint32_t hi = next_u32();
    return rng::uniform_double(hi, next_u32());
  }
  DEEPER_HD_INLINE Float2 normal_float2() {
    const std::uint32_t a = next_u32();
    return rng::normal_float2(a, next_u32());
  }
  DEEPER_HD_INLINE Double2 normal_double2() {
    const std::uint32_t a0 = next_u32();
    const std::uint32_t a1 = next_u32();
    const std::uint32_t b0 = next_u32();
    return rng::normal_double2(a0, a1, b0, next_u32());
  }
  // Unbiased integer in [0, bound), bound >= 1 (Lemire; consumes one word per attempt).
  DEEPER_HD_INLINE std::uint32_t uniform_int(std::uint32_t bound) {
    std::uint32_t out = 0;
    while (!uniform_int_try(next_u32(), bound, &out)) {
    }
    return out;
  }

 private:
  DEEPER_HD_INLINE void refill() {
    block_ = philox4x32_10(counter_, key_);
    ++counter_.w[3];
    used_ = 0;
  }

  Philox4x32Key key_;
  Philox4x32Block counter_;
  Philox4x32Block block_{};
  int used_ = 4;
};

}  // namespace deeper::rng
