# File formats (npy, safetensors, PNG, atomic writes): round trips and bad-input tests.
deeper_test_suite(formats LABEL cpu LIBS deeper_core)

# formats_interop_tool: reads and writes npy/safetensors files with deeper's code for
# scripts/check-interop.py (which checks them against numpy, safetensors and PyTorch). Not a test.
add_executable(formats_interop_tool ${CMAKE_CURRENT_LIST_DIR}/interop/formats_interop_tool.cpp)
target_link_libraries(formats_interop_tool PRIVATE deeper_core deeper_warnings)
