// Devices: names, the --device parser, CUDA discovery and auto selection on the machine at hand.
#include <gtest/gtest.h>

#include "core/error.h"
#include "kernels/runtime/device.h"
#include "tests/support/error_of.h"

#include <string>

namespace deeper {
namespace {

using deeper::test_util::error_of;

TEST(Device, NamesAndMemory) {
  EXPECT_EQ(backend_name(Backend::cpu), "cpu");
  EXPECT_EQ(backend_name(Backend::cuda), "cuda");
  EXPECT_EQ(backend_name(Backend::emu), "emu");
  EXPECT_EQ(Device::cpu().name(), "cpu");
  EXPECT_EQ(Device::emu().name(), "emu");
  EXPECT_EQ(Device::cuda(3).name(), "cuda:3");
  EXPECT_TRUE(Device::cpu().host_memory());
  EXPECT_TRUE(Device::emu().host_memory());
  EXPECT_FALSE(Device::cuda().host_memory());
  EXPECT_EQ(Device{}, Device::cpu());
  EXPECT_NE(Device::cuda(0), Device::cuda(1));
}

TEST(Device, ParsesExplicitForms) {
  EXPECT_EQ(parse_device("cpu"), Device::cpu());
  EXPECT_EQ(parse_device("emu"), Device::emu());
  EXPECT_EQ(parse_device("cuda"), Device::cuda(0));
  EXPECT_EQ(parse_device("cuda:0"), Device::cuda(0));
  EXPECT_EQ(parse_device("cuda:7"), Device::cuda(7));
  EXPECT_EQ(parse_device("cuda:1023"), Device::cuda(1023));
}

TEST(Device, AutoResolvesLikeSelectDevice) { EXPECT_EQ(parse_device("auto"), select_device("auto").device); }

TEST(Device, RejectsTyposNamingTheAcceptedForms) {
  for (const char* spec : {"", "gpu", "CUDA", "Cpu", " cpu", "cpu ", "cuda0", "emu:0", "cpu:0", "auto,cpu"}) {
    const std::string message = error_of([&] { parse_device(spec); });
    EXPECT_NE(message.find(std::string("'") + spec + "'"), std::string::npos) << message;
    EXPECT_NE(message.find("auto, cpu, emu, cuda or cuda:N"), std::string::npos) << message;
  }
  for (const char* spec : {"cuda:", "cuda:-1", "cuda:+1", "cuda:x", "cuda:1:2", "cuda: 1", "cuda:1024",
                           "cuda:00001", "cuda:99999999999999999999"}) {
    const std::string message = error_of([&] { parse_device(spec); });
    EXPECT_NE(message.find("0 to 1023"), std::string::npos) << spec << ": " << message;
    EXPECT_NE(message.find("auto, cpu, emu, cuda or cuda:N"), std::string::npos) << message;
  }
}

TEST(Device, ProbeGivesACountAndAReason) {
  const CudaProbe probe = probe_cuda();
  EXPECT_GE(probe.device_count, 0);
  EXPECT_FALSE(probe.reason.empty());
  const CudaProbe again = probe_cuda();
  EXPECT_EQ(again.device_count, probe.device_count);
  EXPECT_EQ(again.reason, probe.reason);
}

TEST(Device, KernelsBuiltFlagMatchesTheBuild) {
  EXPECT_EQ(cuda_kernels_built(), DEEPER_HAVE_CUDA_KERNELS != 0);
}

TEST(Device, AutoPicksCudaOnlyWhenUsableAndSaysWhy) {
  const CudaProbe probe = probe_cuda();
  const DeviceChoice choice = select_device("auto");
  EXPECT_EQ(choice.why.find('\n'), std::string::npos) << "one log line";
  EXPECT_EQ(choice.why.rfind("device auto: using ", 0), 0u) << choice.why;
  if (probe.device_count > 0 && cuda_kernels_built()) {
    EXPECT_EQ(choice.device, Device::cuda(0));
    EXPECT_NE(choice.why.find("cuda:0"), std::string::npos) << choice.why;
  } else {
    EXPECT_EQ(choice.device, Device::cpu());
    EXPECT_NE(choice.why.find("using cpu"), std::string::npos) << choice.why;
    if (probe.device_count == 0) {
      EXPECT_NE(choice.why.find(probe.reason), std::string::npos) << choice.why;
    }
  }
}

TEST(Device, WithoutCudaAutoFallsBackAndExplicitCudaThrowsTheReason) {
  const CudaProbe probe = probe_cuda();
  if (probe.device_count > 0)
    GTEST_SKIP() << "this machine has a usable CUDA device (" << probe.reason << ")";
  EXPECT_EQ(select_device("auto").device, Device::cpu());
  for (const char* spec : {"cuda", "cuda:0", "cuda:3"}) {
    const std::string message = error_of([&] { select_device(spec); });
    EXPECT_NE(message.find("requested but CUDA is unusable: " + probe.reason), std::string::npos) << message;
  }
}

TEST(Device, CudaIndexOutOfRangeThrows) {
  const CudaProbe probe = probe_cuda();
  const std::string spec = "cuda:" + std::to_string(probe.device_count);
  const std::string message = error_of([&] { select_device(spec); });
  EXPECT_NE(message.find(spec), std::string::npos) << message;
}

TEST(Device, UnusableReasonIsEmptyOnlyForUsableDevices) {
  const CudaProbe probe = probe_cuda();
  EXPECT_EQ(cuda_unusable_reason(Device::cpu()), "");
  EXPECT_EQ(cuda_unusable_reason(Device::emu()), "");
  EXPECT_NE(cuda_unusable_reason(Device::cuda(probe.device_count)), "");
  if (probe.device_count == 0) {
    EXPECT_EQ(cuda_unusable_reason(Device::cuda(0)), "CUDA is unusable: " + probe.reason);
  } else {
    EXPECT_EQ(cuda_unusable_reason(Device::cuda(0)), "");
  }
}

TEST(Device, HostDevicesAreSelectedAsRequested) {
  EXPECT_EQ(select_device("cpu").device, Device::cpu());
  EXPECT_EQ(select_device("emu").device, Device::emu());
  EXPECT_EQ(select_device("emu").why, "device emu: as requested");
}

TEST(Device, DescribesHostDevices) {
  EXPECT_NE(describe_device(Device::cpu()).find("hardware threads"), std::string::npos);
  EXPECT_EQ(describe_device(Device::emu()).rfind("emu: kernel emulator on the CPU", 0), 0u);
}

TEST(Device, DescribingAMissingCudaDeviceThrows) {
  const CudaProbe probe = probe_cuda();
  const Device missing = Device::cuda(probe.device_count);
  const std::string message = error_of([&] { describe_device(missing); });
  EXPECT_NE(message.find(missing.name()), std::string::npos) << message;
}

TEST(Device, ScopeOnHostDevicesTouchesNoCuda) {
  // Would throw without a driver if it called into CUDA.
  EXPECT_NO_THROW({ const CudaDeviceScope scope(Device::cpu()); });
  EXPECT_NO_THROW({ const CudaDeviceScope scope(Device::emu()); });
}

}  // namespace
}  // namespace deeper
