# conv2d kernels (kernels/nn/conv2d*) on a real GPU against the CPU reference, on the ResNet-10 conv
# shapes at batch 8 and 112 px. Skips, naming the reason, without a usable GPU or the nvcc pass.
deeper_test_suite(gpu_nn_conv LABEL gpu LIBS deeper_kernels)
