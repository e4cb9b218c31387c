// Helpers of the `gpu` test suites: skip without a usable GPU, and move vectors to and from it.
//
// DEEPER_REQUIRE_CUDA() is the first statement of every gpu test: it skips the test, with the
// probe's reason, when no CUDA device is usable.
#pragma once

#include <gtest/gtest.h>

#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"

#include <algorithm>
#include <cstddef>
#include <vector>

#define DEEPER_REQUIRE_CUDA()                                            \
  do {                                                                   \
    const ::deeper::CudaProbe deeper_probe_ = ::deeper::probe_cuda();    \
    if (deeper_probe_.device_count == 0) {                               \
      GTEST_SKIP() << "no usable CUDA device: " << deeper_probe_.reason; \
    }                                                                    \
  } while (0)

namespace deeper::test {

// A device buffer on cuda:0 holding `host` (at least 4 bytes, so empty inputs still get a pointer).
template <typename T>
DeviceBuffer to_gpu(const std::vector<T>& host) {
  const Device gpu = Device::cuda(0);
  DeviceBuffer buffer(gpu, std::max<std::size_t>(host.size() * sizeof(T), 4));
  if (!host.empty()) copy_bytes(buffer.data(), gpu, host.data(), Device::cpu(), host.size() * sizeof(T));
  return buffer;
}

// Elements [first, first + count) of a cuda buffer of T; count defaults to the whole buffer.
template <typename T>
std::vector<T> to_host(const DeviceBuffer& buffer, std::size_t count = static_cast<std::size_t>(-1),
                       std::size_t first = 0) {
  if (count == static_cast<std::size_t>(-1)) count = buffer.bytes() / sizeof(T) - first;
  std::vector<T> host(count);
  if (count > 0) {
    copy_bytes(host.data(), Device::cpu(), static_cast<const T*>(buffer.data()) + first, buffer.device(),
               count * sizeof(T));
  }
  return host;
}

}  // namespace deeper::test
