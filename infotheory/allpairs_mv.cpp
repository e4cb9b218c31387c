// Batched multivariate GCMI on the CPU: copnorm once per tile of units, whitening by small
// Choleskys, one BLAS GEMM per pass (cross blocks for cc, class sums for cd), per-pair
// determinants in fp64, fused permutation statistics. See allpairs_mv.h.
#include "infotheory/allpairs_mv.h"

#include "core/error.h"
#include "infotheory/allpairs_common.h"
#include "infotheory/checks.h"
#include "kernels/gcmi/permutations.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>
#include <string_view>
#include <type_traits>

namespace deeper::info {
namespace {

using detail::kLn2;

constexpr int kMax = kMaxVariableDim;
// A Cholesky pivot at or below this fraction of its diagonal entry is a singular matrix (as in
// gaussian.cpp and the univariate cd engine).
constexpr double kPivotFloor = 16.0 * std::numeric_limits<double>::epsilon();
// Bytes of fp64 copula rows (cd: rows and products) per tile when tile_units = 0.
constexpr std::int64_t kTileBytes = std::int64_t{1} << 28;
// The P x N permutation indices are generated once when they fit in this many bytes, else per tile.
constexpr std::int64_t kPermutationCacheBytes = std::int64_t{1} << 28;

constexpr std::string_view kCc = "gcmi_cc_all_pairs_mv";
constexpr std::string_view kCd = "gcmi_model_cd_batched_mv";

std::size_t at(std::int64_t i) { return static_cast<std::size_t>(i); }

void check_dim(int d, std::string_view what, std::string_view side) {
  if (d < 1 || d > kMax) fail("{}: {} has dimension {}; it must be 1..{}", what, side, d, kMax);
}

// NaN or Inf anywhere in a (units * d) x n array: an error naming the variable, dimension and trial.
void check_finite_variables(const double* x, std::int64_t units, int d, std::int64_t n, std::string_view what,
                            std::string_view side) {
  if (x == nullptr) fail("{}: {}: null data pointer", what, side);
  for (std::int64_t r = 0; r < units * d; ++r) {
    const double* row = x + r * n;
    for (std::int64_t t = 0; t < n; ++t) {
      if (!std::isfinite(row[t])) {
        fail("{}: {}: non-finite value ({}) in variable {}, dimension {}, trial {}; NaN and Inf are not allowed", what,
             side, row[t], r / d, r % d, t);
      }
    }
  }
}

std::int64_t tile_size(std::int64_t requested, std::int64_t units, std::int64_t rows_per_unit, std::int64_t n) {
  if (requested < 0) fail("tile_units is negative ({})", requested);
  if (requested > 0) return std::min(requested, units);
  const std::int64_t rows = std::max<std::int64_t>(kTileBytes / (8 * n), 1);
  return std::clamp<std::int64_t>(rows / rows_per_unit, 1, units);
}

// Trial permutations 0..P-1 (kernels::fisher_yates_permutation): all generated once when they fit
// in kPermutationCacheBytes, else on demand. get() returns a pointer valid until the next get().
class Permutations {
 public:
  Permutations(std::uint64_t seed, std::int64_t count, std::int64_t n) : seed_(seed), n_(n) {
    if (count > 0 && count * n * 4 <= kPermutationCacheBytes) {
      all_.resize(at(count * n));
      kernels::make_permutations(seed, 0, count, n, all_.data());
    } else {
      scratch_.resize(at(n));
    }
  }
  const std::int32_t* get(std::int64_t p) {
    if (!all_.empty()) return all_.data() + p * n_;
    kernels::fisher_yates_permutation(seed_, static_cast<std::uint64_t>(p), static_cast<std::int32_t>(n_),
                                      scratch_.data());
    return scratch_.data();
  }

 private:
  std::uint64_t seed_;
  std::int64_t n_;
  std::vector<std::int32_t> all_, scratch_;
};

// Cholesky C = L L^T of a d x d symmetric matrix (row-major, lower triangle read) into l (row-major
// lower triangle); pivots[i] = L_ii^2. Returns the index of the first pivot at or below kPivotFloor
// times its diagonal entry (not positive definite, numerically), or -1.
int cholesky(const double* c, int d, double* l, double* pivots) {
  for (int i = 0; i < d; ++i) {
    for (int j = 0; j <= i; ++j) {
      double s = c[i * d + j];
      for (int k = 0; k < j; ++k) s -= l[i * d + k] * l[j * d + k];
      if (i == j) {
        if (!(s > kPivotFloor * c[i * d + i])) return i;
        pivots[i] = s;
        l[i * d + i] = std::sqrt(s);
      } else {
        l[i * d + j] = s / l[j * d + j];
      }
    }
  }
  return -1;
}

// The whitening matrix of one variable: A = L^-1 (lower triangular, row-major d x d) with
// L L^T = R, the correlation matrix of its d copula rows z (row norms `norms`), unit diagonal by
// construction (so that A = [1] exactly for d = 1). Returns the failing pivot, or -1.
int whitener(const double* z, const double* norms, int d, std::int64_t n, double* a) {
  std::array<double, kMax * kMax> r{}, l{};
  std::array<double, kMax> pivots{};
  for (int i = 0; i < d; ++i) {
    for (int j = 0; j < i; ++j) {
      r[at(i * d + j)] = std::inner_product(z + i * n, z + (i + 1) * n, z + j * n, 0.0) / (norms[i] * norms[j]);
    }
    r[at(i * d + i)] = 1.0;
  }
  const int bad = cholesky(r.data(), d, l.data(), pivots.data());
  if (bad >= 0) return bad;
  std::fill(a, a + d * d, 0.0);
  for (int j = 0; j < d; ++j) {  // forward substitution, column by column
    a[j * d + j] = 1.0 / l[at(j * d + j)];
    for (int i = j + 1; i < d; ++i) {
      double s = 0.0;
      for (int k = j; k < i; ++k) s += l[at(i * d + k)] * a[k * d + j];
      a[i * d + j] = -s / l[at(i * d + i)];
    }
  }
  return -1;
}

// The pair statistic of cc from the d_x x d_y block g (row stride ld) of raw copula cross products:
// K = A_x (g / (n_x n_y^T)) A_y^T; R^2 = sum K_ij^2 when a side is 1-D (then for 1 x 1, exactly the
// univariate engine's r * r), else -ln det(I - Q) with Q = K K^T or K^T K (the smaller), by a
// Cholesky whose pivots are kept as 1 + a_i (a_i <= 0) so that log1p stays accurate for small MI.
template <typename T>
double pair_stat(const T* g, std::int64_t ld, const double* nx, const double* ny, const double* ax, const double* ay,
                 int dx, int dy) {
  std::array<double, kMax * kMax> r, w, k;
  for (int i = 0; i < dx; ++i) {
    for (int j = 0; j < dy; ++j) r[at(i * dy + j)] = static_cast<double>(g[i * ld + j]) / (nx[i] * ny[j]);
  }
  for (int i = 0; i < dx; ++i) {  // W = r A_y^T
    for (int j = 0; j < dy; ++j) {
      double s = 0.0;
      for (int l = 0; l <= j; ++l) s += r[at(i * dy + l)] * ay[j * dy + l];
      w[at(i * dy + j)] = s;
    }
  }
  for (int i = 0; i < dx; ++i) {  // K = A_x W
    for (int j = 0; j < dy; ++j) {
      double s = 0.0;
      for (int l = 0; l <= i; ++l) s += ax[i * dx + l] * w[at(l * dy + j)];
      k[at(i * dy + j)] = s;
    }
  }
  if (dx == 1 || dy == 1) {
    double s = 0.0;
    for (int i = 0; i < dx * dy; ++i) s += k[at(i)] * k[at(i)];
    return s;
  }
  const bool rows = dx <= dy;  // Q = K K^T (dx x dx) or K^T K (dy x dy)
  const int m = rows ? dx : dy, inner = rows ? dy : dx;
  const auto kk = [&](int a, int c) { return rows ? k[at(a * dy + c)] : k[at(c * dy + a)]; };
  std::array<double, kMax * kMax> l;
  double t = 0.0;
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j <= i; ++j) {
      double q = 0.0;
      for (int c = 0; c < inner; ++c) q += kk(i, c) * kk(j, c);
      double s = -q;  // (I - Q)_ij, less the identity on the diagonal
      for (int c = 0; c < j; ++c) s -= l[at(i * m + c)] * l[at(j * m + c)];
      if (i == j) {
        const double a = std::max(s, -(1.0 - 0x1p-52));  // pivot 1 + a > 0: finite for identical variables
        l[at(i * m + i)] = std::sqrt(1.0 + a);
        t -= std::log1p(a);
      } else {
        l[at(i * m + j)] = s / l[at(j * m + j)];
      }
    }
  }
  return t;
}

// MI in bits of a pair statistic (see pair_stat).
double mi_of_stat(double t, bool one_dim, double bias) {
  return one_dim ? detail::mi_of_r2(t, bias) : 0.5 * t / kLn2 - bias;
}

// Each variable's largest tie fraction over its d rows (`rows`: one fraction per row, from copnorm_rows).
std::vector<double> variable_tie_fractions(const std::vector<double>& rows, std::int64_t count, int d) {
  std::vector<double> out(at(count), 0.0);
  for (std::int64_t r = 0; r < count * d; ++r) out[at(r / d)] = std::max(out[at(r / d)], rows[at(r)]);
  return out;
}

// Whitening matrices (count x d x d) of `count` variables of d copula rows each; a collinear
// variable is an error naming it.
std::vector<double> whiteners(const double* z, const std::vector<double>& norms, std::int64_t count, int d,
                              std::int64_t n, std::int64_t first, std::string_view side) {
  std::vector<double> a(at(count * d * d));
  for (std::int64_t v = 0; v < count; ++v) {
    const int bad = whitener(z + v * d * n, norms.data() + v * d, d, n, a.data() + v * d * d);
    if (bad >= 0) {
      fail("{}: {} variable {}: its {} dimensions are collinear after copula normalisation (dimension {} is a "
           "combination of the others, Cholesky pivot at or below 16 eps); drop it",
           kCc, side, first + v, d, bad);
    }
  }
  return a;
}

// ---------------------------------------------------------------------------------------------
// cc

struct CcJob {
  const double* x = nullptr;
  std::int64_t units = 0, features = 0, n = 0, tile = 0;
  int dx = 1, dy = 1;
  bool one_dim = true;
  double bias = 0.0;
  const AllPairsOptions* options = nullptr;
  std::vector<double> zy, ny, ay;  // Y's copula rows, their norms, its whitening matrices
};

// The tiles' observed and permutation passes with GEMMs in T; max_t (P x F) collects the null
// maxima of the statistic over units.
template <typename T>
void cc_tiles(const CcJob& job, Permutations* perms, AllPairsResult& result, std::vector<double>& max_t) {
  const std::int64_t n = job.n, F = job.features, P = job.options->permutations;
  const int dx = job.dx, dy = job.dy;
  const std::int64_t fcols = F * dy;
  std::vector<T> zy_copy;
  const T* zy = nullptr;
  if constexpr (std::is_same_v<T, double>) {
    zy = job.zy.data();
  } else {
    zy_copy.assign(job.zy.begin(), job.zy.end());
    zy = zy_copy.data();
  }
  const std::int64_t batch = std::clamp<std::int64_t>(256 / fcols, 1, std::max<std::int64_t>(P, 1));
  const std::int64_t max_rows = job.tile * dx;
  std::vector<double> zx(at(max_rows * n));
  std::vector<T> zx_copy(std::is_same_v<T, double> ? 0 : at(max_rows * n));
  std::vector<T> g(at(max_rows * fcols));
  std::vector<T> zy_p(P > 0 ? at(batch * fcols * n) : 0), gp(P > 0 ? at(max_rows * batch * fcols) : 0);
  std::vector<double> t_obs(at(job.tile * F));
  for (std::int64_t start = 0; start < job.units; start += job.tile) {
    const std::int64_t tu = std::min(job.tile, job.units - start), rows = tu * dx;
    const double* xt = job.x + start * dx * n;
    std::vector<double> row_ties(at(rows));
    copnorm_rows(xt, rows, n, zx.data(), job.options->gcmi.ties, job.options->gcmi.seed,
                 static_cast<std::uint64_t>(start * dx), row_ties.data());
    const std::vector<double> ties = variable_tie_fractions(row_ties, tu, dx);
    std::copy(ties.begin(), ties.end(), result.tie_fraction_x.begin() + start);
    const std::vector<double> nx = detail::row_norms(zx.data(), rows, n);
    const std::vector<double> ax = whiteners(zx.data(), nx, tu, dx, n, start, "x");
    const T* a = nullptr;
    if constexpr (std::is_same_v<T, double>) {
      a = zx.data();
    } else {
      std::copy(zx.begin(), zx.begin() + rows * n, zx_copy.begin());
      a = zx_copy.data();
    }
    // Observed pass.
    detail::gemm_abt(a, zy, g.data(), rows, fcols, n);
    for (std::int64_t u = 0; u < tu; ++u) {
      for (std::int64_t f = 0; f < F; ++f) {
        const double t = pair_stat(g.data() + u * dx * fcols + f * dy, fcols, nx.data() + u * dx, job.ny.data() + f * dy,
                                   ax.data() + u * dx * dx, job.ay.data() + f * dy * dy, dx, dy);
        t_obs[at(u * F + f)] = t;
        result.mi[at((start + u) * F + f)] = mi_of_stat(t, job.one_dim, job.bias);
      }
    }
    // The null: batches of permutations of Y's trials stacked into one GEMM, reduced on the fly.
    for (std::int64_t first = 0; first < P; first += batch) {
      const std::int64_t count = std::min(batch, P - first), cols = count * F, ld = cols * dy;
      for (std::int64_t b = 0; b < count; ++b) {
        detail::gather_permuted_rows(zy, fcols, n, perms->get(first + b), zy_p.data() + b * fcols * n);
      }
      detail::gemm_abt(a, zy_p.data(), gp.data(), rows, ld, n);
      for (std::int64_t u = 0; u < tu; ++u) {
        for (std::int64_t c = 0; c < cols; ++c) {
          const std::int64_t f = c % F, b = c / F;
          const double t = pair_stat(gp.data() + u * dx * ld + c * dy, ld, nx.data() + u * dx, job.ny.data() + f * dy,
                                     ax.data() + u * dx * dx, job.ay.data() + f * dy * dy, dx, dy);
          if (t >= t_obs[at(u * F + f)]) ++result.exceed[at((start + u) * F + f)];
          double& m = max_t[at((first + b) * F + f)];
          m = std::max(m, t);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// cd

// Index of the product z_i z_j (j <= i) among a unit's d(d+1)/2 products.
constexpr int product_index(int i, int j) { return i * (i + 1) / 2 + j; }

// The per-unit formula from its unconditional half log-determinant and its class sums.
struct CdMvModel {
  std::int64_t n = 0;
  int d = 1, products = 1;
  std::vector<std::int64_t> counts;
  std::vector<double> weight;  // N_k / N
  double constant = 0.0;       // nats: -B(d, N) + sum_k w_k B(d, N_k), or 0 without bias correction

  CdMvModel(std::int64_t trials, int dim, std::vector<std::int64_t> class_counts, bool bias_correct)
      : n(trials), d(dim), products(dim * (dim + 1) / 2), counts(std::move(class_counts)) {
    for (const std::int64_t nk : counts) {
      weight.push_back(static_cast<double>(nk) / static_cast<double>(n));
      if (bias_correct) constant += weight.back() * entropy_bias_nats(d, nk);
    }
    if (bias_correct) constant -= entropy_bias_nats(d, n);
  }
  int classes() const { return static_cast<int>(counts.size()); }

  // 1/2 ln|gram / (N - 1)|, or NaN when it is not positive definite (collinear dimensions).
  double unconditional(const double* gram) const {
    std::array<double, kMax * kMax> c{}, l{};
    std::array<double, kMax> pivots{};
    for (int i = 0; i < d; ++i) {
      for (int j = 0; j <= i; ++j) c[at(i * d + j)] = gram[product_index(i, j)] / static_cast<double>(n - 1);
    }
    if (cholesky(c.data(), d, l.data(), pivots.data()) >= 0) return std::numeric_limits<double>::quiet_NaN();
    double logsum = 0.0;
    for (int i = 0; i < d; ++i) logsum += std::log(pivots[at(i)]);
    return 0.5 * logsum;
  }

  // I in bits from s1 (K x d) and s2 (K x products); +inf when a class covariance is (numerically)
  // singular, which the caller reports as an error. For d = 1 the univariate engine's expressions.
  double mi(double unconditional_half, const double* s1, const double* s2) const {
    std::array<double, kMax * kMax> c{}, l{};
    std::array<double, kMax> pivots{};
    double h_cond = 0.0;
    for (std::size_t k = 0; k < counts.size(); ++k) {
      const auto nk = static_cast<double>(counts[k]);
      const double* a1 = s1 + k * at(d);
      const double* a2 = s2 + k * at(products);
      for (int i = 0; i < d; ++i) {
        for (int j = 0; j <= i; ++j) {
          c[at(i * d + j)] = (a2[product_index(i, j)] - a1[i] * a1[j] / nk) / (nk - 1.0);
        }
        if (!(c[at(i * d + i)] > kPivotFloor * a2[product_index(i, i)] / (nk - 1.0))) {
          return std::numeric_limits<double>::infinity();
        }
      }
      if (cholesky(c.data(), d, l.data(), pivots.data()) >= 0) return std::numeric_limits<double>::infinity();
      double logsum = 0.0;
      for (int i = 0; i < d; ++i) logsum += std::log(pivots[at(i)]);
      h_cond += weight[k] * 0.5 * logsum;
    }
    return (unconditional_half - h_cond + constant) / kLn2;
  }
};

// labels_p[t] = labels[pi_p(t)] (the observed labels for p < 0).
void permuted_labels(const std::int32_t* labels, std::int64_t n, std::int64_t p, Permutations* perms,
                     std::int32_t* out) {
  if (p < 0) {
    std::copy(labels, labels + n, out);
    return;
  }
  const std::int32_t* perm = perms->get(p);
  for (std::int64_t t = 0; t < n; ++t) out[t] = labels[perm[t]];
}

// One tile's state: rows of A are the tile's d copula rows per unit (unit-major), then (one-hot
// GEMM only) its d(d+1)/2 product rows per unit; totals are the row sums and the products' sums.
struct CdTile {
  std::int64_t units = 0;
  std::vector<double> a, total1, gram, unconditional;
};

struct CdMvJob {
  std::int64_t n = 0;
  const std::int32_t* labels = nullptr;
  const AllPairsOptions* options = nullptr;
  const CdMvModel* model = nullptr;
  Permutations* perms = nullptr;
};

// One-hot GEMM: MI of the tile's units for permutations first .. first + count - 1 (first < 0: the
// observed labels, count 1) into t (units x count).
template <typename T>
void one_hot_pass(const CdMvJob& job, const CdTile& tile, const T* a, std::int64_t first, std::int64_t count,
                  std::vector<T>& indicator, std::vector<T>& g, std::vector<std::int32_t>& lab, double* t) {
  const std::int64_t n = job.n, units = tile.units;
  const int K = job.model->classes(), km = K - 1, d = job.model->d, p = job.model->products;
  const std::int64_t cols = count * km;
  if (km > 0) {
    std::fill(indicator.begin(), indicator.begin() + cols * n, T(0));
    for (std::int64_t b = 0; b < count; ++b) {
      permuted_labels(job.labels, n, first < 0 ? -1 : first + b, job.perms, lab.data());
      for (std::int64_t s = 0; s < n; ++s) {
        const std::int32_t k = lab[at(s)];
        if (k < km) indicator[at((b * km + k) * n + s)] = T(1);
      }
    }
    detail::gemm_abt(a, indicator.data(), g.data(), units * (d + p), cols, n);
  }
  std::vector<double> s1(at(K * d)), s2(at(K * p));
  for (std::int64_t u = 0; u < units; ++u) {
    for (std::int64_t b = 0; b < count; ++b) {
      for (int i = 0; i < d; ++i) {
        double rest = tile.total1[at(u * d + i)];
        for (int k = 0; k < km; ++k) {
          s1[at(k * d + i)] = static_cast<double>(g[at((u * d + i) * cols + b * km + k)]);
          rest -= s1[at(k * d + i)];
        }
        s1[at(km * d + i)] = rest;  // the last class: the row total minus the others
      }
      for (int q = 0; q < p; ++q) {
        double rest = tile.gram[at(u * p + q)];
        for (int k = 0; k < km; ++k) {
          s2[at(k * p + q)] = static_cast<double>(g[at((units * d + u * p + q) * cols + b * km + k)]);
          rest -= s2[at(k * p + q)];
        }
        s2[at(km * p + q)] = rest;
      }
      t[u * count + b] = job.model->mi(tile.unconditional[at(u)], s1.data(), s2.data());
    }
  }
}

// Segmented sums over label-sorted trials (a stable counting sort per permutation): the same
// outputs as one_hot_pass, in fp64, at a cost that does not grow with K.
void segmented_pass(const CdMvJob& job, const CdTile& tile, std::int64_t first, std::int64_t count,
                    std::vector<std::int32_t>& order, std::vector<std::int32_t>& lab, double* t) {
  const std::int64_t n = job.n, units = tile.units;
  const int K = job.model->classes(), d = job.model->d, p = job.model->products;
  std::vector<std::int64_t> start(at(K) + 1, 0);
  for (int k = 0; k < K; ++k) start[at(k) + 1] = start[at(k)] + job.model->counts[at(k)];
  for (std::int64_t b = 0; b < count; ++b) {
    permuted_labels(job.labels, n, first < 0 ? -1 : first + b, job.perms, lab.data());
    std::vector<std::int64_t> next(start.begin(), start.end() - 1);
    std::int32_t* ob = order.data() + b * n;
    for (std::int64_t s = 0; s < n; ++s) ob[next[at(lab[at(s)])]++] = static_cast<std::int32_t>(s);
  }
#pragma omp parallel
  {
    std::vector<double> s1(at(K * d)), s2(at(K * p));
    std::array<double, kMax> v{};
#pragma omp for schedule(static)
    for (std::int64_t u = 0; u < units; ++u) {
      const double* zu = tile.a.data() + u * d * n;
      for (std::int64_t b = 0; b < count; ++b) {
        const std::int32_t* ob = order.data() + b * n;
        for (int k = 0; k < K; ++k) {
          double* a1 = s1.data() + k * d;
          double* a2 = s2.data() + k * p;
          std::fill(a1, a1 + d, 0.0);
          std::fill(a2, a2 + p, 0.0);
          for (std::int64_t i = start[at(k)]; i < start[at(k) + 1]; ++i) {
            for (int r = 0; r < d; ++r) {
              v[at(r)] = zu[r * n + ob[i]];
              a1[r] += v[at(r)];
              for (int c = 0; c <= r; ++c) a2[product_index(r, c)] += v[at(r)] * v[at(c)];
            }
          }
        }
        t[u * count + b] = job.model->mi(tile.unconditional[at(u)], s1.data(), s2.data());
      }
    }
  }
}

void check_cd_finite(const double* mi, std::int64_t count, std::int64_t first_unit, std::string_view where) {
  for (std::int64_t u = 0; u < count; ++u) {
    if (!std::isfinite(mi[u])) {
      fail("{}: variable {} has a singular covariance within a class{} (its copula values are tied or collinear "
           "within the class; use --ties stable or jitter, or drop a dimension)",
           kCd, first_unit + u, where);
    }
  }
}

// All tiles: observed pass, then the permutation batches, with class sums of kind `gemm`, GEMMs in T.
template <typename T>
void cd_tiles(const double* x, std::int64_t units, std::int64_t tile_units, const CdMvJob& job, bool gemm,
              AllPairsResult& result) {
  const std::int64_t n = job.n, P = job.options->permutations;
  const int d = job.model->d, p = job.model->products, km = job.model->classes() - 1;
  const std::int64_t batch = gemm ? std::clamp<std::int64_t>(256 / std::max(km, 1), 1, std::max<std::int64_t>(P, 1))
                                  : std::clamp<std::int64_t>(64, 1, std::max<std::int64_t>(P, 1));
  const std::int64_t rows_per_unit = gemm ? d + p : d;
  CdTile tile;
  tile.a.resize(at(tile_units * rows_per_unit * n));
  std::vector<T> a_copy(std::is_same_v<T, double> || !gemm ? 0 : tile.a.size());
  std::vector<T> indicator(gemm ? at(batch * km * n) : 0), g(gemm ? at(tile_units * rows_per_unit * batch * km) : 0);
  std::vector<std::int32_t> lab(at(n)), order(gemm ? 0 : at(batch * n));
  std::vector<double> t(at(tile_units * batch));
  for (std::int64_t start = 0; start < units; start += tile_units) {
    const std::int64_t tu = std::min(tile_units, units - start);
    tile.units = tu;
    const double* xt = x + start * d * n;
    std::vector<double> row_ties(at(tu * d));
    copnorm_rows(xt, tu * d, n, tile.a.data(), job.options->gcmi.ties, job.options->gcmi.seed,
                 static_cast<std::uint64_t>(start * d), row_ties.data());
    const std::vector<double> ties = variable_tie_fractions(row_ties, tu, d);
    std::copy(ties.begin(), ties.end(), result.tie_fraction_x.begin() + start);
    tile.total1.assign(at(tu * d), 0.0);
    tile.gram.assign(at(tu * p), 0.0);
    tile.unconditional.assign(at(tu), 0.0);
#pragma omp parallel for schedule(dynamic, 16)
    for (std::int64_t u = 0; u < tu; ++u) {
      const double* zu = tile.a.data() + u * d * n;
      for (int i = 0; i < d; ++i) {
        const double* zi = zu + i * n;
        tile.total1[at(u * d + i)] = std::accumulate(zi, zi + n, 0.0);
        for (int j = 0; j <= i; ++j) {
          const double* zj = zu + j * n;
          tile.gram[at(u * p + product_index(i, j))] = std::inner_product(zi, zi + n, zj, 0.0);
          if (gemm) {
            double* prod = tile.a.data() + (tu * d + u * p + product_index(i, j)) * n;
            for (std::int64_t s = 0; s < n; ++s) prod[s] = zi[s] * zj[s];
          }
        }
      }
      tile.unconditional[at(u)] = job.model->unconditional(tile.gram.data() + u * p);
    }
    for (std::int64_t u = 0; u < tu; ++u) {
      if (std::isnan(tile.unconditional[at(u)])) {
        fail("{}: variable {}: its {} dimensions are collinear after copula normalisation (a Cholesky pivot of its "
             "covariance at or below 16 eps); drop a dimension",
             kCd, start + u, d);
      }
    }
    const T* a = nullptr;
    if (gemm) {
      if constexpr (std::is_same_v<T, double>) {
        a = tile.a.data();
      } else {
        std::copy(tile.a.begin(), tile.a.begin() + tu * rows_per_unit * n, a_copy.begin());
        a = a_copy.data();
      }
    }
    const auto pass = [&](std::int64_t first, std::int64_t count, double* out) {
      if (gemm) {
        one_hot_pass(job, tile, a, first, count, indicator, g, lab, out);
      } else {
        segmented_pass(job, tile, first, count, order, lab, out);
      }
    };
    double* mi = result.mi.data() + start;
    pass(-1, 1, mi);
    check_cd_finite(mi, tu, start, "");
    for (std::int64_t first = 0; first < P; first += batch) {
      const std::int64_t count = std::min(batch, P - first);
      pass(first, count, t.data());
      for (std::int64_t u = 0; u < tu; ++u) {
        for (std::int64_t b = 0; b < count; ++b) {
          const double v = t[at(u * count + b)];
          if (v >= mi[u]) ++result.exceed[at(start + u)];
          double& m = result.max_null[at(first + b)];
          m = std::max(m, v);
        }
      }
    }
  }
  for (std::int64_t q = 0; q < P; ++q) result.max_null_all[at(q)] = std::max(result.max_null_all[at(q)], result.max_null[at(q)]);
  check_cd_finite(result.max_null_all.data(), P, 0, " in a permutation");
}

}  // namespace

AllPairsResult gcmi_cc_all_pairs_mv(const double* x, std::int64_t units, int dx, const double* y,
                                    std::int64_t features, int dy, std::int64_t trials, const AllPairsOptions& options,
                                    std::int64_t tile_units) {
  check_dim(dx, kCc, "x");
  check_dim(dy, kCc, "y");
  if (trials <= dx + dy) {
    fail("{}: too few trials: N = {} for {}-D x and {}-D y (N must exceed d_x + d_y = {}: the copula rows lose one "
         "degree of freedom to their zero mean)",
         kCc, trials, dx, dy, dx + dy);
  }
  check_all_pairs_arguments(units, features, trials, options);
  detail::check_cpu_precision(options, kCc);
  const std::int64_t n = trials, P = options.permutations;
  check_finite_variables(x, units, dx, n, kCc, "x");
  check_finite_variables(y, features, dy, n, kCc, "y");

  CcJob job;
  job.x = x;
  job.units = units;
  job.features = features;
  job.n = n;
  job.dx = dx;
  job.dy = dy;
  job.one_dim = dx == 1 || dy == 1;
  job.bias = options.gcmi.bias_correct ? mi_bias_bits(dx, dy, n) : 0.0;
  job.options = &options;
  job.tile = tile_size(tile_units, units, dx, n);
  // Y once: copula rows (jitter variables numbered after all of X's rows), norms, whitening.
  job.zy.resize(at(features * dy * n));
  std::vector<double> y_row_ties(at(features * dy));
  copnorm_rows(y, features * dy, n, job.zy.data(), options.gcmi.ties, options.gcmi.seed,
               static_cast<std::uint64_t>(units * dx), y_row_ties.data());
  job.ny = detail::row_norms(job.zy.data(), features * dy, n);
  job.ay = whiteners(job.zy.data(), job.ny, features, dy, n, 0, "y");

  AllPairsResult result = detail::empty_result(units, features, n, P);
  result.tie_fraction_y = variable_tie_fractions(y_row_ties, features, dy);
  result.tie_fraction_x.resize(at(units));
  result.mi.resize(at(units * features));
  std::vector<double> max_t;
  Permutations perms(options.permutation_seed, P, n);
  if (P > 0) {
    result.exceed.assign(at(units * features), 0u);
    max_t.assign(at(P * features), 0.0);  // every statistic is >= 0
  }
  if (options.precision == GemmPrecision::f32) {
    cc_tiles<float>(job, &perms, result, max_t);
  } else {
    cc_tiles<double>(job, &perms, result, max_t);
  }
  if (P > 0) {
    result.max_null.resize(at(P * features));
    result.max_null_all.resize(at(P));
    for (std::int64_t p = 0; p < P; ++p) {
      double max_all = 0.0;
      for (std::int64_t f = 0; f < features; ++f) {
        const double m = max_t[at(p * features + f)];
        result.max_null[at(p * features + f)] = mi_of_stat(m, job.one_dim, job.bias);
        max_all = std::max(max_all, m);
      }
      result.max_null_all[at(p)] = mi_of_stat(max_all, job.one_dim, job.bias);
    }
  }
  return result;
}

AllPairsResult gcmi_model_cd_batched_mv(const double* x, std::int64_t units, int d, const std::int32_t* labels,
                                        std::int64_t trials, int classes, const AllPairsOptions& options,
                                        ClassSums sums, std::int64_t tile_units) {
  check_dim(d, kCd, "x");
  check_all_pairs_arguments(units, 1, trials, options);
  detail::check_cpu_precision(options, kCd);
  check_finite_variables(x, units, d, trials, kCd, "x");
  std::vector<std::int64_t> counts = detail::class_counts(labels, trials, classes, "gcmi_model_cd_batched_mv: labels");
  detail::check_class_sizes(counts, d, kCd);
  const std::int64_t n = trials;
  const CdMvModel model(n, d, std::move(counts), options.gcmi.bias_correct);
  const bool gemm = sums == ClassSums::one_hot_gemm || (sums == ClassSums::automatic && classes <= kOneHotMaxClasses);
  const int products = d * (d + 1) / 2;
  const std::int64_t tile = tile_size(tile_units, units, gemm ? d + products : d, n);

  AllPairsResult result = detail::empty_result(units, 1, n, options.permutations);
  result.mi.resize(at(units));
  result.tie_fraction_x.resize(at(units));
  if (options.permutations > 0) detail::start_null(result);
  Permutations perms(options.permutation_seed, options.permutations, n);
  CdMvJob job;
  job.n = n;
  job.labels = labels;
  job.options = &options;
  job.model = &model;
  job.perms = &perms;
  if (options.precision == GemmPrecision::f32) {
    cd_tiles<float>(x, units, tile, job, gemm, result);
  } else {
    cd_tiles<double>(x, units, tile, job, gemm, result);
  }
  return result;
}

}  // namespace deeper::info
