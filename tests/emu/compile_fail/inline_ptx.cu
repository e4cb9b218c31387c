// Must NOT compile under the emulator: inline PTX has no CPU meaning.
// expect: DEEPER_EMU_ERROR_inline_asm_PTX_cannot_be_emulated
#include "kernels/common/kernel_prelude.cuh"

__global__ void lane_id_kernel(unsigned* out) {
  unsigned lane;
  asm volatile("mov.u32 %0, %%laneid;" : "=r"(lane));
  out[threadIdx.x] = lane;
}
