// All-pairs GCMI on the CPU: copnorm in fp64, one BLAS GEMM (f64 or f32) per pass, fused permutation
// statistics.
// See allpairs.h.
#include "infotheory/allpairs.h"
#include "infotheory/allpairs_common.h"

#include "core/error.h"
#include "kernels/gcmi/permutations.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace deeper::info {
namespace {

using detail::gemm_abt;
using detail::mi_of_r2;
using detail::row_norms;

// The observed pass and the permutation passes, with GEMMs in T (double or float) on copula data
// zx (U x N) and zy (F x N) whose row norms are nx, ny; fills result.mi and the null statistics.
template <typename T>
void gemm_passes(const T* zx, const T* zy, const std::vector<double>& nx, const std::vector<double>& ny, double bias,
                 const AllPairsOptions& options, AllPairsResult& result) {
  const std::int64_t units = result.units, features = result.features, n = result.trials;
  std::vector<T> g(static_cast<std::size_t>(units * features));
  gemm_abt(zx, zy, g.data(), units, features, n);
  std::vector<double> r2_obs(g.size());
  result.mi.resize(g.size());
  for (std::int64_t u = 0; u < units; ++u) {
    for (std::int64_t f = 0; f < features; ++f) {
      const auto i = static_cast<std::size_t>(u * features + f);
      const double r = static_cast<double>(g[i]) / (nx[static_cast<std::size_t>(u)] * ny[static_cast<std::size_t>(f)]);
      r2_obs[i] = r * r;
      result.mi[i] = mi_of_r2(r2_obs[i], bias);
    }
  }
  if (options.permutations == 0) return;

  // The null: permutation p reorders the trials of every Y row; T = r^2 (monotone in MI). A batch
  // of permutations is stacked into one GEMM, Zx (U x N) times [Zy pi_p; Zy pi_p+1; ...]^T, so
  // that the GEMM is wide enough to run near the BLAS peak even for few features.
  const std::int64_t P = options.permutations;
  result.exceed.assign(g.size(), 0u);
  result.max_null.assign(static_cast<std::size_t>(P * features), 0.0);
  result.max_null_all.assign(static_cast<std::size_t>(P), 0.0);
  const std::int64_t batch = std::clamp<std::int64_t>(256 / features, 1, P);
  std::vector<std::int32_t> perm(static_cast<std::size_t>(n));
  std::vector<T> zy_p(static_cast<std::size_t>(batch * features * n));
  std::vector<T> gp(static_cast<std::size_t>(units * batch * features));
  std::vector<double> max_r2(static_cast<std::size_t>(batch * features));
  for (std::int64_t first = 0; first < P; first += batch) {
    const std::int64_t count = std::min(batch, P - first);
    const std::int64_t cols = count * features;
    // Gathers and the epilogue stay serial: they are small beside the GEMM, and OpenMP worker
    // threads spinning between regions would take the cores from OpenBLAS's threads (measured).
    for (std::int64_t b = 0; b < count; ++b) {
      kernels::fisher_yates_permutation(options.permutation_seed, static_cast<std::uint64_t>(first + b),
                                        static_cast<std::int32_t>(n), perm.data());
      detail::gather_permuted_rows(zy, features, n, perm.data(), zy_p.data() + b * features * n);
    }
    gemm_abt(zx, zy_p.data(), gp.data(), units, cols, n);
    // Epilogue: exceedance counts per pair, maxima per (permutation, feature); r in the same
    // expression as the observed pass, so equal statistics compare equal.
    std::fill(max_r2.begin(), max_r2.end(), 0.0);
    for (std::int64_t u = 0; u < units; ++u) {
      for (std::int64_t c = 0; c < cols; ++c) {
        const std::int64_t f = c % features;
        const double r = static_cast<double>(gp[static_cast<std::size_t>(u * cols + c)]) /
                         (nx[static_cast<std::size_t>(u)] * ny[static_cast<std::size_t>(f)]);
        const double r2 = r * r;
        const auto i = static_cast<std::size_t>(u * features + f);
        if (r2 >= r2_obs[i]) ++result.exceed[i];
        max_r2[static_cast<std::size_t>(c)] = std::max(max_r2[static_cast<std::size_t>(c)], r2);
      }
    }
    for (std::int64_t b = 0; b < count; ++b) {
      double max_all = 0.0;
      for (std::int64_t f = 0; f < features; ++f) {
        const double m = max_r2[static_cast<std::size_t>(b * features + f)];
        result.max_null[static_cast<std::size_t>((first + b) * features + f)] = mi_of_r2(m, bias);
        max_all = std::max(max_all, m);
      }
      result.max_null_all[static_cast<std::size_t>(first + b)] = mi_of_r2(max_all, bias);
    }
  }
}

}  // namespace

void check_all_pairs_arguments(std::int64_t units, std::int64_t features, std::int64_t trials,
                               const AllPairsOptions& options) {
  if (units < 1 || features < 1) {
    fail("all-pairs GCMI needs at least one variable on each side ({} x {})", units, features);
  }
  if (trials < 3) fail("all-pairs GCMI needs more trials than the joint dimension 2 (N = {})", trials);
  if (trials > 0x7FFFFFFF) fail("all-pairs GCMI takes at most 2^31 - 1 trials (N = {})", trials);
  if (options.permutations < 0) fail("negative permutation count {}", options.permutations);
}

double AllPairsResult::p_value(std::int64_t u, std::int64_t f) const {
  if (permutations == 0) fail("p-values need permutations");
  return (1.0 + exceed[static_cast<std::size_t>(u * features + f)]) / (1.0 + static_cast<double>(permutations));
}

AllPairsResult gcmi_cc_all_pairs(const double* x, std::int64_t units, const double* y, std::int64_t features,
                                 std::int64_t trials, const AllPairsOptions& options) {
  check_all_pairs_arguments(units, features, trials, options);
  detail::check_cpu_precision(options, "all-pairs GCMI");
  const std::int64_t n = trials;
  AllPairsResult result = detail::empty_result(units, features, n, options.permutations);

  // Copula-normalise every row once (copnorm commutes with the trial permutations below).
  // Variables are numbered x rows first, then y rows (the jitter key's variable index).
  std::vector<double> zx(static_cast<std::size_t>(units * n)), zy(static_cast<std::size_t>(features * n));
  result.tie_fraction_x.resize(static_cast<std::size_t>(units));
  result.tie_fraction_y.resize(static_cast<std::size_t>(features));
  copnorm_rows(x, units, n, zx.data(), options.gcmi.ties, options.gcmi.seed, 0, result.tie_fraction_x.data());
  copnorm_rows(y, features, n, zy.data(), options.gcmi.ties, options.gcmi.seed, static_cast<std::uint64_t>(units),
               result.tie_fraction_y.data());
  const std::vector<double> nx = row_norms(zx.data(), units, n), ny = row_norms(zy.data(), features, n);
  const double bias = options.gcmi.bias_correct ? mi_bias_bits(1, 1, n) : 0.0;

  if (options.precision == GemmPrecision::f32) {
    const std::vector<float> zx32(zx.begin(), zx.end()), zy32(zy.begin(), zy.end());
    gemm_passes(zx32.data(), zy32.data(), nx, ny, bias, options, result);
  } else {
    gemm_passes(zx.data(), zy.data(), nx, ny, bias, options, result);
  }
  return result;
}

std::vector<double> maxstat_p_values(const AllPairsResult& result) {
  if (result.permutations == 0) fail("max-stat p-values need permutations");
  std::vector<double> sorted = result.max_null_all;
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> p(result.mi.size());
  for (std::size_t i = 0; i < p.size(); ++i) {
    const auto at_least = sorted.end() - std::lower_bound(sorted.begin(), sorted.end(), result.mi[i]);
    p[i] = (1.0 + static_cast<double>(at_least)) / (1.0 + static_cast<double>(result.permutations));
  }
  return p;
}

double maxstat_threshold(const AllPairsResult& result, double alpha) {
  if (result.permutations == 0) fail("a max-stat threshold needs permutations");
  if (!(alpha > 0.0 && alpha < 1.0)) fail("alpha {} is not in (0, 1)", alpha);  // NaN fails too
  std::vector<double> sorted = result.max_null_all;
  std::sort(sorted.begin(), sorted.end());
  const auto P = static_cast<double>(sorted.size());
  auto k = static_cast<std::size_t>(std::ceil((1.0 - alpha) * P));
  k = std::clamp<std::size_t>(k, 1, sorted.size());
  return sorted[k - 1];
}

std::vector<double> fdr_bh(const std::vector<double>& p_values) {
  const std::size_t m = p_values.size();
  std::vector<std::size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p_values[a] < p_values[b]; });
  std::vector<double> q(m);
  double running = 1.0;
  for (std::size_t rank = m; rank >= 1; --rank) {
    const std::size_t i = order[rank - 1];
    running = std::min(running, p_values[i] * static_cast<double>(m) / static_cast<double>(rank));
    q[i] = running;
  }
  return q;
}

}  // namespace deeper::info
