# Fuzz targets for the file parsers: tests/fuzz/fuzz_<target>.cpp, seeds in tests/fuzz/corpus/<target>/.
#
# DEEPER_FUZZ=ON (clang, `cmake --preset fuzz`): real libFuzzer binaries with ASan + UBSan, the
#   parsers recompiled with coverage instrumentation; one ctest per target labelled `fuzz` runs
#   DEEPER_FUZZ_SECONDS of fuzzing on a copy of the corpus in the build folder (new inputs and
#   crash artifacts land there, never in the source tree).
# DEEPER_FUZZ=OFF (the normal build): the same target sources linked with replay_main.cpp; one ctest
#   per target labelled `cpu` feeds every corpus file once.
set(DEEPER_FUZZ_TARGETS npy safetensors)
set(DEEPER_FUZZ_SECONDS 60 CACHE STRING "Seconds each fuzz-labelled ctest runs libFuzzer")

if(DEEPER_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "DEEPER_FUZZ needs clang (libFuzzer); use `cmake --preset fuzz`")
  endif()
  set(fuzz_flags -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                 -fno-omit-frame-pointer -g)
  # The parsers, instrumented; linked before deeper_core so that these objects are the ones used.
  add_library(deeper_fuzz_parsers STATIC ${PROJECT_SOURCE_DIR}/core/npy.cpp ${PROJECT_SOURCE_DIR}/core/safetensors.cpp
                                         ${PROJECT_SOURCE_DIR}/core/atomic_file.cpp)
  target_include_directories(deeper_fuzz_parsers PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(deeper_fuzz_parsers PRIVATE ${fuzz_flags})
  target_link_libraries(deeper_fuzz_parsers PUBLIC fmt::fmt nlohmann_json::nlohmann_json PRIVATE deeper_warnings)
  foreach(t IN LISTS DEEPER_FUZZ_TARGETS)
    add_executable(fuzz_${t} ${CMAKE_CURRENT_LIST_DIR}/fuzz_${t}.cpp)
    target_compile_options(fuzz_${t} PRIVATE ${fuzz_flags})
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_${t} PRIVATE deeper_fuzz_parsers deeper_core deeper_warnings)
    set(work ${CMAKE_CURRENT_BINARY_DIR}/fuzz-corpus/${t})
    file(MAKE_DIRECTORY ${work})
    file(COPY ${CMAKE_CURRENT_LIST_DIR}/corpus/${t}/ DESTINATION ${work})
    add_test(NAME fuzz_${t}
             COMMAND fuzz_${t} -max_total_time=${DEEPER_FUZZ_SECONDS} -timeout=10 -rss_limit_mb=2048
                     -max_len=65536 -artifact_prefix=${work}/crash- ${work})
    math(EXPR limit "${DEEPER_FUZZ_SECONDS} + 120")
    set_tests_properties(fuzz_${t} PROPERTIES LABELS fuzz TIMEOUT ${limit})
  endforeach()
else()
  foreach(t IN LISTS DEEPER_FUZZ_TARGETS)
    add_executable(fuzz_${t}_replay ${CMAKE_CURRENT_LIST_DIR}/fuzz_${t}.cpp ${CMAKE_CURRENT_LIST_DIR}/replay_main.cpp)
    target_link_libraries(fuzz_${t}_replay PRIVATE deeper_core deeper_warnings)
    add_test(NAME fuzz_replay_${t} COMMAND fuzz_${t}_replay ${CMAKE_CURRENT_LIST_DIR}/corpus/${t})
    set_tests_properties(fuzz_replay_${t} PROPERTIES LABELS cpu)
  endforeach()
endif()
