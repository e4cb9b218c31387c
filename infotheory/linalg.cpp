// Small dense linear algebra for the CPU reference estimators (see linalg.h).
#include "infotheory/linalg.h"

#include <cmath>

#include "core/error.h"

namespace deeper::info::detail {

void demean_rows(std::span<double> x, int rows, std::int64_t n) {
  for (int r = 0; r < rows; ++r) {
    double* row = x.data() + static_cast<std::size_t>(r) * n;
    double sum = 0.0;
    for (std::int64_t t = 0; t < n; ++t) sum += row[t];
    const double mean = sum / static_cast<double>(n);
    for (std::int64_t t = 0; t < n; ++t) row[t] -= mean;
  }
}

Matrix covariance(std::span<const double> z, int rows, std::int64_t n) {
  Matrix c(rows);
  const double scale = 1.0 / static_cast<double>(n - 1);
  for (int i = 0; i < rows; ++i) {
    const double* zi = z.data() + static_cast<std::size_t>(i) * n;
    for (int j = 0; j <= i; ++j) {
      const double* zj = z.data() + static_cast<std::size_t>(j) * n;
      double s = 0.0;
      for (std::int64_t t = 0; t < n; ++t) s += zi[t] * zj[t];
      c(i, j) = c(j, i) = s * scale;
    }
  }
  return c;
}

Matrix principal_block(const Matrix& c, std::span<const int> index) {
  const int m = static_cast<int>(index.size());
  Matrix b(m);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < m; ++j) b(i, j) = c(index[i], index[j]);
  }
  return b;
}

Matrix cholesky(const Matrix& c, std::string_view what) {
  const int d = c.d;
  Matrix l(d);
  for (int j = 0; j < d; ++j) {
    double pivot = c(j, j);
    for (int k = 0; k < j; ++k) pivot -= l(j, k) * l(j, k);
    // A pivot at the rounding level of its diagonal entry is a singular matrix that rounding made
    // positive (e.g. two identical variables); the log-determinant would be a meaningless large number.
    if (!(pivot > kSingularRelativePivot * c(j, j))) {  // also catches NaN
      fail(
          "{}: covariance is not positive definite (Cholesky pivot {} of {} is {:.3g}, diagonal {:.3g}); the "
          "data are constant, collinear, or too few trials",
          what, j + 1, d, pivot, c(j, j));
    }
    const double ljj = std::sqrt(pivot);
    l(j, j) = ljj;
    for (int i = j + 1; i < d; ++i) {
      double s = c(i, j);
      for (int k = 0; k < j; ++k) s -= l(i, k) * l(j, k);
      l(i, j) = s / ljj;
    }
  }
  return l;
}

double half_log_det(const Matrix& l) {
  double s = 0.0;
  for (int i = 0; i < l.d; ++i) s += std::log(l(i, i));
  return s;
}

double half_log_det_of(const Matrix& c, std::string_view what) { return half_log_det(cholesky(c, what)); }

void forward_solve(const Matrix& l, const double* b, double* y) {
  for (int i = 0; i < l.d; ++i) {
    double s = b[i];
    for (int k = 0; k < i; ++k) s -= l(i, k) * y[k];
    y[i] = s / l(i, i);
  }
}

}  // namespace deeper::info::detail
