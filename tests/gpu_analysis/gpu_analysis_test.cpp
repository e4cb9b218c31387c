#include "tests/support/analysis_device_check.h"
#include "tests/support/gpu_test_util.h"

TEST(AnalysisOnGpu, MatchesTheCpu) {
  DEEPER_REQUIRE_CUDA();
  analysis_test::expect_device_matches_cpu(deeper::Device::cuda(0));
}
