// Warpgroup-level tensor-core MMA (sm_90a wgmma.mma_async, both operands in shared memory) as
// portable device functions: one PTX instruction each under nvcc for sm_90a, the emulator
// (kernels/emu/wgmma.h) in the emulated build. Include after kernels/common/kernel_prelude.cuh.
//
// A warpgroup is 4 consecutive warps whose first warp index is a multiple of 4 (threads 128 g ..
// 128 g + 127). All 128 threads must execute each of these together (.sync.aligned).
//
// wgmma_m64nNk16_bf16<N, TransA, TransB>(d, desc_a, desc_b, scale_d), N = 64 or 128:
//   D = A B + (scale_d ? D : 0) for A 64 x 16 and B 16 x N in bf16, D 64 x N in fp32, 2 * 64 * N * 16
//   FLOPs per warpgroup. Asynchronous: it only starts the operation (see the groups below).
//   Accumulator fragment (d[N / 2] per thread): thread t of the warpgroup, warp w = t / 32 % 4, lane
//   l = t % 32, holds d[4 j + 2 h + e] = D[16 w + l / 4 + 8 h][8 j + 2 (l % 4) + e], j < N / 8,
//   h, e in {0, 1}: per warp, N / 8 of mma.sync's m16n8 C fragments side by side.
//   Operands are described by 64-bit shared-memory matrix descriptors (make_wgmma_desc) in the
//   interleaved (no-swizzle) canonical layout, built of 8 x 8 "core matrices" of 128 contiguous
//   bytes (8 rows of 16 bytes):
//     K-major  (Trans = 0): a core matrix holds 8 rows of M (or N), each 8 consecutive k; element
//              (mn, k) is at start + (mn / 8) SBO + (k / 8) LBO + (mn % 8) 16 + (k % 8) 2 bytes;
//     MN-major (Trans = 1): a core matrix holds 8 rows of k, each 8 consecutive m (or n); element
//              (mn, k) is at start + (mn / 8) SBO + (k / 8) LBO + (k % 8) 16 + (mn % 8) 2 bytes.
//   So LBO is the distance between core matrices along K and SBO along M / N, for both majors (the
//   INTERLEAVE cases of CUTLASS's make_gmma_desc). A is 64 x 16 (B: N x 16) in (mn, k).
// make_wgmma_desc(smem, lbo, sbo): the descriptor of the matrix starting at `smem` (16-byte
//   aligned), lbo and sbo in bytes (multiples of 16, < 2^18): bits 0-13 start >> 4, 16-29 LBO >> 4,
//   32-45 SBO >> 4, base offset 0, bits 62-63 swizzle 0 (none).
// wgmma_fence(): wgmma.fence.sync.aligned; required before the first wgmma of a batch and after
//   any other access to the accumulator registers (the emulator requires one after each wait).
// wgmma_commit(): wgmma.commit_group: closes the wgmmas issued since the last commit into a group.
// wgmma_wait<N>(): wgmma.wait_group N: waits until at most N of the thread's most recent groups
//   are pending; only then may the accumulators be read and the operands' shared memory reused.
// wgmma_fence_operand(x): a compiler-only fence on a register (keeps nvcc from moving accesses to
//   the accumulators across the asynchronous window).
// fence_proxy_async_shared(): fence.proxy.async.shared::cta: orders this thread's earlier writes to
//   shared memory (st.shared, cp.async once waited for) before later reads by the async proxy.
//
// The CUDA build needs sm_90a (CMAKE_CUDA_ARCHITECTURES 90a; DEEPER_CUDA_SM90A is then defined for
// host code): compiled for any other target the functions trap, and kernels must not be launched.
#pragma once

#include <cstdint>

#if defined(DEEPER_EMU)
#include "kernels/emu/wgmma.h"
#elif !defined(__CUDACC__)
#error "kernels/common/wgmma.cuh is for kernel sources (nvcc, or the emulated build with DEEPER_EMU)"
#endif

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define DEEPER_WGMMA_PTX 1
#else
#define DEEPER_WGMMA_PTX 0
#endif

namespace deeper::kernels {

__device__ __forceinline__ std::uint64_t make_wgmma_desc(const void* smem, std::uint32_t lbo, std::uint32_t sbo) {
#if defined(DEEPER_EMU)
  const std::uint32_t address = ::deeper::emu::wgmma_shared_address(smem);
#elif defined(__CUDA_ARCH__)
  const auto address = static_cast<std::uint32_t>(__cvta_generic_to_shared(smem));
#else
  const std::uint32_t address = 0;
  (void)smem;
#endif
  return std::uint64_t{(address >> 4) & 0x3FFFu} | std::uint64_t{(lbo >> 4) & 0x3FFFu} << 16 |
         std::uint64_t{(sbo >> 4) & 0x3FFFu} << 32;
}

__device__ __forceinline__ void wgmma_fence() {
#if defined(DEEPER_EMU)
  ::deeper::emu::wgmma_fence();
#elif DEEPER_WGMMA_PTX
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#elif defined(__CUDA_ARCH__)
  __trap();
#endif
}

__device__ __forceinline__ void wgmma_commit() {
#if defined(DEEPER_EMU)
  ::deeper::emu::wgmma_commit();
#elif DEEPER_WGMMA_PTX
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#elif defined(__CUDA_ARCH__)
  __trap();
#endif
}

template <int N>
__device__ __forceinline__ void wgmma_wait() {
  static_assert(N >= 0, "wgmma_wait<N>: N is the number of groups that may stay pending (>= 0)");
#if defined(DEEPER_EMU)
  ::deeper::emu::wgmma_wait(N);
#elif DEEPER_WGMMA_PTX
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
#elif defined(__CUDA_ARCH__)
  __trap();
#endif
}

__device__ __forceinline__ void wgmma_fence_operand(float& x) {
#if defined(__CUDA_ARCH__)
  asm volatile("" : "+f"(x)::"memory");
#else
  (void)x;
#endif
}

__device__ __forceinline__ void fence_proxy_async_shared() {
#if DEEPER_WGMMA_PTX
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}

namespace wgmma_detail {

template <int N>
struct WgmmaInstr;

#if DEEPER_WGMMA_PTX
template <>
struct WgmmaInstr<64> {
  template <int TransA, int TransB>
  __device__ __forceinline__ static void run(float (&d)[32], std::uint64_t desc_a, std::uint64_t desc_b, int scale_d) {
    asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
      "}, %32, %33, p, 1, 1, %35, %36;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
      : "l"(desc_a), "l"(desc_b), "r"(scale_d), "n"(TransA), "n"(TransB)
      : "memory");
  }
};

template <>
struct WgmmaInstr<128> {
  template <int TransA, int TransB>
  __device__ __forceinline__ static void run(float (&d)[64], std::uint64_t desc_a, std::uint64_t desc_b, int scale_d) {
    asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
      "}, %64, %65, p, 1, 1, %67, %68;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
      : "l"(desc_a), "l"(desc_b), "r"(scale_d), "n"(TransA), "n"(TransB)
      : "memory");
  }
};
#endif

}  // namespace wgmma_detail

template <int N, int TransA, int TransB>
__device__ __forceinline__ void wgmma_m64nNk16_bf16(float (&d)[N / 2], std::uint64_t desc_a, std::uint64_t desc_b,
                                                   int scale_d) {
  static_assert(N == 64 || N == 128, "wgmma_m64nNk16_bf16: N = 64 or 128");
  static_assert((TransA == 0 || TransA == 1) && (TransB == 0 || TransB == 1), "transpose flags are 0 or 1");
#if defined(DEEPER_EMU)
  ::deeper::emu::wgmma_mma_async(d, desc_a, desc_b, N, scale_d != 0, TransA, TransB);
#elif DEEPER_WGMMA_PTX
  wgmma_detail::WgmmaInstr<N>::template run<TransA, TransB>(d, desc_a, desc_b, scale_d);
#elif defined(__CUDA_ARCH__)
  (void)d, (void)desc_a, (void)desc_b, (void)scale_d;
  __trap();
#else
  (void)d, (void)desc_a, (void)desc_b, (void)scale_d;
#endif
}

}  // namespace deeper::kernels
