# E1 (shape vs texture generalisation, analysis/e1_generalisation.h) on a small trained run: the
# manipulation series, the per-image and summary statistics, the JSON and the refused settings.
deeper_test_suite(analysis_e1 LABEL cpu LIBS deeper_analysis)
