// Kernels of the device paths of the conditional and continuous-discrete GCMI engines
// (infotheory/allpairs_cond_device.h; math in shared/reference/gcmi.md §5, §7, §8, §9, §10.2).
// The GEMM-shaped work (r_xy, r_xy∘π_p, r_xz∘π_p) runs in allpairs_mi (allpairs.h); these kernels
// are the parts around it.
//
// residualise_rows (ccc): for U copula-normalised rows zx (U × N, each a permutation of the rank
// table, |zx|² = S_N) and the copula-normalised z (N):
//   a[u]        = Σ_k zx[u][k] z[k] / S_N                     (= r_xz; fp64 accumulation)
//   out[u][k]   = (zx[u][k] − a z[k]) / sqrt(1 − a²)           (fp64 arithmetic, stored float/bf16)
// so |out[u]|² = S_N and out[u] · v / S_N = (r_xv − a r_zv) / sqrt(1 − a²) for any row v with
// |v|² = S_N. Rows with 1 − a² ≤ 1e-12 (x a copy of z) get a[u] = NaN and a NaN row: the host
// reads a back and reports them. Cost per row: reads 8N bytes, writes 4N (or 2N) bytes, 5N FLOP.
//
// coinfo_null (co-information with permutations of z): inputs the signed correlations
// r_xy (U × F), r_xz (U × Q, column 0 the observed z, column q ≥ 1 permutation q − 1 of z) and
// r_yz (Q × F), Q = P + 1. For every (u, f, q), in fp32:
//   mi_xy       = −1/2 log2(1 − min(r_xy², m)) − bias_mi
//   rho²_q      = (r_xy − r_xz,q r_yz,q)² / ((1 − r_xz,q²)(1 − r_yz,q²)),  cmi_q likewise with bias_cmi
//   coI_q       = mi_xy − cmi_q      (m = 1 − 2⁻²⁴, the clamp of allpairs.h)
// Outputs: coi[u][f] = coI_0; exceed[u][f] = #{q ≥ 1 : coI_q ≥ coI_0}; max_pf_key[p][f] and
// max_p_key[p] (optional) the maxima over units (and features) of coI_{p+1}, as order-preserving
// uint32 keys (cond_key; coI can be negative). One thread per (u, f), a block = 256 units of one
// feature; per q a warp + shared-memory max and one atomicMax per block. Reads 4(F + Q + Q·F/U)
// bytes per pair and q; ~20 FLOP per (u, f, q).
//
// cd_model (model continuous-discrete MI with permutations of the labels): z (U × N copula data,
// float or bf16), labels (N × Q int32, column 0 the observed labels, column q ≥ 1 the labels
// under permutation q − 1, every value in 0..K−1), class counts N_k (K int32, each ≥ 2), S_N, and
// the bias constant c (nats, −B(1, N) + Σ_k w_k B(1, N_k), or 0). Per (u, q), class sums
// s1_k = Σ z, s2_k = Σ z² over the trials with label k (fp32 accumulation, in trial order), then
// in fp64 v_k = (s2_k − s1_k²/N_k)/(N_k − 1) and
//   mi = [1/2 ln(S_N / (N − 1)) − Σ_k (N_k/N) 1/2 ln v_k + c] / ln 2     (+inf if some v_k ≈ 0)
// Observed pass: mi[u] (float). Permuted pass: exceed[u] = #{q ≥ 1 : mi_q ≥ mi[u]} (float
// comparison) and max_key[p] = cond_key(max over u of mi_{p+1}). Threads own permutations (the
// labels array is transposed so that a warp's label reads coalesce; z[u][t] is a broadcast); each
// thread's 2K accumulators live in dynamic shared memory (K ≤ kCdMaxClasses). Work: 3·U·N·Q FLOP,
// reads 4·N·Q bytes of labels per block of kCdUnitsPerBlock units.
#pragma once

#include "kernels/common/hd.h"
#include "kernels/common/random.h"
#include "kernels/runtime/device.h"

#include <cuda_bf16.h>

#include <cstdint>

namespace deeper::kernels {

// Order-preserving uint32 of a float (so that atomicMax on keys is max on floats; NaN excluded),
// and back. cond_key(-inf) > 0, so 0 is below every key (the initial value of a maximum).
DEEPER_HD_INLINE std::uint32_t cond_key(float v) {
  const std::uint32_t b = rng::exact::bits(v);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
DEEPER_HD_INLINE float cond_key_value(std::uint32_t key) {
  return rng::exact::from_bits((key & 0x80000000u) ? (key & 0x7FFFFFFFu) : ~key);
}

struct ResidualiseParams {
  const float* zx = nullptr;          // U × N
  const float* z = nullptr;           // N
  std::int64_t rows = 0;              // U
  std::int64_t n = 0;                 // N
  double s_n = 0;                     // Σ t_k² of the float rank table (> 0)
  float* out = nullptr;               // U × N, or nullptr
  __nv_bfloat16* out_bf16 = nullptr;  // U × N, or nullptr (both null: only a is computed)
  float* a = nullptr;                 // U: r_xz (required)
};

struct CoinfoNullParams {
  const float* rxy = nullptr;  // U × F
  const float* rxz = nullptr;  // U × Q
  const float* ryz = nullptr;  // Q × F
  std::int64_t units = 0, features = 0, n_perms = 0;  // U, F, P (Q = P + 1)
  double bias_mi = 0, bias_cmi = 0;                   // bits
  float* coi = nullptr;                 // U × F
  std::uint32_t* exceed = nullptr;      // U × F (required when P > 0)
  std::uint32_t* max_pf_key = nullptr;  // P × F (required when P > 0)
  std::uint32_t* max_p_key = nullptr;   // P, optional
};

inline constexpr int kCdMaxClasses = 64;
inline constexpr int kCdUnitsPerBlock = 32;

enum class CdPass : int { observed = 0, permuted = 1 };

struct CdModelParams {
  const float* z = nullptr;             // U × N (fp32), or
  const __nv_bfloat16* z_bf16 = nullptr;  // U × N (bf16)
  const std::int32_t* labels = nullptr;   // N × Q, Q = n_perms + 1
  const std::int32_t* counts = nullptr;   // K
  std::int64_t units = 0, n = 0, n_perms = 0;
  int classes = 0;       // K
  double s_n = 0;        // Σ z² of every row (> 0)
  double constant = 0;   // nats
  float* mi = nullptr;   // U: written by the observed pass, read by the permuted pass
  std::uint32_t* exceed = nullptr;   // U (permuted pass)
  std::uint32_t* max_key = nullptr;  // P (permuted pass)
};

// Throw deeper::Error naming the kernel and the problem (sizes, null pointers, K out of range).
void check_residualise_params(const ResidualiseParams& p);
void check_coinfo_null_params(const CoinfoNullParams& p);
void check_cd_model_params(const CdModelParams& p, CdPass pass);

// The fp32 co-information of one (u, f, q), shared by every backend.
DEEPER_HD_INLINE float coinfo_value(float rxy, float rxz, float ryz, float bias_mi, float bias_cmi) {
  constexpr float kMax = 0x1.fffffep-1f;
  float r2 = rxy * rxy;
  r2 = r2 < kMax ? r2 : kMax;
  const float num = rxy - rxz * ryz;
  float rho2 = num * num / ((1.0f - rxz * rxz) * (1.0f - ryz * ryz));
  rho2 = rho2 < kMax ? rho2 : kMax;
  const float mi_xy = -0.72134752f * log1pf(-r2) - bias_mi;
  const float cmi = -0.72134752f * log1pf(-rho2) - bias_cmi;
  return mi_xy - cmi;
}

namespace cpu_impl {
void residualise_rows(const ResidualiseParams& p);
void coinfo_null(const CoinfoNullParams& p);
void cd_model(const CdModelParams& p, CdPass pass);
}  // namespace cpu_impl
namespace emu_impl {
void residualise_rows(const ResidualiseParams& p, void* stream);
void coinfo_null(const CoinfoNullParams& p, void* stream);
void cd_model(const CdModelParams& p, CdPass pass, void* stream);
}  // namespace emu_impl
namespace cuda_impl {
void residualise_rows(const ResidualiseParams& p, void* stream);
void coinfo_null(const CoinfoNullParams& p, void* stream);
void cd_model(const CdModelParams& p, CdPass pass, void* stream);
}  // namespace cuda_impl

// Run on `device`'s backend (all pointers memory of that device); outputs need no initialisation.
void residualise_rows(const Device& device, const ResidualiseParams& p, void* stream = nullptr);
void coinfo_null(const Device& device, const CoinfoNullParams& p, void* stream = nullptr);
void cd_model(const Device& device, const CdModelParams& p, CdPass pass, void* stream = nullptr);

}  // namespace deeper::kernels
