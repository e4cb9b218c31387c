// Streams and events: the ordering and timing primitives of a device.
//
// The default stream: a null Stream* (or no stream argument) means the CUDA legacy default stream,
// the one the network and most of the library queue their work on.
//
// On cuda a Stream owns a cudaStream_t and an Event a cudaEvent_t. On cpu and emu work runs
// synchronously on the calling thread, so a Stream is a placeholder whose synchronize() returns at
// once, and an Event records the steady_clock time when record() is called. Timing code is therefore
// the same on every backend:
//
//   Event start(device), stop(device);
//   start.record(stream); work(stream); stop.record(stream);
//   stop.synchronize();
//   double ms = elapsed_ms(start, stop);
#pragma once

#include "kernels/runtime/device.h"

#include <chrono>

namespace deeper {

// How a new CUDA stream orders with the legacy default stream.
enum class StreamOrder {
  with_default,  // cudaStreamCreate: work on it and on the default stream wait for each other, so
                 // synchronous copies stay safe (the usual choice)
  concurrent,    // cudaStreamNonBlocking: runs beside the default stream; order the two with events
                 // (Event::record, wait_for_event) and queue every copy on the stream itself
};

class Stream {
 public:
  // cuda: a new stream on that device, ordered with the default stream as `order` says. cpu/emu:
  // nothing to create. Throws deeper::Error on failure.
  explicit Stream(Device device = Device::cpu(), StreamOrder order = StreamOrder::with_default);
  ~Stream();
  Stream(Stream&& other) noexcept;
  Stream& operator=(Stream&& other) noexcept;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  Device device() const { return device_; }
  // The cudaStream_t as void*, or nullptr on cpu/emu (and for a moved-from stream).
  void* native() const { return native_; }
  // Waits for all work queued on the stream; a no-op on cpu/emu. Throws deeper::Error when the
  // work failed (this is where errors raised inside kernels surface).
  void synchronize();

 private:
  void release() noexcept;

  Device device_;
  void* native_ = nullptr;
};

class Event {
 public:
  // cuda: cudaEventCreate on that device (timing enabled). Throws deeper::Error on failure.
  explicit Event(Device device = Device::cpu());
  ~Event();
  Event(Event&& other) noexcept;
  Event& operator=(Event&& other) noexcept;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  Device device() const { return device_; }
  bool recorded() const { return recorded_; }
  // Marks the point in `stream` after all work queued so far. The stream must be on the event's
  // device; throws deeper::Error otherwise.
  void record(Stream& stream);
  // The same on `stream`, or on the device's legacy default stream when `stream` is null.
  void record(Stream* stream);
  // Waits until the recorded point has been reached; a no-op on cpu/emu. Throws when not recorded.
  void synchronize();

 private:
  friend double elapsed_ms(const Event& start, const Event& end);
  friend void wait_for_event(Stream* stream, const Event& event);
  void release() noexcept;

  Device device_;
  void* native_ = nullptr;  // cudaEvent_t on cuda
  std::chrono::steady_clock::time_point host_time_{};
  bool recorded_ = false;
};

// Work queued on `stream` (the legacy default stream when null) after this call starts only once
// `event`'s recorded point has been reached (cudaStreamWaitEvent); the host does not wait. A no-op
// on cpu/emu, where work runs in call order. Throws deeper::Error when the event was never recorded
// or the devices differ.
void wait_for_event(Stream* stream, const Event& event);

// Milliseconds between two recorded events of the same device. On cuda `end` must have completed
// (call end.synchronize() first). Throws deeper::Error when an event was never recorded, the devices
// differ, or CUDA cannot time them.
double elapsed_ms(const Event& start, const Event& end);

}  // namespace deeper
