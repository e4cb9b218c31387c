// Pooling over NHWC fp32 activations.
//
// maxpool_forward: window k x k, stride s, padding p (padded positions are never chosen);
//   Ho = (H + 2p - k) / s + 1 (floor), Wo likewise; y[n, oh, ow, c] = max over the window of x, NaN
//   propagating (a NaN in the window wins, as PyTorch), and argmax[n, oh, ow, c] = h·W + w of the
//   chosen input (the first maximum in row-major window order). Requires p <= k / 2 (PyTorch's rule:
//   every window holds an input). One thread per (output pixel, V channels): V = 4 (float4 / int4
//   loads and stores) when C % 4 == 0 and x, y, argmax are 16-byte aligned, else V = 1; a warp covers
//   consecutive channels, so every access is coalesced along C. The thread decodes (n, oh, ow, c)
//   once with multiply-shift division (PoolDivisor) and loops over the window without divisions
//   (fully unrolled for k = 3). Bytes: 4·N·H·W·C read from DRAM once when the window rows stay in
//   L1/L2 (each input lies in up to ceil(k/s)² windows: about 2 reads per input for 3x3/2 56 -> 27),
//   plus 8 per output written (y and argmax). For ResNet-10's 256 x 56 x 56 x 64 'valid' 3x3/2 pool:
//   205.5 MB read + 95.6 MB written = 301 MB, about 63 µs at the H200's 4.8 TB/s peak. FLOPs: k² compares per output.
// maxpool_backward: dx[n, h, w, c] = Σ dy over the outputs whose argmax is (h, w), in increasing
//   (oh, ow) order (bit-identical to the CPU reference). Gathers: one thread per (input pixel, V
//   channels) visits the (at most ceil(k/s)²) windows that contain it, so there are no atomics, it is
//   deterministic, and dx needs no zeroing. Each lane compares its own channel's argmax; dy is read
//   only when some lane matches. The window range comes from one multiply-shift division by s per
//   axis (h + p = q·s + r: windows q, q - 1, ... while r + j·s < k) instead of divisions per channel.
//   Bytes: 8 per output read from DRAM once (dy and argmax; the repeats for overlapping windows hit
//   L1/L2) + 4 per input written: 301 MB for the ResNet-10 shape, as the forward.
// Both use 32-bit indices when the thread count and H + p, W + p are below 2^31, else 64-bit
// indices with ordinary division (the same kernels).
// global_avgpool_forward: y[n, c] = Σ_{h,w} x[n, h, w, c] / (H·W) (fp32 sums, the (32 x 8)-thread
//   column reduction of kernels/nn, one block per image and 32 channels). Bytes 4·N·H·W·C read.
// global_avgpool_backward: dx[n, h, w, c] = dy[n, c] / (H·W). Bytes 4·N·H·W·C written.
//
// Errors (deeper::Error): sizes < 1, a window larger than the padded input, stride < 1, p > k / 2,
// H·W >= 2^31 (int32 argmax), null pointers.
#pragma once

#include "kernels/common/hd.h"
#include "kernels/runtime/device.h"

#include <cstdint>

namespace deeper::kernels {

// Division by a fixed d (1 <= d < 2^31) of dividends n < 2^31 without a divide instruction: a
// multiply-high, an add and a shift (the round-up method of Granlund and Montgomery, 1994): with
// 2^(shift-1) < d <= 2^shift and multiplier = floor(2^32·(2^shift - d) / d) + 1,
// n / d = (mulhi(n, multiplier) + n) >> shift. The max-pool kernels decode their indices with it.
struct PoolDivisor {
  std::uint32_t divisor = 1, multiplier = 1, shift = 0;

  static PoolDivisor make(std::int64_t d) {
    PoolDivisor r;
    r.divisor = static_cast<std::uint32_t>(d);
    while ((std::uint64_t{1} << r.shift) < static_cast<std::uint64_t>(d)) ++r.shift;
    r.multiplier = static_cast<std::uint32_t>(
        ((std::uint64_t{1} << 32) * ((std::uint64_t{1} << r.shift) - static_cast<std::uint64_t>(d))) /
            static_cast<std::uint64_t>(d) +
        1);
    return r;
  }
  DEEPER_HD_INLINE std::uint32_t div(std::uint32_t n) const {
    const auto hi = static_cast<std::uint32_t>((static_cast<std::uint64_t>(n) * multiplier) >> 32);
    return (hi + n) >> shift;
  }
};

template <typename T>
struct MaxPoolParamsT {
  std::int64_t batch = 0, height = 0, width = 0, channels = 0;
  int kernel = 3, stride = 2, pad = 1;
  const T* x = nullptr;             // batch x height x width x channels
  T* y = nullptr;                   // batch x out_height x out_width x channels
  std::int32_t* argmax = nullptr;   // as y: h·width + w of the chosen input
  std::uint16_t* y_bf16 = nullptr;  // optional: a bf16 copy of y (float_to_bf16_bits), same pass
};

template <typename T>
struct MaxPoolBackwardParamsT {
  std::int64_t batch = 0, height = 0, width = 0, channels = 0;
  int kernel = 3, stride = 2, pad = 1;
  const T* dy = nullptr;                 // batch x out_height x out_width x channels
  const std::int32_t* argmax = nullptr;  // from maxpool_forward
  T* dx = nullptr;                       // batch x height x width x channels, overwritten
};

template <typename T>
struct GlobalAvgPoolParamsT {
  std::int64_t batch = 0, height = 0, width = 0, channels = 0;
  const T* x = nullptr;  // forward: batch x height x width x channels
  T* y = nullptr;        // forward: batch x channels
};

template <typename T>
struct GlobalAvgPoolBackwardParamsT {
  std::int64_t batch = 0, height = 0, width = 0, channels = 0;
  const T* dy = nullptr;  // batch x channels
  T* dx = nullptr;        // batch x height x width x channels
};

using MaxPoolParams = MaxPoolParamsT<float>;
using MaxPoolBackwardParams = MaxPoolBackwardParamsT<float>;
using GlobalAvgPoolParams = GlobalAvgPoolParamsT<float>;
using GlobalAvgPoolBackwardParams = GlobalAvgPoolBackwardParamsT<float>;

// Output size of a pooling window along one axis: (in + 2·pad - kernel) / stride + 1.
DEEPER_HD_INLINE std::int64_t pool_output_size(std::int64_t in, int kernel, int stride, int pad) {
  return (in + 2 * static_cast<std::int64_t>(pad) - kernel) / stride + 1;
}

template <typename T>
void check_maxpool_params(const MaxPoolParamsT<T>& p);
template <typename T>
void check_maxpool_backward_params(const MaxPoolBackwardParamsT<T>& p);
template <typename T>
void check_global_avgpool_params(const GlobalAvgPoolParamsT<T>& p);
template <typename T>
void check_global_avgpool_backward_params(const GlobalAvgPoolBackwardParamsT<T>& p);

namespace cpu_impl {
template <typename T>
void maxpool_forward(const MaxPoolParamsT<T>& p);
template <typename T>
void maxpool_backward(const MaxPoolBackwardParamsT<T>& p);
template <typename T>
void global_avgpool_forward(const GlobalAvgPoolParamsT<T>& p);
template <typename T>
void global_avgpool_backward(const GlobalAvgPoolBackwardParamsT<T>& p);
}  // namespace cpu_impl
namespace emu_impl {
void maxpool_forward(const MaxPoolParams& p, void* stream);
void maxpool_backward(const MaxPoolBackwardParams& p, void* stream);
void global_avgpool_forward(const GlobalAvgPoolParams& p, void* stream);
void global_avgpool_backward(const GlobalAvgPoolBackwardParams& p, void* stream);
}  // namespace emu_impl
namespace cuda_impl {
void maxpool_forward(const MaxPoolParams& p, void* stream);
void maxpool_backward(const MaxPoolBackwardParams& p, void* stream);
void global_avgpool_forward(const GlobalAvgPoolParams& p, void* stream);
void global_avgpool_backward(const GlobalAvgPoolBackwardParams& p, void* stream);
}  // namespace cuda_impl

void maxpool_forward(const Device& device, const MaxPoolParams& p, void* stream = nullptr);
void maxpool_backward(const Device& device, const MaxPoolBackwardParams& p, void* stream = nullptr);
void global_avgpool_forward(const Device& device, const GlobalAvgPoolParams& p, void* stream = nullptr);
void global_avgpool_backward(const Device& device, const GlobalAvgPoolBackwardParams& p, void* stream = nullptr);

}  // namespace deeper::kernels
