# The render pipeline's backward (kernels/render/render_grad, renderer/pipeline_grad): central
# differences in double on the CPU references of every op and of the whole chain at 32 px, emulated
# kernels against the CPU, deterministic mode bit for bit, bad inputs.
deeper_test_suite(render_grad LABEL emu LIBS deeper_renderer)
