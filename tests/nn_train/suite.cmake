# The training infrastructure (nn/): config parsing and overrides, LR schedules, the ResNet-10 layout
# and parameter store, checkpoints, metrics and the NaN guard, and deeper-train end to end.
deeper_test_suite(nn_train LABEL cpu LIBS deeper_nn)
if(TARGET test_nn_train)
  add_dependencies(test_nn_train deeper-train)
  target_compile_definitions(test_nn_train PRIVATE DEEPER_TRAIN_BINARY="$<TARGET_FILE:deeper-train>")
endif()
