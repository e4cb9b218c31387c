// Test kernels for the emulator and the GPU: see emu_test_kernels.h.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/common/wmma.cuh"
#include "tests/emu/emu_test_kernels.h"

namespace deeper::testk::DEEPER_KERNEL_NS {

constexpr int kBlockSumThreads = 256;

// Shared-memory tree reduction of one block's 256 inputs. Assumes blockDim.x == 256.
template <bool WithSync>
__global__ void block_sum_kernel(const float* in, float* block_sums, int n) {
  __shared__ float partial[kBlockSumThreads];
  const int t = threadIdx.x;
  const int i = blockIdx.x * kBlockSumThreads + t;
  partial[t] = i < n ? in[i] : 0.0f;
  if constexpr (WithSync) __syncthreads();
  for (int stride = kBlockSumThreads / 2; stride > 0; stride /= 2) {
    if (t < stride) partial[t] += partial[t + stride];
    __syncthreads();
  }
  if (t == 0) block_sums[blockIdx.x] = partial[0];
}

void block_sum(const float* in, float* block_sums, int n, bool with_sync, void* stream) {
  const unsigned blocks = static_cast<unsigned>((n + kBlockSumThreads - 1) / kBlockSumThreads);
  if (with_sync) {
    launch(block_sum_kernel<true>, dim3(blocks), dim3(kBlockSumThreads), 0, stream, "block_sum", in, block_sums, n);
  } else {
    launch(block_sum_kernel<false>, dim3(blocks), dim3(kBlockSumThreads), 0, stream, "block_sum_missing_sync", in,
           block_sums, n);
  }
}

// Warp reduction with __shfl_down_sync; lane 0 of each warp writes the warp's sum.
__global__ void warp_sum_kernel(const float* in, float* warp_sums, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  float v = i < n ? in[i] : 0.0f;
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xFFFFFFFFu, v, offset);
  if ((threadIdx.x & 31) == 0 && i < n) warp_sums[i / 32] = v;
}

void warp_sum(const float* in, float* warp_sums, int n, void* stream) {
  launch(warp_sum_kernel, dim3(static_cast<unsigned>((n + 127) / 128)), dim3(128), 0, stream, "warp_sum", in, warp_sums,
         n);
}

// atomicMin on (depth, id) keys: non-negative floats order like their bit patterns, so the high word
// carries the depth and the low word the index, and the minimum key names the nearest element.
__global__ void packed_depth_min_kernel(const float* depth, unsigned long long* best, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const unsigned long long key =
        (static_cast<unsigned long long>(__float_as_uint(depth[i])) << 32) | static_cast<unsigned>(i);
    atomicMin(best, key);
  }
}

void packed_depth_min(const float* depth, unsigned long long* best, int n, void* stream) {
  launch(packed_depth_min_kernel, dim3(4), dim3(96), 0, stream, "packed_depth_min", depth, best, n);
}

// One block of 64 threads (two warps). Results, each 64 ints, in this order:
//  0 __shfl_sync broadcast of lane 5        1 __shfl_up_sync by 3            2 __shfl_xor_sync by 1
//  3 __shfl_down_sync by 2 with width 8     4 __ballot_sync(in > 0)          5 __any_sync(in > 100)
//  6 __all_sync(in >= 0)                    7 __match_any_sync(in % 4)       8 __reduce_add_sync(in)
//  9 __shfl_sync on lanes 0-15 only (mask 0x0000FFFF; other lanes write -1)
// 10 __activemask() after lanes 24-31 exited (written by lanes < 24 only; others keep -2)
__global__ void warp_intrinsics_kernel(const int* in, int* out) {
  const int t = threadIdx.x;
  const int lane = t & 31;
  const int v = in[t];
  out[0 * 64 + t] = __shfl_sync(0xFFFFFFFFu, v, 5);
  out[1 * 64 + t] = __shfl_up_sync(0xFFFFFFFFu, v, 3);
  out[2 * 64 + t] = __shfl_xor_sync(0xFFFFFFFFu, v, 1);
  out[3 * 64 + t] = __shfl_down_sync(0xFFFFFFFFu, v, 2, 8);
  out[4 * 64 + t] = static_cast<int>(__ballot_sync(0xFFFFFFFFu, v > 0));
  out[5 * 64 + t] = __any_sync(0xFFFFFFFFu, v > 100);
  out[6 * 64 + t] = __all_sync(0xFFFFFFFFu, v >= 0);
  out[7 * 64 + t] = static_cast<int>(__match_any_sync(0xFFFFFFFFu, v % 4));
  out[8 * 64 + t] = static_cast<int>(__reduce_add_sync(0xFFFFFFFFu, static_cast<unsigned>(v)));
  if (lane < 16) {
    out[9 * 64 + t] = __shfl_sync(0x0000FFFFu, v, 15 - lane);
  } else {
    out[9 * 64 + t] = -1;
  }
  __syncwarp();
  out[10 * 64 + t] = -2;
  if (lane >= 24) return;
  out[10 * 64 + t] = static_cast<int>(__activemask());
}

void warp_intrinsics(const int* in, int* out, void* stream) {
  launch(warp_intrinsics_kernel, dim3(1), dim3(64), 0, stream, "warp_intrinsics", in, out);
}

// One warp computes a 16x16x16 tile product on tensor cores: C = A B + C (A row-major, B col-major).
__global__ void wmma_gemm_16_kernel(const __half* a, const __half* b, float* c) {
  using namespace nvcuda;
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> fc;
  wmma::load_matrix_sync(fa, a, 16);
  wmma::load_matrix_sync(fb, b, 16);
  wmma::load_matrix_sync(fc, c, 16, wmma::mem_row_major);
  wmma::mma_sync(fc, fa, fb, fc);
  wmma::store_matrix_sync(c, fc, 16, wmma::mem_row_major);
}

void wmma_gemm_16(const void* a_half, const void* b_half, float* c, void* stream) {
  launch(wmma_gemm_16_kernel, dim3(1), dim3(32), 0, stream, "wmma_gemm_16", static_cast<const __half*>(a_half),
         static_cast<const __half*>(b_half), c);
}

// Each block reverses its slice of up to 128 elements through dynamic shared memory.
__global__ void reverse_blocks_dynamic_kernel(const float* in, float* out, int n) {
  DEEPER_DYNAMIC_SHARED(float, tile);
  const int base = blockIdx.x * blockDim.x;
  const int count = min(static_cast<int>(blockDim.x), n - base);
  const int t = threadIdx.x;
  if (t < count) tile[t] = in[base + t];
  __syncthreads();
  if (t < count) out[base + t] = tile[count - 1 - t];
}

void reverse_blocks_dynamic(const float* in, float* out, int n, void* stream) {
  launch(reverse_blocks_dynamic_kernel, dim3(static_cast<unsigned>((n + 127) / 128)), dim3(128), 128 * sizeof(float),
         stream, "reverse_blocks_dynamic", in, out, n);
}

__global__ void barrier_predicates_kernel(const int* pred, int* out) {
  const int p = pred[threadIdx.x] != 0;
  const int count = __syncthreads_count(p);
  const int all = __syncthreads_and(p);
  const int any = __syncthreads_or(p);
  if (threadIdx.x == 0) {
    out[0] = count;
    out[1] = all;
    out[2] = any;
  }
}

void barrier_predicates(const int* pred, int* out, int n, void* stream) {
  launch(barrier_predicates_kernel, dim3(1), dim3(static_cast<unsigned>(n)), 0, stream, "barrier_predicates", pred,
         out);
}

__global__ void histogram_kernel(const int* values, const float* weights, float* hist, unsigned* counts, int n,
                                 int bins) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const int bin = values[i] % bins;
    atomicAdd(&hist[bin], weights[i]);
    atomicInc(&counts[bin], 0xFFFFFFFFu);
  }
}

void histogram(const int* values, const float* weights, float* hist, unsigned* counts, int n, int bins, void* stream) {
  launch(histogram_kernel, dim3(3), dim3(64), 0, stream, "histogram", values, weights, hist, counts, n, bins);
}

__global__ void shared_write_past_end_kernel(float* out, int offset) {
  __shared__ float cells[64];
  cells[threadIdx.x + offset] = static_cast<float>(threadIdx.x);
  __syncthreads();
  out[threadIdx.x] = cells[threadIdx.x];
}

void shared_write_past_end(float* out, int offset, void* stream) {
  launch(shared_write_past_end_kernel, dim3(1), dim3(64), 0, stream, "shared_write_past_end", out, offset);
}

__global__ void global_write_past_end_kernel(float* out, int limit) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < limit) out[i] = 1.0f;
}

void global_write_past_end(float* out, int n, int extra, void* stream) {
  const int limit = n + extra;
  launch(global_write_past_end_kernel, dim3(static_cast<unsigned>((limit + 63) / 64)), dim3(64), 0, stream,
         "global_write_past_end", out, limit);
}

__global__ void shuffle_after_exit_kernel(int* out) {
  if (threadIdx.x == 0) return;
  out[threadIdx.x] = __shfl_sync(0xFFFFFFFFu, static_cast<int>(threadIdx.x), 0);
}

void shuffle_after_exit(int* out, void* stream) {
  launch(shuffle_after_exit_kernel, dim3(1), dim3(32), 0, stream, "shuffle_after_exit", out);
}

__global__ void write_thread_index_kernel(int* out) { out[threadIdx.x] = static_cast<int>(threadIdx.x); }

void launch_with_block(unsigned threads, int* out, void* stream) {
  launch(write_thread_index_kernel, dim3(1), dim3(threads), 0, stream, "write_thread_index", out);
}

}  // namespace deeper::testk::DEEPER_KERNEL_NS
