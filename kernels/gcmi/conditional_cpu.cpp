// residualise_rows, coinfo_null and cd_model on the CPU: the cpu backend and the kernels' reference
// (definitions in conditional.h), with the parameter checks and the dispatch. The same fp32 / fp64
// expressions as the kernels (coinfo_value is shared; the class sums accumulate in fp32 in trial
// order, as each kernel thread does), so cpu and device agree to fp32 rounding (the kernels may fuse
// multiply-adds, and residualise_rows sums its fp64 dot product here in trial order, there in 256
// strided partials).
#include "kernels/gcmi/conditional.h"

#include "core/error.h"
#include "kernels/common/dispatch.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace deeper::kernels {

void check_residualise_params(const ResidualiseParams& p) {
  DEEPER_CHECK(p.rows >= 0, "residualise_rows: negative row count {}", p.rows);
  DEEPER_CHECK(p.n >= 1, "residualise_rows: N = {} trials (need at least 1)", p.n);
  DEEPER_CHECK(p.rows <= 0x7FFFFFFF, "residualise_rows: {} rows is more than one grid of 2^31 - 1 blocks", p.rows);
  DEEPER_CHECK(p.s_n > 0 && std::isfinite(p.s_n), "residualise_rows: S_N = {} must be positive and finite", p.s_n);
  if (p.rows == 0) return;
  DEEPER_CHECK(p.zx != nullptr && p.z != nullptr, "residualise_rows: null input zx or z");
  DEEPER_CHECK(p.a != nullptr, "residualise_rows: null output a");
}

void check_coinfo_null_params(const CoinfoNullParams& p) {
  DEEPER_CHECK(p.units >= 0 && p.features >= 0 && p.n_perms >= 0,
               "coinfo_null: negative size (units {}, features {}, permutations {})", p.units, p.features, p.n_perms);
  DEEPER_CHECK(p.features <= 65535, "coinfo_null: {} features is more than 65535", p.features);
  if (p.units == 0 || p.features == 0) return;
  DEEPER_CHECK(p.rxy != nullptr && p.rxz != nullptr && p.ryz != nullptr, "coinfo_null: null input rxy, rxz or ryz");
  DEEPER_CHECK(p.coi != nullptr, "coinfo_null: null output coi");
  if (p.n_perms > 0) {
    DEEPER_CHECK(p.exceed != nullptr && p.max_pf_key != nullptr,
                 "coinfo_null: {} permutations need exceed and max_pf_key", p.n_perms);
  }
}

void check_cd_model_params(const CdModelParams& p, CdPass pass) {
  DEEPER_CHECK(p.units >= 0 && p.n_perms >= 0, "cd_model: negative size (units {}, permutations {})", p.units,
               p.n_perms);
  DEEPER_CHECK(p.n >= 2, "cd_model: N = {} trials (need at least 2)", p.n);
  DEEPER_CHECK(p.classes >= 1 && p.classes <= kCdMaxClasses, "cd_model: {} classes (need 1..{})", p.classes,
               kCdMaxClasses);
  DEEPER_CHECK(p.s_n > 0 && std::isfinite(p.s_n), "cd_model: S_N = {} must be positive and finite", p.s_n);
  DEEPER_CHECK((p.n_perms + 63) / 64 <= 65535, "cd_model: {} permutations is more than 65535 blocks of 64",
               p.n_perms);
  if (p.units == 0) return;
  DEEPER_CHECK((p.z != nullptr) != (p.z_bf16 != nullptr), "cd_model: exactly one of z and z_bf16 must be given");
  DEEPER_CHECK(p.labels != nullptr && p.counts != nullptr && p.mi != nullptr, "cd_model: null labels, counts or mi");
  if (pass == CdPass::permuted && p.n_perms > 0) {
    DEEPER_CHECK(p.exceed != nullptr && p.max_key != nullptr, "cd_model: {} permutations need exceed and max_key",
                 p.n_perms);
  }
}

namespace cpu_impl {

void residualise_rows(const ResidualiseParams& p) {
  check_residualise_params(p);
#pragma omp parallel for schedule(static)
  for (std::int64_t row = 0; row < p.rows; ++row) {
    const float* x = p.zx + row * p.n;
    double s = 0.0;
    for (std::int64_t k = 0; k < p.n; ++k) s += static_cast<double>(x[k]) * p.z[k];
    const double a = s / p.s_n, rest = 1.0 - a * a;
    const double inv = rest > 1e-12 ? 1.0 / std::sqrt(rest) : std::numeric_limits<double>::quiet_NaN();
    p.a[row] = rest > 1e-12 ? static_cast<float>(a) : static_cast<float>(inv);  // NaN: a copy of z
    for (std::int64_t k = 0; k < p.n; ++k) {
      const double v = (static_cast<double>(x[k]) - a * p.z[k]) * inv;
      if (p.out) p.out[row * p.n + k] = static_cast<float>(v);
      if (p.out_bf16) p.out_bf16[row * p.n + k] = __float2bfloat16_rn(static_cast<float>(v));
    }
  }
}

void coinfo_null(const CoinfoNullParams& p) {
  check_coinfo_null_params(p);
  const std::int64_t U = p.units, F = p.features, P = p.n_perms, Q = P + 1;
  const float bias_mi = static_cast<float>(p.bias_mi), bias_cmi = static_cast<float>(p.bias_cmi);
  if (P > 0) {
    std::fill(p.max_pf_key, p.max_pf_key + P * F, 0u);
    if (p.max_p_key) std::fill(p.max_p_key, p.max_p_key + P, 0u);
  }
  for (std::int64_t u = 0; u < U; ++u) {
    for (std::int64_t f = 0; f < F; ++f) {
      const float rxy = p.rxy[u * F + f];
      const float observed = coinfo_value(rxy, p.rxz[u * Q], p.ryz[f], bias_mi, bias_cmi);
      p.coi[u * F + f] = observed;
      std::uint32_t count = 0;
      for (std::int64_t q = 1; q < Q; ++q) {
        const float v = coinfo_value(rxy, p.rxz[u * Q + q], p.ryz[q * F + f], bias_mi, bias_cmi);
        count += v >= observed ? 1u : 0u;
        std::uint32_t& m = p.max_pf_key[(q - 1) * F + f];
        m = std::max(m, cond_key(v));
        if (p.max_p_key) p.max_p_key[q - 1] = std::max(p.max_p_key[q - 1], m);
      }
      if (P > 0) p.exceed[u * F + f] = count;
    }
  }
}

namespace {

float cd_mi(const CdModelParams& p, const std::vector<float>& s1, const std::vector<float>& s2) {
  double h = 0.0;
  const auto n = static_cast<double>(p.n);
  for (int k = 0; k < p.classes; ++k) {
    const auto nk = static_cast<double>(p.counts[k]);
    const double a = s1[static_cast<std::size_t>(k)], b = s2[static_cast<std::size_t>(k)];
    const double v = (b - a * a / nk) / (nk - 1.0);
    if (!(v > 16.0 * std::numeric_limits<double>::epsilon() * b / (nk - 1.0))) {
      return std::numeric_limits<float>::infinity();
    }
    h += nk / n * 0.5 * std::log(v);
  }
  return static_cast<float>((0.5 * std::log(p.s_n / (n - 1.0)) - h + p.constant) / 0.69314718055994530942);
}

}  // namespace

void cd_model(const CdModelParams& p, CdPass pass) {
  check_cd_model_params(p, pass);
  const std::int64_t U = p.units, N = p.n, P = p.n_perms, Q = P + 1;
  if (pass == CdPass::permuted) {
    if (P == 0) return;
    std::fill(p.exceed, p.exceed + U, 0u);
    std::fill(p.max_key, p.max_key + P, 0u);
  }
  const std::int64_t q_begin = pass == CdPass::observed ? 0 : 1, q_end = pass == CdPass::observed ? 1 : Q;
  std::vector<std::uint32_t> best(static_cast<std::size_t>(P), 0u);
#pragma omp parallel
  {
    std::vector<float> s1(static_cast<std::size_t>(p.classes)), s2(s1.size()), row(static_cast<std::size_t>(N));
    std::vector<std::uint32_t> local_best(static_cast<std::size_t>(P), 0u);
#pragma omp for schedule(static)
    for (std::int64_t u = 0; u < U; ++u) {
      for (std::int64_t t = 0; t < N; ++t) {
        row[static_cast<std::size_t>(t)] = p.z ? p.z[u * N + t] : __bfloat162float(p.z_bf16[u * N + t]);
      }
      std::uint32_t count = 0;
      for (std::int64_t q = q_begin; q < q_end; ++q) {
        std::fill(s1.begin(), s1.end(), 0.0f);
        std::fill(s2.begin(), s2.end(), 0.0f);
        for (std::int64_t t = 0; t < N; ++t) {
          const float v = row[static_cast<std::size_t>(t)];
          const auto k = static_cast<std::size_t>(p.labels[t * Q + q]);
          s1[k] += v;
          s2[k] += v * v;
        }
        const float mi = cd_mi(p, s1, s2);
        if (q == 0) {
          p.mi[u] = mi;
        } else {
          count += mi >= p.mi[u] ? 1u : 0u;
          auto& b = local_best[static_cast<std::size_t>(q - 1)];
          b = std::max(b, cond_key(mi));
        }
      }
      if (pass == CdPass::permuted) p.exceed[u] = count;
    }
#pragma omp critical(deeper_cd_model_max)
    for (std::size_t i = 0; i < best.size(); ++i) best[i] = std::max(best[i], local_best[i]);
  }
  if (pass == CdPass::permuted) std::copy(best.begin(), best.end(), p.max_key);
}

}  // namespace cpu_impl

void residualise_rows(const Device& device, const ResidualiseParams& p, void* stream) {
  check_residualise_params(p);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::residualise_rows(p);
    case Backend::emu:
      return emu_impl::residualise_rows(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::residualise_rows(p, stream));
  }
}

void coinfo_null(const Device& device, const CoinfoNullParams& p, void* stream) {
  check_coinfo_null_params(p);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::coinfo_null(p);
    case Backend::emu:
      return emu_impl::coinfo_null(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::coinfo_null(p, stream));
  }
}

void cd_model(const Device& device, const CdModelParams& p, CdPass pass, void* stream) {
  check_cd_model_params(p, pass);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::cd_model(p, pass);
    case Backend::emu:
      return emu_impl::cd_model(p, pass, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::cd_model(p, pass, stream));
  }
}

}  // namespace deeper::kernels
