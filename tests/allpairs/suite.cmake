# The batched all-pairs GCMI engine (infotheory/allpairs.h) against the per-pair reference
# estimators, and its permutation statistics.
deeper_test_suite(allpairs LABEL cpu LIBS deeper_infotheory)
