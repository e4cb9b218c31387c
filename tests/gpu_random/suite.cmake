# random_fill on a real GPU against the cpu reference, bit for bit; skips with the reason when no
# CUDA device is usable or the library was built without nvcc.
deeper_test_suite(gpu_random LABEL gpu LIBS deeper_kernels)
