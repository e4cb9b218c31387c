add_executable(deeper-train ${CMAKE_CURRENT_LIST_DIR}/main.cpp)
target_link_libraries(deeper-train PRIVATE deeper_nn deeper_warnings)
set_target_properties(deeper-train PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/apps/deeper-train)
