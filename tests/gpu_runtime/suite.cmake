# The device runtime on a real GPU: every test skips with the reason when no CUDA device is usable.
deeper_test_suite(gpu_runtime LABEL gpu LIBS deeper_kernels)
