# The ResNet-10 network, inference API and trainer (nn/network, nn/inference, nn/trainer): gradient
# check in double, emu vs cpu parity (simt_f32, wmma_bf16), training on rendered faces (overfitting,
# resume bit-identity, NaN guard, corrupted checkpoints), deeper-train end to end, and the PyTorch
# fixture when present.
deeper_test_suite(nn_net LABEL emu LIBS deeper_nn)
if(TARGET test_nn_net)
  add_dependencies(test_nn_net deeper-train)
  target_compile_definitions(test_nn_net PRIVATE DEEPER_TRAIN_BINARY="$<TARGET_FILE:deeper-train>")
endif()
