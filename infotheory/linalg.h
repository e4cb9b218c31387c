// Small dense linear algebra in double for the CPU reference estimators: demeaning, unbiased
// covariances of row-major d x N blocks, principal sub-blocks, Cholesky factors and triangular
// solves. d is small (a handful of dimensions), so everything is plain loops. Internal to
// infotheory/ (namespace detail); not part of the public API.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace deeper::info::detail {

// A dense square matrix, row-major.
struct Matrix {
  int d = 0;
  std::vector<double> a;  // d * d

  explicit Matrix(int dim = 0) : d(dim), a(static_cast<std::size_t>(dim) * dim, 0.0) {}
  double& operator()(int i, int j) { return a[static_cast<std::size_t>(i) * d + j]; }
  double operator()(int i, int j) const { return a[static_cast<std::size_t>(i) * d + j]; }
};

// Subtracts each row's mean from a row-major rows x n array, in place.
void demean_rows(std::span<double> x, int rows, std::int64_t n);

// C = Z Z^T / (n - 1) of a row-major rows x n array Z (already demeaned, or declared so).
Matrix covariance(std::span<const double> z, int rows, std::int64_t n);

// The principal sub-matrix of c on the rows and columns `index` (in that order).
Matrix principal_block(const Matrix& c, std::span<const int> index);

// Pivots at or below this fraction of their diagonal entry (16 machine epsilons) count as zero.
inline constexpr double kSingularRelativePivot = 16 * 2.220446049250313e-16;

// The lower Cholesky factor L of a symmetric positive definite c (C = L L^T). A pivot that is not
// above kSingularRelativePivot * C_jj (zero, negative, NaN, or rounding noise of a singular
// matrix) throws deeper::Error naming `what`, the pivot and the likely cause.
Matrix cholesky(const Matrix& c, std::string_view what);

// sum_i ln L_ii = (1/2) ln |C| for a Cholesky factor L.
double half_log_det(const Matrix& l);

// (1/2) ln |C| of a symmetric positive definite c, through its Cholesky factor.
double half_log_det_of(const Matrix& c, std::string_view what);

// Solves L y = b by forward substitution (L lower triangular with non-zero diagonal); b and y
// have L.d entries and may alias.
void forward_solve(const Matrix& l, const double* b, double* y);

}  // namespace deeper::info::detail
