# Shared kernels (kernels/common): each runs under the emulator and is checked against the CPU.
deeper_test_suite(common LABEL emu LIBS deeper_kernels)
