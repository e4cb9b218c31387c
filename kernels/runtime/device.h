// Devices: which backend runs the kernels (cpu reference, CUDA GPU, or the kernel emulator), parsing
// of the `--device auto|cpu|emu|cuda|cuda:N` option, CUDA discovery without a GPU, and a
// human-readable description of the chosen device.
//
// Nothing here needs a GPU or a driver: probe_cuda() turns "no driver" and "no device" into a count
// of 0 and a reason, so that `auto` can fall back to the CPU and say why.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace deeper {

enum class Backend : std::uint8_t { cpu, cuda, emu };

// "cpu", "cuda" or "emu".
std::string_view backend_name(Backend backend);

struct Device {
  Backend backend = Backend::cpu;
  int index = 0;  // the CUDA device ordinal; 0 for cpu and emu

  static constexpr Device cpu() { return {Backend::cpu, 0}; }
  static constexpr Device emu() { return {Backend::emu, 0}; }
  static constexpr Device cuda(int ordinal = 0) { return {Backend::cuda, ordinal}; }

  // True when the device's memory is ordinary host memory (cpu and emu).
  bool host_memory() const { return backend != Backend::cuda; }
  // "cpu", "emu", "cuda:0".
  std::string name() const;

  bool operator==(const Device&) const = default;
};

// Parses a device option. Accepted: auto, cpu, emu, cuda (= cuda:0), cuda:N. `auto` resolves to the
// device select_device("auto") picks. Throws deeper::Error on anything else, naming the accepted
// forms. Does not check that an explicit CUDA device exists; select_device does.
Device parse_device(std::string_view spec);

// What the CUDA runtime reports on this machine. device_count is 0 when CUDA is unusable, and
// reason then says why (e.g. "no CUDA driver (libcuda.so not found)"); otherwise reason lists the
// count. The probe runs once per process; later calls return the cached result.
struct CudaProbe {
  int device_count = 0;
  std::string reason;
};
CudaProbe probe_cuda();

// Why `device` cannot be used by this process: "" for host devices and for a CUDA device that
// exists; otherwise e.g. "CUDA is unusable: no CUDA driver (libcuda.so not found)" or "only 1 CUDA
// device is visible (cuda:0 to cuda:0)". Memory, streams and events check this first, so that
// their errors say why rather than which CUDA call failed.
std::string cuda_unusable_reason(const Device& device);

// Whether deeper_kernels was compiled with nvcc kernels (DEEPER_WITH_CUDA=ON). Without them a GPU
// can hold memory but cannot run deeper's kernels.
bool cuda_kernels_built();

// The device a program runs on and one log line saying which and why.
struct DeviceChoice {
  Device device;
  std::string why;
};
// `auto` picks cuda:0 when a CUDA device is usable and the kernels were built, otherwise cpu.
// An explicit cuda[:N] that is unusable (no driver, no device, N out of range, no kernels built)
// throws deeper::Error with the reason. Typos throw as in parse_device.
DeviceChoice select_device(std::string_view spec);

// One line about the device: for CUDA its name, SM count, memory, compute capability, driver and
// runtime versions; for cpu the hardware threads; for emu that it is the kernel emulator. Throws
// deeper::Error when a CUDA query fails.
std::string describe_device(const Device& device);

// Makes a CUDA device current for the lifetime of the scope and restores the previous one after.
// Does nothing for host devices. Throws deeper::Error when the device cannot be made current.
class CudaDeviceScope {
 public:
  explicit CudaDeviceScope(const Device& device);
  ~CudaDeviceScope();
  CudaDeviceScope(const CudaDeviceScope&) = delete;
  CudaDeviceScope& operator=(const CudaDeviceScope&) = delete;

 private:
  int previous_ = -1;  // -1: nothing to restore
};

}  // namespace deeper
