// Max-pool and global average pool kernels (definitions in kernels/nn/pooling.h). Version 1.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/nn/nn_device.cuh"
#include "kernels/nn/pooling.h"

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

using nn::kLanes;
using nn::kRowLanes;

// One thread per output value (n, oh, ow, c), c fastest: a warp reads consecutive channels.
__global__ void __launch_bounds__(nn::kElementwiseThreads) maxpool_forward_kernel(MaxPoolParams p) {
  const std::int64_t Ho = pool_output_size(p.height, p.kernel, p.stride, p.pad);
  const std::int64_t Wo = pool_output_size(p.width, p.kernel, p.stride, p.pad);
  const std::int64_t C = p.channels, total = p.batch * Ho * Wo * C;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t idx = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += stride) {
    const std::int64_t c = idx % C, pixel = idx / C;
    const std::int64_t ow = pixel % Wo, oh = (pixel / Wo) % Ho, n = pixel / (Wo * Ho);
    const std::int64_t h0 = oh * p.stride - p.pad, w0 = ow * p.stride - p.pad;
    const float* xn = p.x + n * p.height * p.width * C + c;
    float best = 0.0f;
    std::int64_t best_at = -1;
    for (std::int64_t h = h0 < 0 ? 0 : h0; h < h0 + p.kernel && h < p.height; ++h) {
      for (std::int64_t w = w0 < 0 ? 0 : w0; w < w0 + p.kernel && w < p.width; ++w) {
        const float v = xn[(h * p.width + w) * C];
        const bool best_nan = best != best;
        if (best_at < 0 || (!best_nan && (v > best || v != v))) {
          best = v;
          best_at = h * p.width + w;
        }
      }
    }
    p.y[idx] = best;
    p.argmax[idx] = static_cast<std::int32_t>(best_at);
  }
}

// One thread per input value (n, h, w, c): sums dy of the windows whose argmax is (h, w).
__global__ void __launch_bounds__(nn::kElementwiseThreads) maxpool_backward_kernel(MaxPoolBackwardParams p) {
  const std::int64_t Ho = pool_output_size(p.height, p.kernel, p.stride, p.pad);
  const std::int64_t Wo = pool_output_size(p.width, p.kernel, p.stride, p.pad);
  const std::int64_t C = p.channels, total = p.batch * p.height * p.width * C;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t idx = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += stride) {
    const std::int64_t c = idx % C, pixel = idx / C;
    const std::int64_t w = pixel % p.width, h = (pixel / p.width) % p.height, n = pixel / (p.width * p.height);
    // windows oh with oh·s - pad <= h <= oh·s - pad + k - 1
    const std::int64_t hp = h + p.pad, wp = w + p.pad;
    const std::int64_t oh_lo = hp < p.kernel ? 0 : (hp - p.kernel) / p.stride + 1, oh_hi = hp / p.stride;
    const std::int64_t ow_lo = wp < p.kernel ? 0 : (wp - p.kernel) / p.stride + 1, ow_hi = wp / p.stride;
    const auto self = static_cast<std::int32_t>(h * p.width + w);
    float g = 0.0f;
    for (std::int64_t oh = oh_lo; oh <= oh_hi && oh < Ho; ++oh) {
      for (std::int64_t ow = ow_lo; ow <= ow_hi && ow < Wo; ++ow) {
        const std::int64_t o = ((n * Ho + oh) * Wo + ow) * C + c;
        if (p.argmax[o] == self) g += p.dy[o];
      }
    }
    p.dx[idx] = g;
  }
}

// Grid (channel blocks, batch): block sums its image's H·W rows for 32 channels.
__global__ void __launch_bounds__(kLanes* kRowLanes) global_avgpool_forward_kernel(GlobalAvgPoolParams p) {
  const std::int64_t C = p.channels, plane = p.height * p.width;
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kLanes + threadIdx.x;
  const std::int64_t n = blockIdx.y;
  double acc[1] = {0.0};
  if (c < C) {
    float s = 0.0f;
    const float* xn = p.x + n * plane * C + c;
    for (std::int64_t r = threadIdx.y; r < plane; r += kRowLanes) s += xn[r * C];
    acc[0] = s;
  }
  nn::column_sum<1>(acc);
  if (threadIdx.y == 0 && c < C) p.y[n * C + c] = static_cast<float>(acc[0] / static_cast<double>(plane));
}

__global__ void __launch_bounds__(nn::kElementwiseThreads) global_avgpool_backward_kernel(GlobalAvgPoolBackwardParams p) {
  const std::int64_t C = p.channels, plane = p.height * p.width, total = p.batch * plane * C;
  const float scale = 1.0f / static_cast<float>(plane);
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t idx = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += stride) {
    const std::int64_t c = idx % C, n = idx / (plane * C);
    p.dx[idx] = p.dy[n * C + c] * scale;
  }
}

}  // namespace

void maxpool_forward(const MaxPoolParams& p, void* stream) {
  const std::int64_t total = p.batch * pool_output_size(p.height, p.kernel, p.stride, p.pad) *
                             pool_output_size(p.width, p.kernel, p.stride, p.pad) * p.channels;
  launch(maxpool_forward_kernel, dim3(grid_blocks(total, nn::kElementwiseThreads)), dim3(nn::kElementwiseThreads), 0,
         stream, "maxpool_forward", p);
}

void maxpool_backward(const MaxPoolBackwardParams& p, void* stream) {
  const std::int64_t total = p.batch * p.height * p.width * p.channels;
  launch(maxpool_backward_kernel, dim3(grid_blocks(total, nn::kElementwiseThreads)), dim3(nn::kElementwiseThreads), 0,
         stream, "maxpool_backward", p);
}

void global_avgpool_forward(const GlobalAvgPoolParams& p, void* stream) {
  const auto channel_blocks = static_cast<unsigned>((p.channels + kLanes - 1) / kLanes);
  launch(global_avgpool_forward_kernel, dim3(channel_blocks, static_cast<unsigned>(p.batch)), dim3(kLanes, kRowLanes),
         0, stream, "global_avgpool_forward", p);
}

void global_avgpool_backward(const GlobalAvgPoolBackwardParams& p, void* stream) {
  const std::int64_t total = p.batch * p.height * p.width * p.channels;
  launch(global_avgpool_backward_kernel, dim3(grid_blocks(total, nn::kElementwiseThreads)),
         dim3(nn::kElementwiseThreads), 0, stream, "global_avgpool_backward", p);
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
