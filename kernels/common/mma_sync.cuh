// Warp-level tensor-core MMA, ldmatrix and cp.async (sm_80+) as portable device functions.
//
// Under nvcc they are one inline PTX instruction each; in the emulated build (DEEPER_EMU) they call
// the emulator (kernels/emu/mma_sync.h, async_copy.h), which implements them exactly as documented
// here and checks what the GPU would fault on. Include after kernels/common/kernel_prelude.cuh.
//
// mma_m16n8k16_bf16: D = A B + C for one m16n8k16 tile per warp: A 16x16 (row), B 16x8 (col), bf16,
//   C and D 16x8 fp32 (mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32). 4096 FLOPs per warp.
//   Fragments as in the PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type": lane
//   l, g = l / 4, t = l % 4; each uint32_t packs two bf16, the low half holding the lower column (A)
//   or lower row k (B) index:
//     a[i]: A[g + 8*(i%2)][2t + 8*(i/2) + {0,1}]      (a[0] rows 0-7 cols 0-7, a[1] rows 8-15, ...)
//     b[i]: B[2t + 8*i + {0,1}][g]                     (B is k x n)
//     c[i], d[i]: C[g + 8*(i/2)][2t + i%2]
//   All 32 lanes must call it together (warp-synchronous). d may be the same array as c. The
//   emulator adds the exact products to C in k order in fp32; the GPU's order and internal
//   precision are unspecified, so compare with a tolerance (or use exactly representable sums).
//
// ldmatrix_x{1,2,4}[_trans]: ldmatrix.sync.aligned.m8n8.x{1,2,4}[.trans].shared.b16. Loads 1, 2 or 4
//   8x8 matrices of 16-bit elements from shared memory. Lane l supplies the address of one 16-byte
//   row: lanes 0-7 the rows 0-7 of matrix 0, lanes 8-15 those of matrix 1, ... (for x1 / x2 only
//   lanes 0-7 / 0-15's addresses are used; the others are ignored). r[j] receives matrix j's fragment:
//   lane l holds elements (row l/4, columns 2*(l%4) and 2*(l%4)+1), the lower column in the low half;
//   with _trans, those of the transposed matrix, i.e. (rows 2*(l%4) and 2*(l%4)+1, column l/4). Used
//   row addresses must be 16-byte aligned shared-memory addresses. All 32 lanes must call it.
//   A 16x16 row-major A tile loads into mma's a[4] with ldmatrix_x4, lane l pointing at row
//   (l%8) + 8*((l/8)%2), column 8*(l/16); a row-major 16x8 (k x n) B tile into b[2] with
//   ldmatrix_x2_trans, lane l pointing at row k = l%16.
//
// cp_async_16: cp.async.cg.shared.global with zero fill: copies src_bytes (0..16; normally 0 or 16)
//   bytes from global `src` into shared `smem_dst` and fills the rest of the 16 bytes with zeros
//   (src_bytes = 0: src is not read and may be any 16-byte aligned pointer, null included). Both
//   addresses 16-byte aligned. Bypasses L1 (cached in L2 only). The copy is asynchronous: it is complete only after
//   cp_async_commit() has closed it into a group and cp_async_wait<N>() has waited for that group,
//   and visible to other threads only after a __syncthreads() that follows the wait.
// cp_async_commit: cp.async.commit_group, closes the copies issued since the last commit into a group.
// cp_async_wait<N>: cp.async.wait_group N, waits until at most N of this thread's most recent
//   committed groups are pending. Uncommitted copies are not waited for.
//   The emulator poisons the destination (0xFF) at issue and performs a group's copies only at that
//   wait, so reading the destination earlier gives garbage there too; it reports a thread that exits
//   with copies pending.
#pragma once

#include <cstdint>

#if defined(DEEPER_EMU)
#include "kernels/emu/mma_sync.h"
#elif defined(__CUDACC__)
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#error "kernels/common/mma_sync.cuh needs sm_80 or newer (bf16 mma.sync, ldmatrix, cp.async)"
#endif
#else
#error "kernels/common/mma_sync.cuh is for kernel sources (nvcc, or the emulated build with DEEPER_EMU)"
#endif

namespace deeper::kernels {

__device__ __forceinline__ void mma_m16n8k16_bf16(float (&d)[4], const std::uint32_t (&a)[4],
                                                  const std::uint32_t (&b)[2], const float (&c)[4]) {
#if defined(DEEPER_EMU)
  ::deeper::emu::mma_m16n8k16_bf16(d, a, b, c);
#elif defined(__CUDA_ARCH__)
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%10, %11, %12, %13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]),
        "f"(c[3]));
#endif
}

#if !defined(DEEPER_EMU)
namespace mma_detail {
// The 32-bit .shared address of a generic pointer into shared memory.
__device__ __forceinline__ unsigned shared_address(const void* p) {
#if defined(__CUDA_ARCH__)
  return static_cast<unsigned>(__cvta_generic_to_shared(p));
#else
  return static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(p));  // host pass: never executed
#endif
}
}  // namespace mma_detail
#endif

#if defined(DEEPER_EMU)
#define DEEPER_LDMATRIX_BODY(count, trans, ptx, ...) ::deeper::emu::ldmatrix(r, count, trans, smem_row)
#elif defined(__CUDA_ARCH__)
#define DEEPER_LDMATRIX_BODY(count, trans, ptx, ...) \
  asm volatile(ptx : __VA_ARGS__ : "r"(mma_detail::shared_address(smem_row)) : "memory")
#else
#define DEEPER_LDMATRIX_BODY(count, trans, ptx, ...) (void)r, (void)smem_row
#endif

__device__ __forceinline__ void ldmatrix_x1(std::uint32_t (&r)[1], const void* smem_row) {
  DEEPER_LDMATRIX_BODY(1, false, "ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n", "=r"(r[0]));
}
__device__ __forceinline__ void ldmatrix_x2(std::uint32_t (&r)[2], const void* smem_row) {
  DEEPER_LDMATRIX_BODY(2, false, "ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n", "=r"(r[0]),
                       "=r"(r[1]));
}
__device__ __forceinline__ void ldmatrix_x4(std::uint32_t (&r)[4], const void* smem_row) {
  DEEPER_LDMATRIX_BODY(4, false, "ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n", "=r"(r[0]),
                       "=r"(r[1]), "=r"(r[2]), "=r"(r[3]));
}
__device__ __forceinline__ void ldmatrix_x1_trans(std::uint32_t (&r)[1], const void* smem_row) {
  DEEPER_LDMATRIX_BODY(1, true, "ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n", "=r"(r[0]));
}
__device__ __forceinline__ void ldmatrix_x2_trans(std::uint32_t (&r)[2], const void* smem_row) {
  DEEPER_LDMATRIX_BODY(2, true, "ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n", "=r"(r[0]),
                       "=r"(r[1]));
}
__device__ __forceinline__ void ldmatrix_x4_trans(std::uint32_t (&r)[4], const void* smem_row) {
  DEEPER_LDMATRIX_BODY(4, true, "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n",
                       "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]));
}
#undef DEEPER_LDMATRIX_BODY

__device__ __forceinline__ void cp_async_16(void* smem_dst, const void* src, int src_bytes) {
#if defined(DEEPER_EMU)
  ::deeper::emu::cp_async_16(smem_dst, src, src_bytes);
#elif defined(__CUDA_ARCH__)
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(mma_detail::shared_address(smem_dst)),
               "l"(src), "r"(src_bytes)
               : "memory");
#else
  (void)smem_dst, (void)src, (void)src_bytes;
#endif
}

__device__ __forceinline__ void cp_async_commit() {
#if defined(DEEPER_EMU)
  ::deeper::emu::cp_async_commit();
#elif defined(__CUDA_ARCH__)
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

template <int N>
__device__ __forceinline__ void cp_async_wait() {
  static_assert(N >= 0, "cp_async_wait<N>: N is the number of groups that may stay pending (>= 0)");
#if defined(DEEPER_EMU)
  ::deeper::emu::cp_async_wait(N);
#elif defined(__CUDA_ARCH__)
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}

}  // namespace deeper::kernels
