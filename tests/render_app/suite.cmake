# deeper-render end to end: --help, exit codes and one-line errors, a tiny batch with its JSON Lines
# factors, sweeps, contact sheets, model export/import and colour maps (the small procedural model).
deeper_test_suite(render_app LABEL e2e LIBS deeper_renderer)
if(TARGET test_render_app)
  add_dependencies(test_render_app deeper-render)
  target_compile_definitions(test_render_app PRIVATE DEEPER_RENDER_BINARY="$<TARGET_FILE:deeper-render>")
endif()
