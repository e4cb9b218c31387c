// Batched conditional GCMI with a continuous scalar z, and the co-information with it, on the CPU:
// copnorm once, r_xy by GEMM, r_xz and r_yz by dot products, the partial correlation in an fp64
// epilogue; permutations of y (ccc) or of z (co-information) with fused statistics.
// See allpairs_conditional.h.
#include "infotheory/allpairs_conditional.h"

#include "core/error.h"
#include "infotheory/allpairs_common.h"
#include "kernels/gcmi/permutations.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <type_traits>

namespace deeper::info {
namespace {

enum class Quantity { cmi, coinfo };

// Copula data of x (U x N), y (F x N) and z (N), their norms, r_xz and r_yz, and the bias terms.
struct CccData {
  std::int64_t units = 0, features = 0, n = 0;
  std::vector<double> zx, zy, z;
  std::vector<double> ties_x, ties_y;  // tie fractions, from the copnorm sorts
  std::vector<double> nx, ny, rxz, ryz;
  double nz = 0.0;
  double bias_cmi = 0.0, bias_mi = 0.0;  // 2 b(2) - b(3) - b(1) and c(N) = 2 b(1) - b(2), bits
};

double dot(const double* a, const double* b, std::int64_t n) { return std::inner_product(a, a + n, b, 0.0); }
double dot(const float* a, const double* b, std::int64_t n) {
  double s = 0.0;
  for (std::int64_t t = 0; t < n; ++t) s += static_cast<double>(a[t]) * b[t];
  return s;
}

// Squared partial correlation of x and y given z.
double partial_r2(double rxy, double rxz, double ryz) {
  const double rho = (rxy - rxz * ryz) / std::sqrt((1.0 - rxz * rxz) * (1.0 - ryz * ryz));
  return rho * rho;
}

CccData prepare(std::string_view what, const double* x, std::int64_t units, const double* y, std::int64_t features,
                const double* z, std::int64_t n, const AllPairsOptions& options) {
  check_all_pairs_arguments(units, features, n, options);
  if (n < 4) fail("{}: needs more trials than the joint dimension 3 (N = {})", what, n);
  detail::check_cpu_precision(options, what);
  detail::check_finite_rows(x, units, n, fmt::format("{}: x", what));
  detail::check_finite_rows(y, features, n, fmt::format("{}: y", what));
  detail::check_finite_rows(z, 1, n, fmt::format("{}: z", what));
  CccData d;
  d.units = units;
  d.features = features;
  d.n = n;
  d.zx.resize(static_cast<std::size_t>(units * n));
  d.zy.resize(static_cast<std::size_t>(features * n));
  d.z.resize(static_cast<std::size_t>(n));
  const auto& g = options.gcmi;
  d.ties_x.resize(static_cast<std::size_t>(units));
  d.ties_y.resize(static_cast<std::size_t>(features));
  copnorm_rows(x, units, n, d.zx.data(), g.ties, g.seed, 0, d.ties_x.data());
  copnorm_rows(y, features, n, d.zy.data(), g.ties, g.seed, static_cast<std::uint64_t>(units), d.ties_y.data());
  copnorm_rows(z, 1, n, d.z.data(), g.ties, g.seed, static_cast<std::uint64_t>(units + features));
  d.nx = detail::row_norms(d.zx.data(), units, n);
  d.ny = detail::row_norms(d.zy.data(), features, n);
  d.nz = std::sqrt(dot(d.z.data(), d.z.data(), n));
  d.rxz.resize(static_cast<std::size_t>(units));
  d.ryz.resize(static_cast<std::size_t>(features));
  for (std::int64_t u = 0; u < units; ++u) {
    const auto i = static_cast<std::size_t>(u);
    d.rxz[i] = dot(d.zx.data() + u * n, d.z.data(), n) / (d.nx[i] * d.nz);
    if (!(1.0 - d.rxz[i] * d.rxz[i] > 1e-12)) fail("{}: x variable {} is (numerically) a copy of z; I(x;y|z) is undefined", what, u);
  }
  for (std::int64_t f = 0; f < features; ++f) {
    const auto i = static_cast<std::size_t>(f);
    d.ryz[i] = dot(d.zy.data() + f * n, d.z.data(), n) / (d.ny[i] * d.nz);
    if (!(1.0 - d.ryz[i] * d.ryz[i] > 1e-12)) fail("{}: y variable {} is (numerically) a copy of z; I(x;y|z) is undefined", what, f);
  }
  if (g.bias_correct) {
    d.bias_cmi = 2.0 * entropy_bias_bits(2, n) - entropy_bias_bits(3, n) - entropy_bias_bits(1, n);
    d.bias_mi = mi_bias_bits(1, 1, n);
  }
  return d;
}

template <typename T>
const T* in_precision(const std::vector<double>& v, std::vector<T>& copy) {
  if constexpr (std::is_same_v<T, double>) {
    return v.data();
  } else {
    copy.assign(v.begin(), v.end());
    return copy.data();
  }
}

template <typename T>
void ccc_passes(const CccData& d, Quantity quantity, const AllPairsOptions& options, AllPairsResult& result) {
  const std::int64_t units = d.units, features = d.features, n = d.n, P = options.permutations;
  std::vector<T> zx_copy, zy_copy;
  const T* zx = in_precision(d.zx, zx_copy);
  const T* zy = in_precision(d.zy, zy_copy);
  std::vector<T> g(static_cast<std::size_t>(units * features));
  detail::gemm_abt(zx, zy, g.data(), units, features, n);
  std::vector<double> rxy(g.size()), mi_xy(g.size());
  result.mi.resize(g.size());
  for (std::int64_t u = 0; u < units; ++u) {
    for (std::int64_t f = 0; f < features; ++f) {
      const auto i = static_cast<std::size_t>(u * features + f);
      rxy[i] = static_cast<double>(g[i]) / (d.nx[static_cast<std::size_t>(u)] * d.ny[static_cast<std::size_t>(f)]);
      mi_xy[i] = detail::mi_of_r2(rxy[i] * rxy[i], d.bias_mi);
      const double cmi = detail::mi_of_r2(partial_r2(rxy[i], d.rxz[static_cast<std::size_t>(u)], d.ryz[static_cast<std::size_t>(f)]),
                                          d.bias_cmi);
      result.mi[i] = quantity == Quantity::cmi ? cmi : mi_xy[i] - cmi;
    }
  }
  if (P == 0) return;
  detail::start_null(result);
  std::vector<std::int32_t> perm(static_cast<std::size_t>(n));
  if (quantity == Quantity::cmi) {
    // Permute y: Zx [Zy pi_p; ...]^T as in cc, plus r_yz of each permuted row.
    const std::int64_t batch = std::clamp<std::int64_t>(256 / features, 1, P);
    std::vector<T> zy_p(static_cast<std::size_t>(batch * features * n));
    std::vector<T> gp(static_cast<std::size_t>(units * batch * features));
    std::vector<double> ryz_p(static_cast<std::size_t>(batch * features));
    std::vector<double> t(gp.size());
    for (std::int64_t first = 0; first < P; first += batch) {
      const std::int64_t count = std::min(batch, P - first), cols = count * features;
      for (std::int64_t b = 0; b < count; ++b) {
        kernels::fisher_yates_permutation(options.permutation_seed, static_cast<std::uint64_t>(first + b),
                                          static_cast<std::int32_t>(n), perm.data());
        detail::gather_permuted_rows(zy, features, n, perm.data(), zy_p.data() + b * features * n);
        for (std::int64_t f = 0; f < features; ++f) {
          const T* dst = zy_p.data() + (b * features + f) * n;
          ryz_p[static_cast<std::size_t>(b * features + f)] = dot(dst, d.z.data(), n) / (d.ny[static_cast<std::size_t>(f)] * d.nz);
        }
      }
      detail::gemm_abt(zx, zy_p.data(), gp.data(), units, cols, n);
      for (std::int64_t u = 0; u < units; ++u) {
        for (std::int64_t c = 0; c < cols; ++c) {
          const auto i = static_cast<std::size_t>(u * cols + c);
          const double r = static_cast<double>(gp[i]) / (d.nx[static_cast<std::size_t>(u)] * d.ny[static_cast<std::size_t>(c % features)]);
          t[i] = detail::mi_of_r2(partial_r2(r, d.rxz[static_cast<std::size_t>(u)], ryz_p[static_cast<std::size_t>(c)]), d.bias_cmi);
        }
      }
      detail::reduce_null_batch(result, t.data(), first, count);
    }
    return;
  }
  // Co-information: permute z. r_xy and I(x;y) stay; r_xz and r_yz of each permuted z by GEMMs.
  std::vector<T> z_copy;
  const T* zt = in_precision(d.z, z_copy);
  const std::int64_t batch = std::min<std::int64_t>(64, P);
  std::vector<T> z_p(static_cast<std::size_t>(batch * n));
  std::vector<T> gx(static_cast<std::size_t>(units * batch)), gy(static_cast<std::size_t>(features * batch));
  std::vector<double> t(static_cast<std::size_t>(units * batch * features));
  for (std::int64_t first = 0; first < P; first += batch) {
    const std::int64_t count = std::min(batch, P - first), cols = count * features;
    for (std::int64_t b = 0; b < count; ++b) {
      kernels::fisher_yates_permutation(options.permutation_seed, static_cast<std::uint64_t>(first + b),
                                        static_cast<std::int32_t>(n), perm.data());
      for (std::int64_t s = 0; s < n; ++s) z_p[static_cast<std::size_t>(b * n + s)] = zt[perm[static_cast<std::size_t>(s)]];
    }
    detail::gemm_abt(zx, z_p.data(), gx.data(), units, count, n);
    detail::gemm_abt(zy, z_p.data(), gy.data(), features, count, n);
    for (std::int64_t u = 0; u < units; ++u) {
      for (std::int64_t b = 0; b < count; ++b) {
        const double rxz = static_cast<double>(gx[static_cast<std::size_t>(u * count + b)]) / (d.nx[static_cast<std::size_t>(u)] * d.nz);
        for (std::int64_t f = 0; f < features; ++f) {
          const double ryz = static_cast<double>(gy[static_cast<std::size_t>(f * count + b)]) / (d.ny[static_cast<std::size_t>(f)] * d.nz);
          const auto i = static_cast<std::size_t>(u * features + f);
          t[static_cast<std::size_t>(u * cols + b * features + f)] =
              mi_xy[i] - detail::mi_of_r2(partial_r2(rxy[i], rxz, ryz), d.bias_cmi);
        }
      }
    }
    detail::reduce_null_batch(result, t.data(), first, count);
  }
}

AllPairsResult run(std::string_view what, Quantity quantity, const double* x, std::int64_t units, const double* y,
                   std::int64_t features, const double* z, std::int64_t trials, const AllPairsOptions& options) {
  const CccData d = prepare(what, x, units, y, features, z, trials, options);
  AllPairsResult result = detail::empty_result(units, features, trials, options.permutations);
  result.tie_fraction_x = d.ties_x;
  result.tie_fraction_y = d.ties_y;
  if (options.precision == GemmPrecision::f32) {
    ccc_passes<float>(d, quantity, options, result);
  } else {
    ccc_passes<double>(d, quantity, options, result);
  }
  return result;
}

}  // namespace

AllPairsResult gccmi_ccc_all_pairs(const double* x, std::int64_t units, const double* y, std::int64_t features,
                                   const double* z, std::int64_t trials, const AllPairsOptions& options) {
  return run("gccmi_ccc_all_pairs", Quantity::cmi, x, units, y, features, z, trials, options);
}

AllPairsResult coinfo_ccc_all_pairs(const double* x, std::int64_t units, const double* y, std::int64_t features,
                                    const double* z, std::int64_t trials, const AllPairsOptions& options) {
  return run("coinfo_ccc_all_pairs", Quantity::coinfo, x, units, y, features, z, trials, options);
}

}  // namespace deeper::info
