# The all-pairs engine's kernel path under the emulator, against its fp64 CPU path.
deeper_test_suite(allpairs_emu LABEL emu LIBS deeper_infotheory)
