// Must NOT compile under the emulator: tf32 wmma fragments are not emulated.
// expect: precision
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/common/wmma.cuh"

__global__ void tf32_kernel(float* out) {
  using namespace nvcuda;
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> a;  // not emulated
  out[0] = 0.0f;
}
