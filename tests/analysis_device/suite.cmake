# The analyses with the study on the kernel emulator against the cpu (render, network and the GCMI
# kernels of the spatial E3 analysis, as they run on a GPU): tests/support/analysis_device_check.h.
deeper_test_suite(analysis_device LABEL emu LIBS deeper_analysis)
