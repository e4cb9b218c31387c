# The batched continuous-discrete, conditional and co-information engines (infotheory/allpairs_cd.h,
# allpairs_conditional.h) against the per-pair reference estimators, and their permutation
# statistics.
deeper_test_suite(allpairs_more LABEL cpu LIBS deeper_infotheory)
