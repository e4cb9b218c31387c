# Random numbers: Philox known answers, value conversions, portable math, and the random_fill kernel
# under the emulator against the cpu reference (hence the emu label).
deeper_test_suite(random LABEL emu LIBS deeper_kernels)
