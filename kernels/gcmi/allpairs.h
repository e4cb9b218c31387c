// allpairs_mi: univariate Gaussian-copula MI of every (unit, feature) pair as one GEMM plus an
// elementwise epilogue, with permutation statistics fused into the epilogue
// (shared/reference/gcmi.md §9, §10.1, §10.2, §11).
//
// Inputs: Zx, U rows of N copula-normalised values (row-major, U × N); Zy, F × N. With the
// rank table's sum of squares S_N (computed by the caller in double from the values the GEMM reads:
// the float table for simt_f32, the bf16-rounded table for wmma_bf16) and the bias c(N) in bits:
//   r[u][f]  = (Zx · Zyᵀ)[u][f] / S_N                 (fp32 accumulation; times 1/S_N in fp32)
//   r2[u][f] = min(r², 1 − 2⁻²⁴)                     (so identical rows give a finite MI)
//   mi[u][f] = −log1p(−r2) / (2 ln 2) − c(N)          bits
//
// Permutations (P ≥ 1): perms is P × N int32, row p = π_p (kernels/gcmi/permutations.h), every
// row a permutation of 0..N−1 (not checked on the device). For each p, with (Zy∘π_p)[f][k] =
// Zy[f][π_p(k)] gathered while loading the GEMM tiles (the null is never stored):
//   r2_p[u][f]       as above from Zx · (Zy∘π_p)ᵀ
//   exceed[u][f]     = #{p : r2_p[u][f] ≥ r2[u][f]}      (T = r², monotone in MI at fixed N, §9)
//   max_r2_pf[p][f]  = max over u of r2_p[u][f]
//   max_r2_p[p]      = max over (u, f) of r2_p[u][f]     (optional)
//
// Optional extras (all off by default; the results above are then unchanged bit for bit):
//   r[u][f]          = the signed observed correlation (Zx · Zyᵀ)[u][f] / S_N (before any scale)
//   scale_obs[f]     multiplies r² of feature f in the observed pass before the clamp
//   scale_perm[p][f] multiplies r² of feature f in permutation p before the clamp
// so r2 = min(r² · scale, 1 − 2⁻²⁴) everywhere. The conditional engine (infotheory/
// allpairs_cond_device.cpp) uses them for ccc: with x residualised against z, r² / (1 − r_yz²) is
// the squared partial correlation, and r_yz changes with the permutation of y.
// The host turns these into p = (1 + exceed) / (1 + P), and maxima into MI by the formula above.
//
// Versions (AllPairsMath): simt_f32, fp32 inputs, a shared-memory tiled SIMT GEMM (64 × 64 tiles,
// 4 × 4 outputs per thread), the reference kernel; wmma_bf16, bf16 inputs on tensor cores
// (nvcuda::wmma m16n16k16, fp32 accumulation). Both handle any U, F, N (partial tiles are
// zero-padded). bf16 tolerance: each input carries a relative rounding error ≤ 2⁻⁹, so
// |r_bf16 − r_f32| ≲ 2⁻⁸·√(2/N) typically (1.7e-4 at N = 1000) and ≤ 2⁻⁷ at worst (gcmi.md §11).
//
// Work: 2·U·F·N·(P + 1) FLOP. Bytes (ideal, each operand read once): (U + F)·N·s + P·N·4 (perms) +
// U·F·(4 mi + 4 r2 + 4 exceed) + P·F·4, s = 4 (fp32) or 2 (bf16). This version re-reads a Zx tile
// once per (permutation, feature tile), from L2 when the grid order keeps it there.
#pragma once

#include "kernels/common/hd.h"
#include "kernels/runtime/device.h"

#include <cuda_bf16.h>

#include <cmath>
#include <cstdint>

namespace deeper::kernels {

enum class AllPairsMath : std::uint32_t { simt_f32, wmma_bf16 };

struct AllPairsParams {
  AllPairsMath math = AllPairsMath::simt_f32;
  const float* zx = nullptr;               // simt_f32: U × N
  const float* zy = nullptr;               // simt_f32: F × N
  const __nv_bfloat16* zx_bf16 = nullptr;  // wmma_bf16: U × N
  const __nv_bfloat16* zy_bf16 = nullptr;  // wmma_bf16: F × N
  std::int64_t units = 0;                  // U
  std::int64_t features = 0;               // F
  std::int64_t n = 0;                      // N trials
  double s_n = 0;                          // Σ t_k² of the values the GEMM reads (> 0)
  double bias = 0;                         // c(N), bits subtracted from every MI
  float* mi = nullptr;                     // U × F
  float* r2 = nullptr;                     // U × F clamped observed r²; required when n_perms > 0
  // Permutation statistics (n_perms = 0: none).
  const std::int32_t* perms = nullptr;  // n_perms × N
  std::int64_t n_perms = 0;             // P
  std::uint32_t* exceed = nullptr;      // U × F, required when n_perms > 0
  float* max_r2_pf = nullptr;           // P × F, required when n_perms > 0
  float* max_r2_p = nullptr;            // P, optional
  int perms_per_block = 0;              // permutations one block loops over (0: 16); a tuning knob
  // Optional extras (nullptr: off).
  float* r = nullptr;                   // U × F signed observed r (observed pass)
  const float* scale_obs = nullptr;     // F: factor on r² in the observed pass
  const float* scale_perm = nullptr;    // n_perms × F: factor on r² in permutation p
};

// Clamp of r² (gcmi.md §11): 1 − 2⁻²⁴, the largest float below 1.
inline constexpr float kAllPairsMaxR2 = 0x1.fffffep-1f;

// The epilogue shared by every backend: r² from an accumulated dot product, and MI in bits.
DEEPER_HD_INLINE float allpairs_r2(float dot, float inv_s_n) {
  const float r = dot * inv_s_n;
  const float r2 = r * r;
  return r2 < kAllPairsMaxR2 ? r2 : kAllPairsMaxR2;
}
// The same with a factor on r² before the clamp (scale = 1 gives allpairs_r2 exactly).
DEEPER_HD_INLINE float allpairs_r2_scaled(float dot, float inv_s_n, float scale) {
  const float r = dot * inv_s_n;
  const float r2 = r * r * scale;
  return r2 < kAllPairsMaxR2 ? r2 : kAllPairsMaxR2;
}
DEEPER_HD_INLINE float allpairs_mi_bits(float r2, float bias) {
  return -0.72134752f * log1pf(-r2) - bias;  // 1 / (2 ln 2) = 0.7213475204444817
}

// Throws deeper::Error when the parameters are unusable (sizes, null pointers, S_N ≤ 0, more
// than 65535 · 64 features). Every backend calls it first.
void check_allpairs_params(const AllPairsParams& p);

namespace cpu_impl {
// OpenMP over units; fp32 products and fp32 accumulation (bf16 inputs widened to float); for each
// permutation it materialises the F × N permuted Zy (never the null).
void allpairs_mi(const AllPairsParams& p);
}  // namespace cpu_impl
namespace emu_impl {
void allpairs_mi(const AllPairsParams& p, void* stream);
}
namespace cuda_impl {
void allpairs_mi(const AllPairsParams& p, void* stream);
}

// Runs on `device`'s backend (all pointers memory of that device); the outputs need no
// initialisation. `stream` is a Stream::native() handle, nullptr for the default stream.
void allpairs_mi(const Device& device, const AllPairsParams& p, void* stream = nullptr);

// Σ t_k² in double of a table as the GEMM reads it (bf16: each value rounded to bf16 first).
double table_sum_of_squares(const float* table, std::int64_t n, bool bf16_rounded);

}  // namespace deeper::kernels
