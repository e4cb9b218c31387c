# The differentiable half of the rasterizer (kernels/raster): interpolate_grad, rasterize_grad,
# texture, shade, antialias. Central differences in double on the CPU references, emulated kernels
# against the CPU, deterministic accumulation bit for bit, bad inputs.
deeper_test_suite(raster_grad LABEL emu LIBS deeper_kernels)
