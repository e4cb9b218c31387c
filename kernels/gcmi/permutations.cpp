// Host generation of GCMI trial permutations (definition in permutations.h).
#include "kernels/gcmi/permutations.h"

#include "core/error.h"

#include <limits>

namespace deeper::kernels {

void make_permutations(std::uint64_t seed, std::uint64_t first, std::int64_t count, std::int64_t n,
                       std::int32_t* out) {
  DEEPER_CHECK(count >= 0, "make_permutations: negative count {}", count);
  DEEPER_CHECK(n >= 1 && n <= std::numeric_limits<std::int32_t>::max(),
               "make_permutations: N = {} trials is outside [1, 2^31 - 1] (indices are int32)", n);
  DEEPER_CHECK(count == 0 || out != nullptr, "make_permutations: null output for {} permutations", count);
#pragma omp parallel for schedule(static) if (count * n > 65536)
  for (std::int64_t p = 0; p < count; ++p) {
    fisher_yates_permutation(seed, first + static_cast<std::uint64_t>(p), static_cast<std::int32_t>(n),
                             out + p * n);
  }
}

}  // namespace deeper::kernels
