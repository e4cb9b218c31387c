# GCMI kernels (kernels/gcmi): copula normalisation and all-pairs MI with fused permutation
# statistics, each run under the emulator and checked against the CPU reference and an fp64 oracle.
deeper_test_suite(gcmi_kernels LABEL emu LIBS deeper_kernels)
