# Rasterizer kernels (kernels/raster): rasterize and interpolate under the emulator against the CPU
# reference, and both against geometry: watertight coverage, projection, barycentrics, depth.
deeper_test_suite(raster LABEL emu LIBS deeper_kernels)
