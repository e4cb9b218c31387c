// The control: a kernel that uses the emulated subset compiles with the same command.
// expect-success
#include "kernels/common/kernel_prelude.cuh"

__global__ void fine_kernel(float* out) {
  __shared__ float tile[32];
  tile[threadIdx.x] = __shfl_sync(0xFFFFFFFFu, 1.0f, 0);
  __syncthreads();
  out[threadIdx.x] = tile[threadIdx.x];
}
