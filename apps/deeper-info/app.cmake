add_executable(deeper-info ${CMAKE_CURRENT_LIST_DIR}/main.cpp)
target_link_libraries(deeper-info PRIVATE deeper_kernels deeper_warnings)
set_target_properties(deeper-info PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/apps/deeper-info)

if(DEEPER_BUILD_TESTS)
  # Command-line conventions, end to end: 0 on success, 2 on a usage error, 1 on a runtime error,
  # with one "deeper-info: error: ..." line on stderr.
  add_test(NAME e2e.deeper_info.auto COMMAND deeper-info --device auto)
  add_test(NAME e2e.deeper_info.json COMMAND deeper-info --device cpu --json)
  set_tests_properties(e2e.deeper_info.json PROPERTIES PASS_REGULAR_EXPRESSION "\"device\": \"cpu\"")
  add_test(NAME e2e.deeper_info.typo_is_usage_error
           COMMAND sh -c "\"$0\" --device cdua 2>/dev/null; test $? -eq 2" $<TARGET_FILE:deeper-info>)
  add_test(NAME e2e.deeper_info.unknown_option_is_usage_error
           COMMAND sh -c "\"$0\" --devise cpu 2>/dev/null; test $? -eq 2" $<TARGET_FILE:deeper-info>)
  add_test(NAME e2e.deeper_info.unusable_gpu_is_runtime_error
           COMMAND sh -c "\"$0\" --device cuda:99 2>&1 >/dev/null | grep -q '^deeper-info: error: ' && { \"$0\" --device cuda:99 2>/dev/null; test $? -eq 1; }"
                   $<TARGET_FILE:deeper-info>)
  set_tests_properties(e2e.deeper_info.auto e2e.deeper_info.json e2e.deeper_info.typo_is_usage_error
                       e2e.deeper_info.unknown_option_is_usage_error e2e.deeper_info.unusable_gpu_is_runtime_error
                       PROPERTIES LABELS e2e)
endif()
