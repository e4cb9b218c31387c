// Trial permutations for GCMI permutation tests (shared/reference/gcmi.md §9): a pure function of
// (seed, permutation index), identical on every backend and every machine.
//
// Permutation p of N trials is the Fisher–Yates shuffle of the identity driven by
// rng::RandomSequence(seed, kPermutationStream, p):
//   a = [0, 1, ..., N − 1]; for i = N − 1 down to 1: j = seq.uniform_int(i + 1); swap(a[i], a[j]).
// uniform_int is Lemire's unbiased method, so every permutation is equally likely. The array holds
// π_p: row p, element k is π_p(k), and a permuted variable is (y∘π_p)[k] = y[π_p(k)]. Permutation
// indices start at 0; the observed (unpermuted) statistic is not one of them.
// Cost: N − 1 swaps and about N Philox words per permutation.
#pragma once

#include "kernels/common/random_streams.h"
#include "kernels/common/hd.h"
#include "kernels/common/random.h"

#include <cstdint>

namespace deeper::kernels {

// The Philox stream of GCMI trial permutations ("GCPM").
inline constexpr std::uint32_t kPermutationStream = rng::streams::gcmi_permutation;

// Writes permutation `index` of n trials into out[0, n). Callable from kernels too.
DEEPER_HD_INLINE void fisher_yates_permutation(std::uint64_t seed, std::uint64_t index, std::int32_t n,
                                               std::int32_t* out) {
  for (std::int32_t k = 0; k < n; ++k) out[k] = k;
  rng::RandomSequence seq(seed, kPermutationStream, index);
  for (std::int32_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<std::int32_t>(seq.uniform_int(static_cast<std::uint32_t>(i) + 1u));
    const std::int32_t t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
}

// Host helper: permutations first, first + 1, ..., first + count − 1 of n trials into out, a
// count × n row-major int32 array (OpenMP over permutations). Throws deeper::Error for count < 0,
// n outside [1, 2^31 − 1] or a null out with count > 0.
void make_permutations(std::uint64_t seed, std::uint64_t first, std::int64_t count, std::int64_t n,
                       std::int32_t* out);

}  // namespace deeper::kernels
