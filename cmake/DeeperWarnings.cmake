# Warnings on, for host code and (through -Xcompiler) for nvcc's host pass.
add_library(deeper_warnings INTERFACE)
target_compile_options(deeper_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wno-unused-parameter>
  $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra --Werror=cross-execution-space-call -diag-suppress=20012>)
# __FILE__ relative to the repository root, so error messages name kernels/runtime/memory.cpp:88.
add_compile_options($<$<COMPILE_LANGUAGE:C,CXX>:-fmacro-prefix-map=${PROJECT_SOURCE_DIR}/=>)
