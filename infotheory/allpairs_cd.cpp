// Batched model continuous-discrete GCMI on the CPU: copnorm once, class sums by a one-hot GEMM or
// by segmented sums over label-sorted trials, fp64 variances, fused label-permutation statistics.
// See allpairs_cd.h.
#include "infotheory/allpairs_cd.h"

#include "core/error.h"
#include "infotheory/allpairs_common.h"
#include "infotheory/checks.h"
#include "kernels/gcmi/permutations.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <type_traits>

namespace deeper::info {
namespace {

constexpr std::string_view kWhat = "gcmi_model_cd_batched";

// The per-unit formula, from a unit's total sum of squares and its class sums.
struct CdModel {
  std::int64_t n = 0;
  std::vector<std::int64_t> counts;
  std::vector<double> weight;  // N_k / N
  double constant = 0.0;       // nats: -B(1, N) + sum_k w_k B(1, N_k), or 0 without bias correction

  CdModel(std::int64_t trials, std::vector<std::int64_t> class_counts, bool bias_correct)
      : n(trials), counts(std::move(class_counts)) {
    for (const std::int64_t nk : counts) {
      weight.push_back(static_cast<double>(nk) / static_cast<double>(n));
      if (bias_correct) constant += weight.back() * entropy_bias_nats(1, nk);
    }
    if (bias_correct) constant -= entropy_bias_nats(1, n);
  }
  int classes() const { return static_cast<int>(counts.size()); }

  // I in bits; +inf when a class has (numerically) zero variance (all of its values tied under
  // average ties), which the caller reports as an error.
  double mi(double total2, const double* s1, const double* s2) const {
    double h_cond = 0.0;
    for (std::size_t k = 0; k < counts.size(); ++k) {
      const auto nk = static_cast<double>(counts[k]);
      const double v = (s2[k] - s1[k] * s1[k] / nk) / (nk - 1.0);
      if (!(v > 16.0 * std::numeric_limits<double>::epsilon() * s2[k] / (nk - 1.0))) {
        return std::numeric_limits<double>::infinity();
      }
      h_cond += weight[k] * 0.5 * std::log(v);
    }
    return (0.5 * std::log(total2 / static_cast<double>(n - 1)) - h_cond + constant) / detail::kLn2;
  }
};

// labels_p[t] = labels[pi_p(t)] for permutation p (the observed labels for p < 0).
void permuted_labels(const std::int32_t* labels, std::int64_t n, std::int64_t p, std::uint64_t seed,
                     std::vector<std::int32_t>& perm, std::int32_t* out) {
  if (p < 0) {
    std::copy(labels, labels + n, out);
    return;
  }
  kernels::fisher_yates_permutation(seed, static_cast<std::uint64_t>(p), static_cast<std::int32_t>(n), perm.data());
  for (std::int64_t t = 0; t < n; ++t) out[t] = labels[perm[static_cast<std::size_t>(t)]];
}

// The shared state of one job: the copula data, row totals, the model and the options.
struct CdJob {
  std::int64_t units = 0, n = 0;
  const std::int32_t* labels = nullptr;
  const AllPairsOptions* options = nullptr;
  const CdModel* model = nullptr;
  std::vector<double> z;  // U x N copula data (one_hot_gemm: 2U x N, the rows of Z then Z o Z)
  std::vector<double> total1, total2;
};

// One-hot GEMM: MI of every unit for permutations first .. first + count - 1 (first < 0: the observed
// labels, count 1) into t (U x count).
template <typename T>
void one_hot_pass(const CdJob& job, const T* a, std::int64_t first, std::int64_t count, std::vector<T>& indicator,
                  std::vector<T>& g, std::vector<std::int32_t>& perm, std::vector<std::int32_t>& lab, double* t) {
  const std::int64_t n = job.n, units = job.units;
  const int K = job.model->classes(), km = K - 1;
  const std::int64_t cols = count * km;
  if (km > 0) {
    std::fill(indicator.begin(), indicator.begin() + cols * n, T(0));
    for (std::int64_t b = 0; b < count; ++b) {
      permuted_labels(job.labels, n, first < 0 ? -1 : first + b, job.options->permutation_seed, perm, lab.data());
      for (std::int64_t s = 0; s < n; ++s) {
        const std::int32_t k = lab[static_cast<std::size_t>(s)];
        if (k < km) indicator[static_cast<std::size_t>((b * km + k) * n + s)] = T(1);
      }
    }
    detail::gemm_abt(a, indicator.data(), g.data(), 2 * units, cols, n);
  }
  std::vector<double> s1(static_cast<std::size_t>(K)), s2(static_cast<std::size_t>(K));
  for (std::int64_t u = 0; u < units; ++u) {
    for (std::int64_t b = 0; b < count; ++b) {
      double rest1 = job.total1[static_cast<std::size_t>(u)], rest2 = job.total2[static_cast<std::size_t>(u)];
      for (int k = 0; k < km; ++k) {
        s1[static_cast<std::size_t>(k)] = static_cast<double>(g[static_cast<std::size_t>(u * cols + b * km + k)]);
        s2[static_cast<std::size_t>(k)] =
            static_cast<double>(g[static_cast<std::size_t>((units + u) * cols + b * km + k)]);
        rest1 -= s1[static_cast<std::size_t>(k)];
        rest2 -= s2[static_cast<std::size_t>(k)];
      }
      s1[static_cast<std::size_t>(km)] = rest1;  // the last class: the row total minus the others
      s2[static_cast<std::size_t>(km)] = rest2;
      t[u * count + b] = job.model->mi(job.total2[static_cast<std::size_t>(u)], s1.data(), s2.data());
    }
  }
}

// Segmented sums over label-sorted trials: the same outputs as one_hot_pass, in fp64.
void segmented_pass(const CdJob& job, std::int64_t first, std::int64_t count, std::vector<std::int32_t>& order,
                    std::vector<std::int32_t>& perm, std::vector<std::int32_t>& lab, double* t) {
  const std::int64_t n = job.n, units = job.units;
  const int K = job.model->classes();
  std::vector<std::int64_t> start(static_cast<std::size_t>(K) + 1, 0);
  for (int k = 0; k < K; ++k) start[static_cast<std::size_t>(k) + 1] = start[static_cast<std::size_t>(k)] + job.model->counts[static_cast<std::size_t>(k)];
  for (std::int64_t b = 0; b < count; ++b) {  // a stable counting sort of the trials by label
    permuted_labels(job.labels, n, first < 0 ? -1 : first + b, job.options->permutation_seed, perm, lab.data());
    std::vector<std::int64_t> next(start.begin(), start.end() - 1);
    std::int32_t* ob = order.data() + b * n;
    for (std::int64_t s = 0; s < n; ++s) ob[next[static_cast<std::size_t>(lab[static_cast<std::size_t>(s)])]++] = static_cast<std::int32_t>(s);
  }
#pragma omp parallel
  {
    std::vector<double> s1(static_cast<std::size_t>(K)), s2(static_cast<std::size_t>(K));
#pragma omp for schedule(static)
    for (std::int64_t u = 0; u < units; ++u) {
      const double* zu = job.z.data() + u * n;
      for (std::int64_t b = 0; b < count; ++b) {
        const std::int32_t* ob = order.data() + b * n;
        for (int k = 0; k < K; ++k) {
          double a1 = 0.0, a2 = 0.0;
          for (std::int64_t i = start[static_cast<std::size_t>(k)]; i < start[static_cast<std::size_t>(k) + 1]; ++i) {
            const double v = zu[ob[i]];
            a1 += v;
            a2 += v * v;
          }
          s1[static_cast<std::size_t>(k)] = a1;
          s2[static_cast<std::size_t>(k)] = a2;
        }
        t[u * count + b] = job.model->mi(job.total2[static_cast<std::size_t>(u)], s1.data(), s2.data());
      }
    }
  }
}

void check_finite_mi(const std::vector<double>& mi, std::string_view where) {
  for (std::size_t u = 0; u < mi.size(); ++u) {
    if (!std::isfinite(mi[u])) {
      fail("{}: variable {} has zero variance within a class{} (all of the class's copula values are tied; "
           "use --ties stable or jitter)", kWhat, u, where);
    }
  }
}

// The observed pass and the permutation batches with class sums of kind `sums`, GEMMs in T.
template <typename T>
void run_passes(CdJob& job, bool gemm, AllPairsResult& result) {
  const std::int64_t n = job.n, units = job.units, P = job.options->permutations;
  const int km = job.model->classes() - 1;
  const std::int64_t batch = gemm ? std::clamp<std::int64_t>(256 / std::max(km, 1), 1, std::max<std::int64_t>(P, 1))
                                  : std::clamp<std::int64_t>(64, 1, std::max<std::int64_t>(P, 1));
  std::vector<T> a_copy, indicator, g;
  const T* a = nullptr;
  if (gemm) {
    if constexpr (std::is_same_v<T, double>) {
      a = job.z.data();
    } else {
      a_copy.assign(job.z.begin(), job.z.end());
      a = a_copy.data();
    }
    indicator.resize(static_cast<std::size_t>(batch * km * n));
    g.resize(static_cast<std::size_t>(2 * units * batch * km));
  }
  std::vector<std::int32_t> perm(static_cast<std::size_t>(n)), lab(static_cast<std::size_t>(n));
  std::vector<std::int32_t> order(gemm ? 0 : static_cast<std::size_t>(batch * n));
  const auto pass = [&](std::int64_t first, std::int64_t count, double* t) {
    if (gemm) {
      one_hot_pass(job, a, first, count, indicator, g, perm, lab, t);
    } else {
      segmented_pass(job, first, count, order, perm, lab, t);
    }
  };
  result.mi.resize(static_cast<std::size_t>(units));
  pass(-1, 1, result.mi.data());
  check_finite_mi(result.mi, "");
  if (P == 0) return;
  detail::start_null(result);
  std::vector<double> t(static_cast<std::size_t>(units * batch));
  for (std::int64_t first = 0; first < P; first += batch) {
    const std::int64_t count = std::min(batch, P - first);
    pass(first, count, t.data());
    detail::reduce_null_batch(result, t.data(), first, count);
  }
  check_finite_mi(result.max_null_all, " in a permutation");
}

}  // namespace

AllPairsResult gcmi_model_cd_batched(const double* x, std::int64_t units, const std::int32_t* labels,
                                     std::int64_t trials, int classes, const AllPairsOptions& options,
                                     ClassSums sums) {
  check_all_pairs_arguments(units, 1, trials, options);
  detail::check_cpu_precision(options, kWhat);
  detail::check_finite_rows(x, units, trials, "gcmi_model_cd_batched: x");
  std::vector<std::int64_t> counts = detail::class_counts(labels, trials, classes, "gcmi_model_cd_batched: labels");
  detail::check_class_sizes(counts, 1, kWhat);
  const std::int64_t n = trials;
  const CdModel model(n, std::move(counts), options.gcmi.bias_correct);
  const bool gemm = sums == ClassSums::one_hot_gemm || (sums == ClassSums::automatic && classes <= kOneHotMaxClasses);

  CdJob job;
  job.units = units;
  job.n = n;
  job.labels = labels;
  job.options = &options;
  job.model = &model;
  job.z.resize(static_cast<std::size_t>((gemm ? 2 : 1) * units * n));
  copnorm_rows(x, units, n, job.z.data(), options.gcmi.ties, options.gcmi.seed, 0);
  job.total1.resize(static_cast<std::size_t>(units));
  job.total2.resize(static_cast<std::size_t>(units));
  AllPairsResult result = detail::empty_result(units, 1, n, options.permutations);
  result.tie_fraction_x.resize(static_cast<std::size_t>(units));
#pragma omp parallel for schedule(dynamic, 16)
  for (std::int64_t u = 0; u < units; ++u) {
    double* zu = job.z.data() + u * n;
    job.total1[static_cast<std::size_t>(u)] = std::accumulate(zu, zu + n, 0.0);
    job.total2[static_cast<std::size_t>(u)] = std::inner_product(zu, zu + n, zu, 0.0);
    if (gemm) {
      double* sq = job.z.data() + (units + u) * n;
      for (std::int64_t s = 0; s < n; ++s) sq[s] = zu[s] * zu[s];
    }
    result.tie_fraction_x[static_cast<std::size_t>(u)] = tie_fraction(x + u * n, n);
  }
  if (options.precision == GemmPrecision::f32) {
    run_passes<float>(job, gemm, result);
  } else {
    run_passes<double>(job, gemm, result);
  }
  return result;
}

}  // namespace deeper::info
