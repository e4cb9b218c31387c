// Streams and events on the host backends: synchronous streams, events that time host work.
#include <gtest/gtest.h>

#include "core/error.h"
#include "kernels/runtime/stream.h"
#include "tests/support/error_of.h"

#include <chrono>
#include <thread>
#include <utility>

namespace deeper {
namespace {

using test_util::error_of;

TEST(Stream, HostStreamsHaveNoNativeHandleAndSynchronizeAtOnce) {
  for (const Device device : {Device::cpu(), Device::emu()}) {
    Stream stream(device);
    EXPECT_EQ(stream.device(), device);
    EXPECT_EQ(stream.native(), nullptr);
    EXPECT_NO_THROW(stream.synchronize());
  }
}

TEST(Stream, CudaStreamWithoutAGpuThrows) {
  if (probe_cuda().device_count > 0) GTEST_SKIP() << "a CUDA device is usable here";
  const std::string reason = "CUDA is unusable: " + probe_cuda().reason;
  EXPECT_EQ(error_of([] { Stream stream(Device::cuda(0)); }), "cannot create a stream on cuda:0: " + reason);
  EXPECT_EQ(error_of([] { Event event(Device::cuda(0)); }), "cannot create an event on cuda:0: " + reason);
}

TEST(Event, TimesHostWork) {
  Stream stream(Device::emu());
  Event start(Device::emu());
  Event stop(Device::emu());
  start.record(stream);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  stop.record(stream);
  stop.synchronize();
  const double ms = elapsed_ms(start, stop);
  EXPECT_GE(ms, 20.0);
  EXPECT_LT(ms, 2000.0);
  EXPECT_LE(elapsed_ms(stop, start), -20.0);
}

TEST(Event, UnrecordedEventsCannotBeTimedOrAwaited) {
  Stream stream(Device::cpu());
  Event start(Device::cpu());
  Event stop(Device::cpu());
  EXPECT_FALSE(start.recorded());
  EXPECT_NE(error_of([&] { stop.synchronize(); }).find("never recorded"), std::string::npos);
  start.record(stream);
  EXPECT_TRUE(start.recorded());
  const std::string message = error_of([&] { elapsed_ms(start, stop); });
  EXPECT_NE(message.find("the end event was never recorded"), std::string::npos) << message;
}

TEST(Event, DevicesMustMatch) {
  Stream cpu_stream(Device::cpu());
  Event emu_event(Device::emu());
  const std::string message = error_of([&] { emu_event.record(cpu_stream); });
  EXPECT_NE(message.find("cannot record an event of emu on a stream of cpu"), std::string::npos) << message;
  Event cpu_event(Device::cpu());
  Stream emu_stream(Device::emu());
  cpu_event.record(cpu_stream);
  emu_event.record(emu_stream);
  EXPECT_NE(error_of([&] { elapsed_ms(cpu_event, emu_event); }).find("different devices (cpu and emu)"),
            std::string::npos);
}

TEST(Event, StreamsWaitOnlyForRecordedEventsOfTheirDevice) {
  Stream concurrent(Device::emu(), StreamOrder::concurrent);  // a placeholder like any host stream
  EXPECT_EQ(concurrent.native(), nullptr);
  Event event(Device::emu());
  std::string message = error_of([&] { wait_for_event(&concurrent, event); });
  EXPECT_NE(message.find("never recorded"), std::string::npos) << message;
  event.record(nullptr);  // the default stream
  EXPECT_TRUE(event.recorded());
  EXPECT_NO_THROW(wait_for_event(&concurrent, event));
  EXPECT_NO_THROW(wait_for_event(nullptr, event));
  Stream cpu_stream(Device::cpu());
  message = error_of([&] { wait_for_event(&cpu_stream, event); });
  EXPECT_NE(message.find("a stream of cpu cannot wait for an event of emu"), std::string::npos) << message;
}

TEST(Event, MoveKeepsTheRecording) {
  Stream stream(Device::cpu());
  Event a(Device::cpu());
  a.record(stream);
  Event b(std::move(a));
  EXPECT_TRUE(b.recorded());
  EXPECT_FALSE(a.recorded());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  Event c(Device::cpu());
  c.record(stream);
  EXPECT_GE(elapsed_ms(b, c), 0.0);
}

}  // namespace
}  // namespace deeper
