// Input validation for the estimators (see checks.h).
#include "infotheory/checks.h"

#include <cmath>

#include "core/error.h"

namespace deeper::info::detail {

void check_variable(const double* x, int d, std::int64_t n, std::string_view what) {
  if (x == nullptr) fail("{}: null data pointer", what);
  if (d < 1) fail("{}: dimension must be at least 1 (got {})", what, d);
  if (n < 1) fail("{}: needs at least one trial (got N = {})", what, n);
  for (int r = 0; r < d; ++r) {
    const double* row = x + static_cast<std::size_t>(r) * n;
    for (std::int64_t t = 0; t < n; ++t) {
      if (!std::isfinite(row[t])) {
        fail("{}: non-finite value ({}) at dimension {}, trial {}; NaN and Inf are not allowed", what, row[t],
             r, t);
      }
    }
  }
}

void check_trials(std::int64_t n, int total_dim, std::string_view what) {
  if (n <= total_dim) {
    fail("{}: too few trials: N = {} for a joint dimension of {} (N must exceed the dimension)", what, n,
         total_dim);
  }
}

std::vector<std::int64_t> class_counts(const std::int32_t* labels, std::int64_t n, int classes,
                                       std::string_view what) {
  if (labels == nullptr) fail("{}: null labels pointer", what);
  if (classes < 1) fail("{}: the number of classes must be at least 1 (got {})", what, classes);
  std::vector<std::int64_t> counts(static_cast<std::size_t>(classes), 0);
  for (std::int64_t t = 0; t < n; ++t) {
    const std::int32_t k = labels[t];
    if (k < 0 || k >= classes) {
      fail("{}: label {} at trial {} is out of range (labels must be 0..{})", what, k, t, classes - 1);
    }
    ++counts[static_cast<std::size_t>(k)];
  }
  for (int k = 0; k < classes; ++k) {
    if (counts[static_cast<std::size_t>(k)] == 0) {
      fail("{}: class {} is empty (every class 0..{} needs at least one trial)", what, k, classes - 1);
    }
  }
  return counts;
}

void check_class_sizes(const std::vector<std::int64_t>& counts, int need, std::string_view what) {
  for (std::size_t k = 0; k < counts.size(); ++k) {
    if (counts[k] <= need) {
      fail("{}: class {} has only N_k = {} trials; its covariance of dimension {} needs N_k > {}", what, k,
           counts[k], need, need);
    }
  }
}

std::vector<std::vector<std::int64_t>> class_members(const std::int32_t* labels, std::int64_t n,
                                                     int classes) {
  std::vector<std::vector<std::int64_t>> members(static_cast<std::size_t>(classes));
  for (std::int64_t t = 0; t < n; ++t) members[static_cast<std::size_t>(labels[t])].push_back(t);
  return members;
}

}  // namespace deeper::info::detail
