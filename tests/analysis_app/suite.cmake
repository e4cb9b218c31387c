# deeper-analyze end to end (label e2e: the release test pass runs it, the sanitize pass does not):
# deeper-train makes a short run, deeper-analyze analyses it with reduced settings, and the test
# checks the report's JSON, maps, masks and figures, and the program's errors on bad input.
deeper_test_suite(analysis_app LABEL e2e LIBS deeper_analysis)
if(TARGET test_analysis_app)
  add_dependencies(test_analysis_app deeper-analyze deeper-train)
  target_compile_definitions(test_analysis_app PRIVATE DEEPER_ANALYZE_BINARY="$<TARGET_FILE:deeper-analyze>"
                                                       DEEPER_TRAIN_BINARY="$<TARGET_FILE:deeper-train>")
endif()
