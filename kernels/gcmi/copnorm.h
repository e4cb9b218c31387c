// copnorm_rows: copula normalisation of V variables over N trials, "sort, then scatter table values"
// (shared/reference/gcmi.md §2).
//
// Input: `in`, V rows of N floats (row-major, row v at in + v * N). Output: out[v][k] = t[rank], the
// rank-th entry (0-based) of the caller's table t, t[i] = Φ⁻¹((i + 1) / (N + 1)) computed in double
// and rounded to float once; the kernel never evaluates Φ⁻¹. Every output row is therefore a
// permutation of t, and shares its sum of squares S_N (gcmi.md §2, §11).
//
// Sort keys (64 bits, unique within a row, so every backend produces the same order):
//   high word  the order-preserving uint32 of the value: −0.0 is first canonicalised to +0.0, then
//              bits ^ 0x80000000 for x ≥ 0 and ~bits for x < 0 (so equal values give equal words);
//   low word   stable: the trial index k (ties in trial order, identical to the reference ctransform);
//              jitter: (w & ~(M − 1)) | k, w = word k of rng::RandomSequence(seed,
//              kCopnormJitterStream, variable_offset + v) (word k is word k % 4 of Philox draw k / 4),
//              M = the next power of two ≥ N. Ties are broken by the top 32 − log2 M random bits,
//              which follow the trial (gcmi.md §9), and only a collision of those falls back to trial
//              order. Reproducible per (seed, global variable index).
//
// Per-row outputs: bad[v] = 1 when the row holds a NaN or an infinity (its output row is then all
// NaN and ties[v] = 0; the host turns the flag into an error naming the row), else 0; ties[v] = the
// number of sorted elements whose value equals their sorted predecessor's (so V·N minus the number
// of distinct values), which gives the tie fraction ties / N to report (warn above 10%).
//
// Tie policies: stable and jitter here. The `average` (mid-rank) policy is CPU-only for now: its
// rows are no longer permutations of t (see infotheory/).
//
// Limits: 1 ≤ N ≤ kCopnormMaxN (the keys of one row, rounded up to a power of two, live in shared
// memory: 8 B · 16384 = 128 KiB); a larger N is rejected with an error naming the limit.
//
// Cost per row: reads 4N bytes, writes 4N (float) and/or 2N (bf16) bytes plus 8 bytes of flags;
// the bitonic sort does M/2 · log2 M · (log2 M + 1)/2 compare-exchanges in shared memory (no
// floating-point work). At N = 1000 that is 28,160 compare-exchanges per row.
#pragma once

#include "kernels/common/random_streams.h"
#include "kernels/common/hd.h"
#include "kernels/common/random.h"
#include "kernels/runtime/device.h"

#include <cuda_bf16.h>

#include <cstdint>

namespace deeper::kernels {

// The Philox stream of the jitter tie-break keys ("GCJT").
inline constexpr std::uint32_t kCopnormJitterStream = rng::streams::gcmi_copnorm_jitter;
// The largest N a row may have.
inline constexpr std::int64_t kCopnormMaxN = 16384;

enum class CopnormTies : std::uint32_t { stable, jitter };

struct CopnormParams {
  const float* in = nullptr;          // rows × n values
  std::int64_t rows = 0;              // V
  std::int64_t n = 0;                 // N trials
  const float* table = nullptr;       // n values, increasing: t[i] = Φ⁻¹((i + 1) / (n + 1))
  float* out = nullptr;               // rows × n, or nullptr
  __nv_bfloat16* out_bf16 = nullptr;  // rows × n, bf16 of the same table values, or nullptr
  std::uint32_t* bad = nullptr;       // rows flags (1 = NaN or Inf in the row)
  std::uint32_t* ties = nullptr;      // rows tie counts
  CopnormTies policy = CopnormTies::stable;
  std::uint64_t seed = 0;             // jitter only
  std::uint64_t variable_offset = 0;  // global index of row 0 (jitter keys of tiled inputs)
};

// Throws deeper::Error when the parameters are unusable (null pointers, no output at all, N out of
// [1, kCopnormMaxN], negative rows, unknown policy). Every backend calls it first.
void check_copnorm_params(const CopnormParams& p);

// The high word of a sort key: −0.0 canonicalised to +0.0, then an order-preserving uint32.
DEEPER_HD_INLINE std::uint32_t copnorm_value_word(float x) {
  const std::uint32_t b = x == 0.0f ? 0u : rng::exact::bits(x);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

// The low word of a sort key for trial k < m (m = the next power of two >= N), given the jitter
// word w (ignored for stable).
DEEPER_HD_INLINE std::uint32_t copnorm_tie_word(CopnormTies policy, std::uint32_t w, std::uint32_t k,
                                                std::uint32_t m) {
  return policy == CopnormTies::jitter ? ((w & ~(m - 1u)) | k) : k;
}

// The jitter word of trial k of global variable `variable`: word k % 4 of Philox draw k / 4.
DEEPER_HD_INLINE std::uint32_t copnorm_jitter_word(std::uint64_t seed, std::uint64_t variable,
                                                   std::uint32_t k) {
  return rng::random_block(seed, kCopnormJitterStream, variable, k / 4u).w[k % 4u];
}

// The smallest power of two >= n (n >= 1).
DEEPER_HD_INLINE std::uint32_t copnorm_pow2(std::int64_t n) {
  std::uint32_t m = 1;
  while (static_cast<std::int64_t>(m) < n) m <<= 1;
  return m;
}

namespace cpu_impl {
void copnorm_rows(const CopnormParams& p);
}
namespace emu_impl {
void copnorm_rows(const CopnormParams& p, void* stream);
}
namespace cuda_impl {
void copnorm_rows(const CopnormParams& p, void* stream);
}

// Runs on `device`'s backend (all pointers memory of that device); `stream` is a Stream::native()
// handle, nullptr for the default stream.
void copnorm_rows(const Device& device, const CopnormParams& p, void* stream = nullptr);

}  // namespace deeper::kernels
