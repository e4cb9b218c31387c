// Launch-failure reporting for deeper::launch (launch.cuh).
#include "kernels/common/launch.cuh"

#include "core/error.h"

#include <cuda_runtime_api.h>

#include <cstdlib>
#include <cstring>

namespace deeper::detail {

void launch_failed(int cuda_error, const char* kernel_name, dim3 grid, dim3 block, std::size_t shared_bytes,
                   bool after_sync) {
  const auto e = static_cast<cudaError_t>(cuda_error);
  fail("{} kernel '{}' with grid ({},{},{}) block ({},{},{}) and {} B dynamic shared memory: {} ({})",
       after_sync ? "running" : "launching", kernel_name, grid.x, grid.y, grid.z, block.x, block.y, block.z,
       shared_bytes, cudaGetErrorString(e), cudaGetErrorName(e));
}

bool sync_launches() {
  static const bool enabled = [] {
    const char* v = std::getenv("DEEPER_SYNC_LAUNCHES");
    return v != nullptr && std::strcmp(v, "0") != 0 && *v != '\0';
  }();
  return enabled;
}

}  // namespace deeper::detail
