// Batched conditional GCMI with discrete z on the CPU: within-class copnorm, one GEMM per class
// (permutations within classes stacked into the same GEMM), sum_k w_k I_k, fused statistics.
// See allpairs_conditional.h.
#include "infotheory/allpairs_conditional.h"

#include "core/error.h"
#include "infotheory/allpairs_common.h"
#include "infotheory/checks.h"
#include "kernels/gcmi/permutations.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <type_traits>

namespace deeper::info {
namespace {

constexpr std::string_view kWhat = "gccmi_ccd_all_pairs";

// The copula data of every class, class-major: class k's U x N_k block of x starts at U * start_k,
// its F x N_k block of y at F * start_k; norms per class and row.
struct ClassBlocks {
  std::int64_t units = 0, features = 0, n = 0;
  int classes = 0;
  std::vector<std::int64_t> start, size;
  std::vector<double> zx, zy;
  std::vector<double> nx, ny;  // K x U and K x F
  std::vector<double> weight, bias;
};

ClassBlocks within_class_copnorm(const double* x, std::int64_t units, const double* y, std::int64_t features,
                                 const std::vector<std::vector<std::int64_t>>& members, std::int64_t n,
                                 const AllPairsOptions& options) {
  ClassBlocks c;
  c.units = units;
  c.features = features;
  c.n = n;
  c.classes = static_cast<int>(members.size());
  std::int64_t offset = 0;
  for (const auto& m : members) {
    const auto nk = static_cast<std::int64_t>(m.size());
    c.start.push_back(offset);
    c.size.push_back(nk);
    c.weight.push_back(static_cast<double>(nk) / static_cast<double>(n));
    c.bias.push_back(options.gcmi.bias_correct ? mi_bias_bits(1, 1, nk) : 0.0);
    offset += nk;
  }
  c.zx.resize(static_cast<std::size_t>(units * n));
  c.zy.resize(static_cast<std::size_t>(features * n));
  c.nx.resize(static_cast<std::size_t>(c.classes * units));
  c.ny.resize(static_cast<std::size_t>(c.classes * features));
  std::exception_ptr error;
#pragma omp parallel
  {
    std::vector<double> gathered(static_cast<std::size_t>(n));
#pragma omp for schedule(dynamic, 8)
    for (std::int64_t r = 0; r < units + features; ++r) {
      try {
        const bool is_x = r < units;
        const std::int64_t row = is_x ? r : r - units, rows = is_x ? units : features;
        const double* src = (is_x ? x : y) + row * n;
        for (int k = 0; k < c.classes; ++k) {
          const auto& trials = members[static_cast<std::size_t>(k)];
          const std::int64_t nk = c.size[static_cast<std::size_t>(k)];
          for (std::int64_t i = 0; i < nk; ++i) gathered[static_cast<std::size_t>(i)] = src[trials[static_cast<std::size_t>(i)]];
          double* out = (is_x ? c.zx : c.zy).data() + rows * c.start[static_cast<std::size_t>(k)] + row * nk;
          copnorm_gathered(gathered.data(), trials.data(), nk, out, options.gcmi.ties, options.gcmi.seed,
                           static_cast<std::uint64_t>(r));
          double ss = 0.0;
          for (std::int64_t i = 0; i < nk; ++i) ss += out[i] * out[i];
          (is_x ? c.nx : c.ny)[static_cast<std::size_t>(k * rows + row)] = std::sqrt(ss);
        }
      } catch (...) {
#pragma omp critical(deeper_ccd_copnorm_error)
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
  return c;
}

// The observed pass (first < 0, count 1) or permutations first .. first + count - 1: acc (U x
// count * F) = sum_k w_k I_k, with GEMMs in T on the class blocks zx, zy (copies of c's in T).
template <typename T>
void ccd_pass(const ClassBlocks& c, const T* zx, const T* zy, std::int64_t first, std::int64_t count,
              std::uint64_t seed, std::vector<T>& zy_p, std::vector<T>& g, std::vector<std::int32_t>& perm,
              double* acc) {
  const std::int64_t units = c.units, features = c.features, cols = count * features;
  std::fill(acc, acc + units * cols, 0.0);
  for (int k = 0; k < c.classes; ++k) {
    const std::int64_t nk = c.size[static_cast<std::size_t>(k)];
    const T* xk = zx + units * c.start[static_cast<std::size_t>(k)];
    const T* yk = zy + features * c.start[static_cast<std::size_t>(k)];
    const T* rhs = yk;
    if (first >= 0) {
      for (std::int64_t b = 0; b < count; ++b) {
        const auto index = static_cast<std::uint64_t>(first + b) * static_cast<std::uint64_t>(c.classes) +
                           static_cast<std::uint64_t>(k);
        kernels::fisher_yates_permutation(seed, index, static_cast<std::int32_t>(nk), perm.data());
        for (std::int64_t f = 0; f < features; ++f) {
          const T* src = yk + f * nk;
          T* dst = zy_p.data() + (b * features + f) * nk;
          for (std::int64_t s = 0; s < nk; ++s) dst[s] = src[perm[static_cast<std::size_t>(s)]];
        }
      }
      rhs = zy_p.data();
    }
    detail::gemm_abt(xk, rhs, g.data(), units, cols, nk);
    const double w = c.weight[static_cast<std::size_t>(k)], bias = c.bias[static_cast<std::size_t>(k)];
    const double* nx = c.nx.data() + k * units;
    const double* ny = c.ny.data() + k * features;
    for (std::int64_t u = 0; u < units; ++u) {
      for (std::int64_t col = 0; col < cols; ++col) {
        const auto i = static_cast<std::size_t>(u * cols + col);
        const double r = static_cast<double>(g[i]) / (nx[u] * ny[col % features]);
        acc[i] += w * detail::mi_of_r2(r * r, bias);
      }
    }
  }
}

template <typename T>
void ccd_passes(const ClassBlocks& c, const AllPairsOptions& options, AllPairsResult& result) {
  std::vector<T> zx_copy, zy_copy;
  const T *zx = nullptr, *zy = nullptr;
  if constexpr (std::is_same_v<T, double>) {
    zx = c.zx.data();
    zy = c.zy.data();
  } else {
    zx_copy.assign(c.zx.begin(), c.zx.end());
    zy_copy.assign(c.zy.begin(), c.zy.end());
    zx = zx_copy.data();
    zy = zy_copy.data();
  }
  const std::int64_t units = c.units, features = c.features, P = options.permutations;
  const std::int64_t largest = *std::max_element(c.size.begin(), c.size.end());
  const std::int64_t batch = std::clamp<std::int64_t>(256 / features, 1, std::max<std::int64_t>(P, 1));
  std::vector<T> zy_p(static_cast<std::size_t>(P > 0 ? batch * features * largest : 0));
  std::vector<T> g(static_cast<std::size_t>(units * features * (P > 0 ? batch : 1)));
  std::vector<std::int32_t> perm(static_cast<std::size_t>(largest));
  result.mi.resize(static_cast<std::size_t>(units * features));
  ccd_pass(c, zx, zy, -1, 1, options.permutation_seed, zy_p, g, perm, result.mi.data());
  if (P == 0) return;
  detail::start_null(result);
  std::vector<double> acc(static_cast<std::size_t>(units * features * batch));
  for (std::int64_t first = 0; first < P; first += batch) {
    const std::int64_t count = std::min(batch, P - first);
    ccd_pass(c, zx, zy, first, count, options.permutation_seed, zy_p, g, perm, acc.data());
    detail::reduce_null_batch(result, acc.data(), first, count);
  }
}

}  // namespace

AllPairsResult gccmi_ccd_all_pairs(const double* x, std::int64_t units, const double* y, std::int64_t features,
                                   const std::int32_t* labels, std::int64_t trials, int classes,
                                   const AllPairsOptions& options) {
  check_all_pairs_arguments(units, features, trials, options);
  detail::check_cpu_precision(options, kWhat);
  detail::check_finite_rows(x, units, trials, "gccmi_ccd_all_pairs: x");
  detail::check_finite_rows(y, features, trials, "gccmi_ccd_all_pairs: y");
  const auto counts = detail::class_counts(labels, trials, classes, "gccmi_ccd_all_pairs: labels");
  detail::check_class_sizes(counts, 2, kWhat);
  const ClassBlocks c =
      within_class_copnorm(x, units, y, features, detail::class_members(labels, trials, classes), trials, options);

  AllPairsResult result = detail::empty_result(units, features, trials, options.permutations);
  result.tie_fraction_x = detail::tie_fractions(x, units, trials);
  result.tie_fraction_y = detail::tie_fractions(y, features, trials);
  if (options.precision == GemmPrecision::f32) {
    ccd_passes<float>(c, options, result);
  } else {
    ccd_passes<double>(c, options, result);
  }
  return result;
}

}  // namespace deeper::info
