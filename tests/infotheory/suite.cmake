# The fp64 CPU reference GCMI estimators (infotheory/) and core/special_functions: fixtures made
# by scripts/make-gcmi-fixtures.py, the constants of gcmi.md section 12, analytic and behavioural
# checks, tie policies and bad input.
deeper_test_suite(infotheory LABEL cpu LIBS deeper_infotheory)
