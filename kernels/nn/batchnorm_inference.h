// Batch normalisation backward in inference mode (the running statistics are constants), with the
// residual block's fused tail: the input gradient of kernels/nn/batchnorm.h's batchnorm_apply.
//
// Layout: NHWC activations seen as rows x channels (rows = N·H·W, C fastest), per-channel vectors of
// C values, as batchnorm.h.
//
// batchnorm_inference_backward: for the forward y = act(gamma·(x - mean)·invstd + beta [+ r | + the
// same of a second BN on r]) with constant mean and invstd (invstd given, or 1 / sqrt(var + eps) from
// the running variance), per element
//   dz = dy · [y > 0] when relu (y the forward output; 0 at y = 0), else dy
//   dx = dz · gamma_c · invstd_c
//   dr = dz (identity residual) | dz · r_gamma_c · r_invstd_c (batchnorm residual)
// No parameter gradients (this is the pass that carries a gradient to the network's input, e.g. the
// input gradient of a logit, nn/network.h input_gradient). Elementwise, grid-stride, float4 packs
// when C % 4 == 0 and every pointer is 16-byte aligned, else one value per thread. FLOPs ~2 per
// output; bytes 12·rows·C (16 with a residual gradient). dx may alias dy; dr may alias neither dy
// nor dx; y may alias nothing written.
//
// Errors (deeper::Error): rows < 1, channels < 1, null dy / dx / gamma, null y with relu, neither
// invstd nor var (or a non-positive eps with var), null dr with a residual, dr aliasing dy or dx.
#pragma once

#include "kernels/nn/batchnorm.h"
#include "kernels/runtime/device.h"

#include <cstdint>

namespace deeper::kernels {

template <typename T>
struct BatchNormInferenceBackwardParamsT {
  std::int64_t rows = 0, channels = 0;
  const T* dy = nullptr;
  const T* y = nullptr;        // the forward output, needed when relu
  BatchNormChannelsT<T> bn;    // gamma and invstd, or var + eps (mean and beta are not read)
  BnResidual residual = BnResidual::none;
  BatchNormChannelsT<T> r_bn;  // the residual BN's gamma and invstd or var + eps (batchnorm)
  bool relu = false;
  T* dx = nullptr;  // rows x channels, overwritten; may alias dy
  T* dr = nullptr;  // rows x channels, overwritten (identity and batchnorm residuals)
};

using BatchNormInferenceBackwardParams = BatchNormInferenceBackwardParamsT<float>;

template <typename T>
void check_batchnorm_inference_backward_params(const BatchNormInferenceBackwardParamsT<T>& p);

namespace cpu_impl {
template <typename T>
void batchnorm_inference_backward(const BatchNormInferenceBackwardParamsT<T>& p);
}  // namespace cpu_impl
namespace emu_impl {
void batchnorm_inference_backward(const BatchNormInferenceBackwardParams& p, void* stream);
}  // namespace emu_impl
namespace cuda_impl {
void batchnorm_inference_backward(const BatchNormInferenceBackwardParams& p, void* stream);
}  // namespace cuda_impl

// Run on `device`'s backend (every pointer memory of that device); `stream` is a Stream::native()
// handle, nullptr for the default stream.
void batchnorm_inference_backward(const Device& device, const BatchNormInferenceBackwardParams& p,
                                  void* stream = nullptr);

}  // namespace deeper::kernels
