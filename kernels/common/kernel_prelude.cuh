// The first include of every kernel source (.cu). It sets up the environment the file is being
// compiled for, so that one source serves both backends:
//   - nvcc (CUDA): <cuda_runtime.h>; kernels land in namespace cuda_impl;
//   - host compiler with DEEPER_EMU (the emulator): kernels/emu/cuda_shim.h; namespace emu_impl.
// A kernel file therefore wraps its code in `namespace deeper::kernels::DEEPER_KERNEL_NS { ... }`
// and declares both namespaces' entry points in its header. It also provides
// DEEPER_DYNAMIC_SHARED(T, name) for dynamic shared memory, and deeper::launch.
#pragma once

#if defined(DEEPER_EMU)
#include "kernels/emu/cuda_shim.h"
#define DEEPER_KERNEL_NS emu_impl
#elif defined(__CUDACC__)
#include <cuda_runtime.h>
#define DEEPER_KERNEL_NS cuda_impl
#define DEEPER_DYNAMIC_SHARED(T, name)                                    \
  extern __shared__ __align__(16) unsigned char deeper_dynamic_shared_[]; \
  T* name = reinterpret_cast<T*>(deeper_dynamic_shared_)
#else
#error "kernel sources are compiled by nvcc or, for the emulator, with DEEPER_EMU defined"
#endif

#include "kernels/common/hd.h"
#include "kernels/common/launch.cuh"
