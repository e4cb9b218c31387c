# The rasterizer kernels (kernels/raster) on a real GPU against the CPU reference, at the sizes of
# the renderer (B = 64, 224 x 224, the 8,978-triangle test mesh). Skips, naming the reason, without a
# usable GPU or without the nvcc pass.
deeper_test_suite(gpu_raster LABEL gpu LIBS deeper_kernels)
