add_executable(deeper-analyze ${CMAKE_CURRENT_LIST_DIR}/main.cpp)
target_link_libraries(deeper-analyze PRIVATE deeper_analysis deeper_warnings)
set_target_properties(deeper-analyze PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/apps/deeper-analyze)
