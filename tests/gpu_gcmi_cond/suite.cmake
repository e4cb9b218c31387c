# The ccc, co-information and model cd engines on a real GPU against the fp64 CPU engines at a
# larger size (fp32 and bf16 rounding, the same permutation statistics).
deeper_test_suite(gpu_gcmi_cond LABEL gpu LIBS deeper_infotheory)
