// Kernels that exercise the CUDA execution model, built for the emulator (tests/emu) and for CUDA
// (tests/gpu_emu compares the two on a real GPU). Pointers are device pointers for cuda_impl and
// host pointers for emu_impl. Each entry point launches one kernel and returns.
#pragma once

#include <cstdint>

namespace deeper::testk {

#define DEEPER_TESTK_DECLARE                                                                                  \
  /* Per-block sums of `in` (blockDim 256) through a shared-memory tree; with_sync=false drops the     */    \
  /* barrier between the loads and the tree, the bug the emulator must expose.                        */    \
  void block_sum(const float* in, float* block_sums, int n, bool with_sync, void* stream);                     \
  /* Per-warp sums through __shfl_down_sync; warp_sums[n/32 rounded up].                              */    \
  void warp_sum(const float* in, float* warp_sums, int n, void* stream);                                       \
  /* atomicMin over 64-bit keys (depth bits << 32 | id) packed from depth[i] >= 0 and i.              */    \
  void packed_depth_min(const float* depth, unsigned long long* best, int n, void* stream);                    \
  /* One block of 64 threads; out[k*64 + t] holds thread t's result of warp intrinsic k (see .cu).    */    \
  void warp_intrinsics(const int* in, int* out, void* stream);                                                 \
  /* C[16x16] = A[16x16] * B[16x16] + C with half inputs and float accumulation, one warp, wmma.       */    \
  void wmma_gemm_16(const void* a_half, const void* b_half, float* c, void* stream);                           \
  /* Reverses each block's slice of `in` through dynamic shared memory (blockDim 128, any n).          */    \
  void reverse_blocks_dynamic(const float* in, float* out, int n, void* stream);                               \
  /* __syncthreads_count/and/or over pred[i] != 0 in one block of n <= 1024 threads; out[0..2].         */   \
  void barrier_predicates(const int* pred, int* out, int n, void* stream);                                     \
  /* Histogram of values[i] % bins with atomicAdd on floats (weights) and atomicInc on counters.        */   \
  void histogram(const int* values, const float* weights, float* hist, unsigned* counts, int n, int bins,     \
                 void* stream);                                                                                \
  /* Writes shared[threadIdx.x + offset] in a 64-element __shared__ array (offset 1 overflows).        */    \
  void shared_write_past_end(float* out, int offset, void* stream);                                            \
  /* Writes out[i] for i < n + extra with a grid over n + extra threads (extra > 0 overflows).         */    \
  void global_write_past_end(float* out, int n, int extra, void* stream);                                      \
  /* Lane 0 exits, then the warp shuffles with the full mask: a deadlock under the emulator.           */    \
  void shuffle_after_exit(int* out, void* stream);                                                             \
  /* Launches with the given block size (tests the configuration checks).                               */   \
  void launch_with_block(unsigned threads, int* out, void* stream);

namespace emu_impl {
DEEPER_TESTK_DECLARE
}
namespace cuda_impl {
DEEPER_TESTK_DECLARE
}
#undef DEEPER_TESTK_DECLARE

}  // namespace deeper::testk
