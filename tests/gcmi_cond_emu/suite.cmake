# Device paths of the ccc, co-information and model cd engines (infotheory/allpairs_cond_device.h)
# and their kernels (kernels/gcmi/conditional.h) under the emulator, against the fp64 CPU engines.
deeper_test_suite(gcmi_cond_emu LABEL emu LIBS deeper_infotheory)
