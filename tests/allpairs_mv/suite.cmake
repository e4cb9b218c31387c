# The batched multivariate engines (infotheory/allpairs_mv.h) against the per-pair reference
# estimators, the univariate engines (d = 1) and analytic values, with their permutation statistics.
deeper_test_suite(allpairs_mv LABEL cpu LIBS deeper_infotheory)
