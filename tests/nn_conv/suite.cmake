# conv2d kernels (kernels/nn/conv2d*): the CPU reference against naive loops and central
# differences, and the simt_f32 and wmma_bf16 kernels under the emulator against the reference.
deeper_test_suite(nn_conv LABEL emu LIBS deeper_kernels)
