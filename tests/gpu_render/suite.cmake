# The render pipeline on a real GPU against the CPU reference: B = 16 faces at 112 x 112 from the
# full procedural model. Skips, naming the reason, without a usable GPU or without the nvcc pass.
deeper_test_suite(gpu_render LABEL gpu LIBS deeper_renderer)
