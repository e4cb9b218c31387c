# The device runtime on the machine at hand (no GPU needed): devices, CUDA error messages, buffers,
# copies, the arena, streams/events, tensors.
deeper_test_suite(runtime LABEL cpu LIBS deeper_kernels)
