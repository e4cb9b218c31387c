// Device-to-device copy as a kernel: the simplest memory-bound kernel, used to measure how close a
// hand-written kernel gets to the copy engine (cudaMemcpyAsync) and the HBM limit.
// Bytes moved: 2 x bytes (read + write); no arithmetic.
#pragma once

#include "kernels/runtime/device.h"

#include <cstddef>
#include <cstdint>

namespace deeper::kernels {

struct CopyParams {
  const void* src = nullptr;
  void* dst = nullptr;
  std::int64_t bytes = 0;
};

constexpr unsigned kCopyThreads = 256;

namespace cpu_impl {
void copy(const CopyParams& p);
}
namespace emu_impl {
void copy(const CopyParams& p, void* stream);
}
namespace cuda_impl {
void copy(const CopyParams& p, void* stream);
}

void copy(const Device& device, const CopyParams& p, void* stream = nullptr);

}  // namespace deeper::kernels
