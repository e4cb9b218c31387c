add_executable(deeper-render ${CMAKE_CURRENT_LIST_DIR}/main.cpp)
target_link_libraries(deeper-render PRIVATE deeper_renderer deeper_warnings)
set_target_properties(deeper-render PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/apps/deeper-render)
