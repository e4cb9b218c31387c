// Memory: RAII buffers on a device and in pinned host memory, and copies/fills between devices.
//
// cpu and emu memory is ordinary host memory (aligned to 256 bytes, like cudaMalloc), so a kernel
// run by the emulator reads the same buffers the cpu reference does. cuda memory comes from
// cudaMalloc on the buffer's device. Buffers are move-only; a zero-byte buffer holds no memory and
// data() is nullptr.
#pragma once

#include "kernels/runtime/device.h"

#include <cstddef>
#include <cstdint>

namespace deeper {

class Stream;

// The alignment of every DeviceBuffer and PinnedBuffer (and of every Arena allocation).
inline constexpr std::size_t buffer_alignment = 256;

class DeviceBuffer {
 public:
  DeviceBuffer() = default;  // empty: 0 bytes on cpu
  // Allocates `bytes` on `device`. Throws deeper::Error naming the size and the device when the
  // memory is not there (larger than the machine's memory, cudaMalloc failure, overflow).
  DeviceBuffer(Device device, std::size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

  // How many non-empty DeviceBuffers this process has allocated so far, on any device. Tests use it
  // to prove that a steady-state loop allocates nothing.
  static std::uint64_t allocation_count();

 private:
  void release() noexcept;

  Device device_;
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

// Host memory for transfers. Page-locked (cudaHostAlloc, portable to every device) when a CUDA
// device is usable, so that copies can run asynchronously at full speed; otherwise ordinary aligned
// host memory, and pinned() is false.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  // Throws deeper::Error naming the size when the memory cannot be had.
  explicit PinnedBuffer(std::size_t bytes);
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& other) noexcept;
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  bool pinned() const { return pinned_; }

 private:
  void release() noexcept;

  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  bool pinned_ = false;
};

// Copies `bytes` from `src` (memory of src_device) to `dst` (memory of dst_device): host to host,
// host to device, device to host, device to device (peer copies between GPUs included). Pinned
// host memory counts as host memory.
//   stream == nullptr, or a cpu/emu stream: the copy is complete when the call returns.
//   a CUDA stream: the copy is queued on it (host memory must stay alive until it has run); the
//   stream must belong to one of the CUDA devices involved.
// Throws deeper::Error on null pointers with bytes > 0, a stream of an unrelated device, or a CUDA
// failure (the message names the CUDA call).
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes,
                Stream* stream = nullptr);

// Sets `bytes` bytes at `dst` (memory of `device`) to `value`, like memset. Same stream rules and
// errors as copy_bytes.
void fill_bytes(void* dst, Device device, unsigned char value, std::size_t bytes, Stream* stream = nullptr);

// Bytes that an allocation on `device` can take now: cudaMemGetInfo's free memory for CUDA, the
// machine's available physical memory for cpu and emu. Throws deeper::Error on a CUDA failure.
std::size_t available_memory(Device device);

}  // namespace deeper
