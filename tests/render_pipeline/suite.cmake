# The render pipeline (renderer/factors, renderer/pipeline, kernels/render): factor sampling and
# validation, synthesis kernels under the emulator against the CPU reference, projection of known
# points, and whole images (cpu vs emu, determinism across batch sizes, coverage of a frontal face).
deeper_test_suite(render_pipeline LABEL emu LIBS deeper_renderer)
