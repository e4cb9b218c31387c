// Copula normalisation with the stable, jitter and average tie policies (see copnorm.h).
#include "infotheory/copnorm.h"

#include <algorithm>
#include <exception>
#include <numeric>
#include <span>

#include "core/error.h"
#include "core/special_functions.h"
#include "infotheory/checks.h"
#include "kernels/gcmi/copnorm.h"

namespace deeper::info {

namespace {

constexpr std::uint64_t kMax32 = std::uint64_t{1} << 32;

// One row: x[0..n), jitter keys from trial_ids (or 0..n-1), table = copnorm_table(n). Returns the
// row's tie fraction (n - distinct values) / n, read off the sorted order (equal values are
// adjacent under every policy, and operator== treats -0.0 and +0.0 as equal, as tie_fraction does).
double copnorm_row(const double* x, const std::int64_t* trial_ids, std::int64_t n, double* out, TiePolicy ties,
                   std::uint64_t seed, std::uint64_t variable_index, std::span<const double> table) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  switch (ties) {
    case TiePolicy::stable:
    case TiePolicy::average:
      // operator< treats -0.0 and +0.0 as equal, so they keep trial order.
      std::stable_sort(order.begin(), order.end(),
                       [x](std::int64_t a, std::int64_t b) { return x[a] < x[b]; });
      break;
    case TiePolicy::jitter: {
      // Order ties by (top 32 - log2 M bits of the jitter word, trial), M = pow2(n): the order of
      // the kernel's key (w & ~(M - 1)) | trial (kernels/gcmi/copnorm.h).
      const std::uint32_t high_mask = ~(kernels::copnorm_pow2(n) - 1u);
      std::vector<std::uint32_t> word(static_cast<std::size_t>(n));
      std::vector<std::int64_t> trial(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t t = trial_ids ? trial_ids[i] : i;
        if (t < 0 || static_cast<std::uint64_t>(t) >= kMax32) {
          fail("copnorm: trial {} does not fit the jitter key (0 <= trial < 2^32)", t);
        }
        trial[static_cast<std::size_t>(i)] = t;
        word[static_cast<std::size_t>(i)] =
            jitter_word(seed, variable_index, static_cast<std::uint64_t>(t)) & high_mask;
      }
      std::sort(order.begin(), order.end(), [x, &word, &trial](std::int64_t a, std::int64_t b) {
        if (x[a] < x[b]) return true;
        if (x[b] < x[a]) return false;
        const auto ua = static_cast<std::size_t>(a), ub = static_cast<std::size_t>(b);
        if (word[ua] != word[ub]) return word[ua] < word[ub];
        return trial[ua] < trial[ub];
      });
      break;
    }
  }
  std::int64_t distinct = 1;
  for (std::int64_t k = 1; k < n; ++k) {
    distinct += x[order[static_cast<std::size_t>(k)]] == x[order[static_cast<std::size_t>(k - 1)]] ? 0 : 1;
  }
  const double tied = static_cast<double>(n - distinct) / static_cast<double>(n);
  if (ties != TiePolicy::average) {
    for (std::int64_t k = 0; k < n; ++k)
      out[order[static_cast<std::size_t>(k)]] = table[static_cast<std::size_t>(k)];
    return tied;
  }
  // Mid-ranks: the tied positions s..e-1 (0-based) share rank ((s + 1) + e) / 2.
  const double denom = static_cast<double>(n) + 1.0;
  double sum = 0.0;
  for (std::int64_t s = 0; s < n;) {
    std::int64_t e = s + 1;
    while (e < n && x[order[static_cast<std::size_t>(e)]] == x[order[static_cast<std::size_t>(s)]]) ++e;
    const double value =
        e - s == 1 ? table[static_cast<std::size_t>(s)] : ndtri(0.5 * static_cast<double>(s + 1 + e) / denom);
    for (std::int64_t k = s; k < e; ++k) out[order[static_cast<std::size_t>(k)]] = value;
    sum += value * static_cast<double>(e - s);
    s = e;
  }
  const double mean = sum / static_cast<double>(n);
  for (std::int64_t t = 0; t < n; ++t) out[t] -= mean;
  return tied;
}

void check_row_args(const double* x, std::int64_t n, const double* out) {
  detail::check_variable(x, 1, n, "copnorm");
  if (out == nullptr) fail("copnorm: null output pointer");
  if (out == x) fail("copnorm: the output must not alias the input");
}

}  // namespace

std::string_view tie_policy_name(TiePolicy ties) {
  switch (ties) {
    case TiePolicy::stable:
      return "stable";
    case TiePolicy::jitter:
      return "jitter";
    case TiePolicy::average:
      return "average";
  }
  return "unknown";
}

TiePolicy parse_tie_policy(std::string_view name) {
  if (name == "stable") return TiePolicy::stable;
  if (name == "jitter") return TiePolicy::jitter;
  if (name == "average") return TiePolicy::average;
  fail("unknown tie policy '{}' (expected stable, jitter or average)", name);
}

std::uint32_t jitter_word(std::uint64_t seed, std::uint64_t variable_index, std::uint64_t trial) {
  if (trial >= kMax32) fail("jitter_word: trial {} does not fit the jitter key (< 2^32)", trial);
  return kernels::copnorm_jitter_word(seed, variable_index, static_cast<std::uint32_t>(trial));
}

std::vector<double> copnorm_table(std::int64_t n) {
  if (n < 1) fail("copnorm_table: needs at least one trial (got N = {})", n);
  std::vector<double> t(static_cast<std::size_t>(n));
  const double denom = static_cast<double>(n) + 1.0;
  for (std::int64_t k = 1; k <= n; ++k)
    t[static_cast<std::size_t>(k - 1)] = ndtri(static_cast<double>(k) / denom);
  return t;
}

double copnorm_sum_of_squares(std::int64_t n) {
  double s = 0.0;
  for (const double v : copnorm_table(n)) s += v * v;
  return s;
}

void copnorm(const double* x, std::int64_t n, double* out, TiePolicy ties, std::uint64_t seed,
             std::uint64_t variable_index) {
  copnorm_gathered(x, nullptr, n, out, ties, seed, variable_index);
}

void copnorm_gathered(const double* x, const std::int64_t* trial_ids, std::int64_t n, double* out,
                      TiePolicy ties, std::uint64_t seed, std::uint64_t variable_index) {
  check_row_args(x, n, out);
  const std::vector<double> table = copnorm_table(n);
  copnorm_row(x, trial_ids, n, out, ties, seed, variable_index, table);
}

void copnorm_rows(const double* x, std::int64_t rows, std::int64_t n, double* out, TiePolicy ties,
                  std::uint64_t seed, std::uint64_t first_variable, double* tie_fractions) {
  if (rows < 1) fail("copnorm_rows: needs at least one row (got {})", rows);
  const std::vector<double> table = copnorm_table(n);
  // Rows in parallel; the first error any row raises is rethrown after the loop (an exception must
  // not leave an OpenMP region).
  std::exception_ptr error;
#pragma omp parallel for schedule(dynamic, 8)
  for (std::int64_t r = 0; r < rows; ++r) {
    try {
      const double* xr = x ? x + r * n : nullptr;
      double* outr = out ? out + r * n : nullptr;
      check_row_args(xr, n, outr);
      const double tied =
          copnorm_row(xr, nullptr, n, outr, ties, seed, first_variable + static_cast<std::uint64_t>(r), table);
      if (tie_fractions) tie_fractions[r] = tied;
    } catch (...) {
#pragma omp critical(deeper_copnorm_rows_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

double tie_fraction(const double* x, std::int64_t n) {
  detail::check_variable(x, 1, n, "tie_fraction");
  std::vector<double> v(x, x + n);
  std::sort(v.begin(), v.end());
  std::int64_t distinct = 1;
  for (std::size_t i = 1; i < v.size(); ++i) distinct += v[i] == v[i - 1] ? 0 : 1;
  return static_cast<double>(n - distinct) / static_cast<double>(n);
}

}  // namespace deeper::info
