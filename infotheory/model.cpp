// Continuous-discrete MI by Gaussian model comparison, mi_model_gd (see discrete.h).
#include <cmath>
#include <numbers>
#include <vector>

#include "infotheory/bias.h"
#include "infotheory/checks.h"
#include "infotheory/discrete.h"
#include "infotheory/linalg.h"

namespace deeper::info {

double mi_model_gd(const double* x, int d, const std::int32_t* labels, std::int64_t n, int classes,
                   bool bias_correct, bool demeaned) {
  detail::check_variable(x, d, n, "mi_model_gd: x");
  detail::check_trials(n, d, "mi_model_gd");
  const std::vector<std::int64_t> counts = detail::class_counts(labels, n, classes, "mi_model_gd: labels");
  detail::check_class_sizes(counts, d, "mi_model_gd");

  std::vector<double> z(x, x + static_cast<std::size_t>(d) * n);
  if (!demeaned) detail::demean_rows(z, d, n);
  double h_unc = detail::half_log_det_of(detail::covariance(z, d, n), "mi_model_gd: all trials");
  if (bias_correct) h_unc -= entropy_bias_nats(d, n);

  const auto members = detail::class_members(labels, n, classes);
  double h_cond = 0.0;
  for (int k = 0; k < classes; ++k) {
    const auto& trials = members[static_cast<std::size_t>(k)];
    const std::int64_t nk = static_cast<std::int64_t>(trials.size());
    std::vector<double> xk(static_cast<std::size_t>(d) * nk);
    for (int r = 0; r < d; ++r) {
      for (std::int64_t i = 0; i < nk; ++i) xk[r * nk + i] = z[r * n + trials[static_cast<std::size_t>(i)]];
    }
    detail::demean_rows(xk, d, nk);
    double hk = detail::half_log_det_of(detail::covariance(xk, d, nk), "mi_model_gd: class covariance");
    if (bias_correct) hk -= entropy_bias_nats(d, nk);
    h_cond += static_cast<double>(nk) / static_cast<double>(n) * hk;
  }
  return (h_unc - h_cond) / std::numbers::ln2;
}

}  // namespace deeper::info
