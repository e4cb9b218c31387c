// Pooling over NHWC fp32 activations.
//
// maxpool_forward: window k x k, stride s, padding p (padded positions are never chosen);
//   Ho = (H + 2p - k) / s + 1 (floor), Wo likewise; y[n, oh, ow, c] = max over the window of x, NaN
//   propagating (a NaN in the window wins, as PyTorch), and argmax[n, oh, ow, c] = h·W + w of the
//   chosen input (the first maximum in row-major window order). Requires p <= k / 2 (PyTorch's rule:
//   every window holds an input). One thread per output; bytes ~ 4·k²/s²·N·H·W·C read (cached) +
//   8 per output written.
// maxpool_backward: dx[n, h, w, c] = Σ dy over the outputs whose argmax is (h, w). Gathers: one thread
//   per input element visits the (at most ceil(k/s)²) windows that contain it, so there are no
//   atomics, it is deterministic, and dx needs no zeroing. Bytes: 4 per input written, 8 per visited
//   output read.
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

template <typename T>
struct MaxPoolParamsT {
  std::int64_t batch = 0, height = 0, width = 0, channels = 0;
  int kernel = 3, stride = 2, pad = 1;
  const T* x = nullptr;             // batch x height x width x channels
  T* y = nullptr;                   // batch x out_height x out_width x channels
  std::int32_t* argmax = nullptr;   // as y: h·width + w of the chosen input
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
