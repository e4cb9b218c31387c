// copnorm_rows kernel (definition, keys and limits in kernels/gcmi/copnorm.h). Built by nvcc
// (cuda_impl) and for the emulator (emu_impl); bit-identical to the cpu reference (copnorm_cpu.cpp)
// because the 64-bit keys of a row are unique, so any correct sort gives the same order.
//
// Layout: one block per row in a grid-stride loop over rows (64-bit offsets). The row's M keys
// (M = next power of two >= N; padding keys are ~0, which sort last) live in dynamic shared memory
// (8M bytes; above 48 KiB the kernel opts in to more). Each block:
//   1. loads the row, builds the keys, and flags a NaN/Inf (__syncthreads_or, block-uniform);
//   2. sorts the keys ascending with a bitonic network: log2 M · (log2 M + 1) / 2 stages of M/2
//      compare-exchanges, a barrier after each stage;
//   3. scatters table[i] to the trial k in the low bits of sorted key i, counting ties (equal high
//      words of neighbours), and writes the row's flag and tie count.
// Threads per block: M/2 clamped to [32, 1024]. Version 1; a block radix sort or warp-level stages
// for the small strides are the obvious next step on a GPU.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/gcmi/copnorm.h"

#if !defined(DEEPER_EMU)
#include "kernels/runtime/cuda_check.h"
#endif

#include <math.h>

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

__global__ void copnorm_rows_kernel(CopnormParams p, std::uint32_t m) {
  DEEPER_DYNAMIC_SHARED(unsigned long long, keys);
  __shared__ unsigned tie_total;
  const std::uint32_t n = static_cast<std::uint32_t>(p.n);
  for (std::int64_t row = blockIdx.x; row < p.rows; row += gridDim.x) {
    const float* in = p.in + row * p.n;
    const std::uint64_t variable = p.variable_offset + static_cast<std::uint64_t>(row);
    int bad = 0;
    for (std::uint32_t i = threadIdx.x; i < m; i += blockDim.x) {
      unsigned long long key = ~0ull;
      if (i < n) {
        const float x = in[i];
        bad |= !isfinite(x);
        const std::uint32_t w =
            p.policy == CopnormTies::jitter ? copnorm_jitter_word(p.seed, variable, i) : 0u;
        key = (static_cast<unsigned long long>(copnorm_value_word(x)) << 32) |
              copnorm_tie_word(p.policy, w, i, m);
      }
      keys[i] = key;
    }
    if (threadIdx.x == 0) tie_total = 0;
    if (__syncthreads_or(bad)) {
      for (std::uint32_t i = threadIdx.x; i < n; i += blockDim.x) {
        if (p.out) p.out[row * p.n + i] = NAN;
        if (p.out_bf16) p.out_bf16[row * p.n + i] = __float2bfloat16_rn(NAN);
      }
      if (threadIdx.x == 0) {
        p.bad[row] = 1;
        p.ties[row] = 0;
      }
      __syncthreads();
      continue;
    }
    // Bitonic sort, ascending: stage (k, j) compares element lo with lo + j, in the direction of
    // the k-sized bitonic sequence lo belongs to.
    for (std::uint32_t k = 2; k <= m; k <<= 1) {
      for (std::uint32_t j = k >> 1; j > 0; j >>= 1) {
        for (std::uint32_t t = threadIdx.x; t < m / 2; t += blockDim.x) {
          const std::uint32_t lo = 2 * j * (t / j) + (t % j);
          const std::uint32_t hi = lo + j;
          const unsigned long long a = keys[lo], b = keys[hi];
          const bool ascending = (lo & k) == 0;
          if ((a > b) == ascending) {
            keys[lo] = b;
            keys[hi] = a;
          }
        }
        __syncthreads();
      }
    }
    unsigned ties = 0;
    for (std::uint32_t i = threadIdx.x; i < n; i += blockDim.x) {
      const unsigned long long key = keys[i];
      const std::int64_t trial = static_cast<std::int64_t>(static_cast<std::uint32_t>(key) & (m - 1));
      const float t = p.table[i];
      if (p.out) p.out[row * p.n + trial] = t;
      if (p.out_bf16) p.out_bf16[row * p.n + trial] = __float2bfloat16_rn(t);
      if (i > 0 && (key >> 32) == (keys[i - 1] >> 32)) ++ties;
    }
    if (ties) atomicAdd(&tie_total, ties);
    __syncthreads();
    if (threadIdx.x == 0) {
      p.bad[row] = 0;
      p.ties[row] = tie_total;
    }
    __syncthreads();  // keys and tie_total are reused by the next row
  }
}

}  // namespace

void copnorm_rows(const CopnormParams& p, void* stream) {
  check_copnorm_params(p);
  if (p.rows == 0) return;
  const std::uint32_t m = copnorm_pow2(p.n);
  const unsigned threads = m / 2 < 32 ? 32u : (m / 2 > 1024 ? 1024u : m / 2);
  const std::size_t shared = std::size_t{m} * sizeof(unsigned long long);
  const unsigned blocks = static_cast<unsigned>(p.rows < 132 * 32 ? p.rows : 132 * 32);
#if !defined(DEEPER_EMU)
  if (shared > 48 * 1024) {
    DEEPER_CUDA_CHECK(cudaFuncSetAttribute(copnorm_rows_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(shared)));
  }
#endif
  launch(copnorm_rows_kernel, dim3(blocks), dim3(threads), shared, stream, "copnorm_rows", p, m);
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
