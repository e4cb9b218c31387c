# The differentiable rasterizer ops (kernels/raster: interpolate_grad, rasterize_grad, texture,
# shade, antialias) on a real GPU against the CPU reference at B = 64, 112 x 112 on the test mesh.
# Skips, naming the reason, without a usable GPU or without the nvcc pass.
deeper_test_suite(gpu_raster_grad LABEL gpu LIBS deeper_kernels)
