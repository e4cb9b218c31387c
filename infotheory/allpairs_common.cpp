// Helpers shared by the batched GCMI engines (see allpairs_common.h).
#include "infotheory/allpairs_common.h"

#include "core/error.h"

#include <cblas.h>

#include <limits>
#include <numeric>

namespace deeper::info::detail {

void gemm_abt(const double* a, const double* b, double* g, std::int64_t m, std::int64_t n, std::int64_t k) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
              1.0, a, static_cast<int>(k), b, static_cast<int>(k), 0.0, g, static_cast<int>(n));
}

void gemm_abt(const float* a, const float* b, float* g, std::int64_t m, std::int64_t n, std::int64_t k) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k),
              1.0f, a, static_cast<int>(k), b, static_cast<int>(k), 0.0f, g, static_cast<int>(n));
}

std::vector<double> row_norms(const double* z, std::int64_t rows, std::int64_t n) {
  std::vector<double> norms(static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r) {
    const double* row = z + r * n;
    norms[static_cast<std::size_t>(r)] = std::sqrt(std::inner_product(row, row + n, row, 0.0));
  }
  return norms;
}

void check_cpu_precision(const AllPairsOptions& options, std::string_view what) {
  if (options.precision == GemmPrecision::bf16) {
    fail("{} on the CPU: precision bf16 is the tensor-core path of a device; use f64 or f32", what);
  }
}

void check_finite_rows(const double* x, std::int64_t rows, std::int64_t n, std::string_view what) {
  if (x == nullptr) fail("{}: null data pointer", what);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t t = 0; t < n; ++t) {
      const double v = x[r * n + t];
      if (!std::isfinite(v)) {
        fail("{}: non-finite value ({}) in variable {}, trial {}; NaN and Inf are not allowed", what, v, r, t);
      }
    }
  }
}

std::vector<double> tie_fractions(const double* x, std::int64_t rows, std::int64_t n) {
  std::vector<double> out(static_cast<std::size_t>(rows));
#pragma omp parallel for schedule(dynamic, 16)
  for (std::int64_t r = 0; r < rows; ++r) out[static_cast<std::size_t>(r)] = tie_fraction(x + r * n, n);
  return out;
}

AllPairsResult empty_result(std::int64_t units, std::int64_t features, std::int64_t trials, std::int64_t permutations) {
  AllPairsResult result;
  result.units = units;
  result.features = features;
  result.trials = trials;
  result.permutations = permutations;
  return result;
}

void start_null(AllPairsResult& result) {
  const auto P = static_cast<std::size_t>(result.permutations);
  result.exceed.assign(static_cast<std::size_t>(result.units * result.features), 0u);
  result.max_null.assign(P * static_cast<std::size_t>(result.features), -std::numeric_limits<double>::infinity());
  result.max_null_all.assign(P, -std::numeric_limits<double>::infinity());
}

void reduce_null_batch(AllPairsResult& result, const double* t, std::int64_t first, std::int64_t count) {
  const std::int64_t units = result.units, features = result.features, cols = count * features;
  for (std::int64_t u = 0; u < units; ++u) {
    const double* row = t + u * cols;
    for (std::int64_t c = 0; c < cols; ++c) {
      const std::int64_t f = c % features, b = c / features;
      const auto i = static_cast<std::size_t>(u * features + f);
      if (row[c] >= result.mi[i]) ++result.exceed[i];
      double& m = result.max_null[static_cast<std::size_t>((first + b) * features + f)];
      m = std::max(m, row[c]);
    }
  }
  for (std::int64_t b = 0; b < count; ++b) {
    double& all = result.max_null_all[static_cast<std::size_t>(first + b)];
    for (std::int64_t f = 0; f < features; ++f) {
      all = std::max(all, result.max_null[static_cast<std::size_t>((first + b) * features + f)]);
    }
  }
}

}  // namespace deeper::info::detail
