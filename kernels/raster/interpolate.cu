// interpolate kernel: one thread per output value (definition, layout and costs in
// kernels/raster/interpolate.h). Built by nvcc (cuda_impl) and for the emulator (emu_impl); both
// evaluate interpolate_value, as the cpu reference (interpolate_cpu.cpp) does, so the emulated
// build matches it bit for bit. Version 1.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/raster/interpolate.h"

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

constexpr unsigned kThreads = 256;

__global__ void __launch_bounds__(kThreads) interpolate_kernel(InterpolateParams p) {
  const std::int64_t total = p.batch * p.height * p.width * p.channels;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t idx = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += stride) {
    const std::int64_t pixel = idx / p.channels;
    p.out[idx] = interpolate_value(p, pixel, idx - pixel * p.channels);
  }
}

}  // namespace

void interpolate(const InterpolateParams& p, void* stream) {
  check_interpolate_params(p);
  const std::int64_t total = p.batch * p.height * p.width * p.channels;
  if (total == 0) return;
  launch(interpolate_kernel, dim3(grid_blocks(total, kThreads)), dim3(kThreads), 0, stream, "interpolate", p);
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
