// allpairs_mi on the CPU: the cpu backend and the kernels' reference (definition in allpairs.h).
// For the observed statistic and then for each permutation p it forms the F × N operand (Zy, then
// Zy∘π_p, materialised as float), computes every dot product with fp32 products and fp32
// accumulation (vectorised over trials), and applies the same epilogue functions as the kernels
// (allpairs_r2, allpairs_mi_bits). OpenMP over units; per-thread feature maxima are merged after
// each permutation. Also holds check_allpairs_params, table_sum_of_squares and the dispatch.
#include "kernels/gcmi/allpairs.h"

#include "core/error.h"
#include "kernels/common/dispatch.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace deeper::kernels {

void check_allpairs_params(const AllPairsParams& p) {
  DEEPER_CHECK(p.units >= 0 && p.features >= 0 && p.n_perms >= 0,
               "allpairs_mi: negative size (units {}, features {}, permutations {})", p.units, p.features,
               p.n_perms);
  DEEPER_CHECK(p.n >= 1, "allpairs_mi: N = {} trials (need at least 1)", p.n);
  DEEPER_CHECK(p.math == AllPairsMath::simt_f32 || p.math == AllPairsMath::wmma_bf16,
               "allpairs_mi: unknown math version {}", static_cast<std::uint32_t>(p.math));
  DEEPER_CHECK(p.s_n > 0 && std::isfinite(p.s_n), "allpairs_mi: S_N = {} must be positive and finite", p.s_n);
  DEEPER_CHECK((p.features + 63) / 64 <= 65535, "allpairs_mi: {} features is more than 65535 tiles of 64",
               p.features);
  DEEPER_CHECK(p.n_perms <= 0 || p.n <= 0x7FFFFFFF,
               "allpairs_mi: N = {} does not fit int32 permutation indices", p.n);
  if (p.units == 0 || p.features == 0) return;
  if (p.math == AllPairsMath::simt_f32) {
    DEEPER_CHECK(p.zx != nullptr && p.zy != nullptr, "allpairs_mi: simt_f32 needs float inputs zx and zy");
  } else {
    DEEPER_CHECK(p.zx_bf16 != nullptr && p.zy_bf16 != nullptr,
                 "allpairs_mi: wmma_bf16 needs bf16 inputs zx_bf16 and zy_bf16");
  }
  DEEPER_CHECK(p.mi != nullptr, "allpairs_mi: null MI output");
  if (p.n_perms > 0) {
    DEEPER_CHECK(p.perms != nullptr && p.r2 != nullptr && p.exceed != nullptr && p.max_r2_pf != nullptr,
                 "allpairs_mi: {} permutations need perms, r2, exceed and max_r2_pf", p.n_perms);
  }
}

double table_sum_of_squares(const float* table, std::int64_t n, bool bf16_rounded) {
  DEEPER_CHECK(n >= 0 && (table != nullptr || n == 0), "table_sum_of_squares: null table or negative length");
  double s = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double t =
        bf16_rounded ? static_cast<double>(__bfloat162float(__float2bfloat16_rn(table[i]))) : table[i];
    s += t * t;
  }
  return s;
}

namespace cpu_impl {

namespace {

// Row i of an operand as float (bf16 widened exactly).
void load_row(const AllPairsParams& p, bool x_side, std::int64_t row, float* out) {
  if (p.math == AllPairsMath::simt_f32) {
    std::memcpy(out, (x_side ? p.zx : p.zy) + row * p.n, static_cast<std::size_t>(p.n) * sizeof(float));
  } else {
    const __nv_bfloat16* in = (x_side ? p.zx_bf16 : p.zy_bf16) + row * p.n;
    for (std::int64_t k = 0; k < p.n; ++k) out[k] = __bfloat162float(in[k]);
  }
}

// dots[f] = Σ_k x[k] · y[f][k] for every f; four features per sweep over the trials.
void dot_row(const float* x, const std::vector<float>& y, std::int64_t features, std::int64_t n,
             float* dots) {
  std::int64_t f = 0;
  for (; f + 4 <= features; f += 4) {
    const float *y0 = &y[static_cast<std::size_t>(f * n)], *y1 = y0 + n, *y2 = y1 + n, *y3 = y2 + n;
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
    for (std::int64_t k = 0; k < n; ++k) {
      s0 += x[k] * y0[k];
      s1 += x[k] * y1[k];
      s2 += x[k] * y2[k];
      s3 += x[k] * y3[k];
    }
    dots[f] = s0;
    dots[f + 1] = s1;
    dots[f + 2] = s2;
    dots[f + 3] = s3;
  }
  for (; f < features; ++f) {
    const float* yf = &y[static_cast<std::size_t>(f * n)];
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (std::int64_t k = 0; k < n; ++k) s += x[k] * yf[k];
    dots[f] = s;
  }
}

}  // namespace

void allpairs_mi(const AllPairsParams& p) {
  check_allpairs_params(p);
  if (p.units == 0 || p.features == 0) return;
  const std::int64_t U = p.units, F = p.features, N = p.n, P = p.n_perms;
  const float inv_s_n = static_cast<float>(1.0 / p.s_n), bias = static_cast<float>(p.bias);
  std::vector<float> zy(static_cast<std::size_t>(F * N)), zy_perm(static_cast<std::size_t>(F * N));
  for (std::int64_t f = 0; f < F; ++f) load_row(p, false, f, &zy[static_cast<std::size_t>(f * N)]);
  if (P > 0) {
    std::fill(p.exceed, p.exceed + U * F, 0u);
    std::fill(p.max_r2_pf, p.max_r2_pf + P * F, 0.0f);
    if (p.max_r2_p) std::fill(p.max_r2_p, p.max_r2_p + P, 0.0f);
  }
  // perm = -1: the observed pass.
  for (std::int64_t perm = -1; perm < P; ++perm) {
    const std::vector<float>* y = &zy;
    if (perm >= 0) {
      const std::int32_t* pi = p.perms + perm * N;
      for (std::int64_t f = 0; f < F; ++f) {
        for (std::int64_t k = 0; k < N; ++k)
          zy_perm[static_cast<std::size_t>(f * N + k)] = zy[static_cast<std::size_t>(f * N + pi[k])];
      }
      y = &zy_perm;
    }
#pragma omp parallel
    {
      std::vector<float> x(static_cast<std::size_t>(N)), dots(static_cast<std::size_t>(F));
      std::vector<float> feature_max(static_cast<std::size_t>(F), 0.0f);
#pragma omp for schedule(static)
      for (std::int64_t u = 0; u < U; ++u) {
        load_row(p, true, u, x.data());
        dot_row(x.data(), *y, F, N, dots.data());
        for (std::int64_t f = 0; f < F; ++f) {
          const float scale = perm < 0 ? (p.scale_obs ? p.scale_obs[f] : 1.0f)
                                       : (p.scale_perm ? p.scale_perm[perm * F + f] : 1.0f);
          const float dot = dots[static_cast<std::size_t>(f)];
          const float r2 = allpairs_r2_scaled(dot, inv_s_n, scale);
          const std::int64_t pair = u * F + f;
          if (perm < 0) {
            p.mi[pair] = allpairs_mi_bits(r2, bias);
            if (p.r2) p.r2[pair] = r2;
            if (p.r) p.r[pair] = dot * inv_s_n;
          } else {
            p.exceed[pair] += r2 >= p.r2[pair] ? 1u : 0u;
            feature_max[static_cast<std::size_t>(f)] = std::max(feature_max[static_cast<std::size_t>(f)], r2);
          }
        }
      }
      if (perm >= 0) {
#pragma omp critical(deeper_allpairs_max)
        for (std::int64_t f = 0; f < F; ++f) {
          float& m = p.max_r2_pf[perm * F + f];
          m = std::max(m, feature_max[static_cast<std::size_t>(f)]);
          if (p.max_r2_p) p.max_r2_p[perm] = std::max(p.max_r2_p[perm], m);
        }
      }
    }
  }
}

}  // namespace cpu_impl

void allpairs_mi(const Device& device, const AllPairsParams& p, void* stream) {
  check_allpairs_params(p);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::allpairs_mi(p);
    case Backend::emu:
      return emu_impl::allpairs_mi(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::allpairs_mi(p, stream));
  }
}

}  // namespace deeper::kernels
