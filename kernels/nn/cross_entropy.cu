// Softmax cross-entropy kernels (definitions in kernels/nn/cross_entropy.h). Version 1: one block
// per row (grid-stride over rows), block reductions through warp shuffles and shared memory; a
// one-block fp64 kernel for the mean loss and the correct count.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/nn/cross_entropy.h"
#include "kernels/nn/nn_device.cuh"

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

constexpr unsigned kThreads = 256, kWarps = kThreads / 32;

// (value, index) ordering of argmax: a NaN beats a number; then the larger value; ties and NaN
// pairs go to the smaller index.
__device__ __forceinline__ bool better(float v, std::int64_t i, float best, std::int64_t best_i) {
  const bool v_nan = v != v, best_nan = best != best;
  if (v_nan != best_nan) return v_nan;
  if (!v_nan && v != best) return v > best;
  return i < best_i;
}

// Block-wide argmax of (v, i); every thread gets the result. Uses `sv`, `si` (kWarps entries).
__device__ void block_argmax(float& v, std::int64_t& i, float* sv, std::int64_t* si) {
  for (int offset = 16; offset > 0; offset /= 2) {
    const float ov = __shfl_xor_sync(0xFFFFFFFFu, v, offset);
    const std::int64_t oi = __shfl_xor_sync(0xFFFFFFFFu, i, offset);
    if (better(ov, oi, v, i)) {
      v = ov;
      i = oi;
    }
  }
  if ((threadIdx.x & 31) == 0) {
    sv[threadIdx.x / 32] = v;
    si[threadIdx.x / 32] = i;
  }
  __syncthreads();
  v = sv[0];
  i = si[0];
  for (unsigned w = 1; w < kWarps; ++w) {
    if (better(sv[w], si[w], v, i)) {
      v = sv[w];
      i = si[w];
    }
  }
  __syncthreads();
}

__device__ float block_sum(float v, float* s) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xFFFFFFFFu, v, offset);
  if ((threadIdx.x & 31) == 0) s[threadIdx.x / 32] = v;
  __syncthreads();
  float total = 0.0f;
  for (unsigned w = 0; w < kWarps; ++w) total += s[w];
  __syncthreads();
  return total;
}

template <bool Backward>
__global__ void __launch_bounds__(kThreads) cross_entropy_rows_kernel(CrossEntropyParams p) {
  __shared__ float sv[kWarps];
  __shared__ std::int64_t si[kWarps];
  const std::int64_t K = p.classes;
  for (std::int64_t row = blockIdx.x; row < p.rows; row += gridDim.x) {
    const float* l = p.logits + row * K;
    float best = 0.0f;
    std::int64_t best_i = K;  // "none" (loses every comparison but against K)
    for (std::int64_t k = threadIdx.x; k < K; k += kThreads) {
      if (best_i == K || better(l[k], k, best, best_i)) {
        best = l[k];
        best_i = k;
      }
    }
    if (best_i == K) best = __int_as_float(static_cast<int>(0xFF800000u));  // -inf: threads without a column
    block_argmax(best, best_i, sv, si);
    float part = 0.0f;
    for (std::int64_t k = threadIdx.x; k < K; k += kThreads) part += expf(l[k] - best);
    const float sum = block_sum(part, sv);
    const std::int32_t label = p.labels[row];
    const bool valid = label >= 0 && label < K;
    if (Backward) {
      const float scale = p.grad_scale / static_cast<float>(p.rows);
      const float nan = __int_as_float(0x7FC00000);
      for (std::int64_t k = threadIdx.x; k < K; k += kThreads) {
        const float soft = expf(l[k] - best) / sum;
        p.dlogits[row * K + k] = valid ? (soft - (k == label ? 1.0f : 0.0f)) * scale : nan;
      }
      __syncthreads();  // dlogits may alias logits: the next row's reads come after every write here
    } else if (threadIdx.x == 0) {
      p.sample_loss[row] = valid ? logf(sum) + best - l[label] : __int_as_float(0x7FC00000);
      if (p.predicted != nullptr) p.predicted[row] = static_cast<std::int32_t>(best_i);
      if (p.correct != nullptr) p.correct[row] = valid && best_i == label ? 1 : 0;
    }
  }
}

// One block: loss = Σ sample_loss / rows (fp64), num_correct = Σ correct.
__global__ void __launch_bounds__(kThreads) cross_entropy_mean_kernel(CrossEntropyParams p) {
  __shared__ double sd[kWarps];
  __shared__ long long sc[kWarps];
  double s = 0.0;
  long long count = 0;
  for (std::int64_t i = threadIdx.x; i < p.rows; i += kThreads) {
    s += p.sample_loss[i];
    if (p.correct != nullptr) count += p.correct[i];
  }
  for (int offset = 16; offset > 0; offset /= 2) {
    s += __shfl_xor_sync(0xFFFFFFFFu, s, offset);
    count += __shfl_xor_sync(0xFFFFFFFFu, count, offset);
  }
  if ((threadIdx.x & 31) == 0) {
    sd[threadIdx.x / 32] = s;
    sc[threadIdx.x / 32] = count;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    double total = 0.0;
    long long correct = 0;
    for (unsigned w = 0; w < kWarps; ++w) {
      total += sd[w];
      correct += sc[w];
    }
    if (p.loss != nullptr) *p.loss = static_cast<float>(total / static_cast<double>(p.rows));
    if (p.num_correct != nullptr) *p.num_correct = static_cast<std::int32_t>(correct);
  }
}

unsigned row_blocks(std::int64_t rows) { return static_cast<unsigned>(rows < 65535 * 16 ? rows : 65535 * 16); }

}  // namespace

void cross_entropy_forward(const CrossEntropyParams& p, void* stream) {
  launch(cross_entropy_rows_kernel<false>, dim3(row_blocks(p.rows)), dim3(kThreads), 0, stream,
         "cross_entropy_forward", p);
  if (p.loss != nullptr || p.num_correct != nullptr) {
    launch(cross_entropy_mean_kernel, dim3(1), dim3(kThreads), 0, stream, "cross_entropy_mean", p);
  }
}

void cross_entropy_backward(const CrossEntropyParams& p, void* stream) {
  launch(cross_entropy_rows_kernel<true>, dim3(row_blocks(p.rows)), dim3(kThreads), 0, stream,
         "cross_entropy_backward", p);
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
