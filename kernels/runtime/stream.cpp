#include "kernels/runtime/stream.h"

#include "core/error.h"
#include "kernels/runtime/cuda_check.h"

#include <cuda_runtime_api.h>

#include <utility>

namespace deeper {

// ------------------------------------------------------------------------------------------------
// Stream

Stream::Stream(Device device, StreamOrder order) : device_(device) {
  if (device_.backend != Backend::cuda) return;
  const std::string unusable = cuda_unusable_reason(device_);
  if (!unusable.empty()) fail("cannot create a stream on {}: {}", device_.name(), unusable);
  const CudaDeviceScope scope(device_);
  cudaStream_t stream = nullptr;
  if (order == StreamOrder::concurrent) {
    DEEPER_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  } else {
    DEEPER_CUDA_CHECK(cudaStreamCreate(&stream));
  }
  native_ = stream;
}

Stream::~Stream() { release(); }

Stream::Stream(Stream&& other) noexcept
    : device_(other.device_), native_(std::exchange(other.native_, nullptr)) {}

Stream& Stream::operator=(Stream&& other) noexcept {
  if (this != &other) {
    release();
    device_ = other.device_;
    native_ = std::exchange(other.native_, nullptr);
  }
  return *this;
}

void Stream::release() noexcept {
  if (native_ != nullptr) {
    DEEPER_CUDA_CHECK_NOTHROW(cudaStreamDestroy(static_cast<cudaStream_t>(native_)));
    native_ = nullptr;
  }
}

void Stream::synchronize() {
  if (native_ == nullptr) return;
  DEEPER_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(native_)));
}

// ------------------------------------------------------------------------------------------------
// Event

Event::Event(Device device) : device_(device) {
  if (device_.backend != Backend::cuda) return;
  const std::string unusable = cuda_unusable_reason(device_);
  if (!unusable.empty()) fail("cannot create an event on {}: {}", device_.name(), unusable);
  const CudaDeviceScope scope(device_);
  cudaEvent_t event = nullptr;
  DEEPER_CUDA_CHECK(cudaEventCreate(&event));
  native_ = event;
}

Event::~Event() { release(); }

Event::Event(Event&& other) noexcept
    : device_(other.device_),
      native_(std::exchange(other.native_, nullptr)),
      host_time_(other.host_time_),
      recorded_(std::exchange(other.recorded_, false)) {}

Event& Event::operator=(Event&& other) noexcept {
  if (this != &other) {
    release();
    device_ = other.device_;
    native_ = std::exchange(other.native_, nullptr);
    host_time_ = other.host_time_;
    recorded_ = std::exchange(other.recorded_, false);
  }
  return *this;
}

void Event::release() noexcept {
  if (native_ != nullptr) {
    DEEPER_CUDA_CHECK_NOTHROW(cudaEventDestroy(static_cast<cudaEvent_t>(native_)));
    native_ = nullptr;
  }
}

void Event::record(Stream& stream) { record(&stream); }

void Event::record(Stream* stream) {
  if (stream != nullptr) {
    DEEPER_CHECK(stream->device() == device_, "cannot record an event of {} on a stream of {}", device_.name(),
                 stream->device().name());
  }
  if (device_.backend == Backend::cuda) {
    DEEPER_CHECK(native_ != nullptr && (stream == nullptr || stream->native() != nullptr),
                 "event or stream on {} was moved from", device_.name());
    const CudaDeviceScope scope(device_);  // the default stream is the current device's
    DEEPER_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(native_),
                                      stream != nullptr ? static_cast<cudaStream_t>(stream->native()) : nullptr));
  } else {
    host_time_ = std::chrono::steady_clock::now();
  }
  recorded_ = true;
}

void Event::synchronize() {
  DEEPER_CHECK(recorded_, "cannot wait for an event on {} that was never recorded", device_.name());
  if (native_ != nullptr) DEEPER_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(native_)));
}

void wait_for_event(Stream* stream, const Event& event) {
  DEEPER_CHECK(event.recorded(), "cannot make a stream wait for an event on {} that was never recorded",
               event.device().name());
  if (stream != nullptr) {
    DEEPER_CHECK(stream->device() == event.device(), "a stream of {} cannot wait for an event of {}",
                 stream->device().name(), event.device().name());
  }
  if (event.device().backend != Backend::cuda) return;
  DEEPER_CHECK(event.native_ != nullptr && (stream == nullptr || stream->native() != nullptr),
               "event or stream on {} was moved from", event.device().name());
  const CudaDeviceScope scope(event.device());
  DEEPER_CUDA_CHECK(cudaStreamWaitEvent(stream != nullptr ? static_cast<cudaStream_t>(stream->native()) : nullptr,
                                        static_cast<cudaEvent_t>(event.native_), 0));
}

double elapsed_ms(const Event& start, const Event& end) {
  DEEPER_CHECK(start.device_ == end.device_, "cannot time events of different devices ({} and {})",
               start.device_.name(), end.device_.name());
  DEEPER_CHECK(start.recorded_ && end.recorded_, "cannot time events on {}: the {} event was never recorded",
               start.device_.name(), start.recorded_ ? "end" : "start");
  if (start.device_.backend != Backend::cuda) {
    return std::chrono::duration<double, std::milli>(end.host_time_ - start.host_time_).count();
  }
  float ms = 0.0f;
  DEEPER_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start.native_),
                                         static_cast<cudaEvent_t>(end.native_)));
  return static_cast<double>(ms);
}

}  // namespace deeper
