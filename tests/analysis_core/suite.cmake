# The analysis library's core (analysis/run, stimuli, trials, features, E2, E3, E4): a small trained
# run (tests/support/analysis_fixture.h), trial and feature construction against direct evaluation,
# the E2 maps against per-feature GCMI and their significance masks against the null maxima.
deeper_test_suite(analysis_core LABEL cpu LIBS deeper_analysis)
