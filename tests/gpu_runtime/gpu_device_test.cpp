// Devices and CUDA checks on a real GPU.
#include <gtest/gtest.h>

#include "core/error.h"
#include "kernels/runtime/cuda_check.h"
#include "kernels/runtime/device.h"
#include "tests/support/gpu_test_util.h"
#include "tests/support/error_of.h"

#include <cuda_runtime_api.h>

#include <string>

namespace deeper {
namespace {

using test_util::error_of;

TEST(GpuDevice, ProbeFindsTheGpuAndSelectionUsesIt) {
  DEEPER_REQUIRE_CUDA();
  const CudaProbe probe = probe_cuda();
  EXPECT_GE(probe.device_count, 1);
  EXPECT_NE(probe.reason.find("visible"), std::string::npos) << probe.reason;
  if (!cuda_kernels_built()) {
    EXPECT_THROW(select_device("cuda:0"), Error);
    EXPECT_EQ(select_device("auto").device, Device::cpu());
    GTEST_SKIP() << "built without CUDA kernels (DEEPER_WITH_CUDA=OFF): " << select_device("auto").why;
  }
  const DeviceChoice choice = select_device("cuda:0");
  EXPECT_EQ(choice.device, Device::cuda(0));
  EXPECT_NE(choice.why.find("cuda:0"), std::string::npos) << choice.why;
  EXPECT_EQ(select_device("auto").device, Device::cuda(0));
  EXPECT_EQ(select_device("cuda").device, Device::cuda(0));
}

TEST(GpuDevice, IndexBeyondTheVisibleDevicesThrows) {
  DEEPER_REQUIRE_CUDA();
  const int count = probe_cuda().device_count;
  const std::string spec = "cuda:" + std::to_string(count);
  const std::string message = error_of([&] { select_device(spec); });
  EXPECT_NE(message.find("requested but only " + std::to_string(count) + " CUDA device"), std::string::npos)
      << message;
}

TEST(GpuDevice, DescriptionNamesTheGpu) {
  DEEPER_REQUIRE_CUDA();
  cudaDeviceProp prop{};
  DEEPER_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  const std::string text = describe_device(Device::cuda(0));
  EXPECT_EQ(text.rfind("cuda:0: ", 0), 0u) << text;
  EXPECT_NE(text.find(prop.name), std::string::npos) << text;
  EXPECT_NE(text.find(std::to_string(prop.multiProcessorCount) + " SMs"), std::string::npos) << text;
  EXPECT_NE(text.find("compute capability " + std::to_string(prop.major) + "." + std::to_string(prop.minor)),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("driver "), std::string::npos) << text;
  EXPECT_NE(text.find("runtime "), std::string::npos) << text;
}

TEST(GpuDevice, InvalidOrdinalIsReportedAsSuch) {
  DEEPER_REQUIRE_CUDA();
  const std::string message = error_of([] { DEEPER_CUDA_CHECK(cudaSetDevice(999)); });
  EXPECT_NE(message.find("cudaSetDevice(999) failed at tests/gpu_runtime/gpu_device_test.cpp:"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("(cudaErrorInvalidDevice)"), std::string::npos) << message;
}

TEST(GpuDevice, AFailedCheckDoesNotLeakIntoTheNextLaunchCheck) {
  DEEPER_REQUIRE_CUDA();
  EXPECT_THROW(DEEPER_CUDA_CHECK(cudaSetDevice(999)), Error);
  EXPECT_NO_THROW(DEEPER_CUDA_CHECK_LAST("next_kernel"));
}

TEST(GpuDevice, ScopeSwitchesAndRestoresTheCurrentDevice) {
  DEEPER_REQUIRE_CUDA();
  const int count = probe_cuda().device_count;
  int current = -1;
  DEEPER_CUDA_CHECK(cudaSetDevice(0));
  {
    const CudaDeviceScope scope(Device::cuda(count - 1));
    DEEPER_CUDA_CHECK(cudaGetDevice(&current));
    EXPECT_EQ(current, count - 1);
  }
  DEEPER_CUDA_CHECK(cudaGetDevice(&current));
  EXPECT_EQ(current, 0);
  EXPECT_THROW(CudaDeviceScope scope(Device::cuda(count)), Error);
}

}  // namespace
}  // namespace deeper
