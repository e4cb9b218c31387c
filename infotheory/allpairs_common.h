// Internal helpers shared by the batched GCMI engines (allpairs.cpp, allpairs_cd.cpp,
// allpairs_ccd.cpp, allpairs_ccc.cpp): BLAS GEMM in the working precision, the MI of a squared
// correlation, row norms, input checks, and the fused reduction of a batch of null statistics
// (exceedance counts and maxima, never the null itself). Not part of the public API.
#pragma once

#include "infotheory/allpairs.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

namespace deeper::info::detail {

inline constexpr double kLn2 = 0.69314718055994530942;

// MI in bits of a squared (partial) correlation, clamped so that identical rows give a finite value.
inline double mi_of_r2(double r2, double bias_bits) {
  r2 = std::min(r2, 1.0 - 0x1p-52);
  return -0.5 * std::log1p(-r2) / kLn2 - bias_bits;
}

// G = A B^T for row-major A (m x k), B (n x k), G (m x n), through OpenBLAS.
void gemm_abt(const double* a, const double* b, double* g, std::int64_t m, std::int64_t n, std::int64_t k);
void gemm_abt(const float* a, const float* b, float* g, std::int64_t m, std::int64_t n, std::int64_t k);

// Euclidean norm of each row of a row-major rows x n array.
std::vector<double> row_norms(const double* z, std::int64_t rows, std::int64_t n);

// Rejects bf16 (a device's tensor-core precision) on the CPU engines, naming the estimator.
void check_cpu_precision(const AllPairsOptions& options, std::string_view what);

// Every value of a row-major rows x n array is finite; otherwise an error naming the variable and
// the trial (before any within-class gathering renumbers the trials).
void check_finite_rows(const double* x, std::int64_t rows, std::int64_t n, std::string_view what);

// tie_fraction of every row of a row-major rows x n array (OpenMP over rows); the values must
// already be checked finite (check_finite_rows).
std::vector<double> tie_fractions(const double* x, std::int64_t rows, std::int64_t n);

// out[r][t] = rows[r][perm[t]] for `count` rows of n trials: the rows under one trial permutation.
template <typename T>
void gather_permuted_rows(const T* rows, std::int64_t count, std::int64_t n, const std::int32_t* perm, T* out) {
  for (std::int64_t r = 0; r < count; ++r) {
    const T* src = rows + r * n;
    T* dst = out + r * n;
    for (std::int64_t t = 0; t < n; ++t) dst[t] = src[perm[t]];
  }
}

// A result of `units` x `features` pairs over `trials` trials and `permutations` permutations,
// with nothing computed yet.
AllPairsResult empty_result(std::int64_t units, std::int64_t features, std::int64_t trials, std::int64_t permutations);

// Sizes result.exceed (U x F, zeros), result.max_null (P x F) and result.max_null_all (P) (-inf)
// for result.permutations permutations.
void start_null(AllPairsResult& result);

// Folds a batch of null statistics into result: t is units x (count * features), row-major, with
// column b * features + f holding permutation first + b for feature f, in the same units (bits) and
// computed by the same expression as result.mi (so equal statistics compare equal).
// exceed(u, f) += #{b : t >= mi(u, f)}; max_null(first + b, f) and max_null_all(first + b) take
// the maxima over units (and features).
void reduce_null_batch(AllPairsResult& result, const double* t, std::int64_t first, std::int64_t count);

}  // namespace deeper::info::detail
