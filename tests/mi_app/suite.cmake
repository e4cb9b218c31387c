# deeper-mi end to end: .npy in, .npy out, exit codes and error lines.
deeper_test_suite(mi_app LABEL e2e LIBS deeper_infotheory)
if(TARGET test_mi_app)
  add_dependencies(test_mi_app deeper-mi)
  target_compile_definitions(test_mi_app PRIVATE DEEPER_MI_BINARY="$<TARGET_FILE:deeper-mi>")
endif()
