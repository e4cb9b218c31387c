// Kernels that exercise kernels/common/wgmma.cuh (sm_90a wgmma.mma_async, interleaved shared-memory
// operands), built for the emulator (tests/emu/test_wgmma.cpp) and for CUDA (tests/gpu_mma compares
// a GPU with the same CPU reference). Pointers are device pointers for cuda_impl and host pointers for
// emu_impl; bf16 values are passed as their 16-bit patterns.
#pragma once

#include <cstdint>

namespace deeper::testk {

#define DEEPER_WGMMA_TESTK_DECLARE                                                                             \
  /* One warpgroup (block_threads, normally 128). a: 64 x 32 (m, k) and b: n x 32 (n, k) row-major bf16;  */   \
  /* c, d: 64 x n row-major fp32. The kernel stores A and B in shared memory in the interleaved layout,  */    \
  /* K-major or MN-major per trans_a / trans_b (core matrices 144 bytes apart in their row of 8, so     */    \
  /* neither LBO nor SBO is the dense 128), then d = A[:, 0:16] B[0:16, :]^T + A[:, 16:32] B[16:32, :]^T */    \
  /* + c with two chained wgmmas (n = 64 or 128). mode: 0 as described; 1 the first wgmma with scale_d 0 */    \
  /* (c ignored); 2 the accumulators read before the wait (the emulator gives c back); 3 no wgmma_fence;  */    \
  /* 4 no wait before the exit; 5 a descriptor with a swizzle mode.                                       */    \
  void wgmma_tile(const std::uint16_t* a, const std::uint16_t* b, const float* c, float* d, int n, int trans_a,   \
                  int trans_b, int mode, unsigned block_threads, void* stream);

namespace emu_impl {
DEEPER_WGMMA_TESTK_DECLARE
}
namespace cuda_impl {
DEEPER_WGMMA_TESTK_DECLARE
}
#undef DEEPER_WGMMA_TESTK_DECLARE

}  // namespace deeper::testk
