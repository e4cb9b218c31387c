// The GCMI estimators: copula normalisation followed by the Gaussian estimators (see gcmi.h).
#include "infotheory/gcmi.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "infotheory/checks.h"

namespace deeper::info {

namespace {

// copnorm of every row of a d x n variable; its rows are jitter variables first_variable...
std::vector<double> copnorm_variable(const double* x, int d, std::int64_t n, const GcmiOptions& opt,
                                     std::uint64_t first_variable) {
  std::vector<double> out(static_cast<std::size_t>(d) * n);
  copnorm_rows(x, d, n, out.data(), opt.ties, opt.seed, first_variable);
  return out;
}

// The columns `trials` of a row-major d x n array, as a d x trials.size() array.
std::vector<double> gather_columns(const double* x, int d, std::int64_t n,
                                   const std::vector<std::int64_t>& trials) {
  const std::size_t m = trials.size();
  std::vector<double> out(static_cast<std::size_t>(d) * m);
  for (int r = 0; r < d; ++r) {
    for (std::size_t i = 0; i < m; ++i) out[r * m + i] = x[r * n + trials[i]];
  }
  return out;
}

// copnorm within one class: each row of a gathered d x m array, jitter keyed by the original trials.
std::vector<double> copnorm_gathered_variable(const std::vector<double>& xk, int d,
                                              const std::vector<std::int64_t>& trials, const GcmiOptions& opt,
                                              std::uint64_t first_variable) {
  const std::int64_t m = static_cast<std::int64_t>(trials.size());
  std::vector<double> out(xk.size());
  for (int r = 0; r < d; ++r) {
    copnorm_gathered(xk.data() + r * m, trials.data(), m, out.data() + r * m, opt.ties, opt.seed,
                     first_variable + static_cast<std::uint64_t>(r));
  }
  return out;
}

// The median of v (the mean of the two middle values for an even count); v is reordered.
double median(std::vector<double>& v) {
  const std::size_t m = v.size();
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(m / 2);
  std::nth_element(v.begin(), mid, v.end());
  const double upper = *mid;
  if (m % 2 == 1) return upper;
  const double lower = *std::max_element(v.begin(), mid);
  return (lower + upper) / 2.0;
}

}  // namespace

double gcmi_cc(const double* x, int dx, const double* y, int dy, std::int64_t n, const GcmiOptions& opt) {
  detail::check_variable(x, dx, n, "gcmi_cc: x");
  detail::check_variable(y, dy, n, "gcmi_cc: y");
  detail::check_trials(n, dx + dy, "gcmi_cc");
  const auto cx = copnorm_variable(x, dx, n, opt, 0);
  const auto cy = copnorm_variable(y, dy, n, opt, static_cast<std::uint64_t>(dx));
  return mi_gg(cx.data(), dx, cy.data(), dy, n, opt.bias_correct, true);
}

double gcmi_model_cd(const double* x, int d, const std::int32_t* labels, std::int64_t n, int classes,
                     const GcmiOptions& opt) {
  detail::check_variable(x, d, n, "gcmi_model_cd: x");
  detail::check_trials(n, d, "gcmi_model_cd");
  const auto counts = detail::class_counts(labels, n, classes, "gcmi_model_cd: labels");
  detail::check_class_sizes(counts, d, "gcmi_model_cd");
  const auto cx = copnorm_variable(x, d, n, opt, 0);
  return mi_model_gd(cx.data(), d, labels, n, classes, opt.bias_correct, true);
}

double gcmi_mixture_cd(const double* x, int d, const std::int32_t* labels, std::int64_t n, int classes,
                       const GcmiOptions& opt) {
  detail::check_variable(x, d, n, "gcmi_mixture_cd: x");
  detail::check_trials(n, d, "gcmi_mixture_cd");
  const auto counts = detail::class_counts(labels, n, classes, "gcmi_mixture_cd: labels");
  detail::check_class_sizes(counts, d, "gcmi_mixture_cd");
  const auto members = detail::class_members(labels, n, classes);
  std::vector<double> pooled(static_cast<std::size_t>(d) * n);
  for (int k = 0; k < classes; ++k) {
    const auto& trials = members[static_cast<std::size_t>(k)];
    const std::size_t m = trials.size();
    const auto xk = gather_columns(x, d, n, trials);
    const auto ck = copnorm_gathered_variable(xk, d, trials, opt, 0);
    for (int r = 0; r < d; ++r) {
      std::vector<double> v(xk.begin() + static_cast<std::ptrdiff_t>(r * m),
                            xk.begin() + static_cast<std::ptrdiff_t>((r + 1) * m));
      const double med = median(v);
      for (double& e : v) e = std::fabs(e - med);
      const double mad = median(v);
      if (!(mad > 0.0)) {
        fail(
            "gcmi_mixture_cd: class {} has zero median absolute deviation in dimension {} (more than half of "
            "its "
            "{} values are equal); the robust scale is undefined",
            k, r, m);
      }
      const double scale = kMadToSd * mad;
      for (std::size_t i = 0; i < m; ++i) pooled[r * n + trials[i]] = ck[r * m + i] * scale + med;
    }
  }
  return mi_mixture_gd(pooled.data(), d, labels, n, classes);
}

double gccmi_ccc(const double* x, int dx, const double* y, int dy, const double* z, int dz, std::int64_t n,
                 const GcmiOptions& opt) {
  detail::check_variable(x, dx, n, "gccmi_ccc: x");
  detail::check_variable(y, dy, n, "gccmi_ccc: y");
  detail::check_variable(z, dz, n, "gccmi_ccc: z");
  detail::check_trials(n, dx + dy + dz, "gccmi_ccc");
  const auto cx = copnorm_variable(x, dx, n, opt, 0);
  const auto cy = copnorm_variable(y, dy, n, opt, static_cast<std::uint64_t>(dx));
  const auto cz = copnorm_variable(z, dz, n, opt, static_cast<std::uint64_t>(dx + dy));
  return cmi_ggg(cx.data(), dx, cy.data(), dy, cz.data(), dz, n, opt.bias_correct, true);
}

double gccmi_ccd(const double* x, int dx, const double* y, int dy, const std::int32_t* labels, std::int64_t n,
                 int classes, const GcmiOptions& opt) {
  detail::check_variable(x, dx, n, "gccmi_ccd: x");
  detail::check_variable(y, dy, n, "gccmi_ccd: y");
  detail::check_trials(n, dx + dy, "gccmi_ccd");
  const auto counts = detail::class_counts(labels, n, classes, "gccmi_ccd: labels");
  detail::check_class_sizes(counts, dx + dy, "gccmi_ccd");
  const auto members = detail::class_members(labels, n, classes);
  double cmi = 0.0;
  for (int k = 0; k < classes; ++k) {
    const auto& trials = members[static_cast<std::size_t>(k)];
    const std::int64_t nk = static_cast<std::int64_t>(trials.size());
    const auto cx = copnorm_gathered_variable(gather_columns(x, dx, n, trials), dx, trials, opt, 0);
    const auto cy = copnorm_gathered_variable(gather_columns(y, dy, n, trials), dy, trials, opt,
                                              static_cast<std::uint64_t>(dx));
    const double ik = mi_gg(cx.data(), dx, cy.data(), dy, nk, opt.bias_correct, true);
    cmi += static_cast<double>(nk) / static_cast<double>(n) * ik;
  }
  return cmi;
}

double coinfo_ccc(const double* x, int dx, const double* y, int dy, const double* z, int dz, std::int64_t n,
                  const GcmiOptions& opt) {
  return gcmi_cc(x, dx, y, dy, n, opt) - gccmi_ccc(x, dx, y, dy, z, dz, n, opt);
}

double coinfo_ccd(const double* x, int dx, const double* y, int dy, const std::int32_t* labels,
                  std::int64_t n, int classes, const GcmiOptions& opt) {
  return gcmi_cc(x, dx, y, dy, n, opt) - gccmi_ccd(x, dx, y, dy, labels, n, classes, opt);
}

PidMmi pid_mmi(const double* s, int ds, const double* x1, int d1, const double* x2, int d2, std::int64_t n,
               const GcmiOptions& opt) {
  detail::check_variable(s, ds, n, "pid_mmi: s");
  detail::check_variable(x1, d1, n, "pid_mmi: x1");
  detail::check_variable(x2, d2, n, "pid_mmi: x2");
  detail::check_trials(n, ds + d1 + d2, "pid_mmi");
  const auto cs = copnorm_variable(s, ds, n, opt, 0);
  const auto c1 = copnorm_variable(x1, d1, n, opt, static_cast<std::uint64_t>(ds));
  const auto c2 = copnorm_variable(x2, d2, n, opt, static_cast<std::uint64_t>(ds + d1));
  std::vector<double> c12(c1);
  c12.insert(c12.end(), c2.begin(), c2.end());
  const double i1 = mi_gg(cs.data(), ds, c1.data(), d1, n, opt.bias_correct, true);
  const double i2 = mi_gg(cs.data(), ds, c2.data(), d2, n, opt.bias_correct, true);
  const double i12 = mi_gg(cs.data(), ds, c12.data(), d1 + d2, n, opt.bias_correct, true);
  PidMmi p;
  p.redundancy = std::min(i1, i2);
  p.unique1 = i1 - p.redundancy;
  p.unique2 = i2 - p.redundancy;
  p.synergy = i12 - std::max(i1, i2);
  return p;
}

double redundancy_mmi(const double* s, int ds, const double* x1, int d1, const double* x2, int d2,
                      std::int64_t n, const GcmiOptions& opt) {
  detail::check_variable(s, ds, n, "redundancy_mmi: s");
  detail::check_variable(x1, d1, n, "redundancy_mmi: x1");
  detail::check_variable(x2, d2, n, "redundancy_mmi: x2");
  detail::check_trials(n, ds + std::max(d1, d2), "redundancy_mmi");
  const auto cs = copnorm_variable(s, ds, n, opt, 0);
  const auto c1 = copnorm_variable(x1, d1, n, opt, static_cast<std::uint64_t>(ds));
  const auto c2 = copnorm_variable(x2, d2, n, opt, static_cast<std::uint64_t>(ds + d1));
  return std::min(mi_gg(cs.data(), ds, c1.data(), d1, n, opt.bias_correct, true),
                  mi_gg(cs.data(), ds, c2.data(), d2, n, opt.bias_correct, true));
}

}  // namespace deeper::info
