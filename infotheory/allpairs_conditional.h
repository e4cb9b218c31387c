// Batched conditional GCMI and co-information for two sets of univariate variables and one scalar
// conditioning variable z, with permutation statistics: the batched forms of gccmi_ccd, gccmi_ccc,
// coinfo_ccd and coinfo_ccc (docs/gcmi.md; ../shared/reference/gcmi.md §7, §8, §9 and the
// "conditional" and "co-information" rows of §10.2). Results are AllPairsResult (U x F), so that
// p_value, maxstat_p_values, maxstat_threshold and fdr_bh apply unchanged. Precision f64 or f32
// (the GEMMs; bias constants, GEMVs and epilogues are fp64). Jitter variables are numbered x rows
// 0..U-1, then y rows U..U+F-1, then z (U+F), as in gcmi_cc_all_pairs.
//
// ccd (discrete z, labels 0..K-1, every class with N_k >= 3): per class k, x and y are
// copula-normalised within the class (jitter keyed by the original trial), one GEMM per class gives
// r_k, and I = sum_k (N_k / N) (-1/2 log2(1 - r_k^2) - c(N_k)). Permutations are within classes:
// in permutation p the trials of class k (in trial order) are shuffled by
// kernels::fisher_yates_permutation(permutation_seed, p * K + k, N_k) (so with K = 1 they are the
// plain permutations of cc), and y is permuted by them; x, z and the class sizes stay.
//
// ccc (continuous scalar z, N >= 4): r_xy by GEMM, r_xz and r_yz by GEMVs, the partial correlation
// rho = (r_xy - r_xz r_yz) / sqrt((1 - r_xz^2)(1 - r_yz^2)) and I = -1/2 log2(1 - rho^2) - bias,
// bias = 2 b(2, N) - b(3, N) - b(1, N). Permutations permute y (plain, the generator of cc), which
// also breaks y's relation to z: the null is "y independent of (x, z)", not conditional
// independence (use ccd with binned z for a null that keeps y's dependence on z).
//
// co-information coI = I(x;y) - I(x;y|z) (> 0 redundant). Continuous z: from the same copula data
// and correlations as ccc. Its permutations permute z (plain): the null is "z independent of
// (x, y)", under which coI = 0 exactly and the permuted data are exchangeable; I(x;y) is the same
// in every permutation, only I(x;y|z_p) changes; the test is one-sided (exceedance counts
// #{coI_p >= coI}: more redundancy than chance). Discrete z: gcmi_cc_all_pairs minus
// gccmi_ccd_all_pairs, without permutations (permuting the labels would change every class's
// within-class copula normalisation; not implemented).
#pragma once

#include "infotheory/allpairs.h"

#include <cstdint>

namespace deeper::info {

AllPairsResult gccmi_ccd_all_pairs(const double* x, std::int64_t units, const double* y, std::int64_t features,
                                   const std::int32_t* labels, std::int64_t trials, int classes,
                                   const AllPairsOptions& options = {});

AllPairsResult gccmi_ccc_all_pairs(const double* x, std::int64_t units, const double* y, std::int64_t features,
                                   const double* z, std::int64_t trials, const AllPairsOptions& options = {});

AllPairsResult coinfo_ccc_all_pairs(const double* x, std::int64_t units, const double* y, std::int64_t features,
                                    const double* z, std::int64_t trials, const AllPairsOptions& options = {});

// Throws deeper::Error when options.permutations > 0 (see the top comment).
AllPairsResult coinfo_ccd_all_pairs(const double* x, std::int64_t units, const double* y, std::int64_t features,
                                    const std::int32_t* labels, std::int64_t trials, int classes,
                                    const AllPairsOptions& options = {});

}  // namespace deeper::info
