# Command-line conventions, logging and progress (core/cli.h, core/log.h, core/progress.h).
deeper_test_suite(cli LABEL cpu LIBS deeper_core)
