// Continuous-discrete MI by a Gaussian mixture with the unscented entropy approximation,
// mi_mixture_gd (see discrete.h and gcmi.md section 6).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include "core/error.h"
#include "infotheory/checks.h"
#include "infotheory/discrete.h"
#include "infotheory/linalg.h"

namespace deeper::info {

namespace {

// One class's Gaussian fit: mean, Cholesky factor of the unbiased covariance, sum ln diag L.
struct ClassFit {
  std::vector<double> mean;
  detail::Matrix chol;
  double half_log_det = 0.0;
  double weight = 0.0;      // w_k = N_k / N
  double log_weight = 0.0;  // ln w_k
};

// ln N(s; m, L L^T) = -1/2 |L^-1 (s - m)|^2 - sum ln diag L - (d/2) ln 2 pi.
double log_normal_density(const std::vector<double>& s, const ClassFit& f, std::vector<double>& work) {
  const int d = f.chol.d;
  for (int i = 0; i < d; ++i)
    work[static_cast<std::size_t>(i)] = s[static_cast<std::size_t>(i)] - f.mean[static_cast<std::size_t>(i)];
  detail::forward_solve(f.chol, work.data(), work.data());
  double q = 0.0;
  for (int i = 0; i < d; ++i) q += work[static_cast<std::size_t>(i)] * work[static_cast<std::size_t>(i)];
  return -0.5 * q - f.half_log_det - 0.5 * d * std::log(2.0 * std::numbers::pi);
}

// ln sum_j exp(a_j), shifted by the maximum.
double log_sum_exp(const std::vector<double>& a) {
  const double m = *std::max_element(a.begin(), a.end());
  if (m == -std::numeric_limits<double>::infinity()) return m;
  double s = 0.0;
  for (const double v : a) s += std::exp(v - m);
  return m + std::log(s);
}

}  // namespace

double mi_mixture_gd(const double* x, int d, const std::int32_t* labels, std::int64_t n, int classes) {
  detail::check_variable(x, d, n, "mi_mixture_gd: x");
  detail::check_trials(n, d, "mi_mixture_gd");
  const std::vector<std::int64_t> counts = detail::class_counts(labels, n, classes, "mi_mixture_gd: labels");
  detail::check_class_sizes(counts, d, "mi_mixture_gd");
  const auto members = detail::class_members(labels, n, classes);

  std::vector<ClassFit> fits(static_cast<std::size_t>(classes));
  double h_cond = 0.0;  // sum_k w_k H_k in nats
  for (int k = 0; k < classes; ++k) {
    const auto& trials = members[static_cast<std::size_t>(k)];
    const std::int64_t nk = static_cast<std::int64_t>(trials.size());
    std::vector<double> xk(static_cast<std::size_t>(d) * nk);
    for (int r = 0; r < d; ++r) {
      for (std::int64_t i = 0; i < nk; ++i) xk[r * nk + i] = x[r * n + trials[static_cast<std::size_t>(i)]];
    }
    ClassFit& f = fits[static_cast<std::size_t>(k)];
    f.mean.resize(static_cast<std::size_t>(d));
    for (int r = 0; r < d; ++r) {
      double s = 0.0;
      for (std::int64_t i = 0; i < nk; ++i) s += xk[r * nk + i];
      f.mean[static_cast<std::size_t>(r)] = s / static_cast<double>(nk);
    }
    detail::demean_rows(xk, d, nk);
    f.chol = detail::cholesky(detail::covariance(xk, d, nk), "mi_mixture_gd: class covariance");
    f.half_log_det = detail::half_log_det(f.chol);
    const double w = static_cast<double>(nk) / static_cast<double>(n);
    f.weight = w;
    f.log_weight = std::log(w);
    h_cond += w * (f.half_log_det + 0.5 * d * (std::log(2.0 * std::numbers::pi) + 1.0));
  }

  // Unscented mixture entropy: -(1/2d) sum_k w_k sum_{2d sigma points} ln p_mix(s).
  const double spread = std::sqrt(static_cast<double>(d));
  std::vector<double> s(static_cast<std::size_t>(d)), work(static_cast<std::size_t>(d)),
      terms(static_cast<std::size_t>(classes));
  double h_mix = 0.0;
  for (int k = 0; k < classes; ++k) {
    const ClassFit& f = fits[static_cast<std::size_t>(k)];
    double sum_log_p = 0.0;
    for (int j = 0; j < d; ++j) {  // column j of L_k
      for (const double sign : {1.0, -1.0}) {
        for (int i = 0; i < d; ++i) {
          s[static_cast<std::size_t>(i)] = f.mean[static_cast<std::size_t>(i)] + sign * spread * f.chol(i, j);
        }
        for (int m = 0; m < classes; ++m) {
          const ClassFit& g = fits[static_cast<std::size_t>(m)];
          terms[static_cast<std::size_t>(m)] = g.log_weight + log_normal_density(s, g, work);
        }
        sum_log_p += log_sum_exp(terms);
      }
    }
    h_mix -= f.weight * sum_log_p / (2.0 * d);
  }
  return (h_mix - h_cond) / std::numbers::ln2;
}

}  // namespace deeper::info
