// DEEPER_REQUIRE_CUDA(): the first statement of every gpu_runtime test. Skips the test, with the
// probe's reason, when no CUDA device is usable.
#pragma once

#include <gtest/gtest.h>

#include "kernels/runtime/device.h"

#define DEEPER_REQUIRE_CUDA()                                            \
  do {                                                                   \
    const ::deeper::CudaProbe deeper_probe_ = ::deeper::probe_cuda();    \
    if (deeper_probe_.device_count == 0) {                               \
      GTEST_SKIP() << "no usable CUDA device: " << deeper_probe_.reason; \
    }                                                                    \
  } while (0)
