# The CUDA side of the emulator's test kernels and of kernels/common, on a real GPU, checked
# against the same CPU computations as under the emulator. Skips without a usable GPU.
deeper_test_suite(gpu_kernels LABEL gpu LIBS deeper_kernels)
if(TARGET test_gpu_kernels)
  deeper_kernel_sources(test_gpu_kernels ${PROJECT_SOURCE_DIR}/tests/emu/emu_test_kernels.cu)
endif()
