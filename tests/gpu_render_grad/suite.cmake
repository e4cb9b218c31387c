# The render pipeline's backward on a real GPU against the CPU backend: B = 16 faces at 96 x 96 from
# the full procedural model; deterministic mode bit for bit across two GPU runs. Skips, naming the
# reason, without a usable GPU or without the nvcc pass.
deeper_test_suite(gpu_render_grad LABEL gpu LIBS deeper_renderer)
