// DEEPER_HD marks functions callable from host code and from kernels (CUDA and emulated).
#pragma once

#if defined(__CUDACC__)
#define DEEPER_HD __host__ __device__
#define DEEPER_HD_INLINE __host__ __device__ __forceinline__
#else
#define DEEPER_HD
#define DEEPER_HD_INLINE inline
#endif
