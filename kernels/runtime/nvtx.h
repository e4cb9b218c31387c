// NVTX ranges: named spans that Nsight Systems shows on the timeline, so that a profile reads like
// the code (DESIGN.md). Header-only over NVTX 3 from the CUDA toolkit (CMake target CUDA::nvtx3).
//
//   void train_step(...) {
//     DEEPER_NVTX_RANGE("train_step");
//     { DEEPER_NVTX_RANGE("forward"); ... }
//   }
//
// Without a profiler attached each push/pop is a call through an uninitialised function pointer
// that returns at once (NVTX's own design), so ranges can stay in release builds.
#pragma once

#include <nvtx3/nvToolsExt.h>

#include <string>

namespace deeper {

// Pushes a range on construction and pops it on destruction, on the calling thread.
class NvtxRange {
 public:
  explicit NvtxRange(const char* name) noexcept { nvtxRangePushA(name); }
  explicit NvtxRange(const std::string& name) noexcept { nvtxRangePushA(name.c_str()); }
  ~NvtxRange() { nvtxRangePop(); }
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

}  // namespace deeper

#define DEEPER_NVTX_CONCAT_INNER(a, b) a##b
#define DEEPER_NVTX_CONCAT(a, b) DEEPER_NVTX_CONCAT_INNER(a, b)
// A range named `name` from here to the end of the enclosing scope.
#define DEEPER_NVTX_RANGE(name) \
  const ::deeper::NvtxRange DEEPER_NVTX_CONCAT(deeper_nvtx_range_, __LINE__)(name)
