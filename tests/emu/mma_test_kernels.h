// Kernels that exercise kernels/common/mma_sync.cuh (mma.sync m16n8k16 bf16, ldmatrix, cp.async),
// built for the emulator (tests/emu/test_mma_sync.cpp) and for CUDA (tests/gpu_mma compares the GPU
// with the same CPU references). Pointers are device pointers for cuda_impl and host pointers for
// emu_impl; bf16 values are passed as their 16-bit patterns. Each entry point launches one kernel.
#pragma once

#include <cstdint>

namespace deeper::testk {

// Fragment arrays are indexed per lane: a[(s * 32 + lane) * 4 + i], b[(s * 32 + lane) * 2 + i],
// c[lane * 4 + i], d[lane * 4 + i].
#define DEEPER_MMA_TESTK_DECLARE                                                                               \
  /* One warp: acc = c; for s < steps: acc = A_s B_s + acc (mma_m16n8k16_bf16 with d aliasing c); d = acc. */ \
  void mma_chain(const std::uint32_t* a, const std::uint32_t* b, const float* c, float* d, int steps,          \
                 void* stream);                                                                                \
  /* One warp. rows: 33 rows of 8 bf16 patterns, stored in shared memory with a 48-byte row stride.      */    \
  /* Lane l's address is row row_of_lane[l] (lanes whose address ldmatrix ignores point at row 32).      */    \
  /* out[(v * 32 + lane) * 4 + j] = r[j] of variant v: x1, x2, x4, x1_trans, x2_trans, x4_trans;         */    \
  /* entries j >= the variant's count are left as they are.                                             */    \
  void ldmatrix_all(const std::uint16_t* rows, const int* row_of_lane, std::uint32_t* out, void* stream);      \
  /* One warp: A (16x16), B (16x16, k x n) row-major bf16 and C (16x16 fp32) row-major; cp.async copies  */    \
  /* A and B into padded shared tiles, ldmatrix_x4 loads A, ldmatrix_x4_trans B, two mmas give           */    \
  /* d = A B + C (16x16); ldmatrix_x2_trans and one more mma give d_x2 = A B[:, 0:8] + C[:, 0:8] (16x8).  */    \
  void ldmatrix_mma_roundtrip(const std::uint16_t* a, const std::uint16_t* b, const float* c, float* d,        \
                              float* d_x2, void* stream);                                                      \
  /* One thread; cp.async into a 16-float __shared__ buffer from src[0..16). mode (see the .cu):           */  \
  /* 0 two groups + wait<1> + wait<0> + zero fill (out[0..28)); 1 misaligned destination; 2 misaligned    */    \
  /* source; 3 exit with a committed group not waited for; 4 destination in global memory; 5 uncommitted  */    \
  /* copy at wait<0> (out[0..8)); 6 src_bytes 17; 7 source in shared memory; 8 exit with empty groups.   */   \
  void cp_async_probe(const float* src, float* out, int mode, void* stream);                                   \
  /* 64 threads: thread t cp.asyncs src[4t..4t+4) into shared memory, waits, (with_sync) __syncthreads,  */   \
  /* and copies its neighbour's chunk (t+1)%64 to out[4t..4t+4); without the barrier that is a race.      */  \
  void cp_async_neighbour(const float* src, float* out, bool with_sync, void* stream);                         \
  /* Error cases of mma and ldmatrix (emulator only), blockDim threads, out[32 * 4]. mode: 0 lane 3 exits  */  \
  /* before mma; 1 lane 2's ldmatrix_x4 row misaligned; 2 ldmatrix_x2 from global memory; 3 ldmatrix_x1    */  \
  /* from a thread's local array; 4 lanes 0-15 call ldmatrix_x2, lanes 16-31 ldmatrix_x4; 5 ldmatrix_x1     */ \
  /* with misaligned addresses on the ignored lanes 8-31 (valid); 6 mma in a warp of blockDim < 32 lanes.   */ \
  void mma_misuse(int mode, unsigned block_threads, std::uint32_t* out, void* stream);

namespace emu_impl {
DEEPER_MMA_TESTK_DECLARE
}
namespace cuda_impl {
DEEPER_MMA_TESTK_DECLARE
}
#undef DEEPER_MMA_TESTK_DECLARE

}  // namespace deeper::testk
