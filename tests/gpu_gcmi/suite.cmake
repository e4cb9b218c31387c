# The GCMI kernels (kernels/gcmi) on a real GPU against the CPU reference, at sizes the emulator
# cannot reach. Skips, naming the reason, without a usable GPU or without the nvcc pass.
deeper_test_suite(gpu_gcmi LABEL gpu LIBS deeper_kernels)
