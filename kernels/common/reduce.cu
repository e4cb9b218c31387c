// Float sum reduction kernels: see reduce.h.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/common/reduce.h"

namespace deeper::kernels::DEEPER_KERNEL_NS {

// Sums v over the 32 lanes of a full warp; every lane gets the total.
template <typename T>
__device__ T warp_sum(T v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xFFFFFFFFu, v, offset);
  return v;
}

// Pass 1: block b sums in[i] for i = b*256 + t + k*gridDim*256, four independent accumulators per
// thread to keep several loads in flight. Assumes blockDim.x == kReduceThreads (a multiple of 32).
__global__ void __launch_bounds__(kReduceThreads) reduce_sum_partials_kernel(ReduceSumParams p) {
  __shared__ float warp_totals[kReduceThreads / 32];
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * kReduceThreads;
  std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * kReduceThreads + threadIdx.x;
  float acc0 = 0.0f, acc1 = 0.0f, acc2 = 0.0f, acc3 = 0.0f;
  for (; i + 3 * stride < p.n; i += 4 * stride) {
    acc0 += p.in[i];
    acc1 += p.in[i + stride];
    acc2 += p.in[i + 2 * stride];
    acc3 += p.in[i + 3 * stride];
  }
  for (; i < p.n; i += stride) acc0 += p.in[i];
  const float total = warp_sum((acc0 + acc1) + (acc2 + acc3));
  if ((threadIdx.x & 31) == 0) warp_totals[threadIdx.x / 32] = total;
  __syncthreads();
  if (threadIdx.x < 32) {
    float v = threadIdx.x < kReduceThreads / 32 ? warp_totals[threadIdx.x] : 0.0f;
    v = warp_sum(v);
    if (threadIdx.x == 0) p.partials[blockIdx.x] = v;
  }
}

// Pass 2: one block sums `count` partials in fp64.
__global__ void __launch_bounds__(kReduceThreads) reduce_sum_final_kernel(ReduceSumParams p, unsigned count) {
  __shared__ double warp_totals[kReduceThreads / 32];
  double acc = 0.0;
  for (unsigned i = threadIdx.x; i < count; i += kReduceThreads) acc += p.partials[i];
  acc = warp_sum(acc);
  if ((threadIdx.x & 31) == 0) warp_totals[threadIdx.x / 32] = acc;
  __syncthreads();
  if (threadIdx.x < 32) {
    double v = threadIdx.x < kReduceThreads / 32 ? warp_totals[threadIdx.x] : 0.0;
    v = warp_sum(v);
    if (threadIdx.x == 0) *p.out = static_cast<float>(v);
  }
}

void reduce_sum(const ReduceSumParams& p, void* stream) {
  const unsigned blocks = reduce_sum_blocks(p.n);
  launch(reduce_sum_partials_kernel, dim3(blocks), dim3(kReduceThreads), 0, stream, "reduce_sum_partials", p);
  launch(reduce_sum_final_kernel, dim3(1), dim3(kReduceThreads), 0, stream, "reduce_sum_final", p, blocks);
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
