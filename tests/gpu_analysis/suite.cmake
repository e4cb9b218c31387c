# The analyses with the study on a real GPU against the cpu (tests/support/analysis_device_check.h).
# Skips, naming the reason, without a usable GPU.
deeper_test_suite(gpu_analysis LABEL gpu LIBS deeper_analysis)
