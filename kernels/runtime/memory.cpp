#include "kernels/runtime/memory.h"

#include "core/error.h"
#include "kernels/runtime/bytes.h"
#include "kernels/runtime/cuda_check.h"
#include "kernels/runtime/stream.h"

#include <cuda_runtime_api.h>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <new>
#include <utility>

namespace deeper {
namespace {

std::atomic<std::uint64_t> device_buffer_allocations{0};

std::string size_text(std::size_t bytes) { return fmt::format("{} ({} bytes)", format_bytes(bytes), bytes); }

std::uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return UINT64_MAX;  // unknown: let the allocator decide
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size);
}

// 256-byte-aligned host memory; `what` names the device in errors ("cpu", "pinned host memory").
void* allocate_host(std::size_t bytes, std::string_view what) {
  const std::uint64_t physical = physical_memory_bytes();
  if (bytes > physical) {
    fail("cannot allocate {} on {}: larger than this machine's {} of memory", size_text(bytes), what,
         format_bytes(physical));
  }
  void* data = ::operator new(bytes, std::align_val_t{buffer_alignment}, std::nothrow);
  if (data == nullptr) fail("cannot allocate {} on {}: out of host memory", size_text(bytes), what);
  return data;
}

void free_host(void* data) noexcept { ::operator delete(data, std::align_val_t{buffer_alignment}); }

cudaStream_t native_stream(const Stream* stream) {
  return stream != nullptr ? static_cast<cudaStream_t>(stream->native()) : nullptr;
}

// Host-memory work must come after what is already queued on a CUDA stream.
void wait_for(Stream* stream) {
  if (native_stream(stream) != nullptr) stream->synchronize();
}

// The CUDA device whose context runs a copy or fill: the stream's when one is given (it must be one
// of the CUDA devices involved), else the first CUDA device involved.
Device pick_cuda_device(const Stream* stream, Device a, Device b, std::string_view operation) {
  const cudaStream_t native = native_stream(stream);
  if (native == nullptr) return a.backend == Backend::cuda ? a : b;
  const Device s = stream->device();
  if (s != a && s != b) {
    fail("{} between {} and {} cannot run on a stream of {}", operation, a.name(), b.name(), s.name());
  }
  return s;
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// DeviceBuffer

DeviceBuffer::DeviceBuffer(Device device, std::size_t bytes) : device_(device) {
  if (bytes == 0) return;
  if (device.host_memory()) {
    data_ = allocate_host(bytes, device.name());
  } else {
    const std::string unusable = cuda_unusable_reason(device);
    if (!unusable.empty()) fail("cannot allocate {} on {}: {}", size_text(bytes), device.name(), unusable);
    const CudaDeviceScope scope(device);
    void* data = nullptr;
    const cudaError_t status = cudaMalloc(&data, bytes);
    if (status != cudaSuccess) {
      const std::string cuda_message =
          detail::cuda_error_message(status, "cudaMalloc(&data, bytes)", __FILE__, __LINE__);
      static_cast<void>(cudaGetLastError());
      std::size_t free_bytes = 0;
      std::size_t total_bytes = 0;
      std::string memory_note;
      if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) {
        memory_note = fmt::format(" ({} free of {})", format_bytes(free_bytes), format_bytes(total_bytes));
      }
      static_cast<void>(cudaGetLastError());
      fail("cannot allocate {} on {}{}: {}", size_text(bytes), device.name(), memory_note, cuda_message);
    }
    data_ = data;
  }
  bytes_ = bytes;
  device_buffer_allocations.fetch_add(1, std::memory_order_relaxed);
}

DeviceBuffer::~DeviceBuffer() { release(); }

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : device_(other.device_),
      data_(std::exchange(other.data_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    release();
    device_ = other.device_;
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void DeviceBuffer::release() noexcept {
  if (data_ == nullptr) return;
  if (device_.host_memory()) {
    free_host(data_);
  } else {
    DEEPER_CUDA_CHECK_NOTHROW(cudaFree(data_));
  }
  data_ = nullptr;
  bytes_ = 0;
}

std::uint64_t DeviceBuffer::allocation_count() {
  return device_buffer_allocations.load(std::memory_order_relaxed);
}

// ------------------------------------------------------------------------------------------------
// PinnedBuffer

PinnedBuffer::PinnedBuffer(std::size_t bytes) {
  if (bytes == 0) return;
  if (probe_cuda().device_count > 0) {
    const std::uint64_t physical = physical_memory_bytes();
    if (bytes > physical) {
      fail("cannot allocate {} of pinned host memory: larger than this machine's {} of memory",
           size_text(bytes), format_bytes(physical));
    }
    void* data = nullptr;
    const cudaError_t status = cudaHostAlloc(&data, bytes, cudaHostAllocPortable);
    if (status != cudaSuccess) {
      const std::string cuda_message = detail::cuda_error_message(
          status, "cudaHostAlloc(&data, bytes, cudaHostAllocPortable)", __FILE__, __LINE__);
      static_cast<void>(cudaGetLastError());
      fail("cannot allocate {} of pinned host memory: {}", size_text(bytes), cuda_message);
    }
    data_ = data;
    pinned_ = true;
  } else {
    data_ = allocate_host(bytes, "host (unpinned: no CUDA device)");
  }
  bytes_ = bytes;
}

PinnedBuffer::~PinnedBuffer() { release(); }

PinnedBuffer::PinnedBuffer(PinnedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)),
      pinned_(std::exchange(other.pinned_, false)) {}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
    pinned_ = std::exchange(other.pinned_, false);
  }
  return *this;
}

void PinnedBuffer::release() noexcept {
  if (data_ == nullptr) return;
  if (pinned_) {
    DEEPER_CUDA_CHECK_NOTHROW(cudaFreeHost(data_));
  } else {
    free_host(data_);
  }
  data_ = nullptr;
  bytes_ = 0;
  pinned_ = false;
}

// ------------------------------------------------------------------------------------------------
// Copies and fills

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes,
                Stream* stream) {
  if (bytes == 0) return;
  if (dst == nullptr || src == nullptr) {
    fail("cannot copy {} from {} to {}: {} pointer is null", size_text(bytes), src_device.name(),
         dst_device.name(), src == nullptr ? "the source" : "the destination");
  }
  if (dst_device.host_memory() && src_device.host_memory()) {
    wait_for(stream);
    std::memcpy(dst, src, bytes);
    return;
  }
  for (const Device& device : {src_device, dst_device}) {
    const std::string unusable = cuda_unusable_reason(device);
    if (!unusable.empty()) {
      fail("cannot copy {} from {} to {}: {}", size_text(bytes), src_device.name(), dst_device.name(),
           unusable);
    }
  }
  const Device active = pick_cuda_device(stream, dst_device, src_device, "a copy");
  const CudaDeviceScope scope(active);
  const cudaStream_t native = native_stream(stream);

  if (dst_device.backend == Backend::cuda && src_device.backend == Backend::cuda &&
      dst_device.index != src_device.index) {
    if (native != nullptr) {
      DEEPER_CUDA_CHECK(cudaMemcpyPeerAsync(dst, dst_device.index, src, src_device.index, bytes, native));
    } else {
      DEEPER_CUDA_CHECK(cudaMemcpyPeer(dst, dst_device.index, src, src_device.index, bytes));
      DEEPER_CUDA_CHECK(cudaDeviceSynchronize());
    }
    return;
  }
  const cudaMemcpyKind kind = dst_device.host_memory()   ? cudaMemcpyDeviceToHost
                              : src_device.host_memory() ? cudaMemcpyHostToDevice
                                                         : cudaMemcpyDeviceToDevice;
  if (native != nullptr) {
    DEEPER_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, native));
  } else {
    DEEPER_CUDA_CHECK(cudaMemcpy(dst, src, bytes, kind));
    // cudaMemcpy returns before a device-to-device copy has finished; make "complete on return" hold.
    if (kind == cudaMemcpyDeviceToDevice) DEEPER_CUDA_CHECK(cudaStreamSynchronize(nullptr));
  }
}

void fill_bytes(void* dst, Device device, unsigned char value, std::size_t bytes, Stream* stream) {
  if (bytes == 0) return;
  if (dst == nullptr) fail("cannot fill {} on {}: the pointer is null", size_text(bytes), device.name());
  if (device.host_memory()) {
    wait_for(stream);
    std::memset(dst, value, bytes);
    return;
  }
  const std::string unusable = cuda_unusable_reason(device);
  if (!unusable.empty()) fail("cannot fill {} on {}: {}", size_text(bytes), device.name(), unusable);
  const Device active = pick_cuda_device(stream, device, device, "a fill");
  const CudaDeviceScope scope(active);
  const cudaStream_t native = native_stream(stream);
  if (native != nullptr) {
    DEEPER_CUDA_CHECK(cudaMemsetAsync(dst, value, bytes, native));
  } else {
    DEEPER_CUDA_CHECK(cudaMemset(dst, value, bytes));
    DEEPER_CUDA_CHECK(cudaStreamSynchronize(nullptr));
  }
}

std::size_t available_memory(Device device) {
  if (device.host_memory()) {
    const long pages = sysconf(_SC_AVPHYS_PAGES);
    const long page_size = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || page_size <= 0) return static_cast<std::size_t>(physical_memory_bytes());
    return static_cast<std::size_t>(pages) * static_cast<std::size_t>(page_size);
  }
  const std::string unusable = cuda_unusable_reason(device);
  if (!unusable.empty()) fail("cannot query the memory of {}: {}", device.name(), unusable);
  const CudaDeviceScope scope(device);
  std::size_t free_bytes = 0, total_bytes = 0;
  DEEPER_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return free_bytes;
}

}  // namespace deeper
