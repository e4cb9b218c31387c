#include "kernels/runtime/cuda_check.h"

#include "core/error.h"

#include <fmt/format.h>

#include <cstdio>
#include <exception>

namespace deeper::detail {

std::string cuda_error_message(cudaError_t status, std::string_view call, const char* file, int line) {
  return fmt::format("{} failed at {}:{}: {} ({})", call, file, line, cudaGetErrorString(status),
                     cudaGetErrorName(status));
}

void throw_cuda_error(cudaError_t status, std::string_view call, const char* file, int line) {
  // Reset the non-sticky last-error state so that the next DEEPER_CUDA_CHECK_LAST reports its own
  // launch, not this call. (A sticky error, e.g. after an illegal address, stays and is reported again.)
  static_cast<void>(cudaGetLastError());
  throw Error(cuda_error_message(status, call, file, line));
}

void log_cuda_error(cudaError_t status, std::string_view call, const char* file, int line) noexcept {
  static_cast<void>(cudaGetLastError());
  try {
    const std::string message = cuda_error_message(status, call, file, line);
    std::fprintf(stderr, "deeper: warning: %s\n", message.c_str());
  } catch (const std::exception&) {
    std::fprintf(stderr, "deeper: warning: a CUDA call failed at %s:%d (error %d)\n", file, line,
                 static_cast<int>(status));
  }
}

std::string launch_call_text(std::string_view kernel) { return fmt::format("launch of {}", kernel); }

}  // namespace deeper::detail
