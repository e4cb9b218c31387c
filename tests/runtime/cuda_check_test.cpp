// The checked-CUDA-call macros: the exact message format, with literal error codes and with real
// CUDA calls that fail on any machine (an invalid device ordinal fails with or without a GPU).
#include <gtest/gtest.h>

#include "core/error.h"
#include "kernels/runtime/cuda_check.h"
#include "tests/support/error_of.h"

#include <cuda_runtime_api.h>

#include <string>

namespace deeper {
namespace {

using test_util::error_of;

std::string expected_message(const std::string& call, int line, cudaError_t status) {
  return call + " failed at tests/runtime/cuda_check_test.cpp:" + std::to_string(line) + ": " +
         cudaGetErrorString(status) + " (" + cudaGetErrorName(status) + ")";
}

TEST(CudaCheck, SuccessDoesNotThrow) { EXPECT_NO_THROW(DEEPER_CUDA_CHECK(cudaSuccess)); }

TEST(CudaCheck, LiteralErrorCodeGivesTheExactMessage) {
  int line = 0;
  const std::string message = error_of([&] {
    line = __LINE__ + 1;
    DEEPER_CUDA_CHECK(cudaErrorInvalidValue);
  });
  EXPECT_EQ(message, "cudaErrorInvalidValue failed at tests/runtime/cuda_check_test.cpp:" +
                         std::to_string(line) + ": invalid argument (cudaErrorInvalidValue)");
}

TEST(CudaCheck, MessageHelperFormatsEveryPart) {
  EXPECT_EQ(detail::cuda_error_message(cudaErrorMemoryAllocation, "cudaMalloc(&p, n)", "kernels/x.cpp", 42),
            "cudaMalloc(&p, n) failed at kernels/x.cpp:42: out of memory (cudaErrorMemoryAllocation)");
}

TEST(CudaCheck, RealFailingCallNamesTheCallTextPlaceAndCudaMessage) {
  int line = 0;
  const std::string message = error_of([&] {
    line = __LINE__ + 1;
    DEEPER_CUDA_CHECK(cudaSetDevice(999));
  });
  // What cudaSetDevice(999) reports here: cudaErrorInvalidDevice with a GPU, the driver's absence
  // (cudaErrorInsufficientDriver or cudaErrorNoDevice) without one.
  const cudaError_t status = cudaSetDevice(999);
  static_cast<void>(cudaGetLastError());
  ASSERT_NE(status, cudaSuccess);
  EXPECT_EQ(message, expected_message("cudaSetDevice(999)", line, status));
}

TEST(CudaCheck, ThrowsDeeperError) { EXPECT_THROW(DEEPER_CUDA_CHECK(cudaErrorNotReady), Error); }

TEST(CudaCheck, NoThrowVariantLogsOneWarningLine) {
  ::testing::internal::CaptureStderr();
  int line = 0;
  EXPECT_NO_THROW({
    line = __LINE__ + 1;
    DEEPER_CUDA_CHECK_NOTHROW(cudaErrorInvalidValue);
  });
  const std::string logged = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(logged, "deeper: warning: " +
                        expected_message("cudaErrorInvalidValue", line, cudaErrorInvalidValue) + "\n");
}

TEST(CudaCheck, NoThrowVariantIsSilentOnSuccess) {
  ::testing::internal::CaptureStderr();
  DEEPER_CUDA_CHECK_NOTHROW(cudaSuccess);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST(CudaCheck, LastErrorAfterALaunchNamesTheKernel) {
  // A failed runtime call leaves CUDA's last error set, as a bad launch configuration does.
  const cudaError_t status = cudaSetDevice(999);
  ASSERT_NE(status, cudaSuccess);
  int line = 0;
  const std::string message = error_of([&] {
    line = __LINE__ + 1;
    DEEPER_CUDA_CHECK_LAST("reduce_sum<float, 256>");
  });
  EXPECT_EQ(message, expected_message("launch of reduce_sum<float, 256>", line, status));
}

}  // namespace
}  // namespace deeper
