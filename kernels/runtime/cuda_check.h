// Checked CUDA runtime calls.
//
//   DEEPER_CUDA_CHECK(cudaMemcpy(dst, src, n, kind));   // throws deeper::Error on failure
//   DEEPER_CUDA_CHECK_NOTHROW(cudaFree(p));              // for destructors: logs to stderr
//   kernel<<<grid, block>>>(params);
//   DEEPER_CUDA_CHECK_LAST("reduce_sum");                 // after a launch
//
// The message names the call as written, the place and CUDA's message and error name:
//   cudaSetDevice(999) failed at kernels/runtime/device.cpp:88: invalid device ordinal
//   (cudaErrorInvalidDevice)
// A failed check also clears CUDA's (non-sticky) last error, so a later DEEPER_CUDA_CHECK_LAST does
// not report it a second time.
#pragma once

#include <cuda_runtime_api.h>

#include <string>
#include <string_view>

namespace deeper::detail {

// "<call> failed at <file>:<line>: <cudaGetErrorString> (<cudaGetErrorName>)"
std::string cuda_error_message(cudaError_t status, std::string_view call, const char* file, int line);

// Throws deeper::Error with cuda_error_message(...).
[[noreturn]] void throw_cuda_error(cudaError_t status, std::string_view call, const char* file, int line);

// Writes "deeper: warning: <cuda_error_message(...)>" to stderr; never throws.
void log_cuda_error(cudaError_t status, std::string_view call, const char* file, int line) noexcept;

// The call text DEEPER_CUDA_CHECK_LAST reports: "launch of <kernel>".
std::string launch_call_text(std::string_view kernel);

}  // namespace deeper::detail

#define DEEPER_CUDA_CHECK(call)                                                           \
  do {                                                                                    \
    const cudaError_t deeper_cuda_status_ = (call);                                       \
    if (deeper_cuda_status_ != cudaSuccess) {                                             \
      ::deeper::detail::throw_cuda_error(deeper_cuda_status_, #call, __FILE__, __LINE__); \
    }                                                                                     \
  } while (0)

#define DEEPER_CUDA_CHECK_NOTHROW(call)                                                 \
  do {                                                                                  \
    const cudaError_t deeper_cuda_status_ = (call);                                     \
    if (deeper_cuda_status_ != cudaSuccess) {                                           \
      ::deeper::detail::log_cuda_error(deeper_cuda_status_, #call, __FILE__, __LINE__); \
    }                                                                                   \
  } while (0)

// After a kernel launch: reports a launch-configuration error (cudaGetLastError) as
// "launch of <kernel_name> failed at <file>:<line>: ...". It does not synchronize, so errors the
// kernel raises while running surface at the next synchronizing checked call.
#define DEEPER_CUDA_CHECK_LAST(kernel_name)                                                          \
  do {                                                                                               \
    const cudaError_t deeper_cuda_status_ = cudaGetLastError();                                      \
    if (deeper_cuda_status_ != cudaSuccess) {                                                        \
      ::deeper::detail::throw_cuda_error(                                                            \
          deeper_cuda_status_, ::deeper::detail::launch_call_text(kernel_name), __FILE__, __LINE__); \
    }                                                                                                \
  } while (0)
