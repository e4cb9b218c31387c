# The non-convolution layers of kernels/nn (batch norm and its fused residual tail, ReLU, add,
# pooling, linear, cross-entropy, SGD and AdamW): gradient checks of the CPU references in double,
# the emulated kernels against the CPU, optimizer steps against PyTorch's formulas, bad inputs.
deeper_test_suite(nn_layers LABEL emu LIBS deeper_kernels)
