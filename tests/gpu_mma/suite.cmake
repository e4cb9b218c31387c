# kernels/common/mma_sync.cuh on a real GPU: the kernels of tests/emu/mma_test_kernels.cu built by
# nvcc, checked against the same CPU references as under the emulator. Skips without a usable GPU.
deeper_test_suite(gpu_mma LABEL gpu LIBS deeper_kernels)
if(TARGET test_gpu_mma)
  deeper_kernel_sources(test_gpu_mma ${PROJECT_SOURCE_DIR}/tests/emu/mma_test_kernels.cu
                        ${PROJECT_SOURCE_DIR}/tests/emu/wgmma_test_kernels.cu)
endif()
