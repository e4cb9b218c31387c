// deeper::launch — the one way to launch a kernel, for CUDA and for the emulator alike.
//
//   deeper::launch(my_kernel, dim3(blocks), dim3(256), shared_bytes, stream, "my_kernel", params);
//
// Under nvcc it is `my_kernel<<<grid, block, shared_bytes, stream>>>(params)` followed by a check
// of the launch that throws deeper::Error naming the kernel, its configuration and the CUDA error;
// with DEEPER_SYNC_LAUNCHES=1 in the environment it also synchronizes, so an asynchronous fault is
// reported at the kernel that caused it. In the emulated build (DEEPER_EMU) it runs the kernel on
// the CPU through the emulator; `stream` is ignored there (emulated launches are synchronous).
// `stream` is a cudaStream_t passed as void* (deeper::Stream::native()), nullptr for the default.
#pragma once

#include <cstddef>
#include <utility>

#include <vector_types.h>

#if defined(DEEPER_EMU)
#include "kernels/emu/emulator.h"
#elif defined(__CUDACC__)
#include <cuda_runtime.h>
#endif

namespace deeper {
namespace detail {

// Throws deeper::Error for a failed launch (kernels/common/launch.cpp; host code, no fmt in .cu).
[[noreturn]] void launch_failed(int cuda_error, const char* kernel_name, dim3 grid, dim3 block, std::size_t shared_bytes,
                                bool after_sync);
// Whether DEEPER_SYNC_LAUNCHES=1 is set (read once).
bool sync_launches();

}  // namespace detail

#if defined(DEEPER_EMU) || defined(__CUDACC__)
template <typename... KernelArgs, typename... Args>
void launch(void (*kernel)(KernelArgs...), dim3 grid, dim3 block, std::size_t shared_bytes, void* stream,
            const char* kernel_name, Args&&... args) {
  static_assert(sizeof...(KernelArgs) == sizeof...(Args), "deeper::launch: wrong number of kernel arguments");
#if defined(DEEPER_EMU)
  (void)stream;
  emu::launch(grid, block, shared_bytes, kernel_name, [&] { kernel(static_cast<KernelArgs>(args)...); });
#else
  kernel<<<grid, block, shared_bytes, static_cast<cudaStream_t>(stream)>>>(std::forward<Args>(args)...);
  cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) detail::launch_failed(status, kernel_name, grid, block, shared_bytes, false);
  if (detail::sync_launches()) {
    status = cudaStreamSynchronize(static_cast<cudaStream_t>(stream));
    if (status != cudaSuccess) detail::launch_failed(status, kernel_name, grid, block, shared_bytes, true);
  }
#endif
}
#endif

// Blocks for a grid-stride loop over n items: enough to fill the device, never more than needed.
inline unsigned grid_blocks(long long n, unsigned block_threads, unsigned max_blocks = 132u * 16u) {
  const long long blocks = (n + block_threads - 1) / block_threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > max_blocks ? max_blocks : blocks));
}

}  // namespace deeper
