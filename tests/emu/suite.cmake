# The emulator's own tests: CUDA execution-model kernels run under emu and checked on the CPU.
deeper_test_suite(emu LABEL emu LIBS deeper_kernels)
deeper_kernel_sources(test_emu ${CMAKE_CURRENT_LIST_DIR}/emu_test_kernels.cu)

# Constructs the emulator cannot run must fail to compile in the emulated build, with a message
# that names the cause: each compile_fail/*.cu is compiled as the emulated build would, and its
# "// expect: <regex>" line must appear in the compiler's errors. compiles.cu is the control that
# must compile with the same command.
file(GLOB compile_fail_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/compile_fail/*.cu)
get_target_property(cuda_include_dirs CUDA::cudart_static INTERFACE_INCLUDE_DIRECTORIES)
set(emu_compile ${CMAKE_CXX_COMPILER} -std=c++20 -fsyntax-only -DDEEPER_EMU=1 -I${PROJECT_SOURCE_DIR} -I${cuda_include_dirs} -x c++)
foreach(src IN LISTS compile_fail_sources)
  get_filename_component(name ${src} NAME_WE)
  file(STRINGS ${src} expect_line REGEX "^// expect: ")
  if(expect_line)
    string(REPLACE "// expect: " "" expect "${expect_line}")
    string(JOIN " " compile_command ${emu_compile})
    add_test(NAME emu.compile_fail.${name}
             COMMAND sh -c "! ${compile_command} \"$0\" >\"$1\" 2>&1 && grep -q -- \"$2\" \"$1\""
                     ${src} ${CMAKE_CURRENT_BINARY_DIR}/compile_fail_${name}.log "${expect}")
  else()
    add_test(NAME emu.compile_fail.${name} COMMAND ${emu_compile} ${src})
  endif()
  set_tests_properties(emu.compile_fail.${name} PROPERTIES LABELS emu)
endforeach()

# kernels/common/mma_sync.cuh (mma.sync, ldmatrix, cp.async) under the emulator; tests/gpu_mma runs
# the same kernels on a GPU.
deeper_kernel_sources(test_emu ${CMAKE_CURRENT_LIST_DIR}/mma_test_kernels.cu)

# kernels/common/wgmma.cuh (sm_90a wgmma) under the emulator; tests/gpu_mma runs the same kernels on
# an H100 / H200.
deeper_kernel_sources(test_emu ${CMAKE_CURRENT_LIST_DIR}/wgmma_test_kernels.cu)
