// Philox4x32-10: the counter-based random bijection behind every random choice in deeper.
//
// Philox (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC11, 2011)
// maps a 128-bit counter and a 64-bit key to 128 random bits. It has no state: the output for a
// counter is computed directly, so a thread, a CPU loop and the kernel emulator that evaluate the
// same (counter, key) get the same four words. Written here from the paper's definition:
//
//   one round, counter (x0, x1, x2, x3), key (k0, k1):
//     (hi0, lo0) = M0 * x0   (the 64-bit product split into its high and low 32-bit halves)
//     (hi1, lo1) = M1 * x2
//     (x0, x1, x2, x3) <- (hi1 ^ x1 ^ k0, lo1, hi0 ^ x3 ^ k1, lo0)
//   the key schedule: before every round but the first, k0 += W0 and k1 += W1 (mod 2^32);
//   M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9 (golden ratio), W1 = 0xBB67AE85 (sqrt(3)-1).
//
// Ten rounds (the paper's recommendation, "Philox4x32-10"; it passes TestU01 BigCrush with margin).
// Only 32-bit integer multiplies, xors and adds: exact on every backend. The high half of the
// product uses __umulhi in CUDA device code and a 64-bit multiply everywhere else (host code, the
// CPU reference, and the kernel emulator, which compiles kernels with the host compiler).
// Verified against the Random123 known-answer vectors in tests/random/philox_kat_test.cpp.
#pragma once

#include <cstdint>

#include "kernels/common/hd.h"

namespace deeper::rng {

// 128-bit Philox counter or output: four 32-bit words, w[0] first (Random123's word order).
struct Philox4x32Block {
  std::uint32_t w[4];
};

// 64-bit Philox key: two 32-bit words.
struct Philox4x32Key {
  std::uint32_t k[2];
};

inline constexpr std::uint32_t kPhiloxM0 = 0xD2511F53u;
inline constexpr std::uint32_t kPhiloxM1 = 0xCD9E8D57u;
inline constexpr std::uint32_t kPhiloxW0 = 0x9E3779B9u;
inline constexpr std::uint32_t kPhiloxW1 = 0xBB67AE85u;
inline constexpr int kPhiloxRounds = 10;

namespace detail {

// The high 32 bits of the 64-bit product a * b.
DEEPER_HD_INLINE std::uint32_t mulhi32(std::uint32_t a, std::uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __umulhi(a, b);
#else
  return static_cast<std::uint32_t>((static_cast<std::uint64_t>(a) * b) >> 32);
#endif
}

DEEPER_HD_INLINE Philox4x32Block philox_round(Philox4x32Block x, Philox4x32Key key) {
  const std::uint32_t hi0 = mulhi32(kPhiloxM0, x.w[0]);
  const std::uint32_t lo0 = kPhiloxM0 * x.w[0];
  const std::uint32_t hi1 = mulhi32(kPhiloxM1, x.w[2]);
  const std::uint32_t lo1 = kPhiloxM1 * x.w[2];
  return Philox4x32Block{{hi1 ^ x.w[1] ^ key.k[0], lo1, hi0 ^ x.w[3] ^ key.k[1], lo0}};
}

}  // namespace detail

// Philox4x32 with `rounds` rounds (10 is the generator deeper uses; the parameter exists so that the
// 7-round known-answer vectors can check the round function and key schedule independently).
DEEPER_HD_INLINE Philox4x32Block philox4x32(Philox4x32Block counter, Philox4x32Key key, int rounds) {
  counter = detail::philox_round(counter, key);
  for (int r = 1; r < rounds; ++r) {
    key.k[0] += kPhiloxW0;
    key.k[1] += kPhiloxW1;
    counter = detail::philox_round(counter, key);
  }
  return counter;
}

// Philox4x32-10, fully unrolled: 128 random bits for (counter, key).
DEEPER_HD_INLINE Philox4x32Block philox4x32_10(Philox4x32Block counter, Philox4x32Key key) {
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int r = 0; r < kPhiloxRounds; ++r) {
    if (r > 0) {
      key.k[0] += kPhiloxW0;
      key.k[1] += kPhiloxW1;
    }
    counter = detail::philox_round(counter, key);
  }
  return counter;
}

}  // namespace deeper::rng
