#include "kernels/runtime/device.h"

#include "core/error.h"
#include "kernels/runtime/bytes.h"
#include "kernels/runtime/cuda_check.h"

#include <cuda_runtime_api.h>
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <optional>
#include <thread>

namespace deeper {
namespace {

constexpr std::string_view accepted_forms = "auto, cpu, emu, cuda or cuda:N (N a device number, e.g. cuda:0)";

constexpr int max_cuda_devices = 1024;

struct DeviceSpec {
  bool automatic = false;
  Device device;
};

DeviceSpec parse_spec(std::string_view spec) {
  if (spec == "auto") return {true, Device::cpu()};
  if (spec == "cpu") return {false, Device::cpu()};
  if (spec == "emu") return {false, Device::emu()};
  if (spec == "cuda") return {false, Device::cuda(0)};
  constexpr std::string_view cuda_prefix = "cuda:";
  if (spec.starts_with(cuda_prefix)) {
    // The same forms core/cli.h's is_device_string accepts: 1 to 4 digits, N below 1024.
    const std::string_view digits = spec.substr(cuda_prefix.size());
    int index = -1;
    const bool all_digits = !digits.empty() && digits.size() <= 4 &&
                            digits.find_first_not_of("0123456789") == std::string_view::npos;
    if (all_digits) std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (!all_digits || index >= max_cuda_devices) {
      fail("bad device '{}': N in cuda:N must be a device number from 0 to {}; expected {}", spec,
           max_cuda_devices - 1, accepted_forms);
    }
    return {false, Device::cuda(index)};
  }
  fail("unknown device '{}': expected {}", spec, accepted_forms);
}

// 13000 -> "13.0", 12080 -> "12.8".
std::string cuda_version_text(int version) {
  return fmt::format("{}.{}", version / 1000, (version % 1000) / 10);
}

CudaProbe run_probe() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  static_cast<void>(cudaGetLastError());  // the probe's failure is reported through the reason only
  if (status == cudaSuccess && count > 0) {
    return {count, fmt::format("{} CUDA device{} visible", count, count == 1 ? "" : "s")};
  }
  const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
  const std::string visible_note =
      visible != nullptr ? fmt::format("; CUDA_VISIBLE_DEVICES is '{}'", visible) : std::string();
  if (status == cudaSuccess || status == cudaErrorNoDevice) {
    return {0, fmt::format("no CUDA device found{}", visible_note)};
  }
  if (status == cudaErrorInsufficientDriver) {
    int driver = 0;
    int runtime = 0;
    static_cast<void>(cudaDriverGetVersion(&driver));
    static_cast<void>(cudaRuntimeGetVersion(&runtime));
    static_cast<void>(cudaGetLastError());
    if (driver == 0) return {0, "no CUDA driver (libcuda.so not found)"};
    return {0, fmt::format("the CUDA driver supports CUDA {} but deeper was built with CUDA {}; "
                           "update the NVIDIA driver",
                           cuda_version_text(driver), cuda_version_text(runtime))};
  }
  return {0, fmt::format("cudaGetDeviceCount failed: {} ({}){}", cudaGetErrorString(status),
                         cudaGetErrorName(status), visible_note)};
}

// The probe runs once; callers on hot paths (copies, allocations) read it without copying.
const CudaProbe& cached_probe() {
  static const CudaProbe probe = run_probe();
  return probe;
}

std::optional<std::string> gpu_name(int index) {
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, index) != cudaSuccess) {
    static_cast<void>(cudaGetLastError());
    return std::nullopt;
  }
  return std::string(prop.name);
}

std::string with_gpu_name(const Device& device) {
  const std::optional<std::string> name = gpu_name(device.index);
  return name ? fmt::format("{} ({})", device.name(), *name) : device.name();
}

unsigned hardware_threads() { return std::max(1u, std::thread::hardware_concurrency()); }

}  // namespace

std::string_view backend_name(Backend backend) {
  switch (backend) {
    case Backend::cpu: return "cpu";
    case Backend::cuda: return "cuda";
    case Backend::emu: return "emu";
  }
  return "?";
}

std::string Device::name() const {
  if (backend == Backend::cuda) return fmt::format("cuda:{}", index);
  return std::string(backend_name(backend));
}

Device parse_device(std::string_view spec) {
  const DeviceSpec parsed = parse_spec(spec);
  return parsed.automatic ? select_device(spec).device : parsed.device;
}

CudaProbe probe_cuda() { return cached_probe(); }

std::string cuda_unusable_reason(const Device& device) {
  if (device.backend != Backend::cuda) return {};
  const CudaProbe& probe = cached_probe();
  if (probe.device_count == 0) return fmt::format("CUDA is unusable: {}", probe.reason);
  if (device.index < 0 || device.index >= probe.device_count) {
    return fmt::format("only {} CUDA device{} visible (cuda:0 to cuda:{})", probe.device_count,
                       probe.device_count == 1 ? " is" : "s are", probe.device_count - 1);
  }
  return {};
}

bool cuda_kernels_built() { return DEEPER_HAVE_CUDA_KERNELS != 0; }

DeviceChoice select_device(std::string_view spec) {
  const DeviceSpec parsed = parse_spec(spec);
  if (parsed.automatic) {
    const CudaProbe probe = probe_cuda();
    if (probe.device_count > 0 && cuda_kernels_built()) {
      const Device gpu = Device::cuda(0);
      return {gpu, fmt::format("device auto: using {}, {}", with_gpu_name(gpu), probe.reason)};
    }
    const std::string reason =
        probe.device_count == 0
            ? probe.reason
            : fmt::format("{} but this build has no CUDA kernels (configured with DEEPER_WITH_CUDA=OFF)",
                          probe.reason);
    return {Device::cpu(), fmt::format("device auto: using cpu, {}", reason)};
  }
  const Device device = parsed.device;
  if (device.backend != Backend::cuda) return {device, fmt::format("device {}: as requested", device.name())};

  const std::string unusable = cuda_unusable_reason(device);
  if (!unusable.empty()) fail("device {} requested but {}", device.name(), unusable);
  if (!cuda_kernels_built()) {
    fail(
        "device {} requested but this build has no CUDA kernels (configured with "
        "DEEPER_WITH_CUDA=OFF); rebuild with CUDA or use --device cpu or emu",
        device.name());
  }
  return {device, fmt::format("device {}: as requested", with_gpu_name(device))};
}

std::string describe_device(const Device& device) {
  switch (device.backend) {
    case Backend::cpu:
      return fmt::format("cpu: {} hardware threads, OpenMP uses {}", hardware_threads(),
                         omp_get_max_threads());
    case Backend::emu:
      return fmt::format("emu: kernel emulator on the CPU, {} hardware threads", hardware_threads());
    case Backend::cuda: break;
  }
  const std::string unusable = cuda_unusable_reason(device);
  if (!unusable.empty()) fail("cannot describe {}: {}", device.name(), unusable);
  cudaDeviceProp prop{};
  DEEPER_CUDA_CHECK(cudaGetDeviceProperties(&prop, device.index));
  int driver = 0;
  int runtime = 0;
  DEEPER_CUDA_CHECK(cudaDriverGetVersion(&driver));
  DEEPER_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
  return fmt::format("{}: {}, {} SMs, {} memory, compute capability {}.{}, driver {}, runtime {}",
                     device.name(), prop.name, prop.multiProcessorCount, format_bytes(prop.totalGlobalMem),
                     prop.major, prop.minor, cuda_version_text(driver), cuda_version_text(runtime));
}

CudaDeviceScope::CudaDeviceScope(const Device& device) {
  if (device.backend != Backend::cuda) return;
  int current = 0;
  DEEPER_CUDA_CHECK(cudaGetDevice(&current));
  if (current == device.index) return;
  DEEPER_CUDA_CHECK(cudaSetDevice(device.index));
  previous_ = current;
}

CudaDeviceScope::~CudaDeviceScope() {
  if (previous_ >= 0) DEEPER_CUDA_CHECK_NOTHROW(cudaSetDevice(previous_));
}

}  // namespace deeper
