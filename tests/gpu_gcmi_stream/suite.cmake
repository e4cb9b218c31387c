# The streamed all-pairs GCMI engine (infotheory/allpairs_stream.h) on a real GPU: tiles in flight on
# two streams give the untiled bits, and the fp64 CPU engine's result within fp32 rounding.
deeper_test_suite(gpu_gcmi_stream LABEL gpu LIBS deeper_infotheory)
