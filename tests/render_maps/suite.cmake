# Analysis maps and feature gradients (renderer/colour_map, renderer/feature_maps): colour-map ends,
# masks and symmetry, maps drawn on the average face (cpu, one emu comparison), texel layouts,
# downsampling, identity features, and the per-vertex / per-texel gradients of the render backward
# against finite differences of the float pipeline.
deeper_test_suite(render_maps LABEL emu LIBS deeper_renderer)
