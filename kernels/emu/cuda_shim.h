// The CUDA environment of emulated kernel code. Included (through kernels/common/kernel_prelude.cuh)
// by every .cu kernel source when it is compiled by the host compiler with DEEPER_EMU defined.
//
// It provides the built-in variables (threadIdx, blockIdx, blockDim, gridDim, warpSize), shared
// memory, __syncthreads and its variants, warp shuffles/votes/match/reduce, __syncwarp, atomics,
// memory fences, and the device math intrinsics the project's kernels use; wmma is in wmma.h.
// The half and bfloat16 types are the CUDA toolkit's own host-usable ones (cuda_fp16.h,
// cuda_bf16.h). What it cannot emulate does not compile: inline assembly (PTX), `extern __shared__`
// (use DEEPER_DYNAMIC_SHARED), and anything not declared here. docs/kernels.md lists the subset.
#pragma once

#if !defined(DEEPER_EMU)
#error "kernels/emu/cuda_shim.h is only for the emulated build of kernel sources (DEEPER_EMU)"
#endif

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <vector_types.h>

#include "kernels/emu/atomics.h"
#include "kernels/emu/math_intrinsics.h"
#include "kernels/emu/thread_context.h"
#include "kernels/emu/warp_intrinsics.h"

#include <cstdint>

// ---------------------------------------------------------------------------------------------
// Qualifiers. host_defines.h (pulled in by the CUDA headers) defines __global__, __device__,
// __host__ and __constant__ as nothing for the host compiler; __shared__ becomes a static in the
// poisoned section (shared_memory.h), one instance per program, valid because blocks run one at a
// time.
#undef __shared__
#define __shared__ static __attribute__((section("deeper_emu_shared"), aligned(16)))
#ifndef __launch_bounds__
#define __launch_bounds__(...)
#endif
#ifndef __grid_constant__
#define __grid_constant__
#endif

// Inline PTX has no CPU meaning: using it in an emulated kernel is a compile error naming the cause.
#define asm DEEPER_EMU_ERROR_inline_asm_PTX_cannot_be_emulated_give_the_kernel_an_emulable_sibling

// ---------------------------------------------------------------------------------------------
// Built-in variables.
#define threadIdx (::deeper::emu::detail::this_thread().thread_idx)
#define blockIdx (::deeper::emu::detail::this_block().block_idx)
#define blockDim (::deeper::emu::detail::this_block().block_dim)
#define gridDim (::deeper::emu::detail::this_block().grid_dim)
inline constexpr int warpSize = 32;

// Dynamic shared memory: DEEPER_DYNAMIC_SHARED(float, tile) declares `float* tile` pointing at the
// launch's dynamic shared memory (kernels/common/kernel_prelude.cuh has the CUDA spelling).
#define DEEPER_DYNAMIC_SHARED(T, name) \
  T* name = reinterpret_cast<T*>(::deeper::emu::detail::this_block().dynamic_shared)

// ---------------------------------------------------------------------------------------------
// Block barriers.
inline void __syncthreads() { ::deeper::emu::detail::block_barrier(::deeper::emu::detail::BarrierKind::sync, 0); }
inline int __syncthreads_count(int p) {
  return ::deeper::emu::detail::block_barrier(::deeper::emu::detail::BarrierKind::count, p);
}
inline int __syncthreads_and(int p) {
  return ::deeper::emu::detail::block_barrier(::deeper::emu::detail::BarrierKind::all, p);
}
inline int __syncthreads_or(int p) {
  return ::deeper::emu::detail::block_barrier(::deeper::emu::detail::BarrierKind::any, p);
}

// Memory fences: blocks and threads run on one OS thread, so ordering already holds; keep the
// compiler from moving memory accesses across them all the same.
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_system() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// Read-only cache loads are plain loads.
template <typename T>
inline T __ldg(const T* p) {
  return *p;
}

inline void __nanosleep(unsigned) {}
long long clock64();  // nanoseconds of the host's steady clock
