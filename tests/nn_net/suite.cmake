# The ResNet-10 network, inference API and trainer (nn/network, nn/inference, nn/trainer): gradient
# check in double, emu vs cpu parity (simt_f32, wmma_bf16), training on rendered faces (overfitting,
# resume bit-identity, NaN guard, corrupted checkpoints) and the PyTorch fixture when present.
deeper_test_suite(nn_net LABEL emu LIBS deeper_nn)
