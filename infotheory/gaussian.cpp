// Gaussian entropy, MI and conditional MI from Cholesky log-determinants (see gaussian.h).
#include "infotheory/gaussian.h"

#include <cmath>
#include <numbers>
#include <numeric>
#include <span>
#include <vector>

#include "core/error.h"
#include "infotheory/bias.h"
#include "infotheory/checks.h"
#include "infotheory/linalg.h"

namespace deeper::info {

namespace {

using detail::Matrix;

// The rows of several variables stacked into one row-major (sum of d) x n array.
std::vector<double> stack_rows(std::initializer_list<std::pair<const double*, int>> parts, std::int64_t n) {
  std::size_t rows = 0;
  for (const auto& p : parts) rows += static_cast<std::size_t>(p.second);
  std::vector<double> out;
  out.reserve(rows * static_cast<std::size_t>(n));
  for (const auto& [data, d] : parts) out.insert(out.end(), data, data + static_cast<std::size_t>(d) * n);
  return out;
}

// The joint covariance of stacked rows (demeaned first unless declared demeaned).
Matrix joint_covariance(std::vector<double> z, int rows, std::int64_t n, bool demeaned) {
  if (!demeaned) detail::demean_rows(z, rows, n);
  return detail::covariance(z, rows, n);
}

// (1/2) ln|C_block| - B(d_block, n) in nats (the 2 pi e constants cancel in every MI).
double block_entropy(const Matrix& c, std::span<const int> index, std::int64_t n, bool bias_correct,
                     std::string_view what) {
  const Matrix b = detail::principal_block(c, index);
  double h = detail::half_log_det_of(b, what);
  if (bias_correct) h -= entropy_bias_nats(b.d, n);
  return h;
}

std::vector<int> range(int begin, int end) {
  std::vector<int> v(static_cast<std::size_t>(end - begin));
  std::iota(v.begin(), v.end(), begin);
  return v;
}

std::vector<int> concat(std::vector<int> a, const std::vector<int>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

double ent_g(const double* x, int d, std::int64_t n, bool bias_correct, bool demeaned) {
  detail::check_variable(x, d, n, "ent_g: x");
  detail::check_trials(n, d, "ent_g");
  const Matrix c =
      joint_covariance(std::vector<double>(x, x + static_cast<std::size_t>(d) * n), d, n, demeaned);
  double h = detail::half_log_det_of(c, "ent_g") + 0.5 * d * (std::log(2.0 * std::numbers::pi) + 1.0);
  if (bias_correct) h -= entropy_bias_nats(d, n);
  return h / std::numbers::ln2;
}

double mi_gg(const double* x, int dx, const double* y, int dy, std::int64_t n, bool bias_correct,
             bool demeaned) {
  detail::check_variable(x, dx, n, "mi_gg: x");
  detail::check_variable(y, dy, n, "mi_gg: y");
  detail::check_trials(n, dx + dy, "mi_gg");
  const int d = dx + dy;
  const Matrix c = joint_covariance(stack_rows({{x, dx}, {y, dy}}, n), d, n, demeaned);
  const double hx = block_entropy(c, range(0, dx), n, bias_correct, "mi_gg: x");
  const double hy = block_entropy(c, range(dx, d), n, bias_correct, "mi_gg: y");
  const double hxy = block_entropy(c, range(0, d), n, bias_correct, "mi_gg: [x; y]");
  return (hx + hy - hxy) / std::numbers::ln2;
}

double cmi_ggg(const double* x, int dx, const double* y, int dy, const double* z, int dz, std::int64_t n,
               bool bias_correct, bool demeaned) {
  detail::check_variable(x, dx, n, "cmi_ggg: x");
  detail::check_variable(y, dy, n, "cmi_ggg: y");
  detail::check_variable(z, dz, n, "cmi_ggg: z");
  detail::check_trials(n, dx + dy + dz, "cmi_ggg");
  const int d = dx + dy + dz;
  const Matrix c = joint_covariance(stack_rows({{x, dx}, {y, dy}, {z, dz}}, n), d, n, demeaned);
  const std::vector<int> ix = range(0, dx), iy = range(dx, dx + dy), iz = range(dx + dy, d);
  const double hz = block_entropy(c, iz, n, bias_correct, "cmi_ggg: z");
  const double hxz = block_entropy(c, concat(ix, iz), n, bias_correct, "cmi_ggg: [x; z]");
  const double hyz = block_entropy(c, concat(iy, iz), n, bias_correct, "cmi_ggg: [y; z]");
  const double hxyz = block_entropy(c, range(0, d), n, bias_correct, "cmi_ggg: [x; y; z]");
  return (hxz + hyz - hxyz - hz) / std::numbers::ln2;
}

}  // namespace deeper::info
