// Batched continuous-discrete GCMI (model comparison) for many univariate variables against one
// label vector, with label-permutation statistics: the batched form of gcmi_model_cd (docs/gcmi.md,
// ../shared/reference/gcmi.md §5 and the "discrete y" rows of §10.2).
//
// X holds U univariate variables over N trials (row-major U x N); labels are int32 in 0..K-1, every
// class with N_k >= 2 trials. Each row is copula-normalised once (whole X, not per class); then per
// unit the class sums s1_k = sum z, s2_k = sum z^2 give the within-class variances
// v_k = (s2_k - s1_k^2 / N_k) / (N_k - 1) in fp64, and
//   I = [1/2 ln(sum z^2 / (N - 1)) - B(1, N) - sum_k w_k (1/2 ln v_k - B(1, N_k))] / ln 2,
// w_k = N_k / N: gcmi_model_cd for every unit (tested to 1e-10 bits).
//
// Class sums (ClassSums): `one_hot_gemm` computes [Z; Z o Z] times the indicator rows of classes
// 0..K-2 (one GEMM, in the working precision; class K-1 is the row total minus the others), with P
// permutations stacked into the same GEMM; `segmented` sorts the trials by label once per
// permutation (a counting sort) and sums each class's contiguous segment per unit (OpenMP over
// units), whose cost does not grow with K. `automatic` takes the GEMM for K <= kOneHotMaxClasses.
//
// Permutation p permutes the labels: labels_p[t] = labels[pi_p(t)] with pi_p =
// kernels::fisher_yates_permutation(permutation_seed, p, N), the same generator as cc. Class counts
// are preserved, so the bias terms are the same in every permutation; the statistic is the MI itself.
#pragma once

#include "infotheory/allpairs.h"

#include <cstdint>

namespace deeper::info {

enum class ClassSums { automatic, one_hot_gemm, segmented };

// Largest K for which ClassSums::automatic uses the one-hot GEMM (docs/gcmi.md has the measurement).
inline constexpr int kOneHotMaxClasses = 8;

// MI of every unit with the labels: result.mi is U x 1 (features = 1), tie_fraction_x per unit,
// and with permutations exceed (U x 1), max_null (P x 1) and max_null_all (P), so that
// AllPairsResult::p_value, maxstat_p_values, maxstat_threshold and fdr_bh apply unchanged.
// Precision f64 or f32 (the GEMM; variances and logs stay fp64). Throws deeper::Error on bad shapes,
// non-finite values, labels out of range, an empty class or a class with fewer than 2 trials.
AllPairsResult gcmi_model_cd_batched(const double* x, std::int64_t units, const std::int32_t* labels,
                                     std::int64_t trials, int classes, const AllPairsOptions& options = {},
                                     ClassSums sums = ClassSums::automatic);

}  // namespace deeper::info
