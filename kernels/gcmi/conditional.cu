// residualise_rows, coinfo_null and cd_model kernels (definitions in kernels/gcmi/conditional.h).
// Built by nvcc (cuda_impl) and for the emulator (emu_impl); checked against the cpu reference in
// conditional_cpu.cpp and, through the engines, against the fp64 CPU engines.
//
//   residualise_rows  one block (256 threads) per row: strided fp64 partial dot products, a
//                     shared-memory tree reduction (fixed order, so deterministic), then the
//                     residualised row.
//   coinfo_null       block = 256 units of one feature (grid.y = F); each thread owns one (u, f)
//                     and loops over q; per permutation a warp shuffle max and a shared max over
//                     the 8 warps, then one atomicMax per block on the order-preserving key.
//   cd_model          observed pass: thread = unit; permuted pass: block = kCdUnitsPerBlock units ×
//                     64 permutations (grid.y chunks), thread = permutation, looping over the units;
//                     exceedances per unit by __syncthreads_count, maxima in a register until one
//                     atomicMax per thread. Class sums in dynamic shared memory, [class][thread].
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/gcmi/conditional.h"

#include <cstdint>

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

constexpr int kResidualThreads = 256;
constexpr int kCoinfoThreads = 256;
constexpr int kCdThreads = 64;

__global__ void __launch_bounds__(kResidualThreads) residualise_kernel(ResidualiseParams p) {
  __shared__ double partial[kResidualThreads];
  const std::int64_t row = blockIdx.x;
  const int tid = static_cast<int>(threadIdx.x);
  const float* x = p.zx + row * p.n;
  double s = 0.0;
  for (std::int64_t k = tid; k < p.n; k += kResidualThreads) s += static_cast<double>(x[k]) * p.z[k];
  partial[tid] = s;
  __syncthreads();
  for (int half = kResidualThreads / 2; half > 0; half /= 2) {
    if (tid < half) partial[tid] += partial[tid + half];
    __syncthreads();
  }
  const double a = partial[0] / p.s_n;
  const double rest = 1.0 - a * a;
  const double inv = rest > 1e-12 ? 1.0 / sqrt(rest) : __longlong_as_double(0x7FF8000000000000LL);  // NaN row
  if (tid == 0) p.a[row] = rest > 1e-12 ? static_cast<float>(a) : static_cast<float>(inv);  // NaN: a copy of z
  for (std::int64_t k = tid; k < p.n; k += kResidualThreads) {
    const double v = (static_cast<double>(x[k]) - a * p.z[k]) * inv;
    if (p.out) p.out[row * p.n + k] = static_cast<float>(v);
    if (p.out_bf16) p.out_bf16[row * p.n + k] = __float2bfloat16_rn(static_cast<float>(v));
  }
}

__global__ void __launch_bounds__(kCoinfoThreads) coinfo_kernel(CoinfoNullParams p) {
  __shared__ unsigned warp_max[kCoinfoThreads / 32];
  const std::int64_t u = static_cast<std::int64_t>(blockIdx.x) * kCoinfoThreads + threadIdx.x;
  const std::int64_t f = blockIdx.y;
  const std::int64_t q_count = p.n_perms + 1;
  const bool active = u < p.units;
  const float bias_mi = static_cast<float>(p.bias_mi), bias_cmi = static_cast<float>(p.bias_cmi);
  const float rxy = active ? p.rxy[u * p.features + f] : 0.0f;
  float observed = 0.0f;
  if (active) {
    observed = coinfo_value(rxy, p.rxz[u * q_count], p.ryz[f], bias_mi, bias_cmi);
    p.coi[u * p.features + f] = observed;
  }
  unsigned count = 0;
  const int lane = static_cast<int>(threadIdx.x) % 32, warp = static_cast<int>(threadIdx.x) / 32;
  for (std::int64_t q = 1; q < q_count; ++q) {
    unsigned key = 0;
    if (active) {
      const float v = coinfo_value(rxy, p.rxz[u * q_count + q], p.ryz[q * p.features + f], bias_mi, bias_cmi);
      count += v >= observed ? 1u : 0u;
      key = cond_key(v);
    }
    for (int offset = 16; offset > 0; offset /= 2) {
      const unsigned o = __shfl_xor_sync(0xFFFFFFFFu, key, offset);
      key = o > key ? o : key;
    }
    if (lane == 0) warp_max[warp] = key;
    __syncthreads();
    if (threadIdx.x == 0) {
      unsigned m = warp_max[0];
      for (int w = 1; w < kCoinfoThreads / 32; ++w) m = warp_max[w] > m ? warp_max[w] : m;
      if (m) {
        atomicMax(&p.max_pf_key[(q - 1) * p.features + f], m);
        if (p.max_p_key) atomicMax(&p.max_p_key[q - 1], m);
      }
    }
    __syncthreads();  // warp_max is rewritten by the next permutation
  }
  if (active && p.n_perms > 0) p.exceed[u * p.features + f] = count;
}

__device__ __forceinline__ float cd_value(const CdModelParams& p, std::int64_t u, std::int64_t t) {
  return p.z ? p.z[u * p.n + t] : __bfloat162float(p.z_bf16[u * p.n + t]);
}

// MI (bits) of one unit and labelling from the thread's class sums acc[k * stride], acc[(K + k) * stride].
__device__ float cd_mi(const CdModelParams& p, const float* acc, int stride) {
  double h = 0.0;
  const double n = static_cast<double>(p.n);
  for (int k = 0; k < p.classes; ++k) {
    const double nk = static_cast<double>(p.counts[k]);
    const double s1 = acc[k * stride], s2 = acc[(p.classes + k) * stride];
    const double v = (s2 - s1 * s1 / nk) / (nk - 1.0);
    if (!(v > 16.0 * 2.220446049250313e-16 * s2 / (nk - 1.0))) return __int_as_float(0x7F800000);  // +inf
    h += nk / n * 0.5 * log(v);
  }
  return static_cast<float>((0.5 * log(p.s_n / (n - 1.0)) - h + p.constant) / 0.69314718055994530942);
}

// Class sums of unit u under labelling q into this thread's columns of acc.
__device__ void cd_sums(const CdModelParams& p, std::int64_t u, std::int64_t q, float* acc, int stride) {
  const std::int64_t q_count = p.n_perms + 1;
  for (int k = 0; k < 2 * p.classes; ++k) acc[k * stride] = 0.0f;
  for (std::int64_t t = 0; t < p.n; ++t) {
    const float v = cd_value(p, u, t);
    const int k = p.labels[t * q_count + q];
    acc[k * stride] += v;
    acc[(p.classes + k) * stride] += v * v;
  }
}

__global__ void __launch_bounds__(kCdThreads) cd_observed_kernel(CdModelParams p) {
  DEEPER_DYNAMIC_SHARED(float, acc_all);
  const std::int64_t u = static_cast<std::int64_t>(blockIdx.x) * kCdThreads + threadIdx.x;
  if (u >= p.units) return;
  float* acc = acc_all + threadIdx.x;
  cd_sums(p, u, 0, acc, kCdThreads);
  p.mi[u] = cd_mi(p, acc, kCdThreads);
}

__global__ void __launch_bounds__(kCdThreads) cd_permuted_kernel(CdModelParams p) {
  DEEPER_DYNAMIC_SHARED(float, acc_all);
  const std::int64_t q = 1 + static_cast<std::int64_t>(blockIdx.y) * kCdThreads + threadIdx.x;
  const bool active = q <= p.n_perms;
  float* acc = acc_all + threadIdx.x;
  const std::int64_t u0 = static_cast<std::int64_t>(blockIdx.x) * kCdUnitsPerBlock;
  const std::int64_t u1 = u0 + kCdUnitsPerBlock < p.units ? u0 + kCdUnitsPerBlock : p.units;
  unsigned best = 0;
  for (std::int64_t u = u0; u < u1; ++u) {
    int ge = 0;
    if (active) {
      cd_sums(p, u, q, acc, kCdThreads);
      const float v = cd_mi(p, acc, kCdThreads);
      ge = v >= p.mi[u] ? 1 : 0;
      const unsigned key = cond_key(v);
      best = key > best ? key : best;
    }
    const int count = __syncthreads_count(ge);
    if (threadIdx.x == 0 && count) atomicAdd(&p.exceed[u], static_cast<unsigned>(count));
  }
  if (active && best) atomicMax(&p.max_key[q - 1], best);
}

// Zeroes n values of a uint32 array.
__global__ void cond_zero_kernel(std::uint32_t* a, std::int64_t n) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) a[i] = 0;
}

void zero(std::uint32_t* a, std::int64_t n, void* stream) {
  if (a == nullptr || n == 0) return;
  launch(cond_zero_kernel, dim3(grid_blocks(n, 256)), dim3(256), 0, stream, "cond_zero", a, n);
}

}  // namespace

void residualise_rows(const ResidualiseParams& p, void* stream) {
  check_residualise_params(p);
  if (p.rows == 0) return;
  launch(residualise_kernel, dim3(static_cast<unsigned>(p.rows)), dim3(kResidualThreads), 0, stream,
         "residualise_rows", p);
}

void coinfo_null(const CoinfoNullParams& p, void* stream) {
  check_coinfo_null_params(p);
  if (p.units == 0 || p.features == 0) return;
  if (p.n_perms > 0) {
    zero(p.max_pf_key, p.n_perms * p.features, stream);
    zero(p.max_p_key, p.n_perms, stream);
  }
  const dim3 grid(static_cast<unsigned>((p.units + kCoinfoThreads - 1) / kCoinfoThreads), static_cast<unsigned>(p.features));
  launch(coinfo_kernel, grid, dim3(kCoinfoThreads), 0, stream, "coinfo_null", p);
}

void cd_model(const CdModelParams& p, CdPass pass, void* stream) {
  check_cd_model_params(p, pass);
  if (p.units == 0) return;
  const std::size_t shared = static_cast<std::size_t>(2 * p.classes * kCdThreads) * sizeof(float);
  if (pass == CdPass::observed) {
    launch(cd_observed_kernel, dim3(static_cast<unsigned>((p.units + kCdThreads - 1) / kCdThreads)), dim3(kCdThreads),
           shared, stream, "cd_model_observed", p);
    return;
  }
  if (p.n_perms == 0) return;
  zero(p.exceed, p.units, stream);
  zero(p.max_key, p.n_perms, stream);
  const dim3 grid(static_cast<unsigned>((p.units + kCdUnitsPerBlock - 1) / kCdUnitsPerBlock),
                  static_cast<unsigned>((p.n_perms + kCdThreads - 1) / kCdThreads));
  launch(cd_permuted_kernel, grid, dim3(kCdThreads), shared, stream, "cd_model_permuted", p);
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
