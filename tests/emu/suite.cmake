# The emulator's own tests: CUDA execution-model kernels run under emu and checked on the CPU.
deeper_test_suite(emu LABEL emu LIBS deeper_kernels)
deeper_kernel_sources(test_emu ${CMAKE_CURRENT_LIST_DIR}/emu_test_kernels.cu)
