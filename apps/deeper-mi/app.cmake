add_executable(deeper-mi ${CMAKE_CURRENT_LIST_DIR}/main.cpp ${CMAKE_CURRENT_LIST_DIR}/inputs.cpp)
target_link_libraries(deeper-mi PRIVATE deeper_infotheory deeper_warnings)
set_target_properties(deeper-mi PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/apps/deeper-mi)
