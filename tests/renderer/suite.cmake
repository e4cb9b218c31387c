# The face model (renderer/): mesh validity, orthonormal bases, identity sets, coefficient SDs,
# expression regions, model files (round trip and bad files), the preview renderer.
deeper_test_suite(renderer LABEL cpu LIBS deeper_renderer)

# The contact sheets of docs/renderer.md, rendered end to end into the build folder.
add_executable(renderer_contact_sheets ${CMAKE_CURRENT_LIST_DIR}/tools/make_contact_sheets.cpp)
target_link_libraries(renderer_contact_sheets PRIVATE deeper_renderer deeper_warnings)
if(DEEPER_BUILD_TESTS)
  add_test(NAME e2e.renderer.contact_sheets
           COMMAND renderer_contact_sheets ${CMAKE_CURRENT_BINARY_DIR}/renderer_contact_sheets_out)
  set_tests_properties(e2e.renderer.contact_sheets PROPERTIES LABELS e2e)
endif()
