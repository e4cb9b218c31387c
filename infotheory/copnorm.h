// Copula normalisation (gcmi.md section 2): rank each variable's N samples r = 1..N along the
// trial axis and map u = r / (N + 1) through the inverse normal CDF, so that every marginal becomes
// standard normal. With distinct ranks every row is a permutation of one table
// t_k = Phi^-1(k / (N + 1)), k = 1..N (copnorm_table).
//
// Ties (ReLU activations have many exact zeros), TiePolicy:
//   stable   equal values are ranked in trial order (a stable sort): the reference's ctransform.
//            Rows stay permutations of t. Pitfall: if the other variable also follows trial order,
//            the tie order itself carries information (docs/gcmi.md).
//   jitter   equal values are ranked by a random secondary key: the jitter word
//            w = kernels::copnorm_jitter_word(seed, variable, trial) (Philox4x32-10 at stream
//            kernels::kCopnormJitterStream, index = variable, word trial % 4 of draw trial / 4;
//            kernels/gcmi/copnorm.h). Ties are ordered by the top 32 - log2(M) bits of w, M the next
//            power of two >= n (the row length), then by trial: exactly the order of the GPU kernel's
//            key (w & ~(M - 1)) | trial, so the CPU and GPU copnorm agree bit for bit. The key
//            follows the trial, not the position, so it commutes with trial permutations and with
//            gathering a class's trials (copnorm_gathered: trial = the original trial number).
//            Rows stay permutations of t.
//   average  tied values get their mid-rank; rows are no longer permutations of t, so copnorm
//            subtracts each row's mean afterwards. (Under stable and jitter the table's antisymmetry
//            t_k = -t_{N+1-k} already makes every row's mean 0, up to rounding.)
// -0.0 and +0.0 are equal values. NaN and Inf are rejected with deeper::Error.
//
// Layout: a row is n contiguous doubles; copnorm_rows normalises each row of a row-major
// rows x n array separately, with variable index = first_variable + the row number. The estimators
// number the rows of their arguments consecutively: x rows 0..dx-1, then y, then z.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace deeper::info {

enum class TiePolicy { stable, jitter, average };

// "stable", "jitter", "average"; parse_tie_policy throws deeper::Error on anything else.
std::string_view tie_policy_name(TiePolicy ties);
TiePolicy parse_tie_policy(std::string_view name);

// The reference implementation warns when more than this fraction of a variable's values repeat.
inline constexpr double kTieWarnFraction = 0.1;

// The jitter word of (seed, variable, trial), kernels::copnorm_jitter_word; trial < 2^32.
std::uint32_t jitter_word(std::uint64_t seed, std::uint64_t variable_index, std::uint64_t trial);

// t_k = ndtri(k / (n + 1)) for k = 1..n (n >= 1), the values of every tie-free copnormed row.
std::vector<double> copnorm_table(std::int64_t n);

// S_n = sum_k t_k^2, the sum of squares of every tie-free copnormed row.
double copnorm_sum_of_squares(std::int64_t n);

// Copula normalisation of one row of n samples into out (which must not alias x).
// variable_index keys the jitter stream (ignored by stable and average).
void copnorm(const double* x, std::int64_t n, double* out, TiePolicy ties = TiePolicy::stable,
             std::uint64_t seed = 0, std::uint64_t variable_index = 0);

// The same for a row gathered from a larger set of trials: trial_ids[i] is the original trial
// number of x[i] (distinct, < 2^32), used for the jitter key so that it follows the trial (e.g.
// within a class); M is still the next power of two >= n, the gathered row's length.
void copnorm_gathered(const double* x, const std::int64_t* trial_ids, std::int64_t n, double* out,
                      TiePolicy ties, std::uint64_t seed, std::uint64_t variable_index);

// Each row of a row-major rows x n array, variable index = first_variable + row number. With
// `tie_fractions` (rows values), also each row's tie_fraction, read off the same sort.
void copnorm_rows(const double* x, std::int64_t rows, std::int64_t n, double* out,
                  TiePolicy ties = TiePolicy::stable, std::uint64_t seed = 0,
                  std::uint64_t first_variable = 0, double* tie_fractions = nullptr);

// (n - number of distinct values) / n, with -0.0 == +0.0. NaN and Inf are rejected.
double tie_fraction(const double* x, std::int64_t n);

}  // namespace deeper::info
