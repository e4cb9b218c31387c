// Input validation shared by the estimators: every failure throws deeper::Error with a message
// that names the argument and the problem (too few trials, NaN/Inf, labels out of range, empty or
// too small classes). Internal to infotheory/ (namespace detail).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace deeper::info::detail {

// `x` is not null, d >= 1, and all d x n values are finite.
void check_variable(const double* x, int d, std::int64_t n, std::string_view what);

// N > total dimension of the joint variable (so that every covariance and bias term exists).
void check_trials(std::int64_t n, int total_dim, std::string_view what);

// Labels are not null, classes >= 1, every label is in 0..classes-1 and every class is non-empty.
// Returns the class counts N_k.
std::vector<std::int64_t> class_counts(const std::int32_t* labels, std::int64_t n, int classes,
                                       std::string_view what);

// Every class has N_k > need (what a covariance of dimension `need`, or a bias term, requires).
void check_class_sizes(const std::vector<std::int64_t>& counts, int need, std::string_view what);

// The trial indices of each class, in trial order.
std::vector<std::vector<std::int64_t>> class_members(const std::int32_t* labels, std::int64_t n, int classes);

}  // namespace deeper::info::detail
