// Must NOT compile under the emulator: `extern __shared__` (use DEEPER_DYNAMIC_SHARED instead).
// expect: conflicting specifiers
#include "kernels/common/kernel_prelude.cuh"

__global__ void dynamic_kernel(float* out) {
  extern __shared__ float tile[];
  tile[threadIdx.x] = 1.0f;
  out[threadIdx.x] = tile[threadIdx.x];
}
