# The non-convolution layers of kernels/nn on a real GPU against the CPU reference, at the ResNet-10
# shapes of batch 8 at 112 px (stem map 56 x 56 x 64, stage-5 map 4 x 4 x 512, 2,000 classes, the
# 5.9M-parameter buffer). Skips, naming the reason, without a usable GPU or the nvcc pass.
deeper_test_suite(gpu_nn_layers LABEL gpu LIBS deeper_kernels)
