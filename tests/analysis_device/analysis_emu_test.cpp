#include "tests/support/analysis_device_check.h"

TEST(AnalysisOnEmu, MatchesTheCpu) { analysis_test::expect_device_matches_cpu(deeper::Device::emu()); }
