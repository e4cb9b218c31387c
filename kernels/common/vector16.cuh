// 16-byte moves for kernel sources: Bf16x8 (eight bf16 values as one aligned 16-byte vector) and
// copy16, one 16-byte load and store (a uint4 under nvcc; memcpy in the emulated build, where a uint4
// access to bf16 storage would break C++ aliasing rules). Both pointers must be 16-byte aligned.
#pragma once

#include "kernels/common/kernel_prelude.cuh"

#include <cuda_bf16.h>

#include <cstring>

namespace deeper::kernels::DEEPER_KERNEL_NS {

struct alignas(16) Bf16x8 {
  __nv_bfloat16 v[8];
};

__device__ __forceinline__ void copy16(void* dst, const void* src) {
#if defined(DEEPER_EMU)
  std::memcpy(dst, src, 16);
#else
  *static_cast<uint4*>(dst) = *static_cast<const uint4*>(src);
#endif
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
