// Batched Gaussian-copula MI for multivariate variables (a vertex's x, y, z; a texel's r, g, b), with
// permutation statistics: the batched forms of gcmi_cc and gcmi_model_cd for d-dimensional
// variables (docs/gcmi.md, ../shared/reference/gcmi.md §4, §5 and the "multivariate" rows of §10.2).
//
// Layout: X holds U variables of dimension d_x over N trials, row-major (U * d_x) x N: variable u,
// dimension i is the row u * d_x + i (each dimension's N samples contiguous, as in gcmi.h); Y holds
// F variables of dimension d_y likewise. Every row (each marginal) is copula-normalised separately,
// once; jitter keys number the rows x first (u * d_x + i), then y (U * d_x + f * d_y + j).
//
// cc. Let n_r be the norm of copula row r and R the correlation matrix of a variable's rows (unit
// diagonal). Each variable is whitened once: A = L^-1 with R = L L^T (Cholesky, d x d). One GEMM
// G = Zx Zy^T gives every cross block; per pair the whitened cross-correlation block is
// K = A_u (G_uf / (n n^T)) A_f^T (d_x x d_y), and I = -1/2 log2 det(I - K K^T) - [b(d_x) + b(d_y) -
// b(d_x + d_y)] (bits; the canonical correlations' form of mi_gg, equal to it to ~1e-14 bits). The
// determinant comes from a small Cholesky of I - K K^T (or I - K^T K, the smaller side) whose pivots
// are tracked as 1 + a_i so that log1p keeps small MI accurate. When d_x = 1 or d_y = 1 it is
// 1 - R^2 with R^2 = sum K_ij^2 (the squared multiple correlation), and with d_x = d_y = 1 every
// number is computed by the univariate engine's expressions: results, exceedance counts and maxima
// are bit-identical to gcmi_cc_all_pairs (tested). Cost: 2 U F d_x d_y N FLOP per pass (the GEMM)
// plus O(d^3) per pair.
//
// cd (model comparison, labels 0..K-1): whole-X copnorm, then per unit the class sums of the d rows
// and of the d(d+1)/2 products z_i z_j (one GEMM with the class indicators, or segmented sums over
// label-sorted trials; ClassSums as in allpairs_cd.h), class covariances
// C_k = (S2_k - s1_k s1_k^T / N_k) / (N_k - 1) in fp64, and
//   I = [1/2 ln|Z Z^T / (N - 1)| - B(d, N) - sum_k w_k (1/2 ln|C_k| - B(d, N_k))] / ln 2,
// gcmi_model_cd for every unit. With d = 1 it is bit-identical to gcmi_model_cd_batched.
//
// Permutations (options.permutations = P, options.permutation_seed): permutation p is
// kernels::fisher_yates_permutation(seed, p, N) applied to the trials of Y (cc) or of the labels
// (cd), as in the univariate engines. The null is never stored: per pair the exceedance count
// #{p : T_p >= T_obs}, per permutation the maximum over units for each feature and over all pairs
// (reported in bits). T is R^2 when a side is 1-D, else -ln det(I - K K^T) (cc), and the MI itself
// (cd); each is monotone in the MI of the pair, whose bias term is the same in every permutation.
//
// Units are processed in tiles of `tile_units` variables (0: automatic, about 256 MB of copula
// data per tile), so X may be larger than the working memory of one pass; the results do not
// depend on the tiling beyond GEMM rounding (the observed and null statistics of a unit always come
// from the same tile). Precision f64 or f32 (the GEMMs; norms, whitening, determinants and logs stay
// fp64). CPU only (OpenBLAS + OpenMP).
#pragma once

#include "infotheory/allpairs.h"
#include "infotheory/allpairs_cd.h"

#include <cstdint>

namespace deeper::info {

// The largest dimension of one variable the multivariate engines accept.
inline constexpr int kMaxVariableDim = 16;

// U x F MI matrix (bits) of U d_x-dimensional x variables against F d_y-dimensional y variables, and
// the permutation statistics; tie_fraction_x / _y hold each variable's largest tie fraction over its
// dimensions. Throws deeper::Error on bad shapes (no variables, d outside 1..kMaxVariableDim,
// N <= d_x + d_y), null pointers, NaN or Inf (naming the variable, dimension and trial), bf16, and a
// variable whose dimensions are collinear after copula normalisation (naming it).
AllPairsResult gcmi_cc_all_pairs_mv(const double* x, std::int64_t units, int dx, const double* y,
                                    std::int64_t features, int dy, std::int64_t trials,
                                    const AllPairsOptions& options = {}, std::int64_t tile_units = 0);

// MI of every d-dimensional unit with the labels: result.mi is U x 1 (features = 1), as
// gcmi_model_cd_batched. Throws deeper::Error as above and for labels out of range, an empty class,
// a class with N_k <= d, and a class whose covariance is singular for a unit (naming both).
AllPairsResult gcmi_model_cd_batched_mv(const double* x, std::int64_t units, int d, const std::int32_t* labels,
                                        std::int64_t trials, int classes, const AllPairsOptions& options = {},
                                        ClassSums sums = ClassSums::automatic, std::int64_t tile_units = 0);

}  // namespace deeper::info
