// Batch normalisation over NHWC activations, with the residual block's tail fused in.
//
// Layout: x is N x H x W x C fp32, seen as rows x channels (rows = N·H·W, C fastest); every
// per-channel vector (gamma, beta, mean, invstd, running statistics) has C values.
//
// batchnorm_stats (training forward, part 1): per channel c over the rows,
//   mean_c = Σ x / rows,  var_c = Σ (x - mean_c)² / rows (biased, used to normalise),
//   save_mean_c = mean_c,  save_invstd_c = 1 / sqrt(var_c + eps),
//   running_mean_c = (1 - momentum) · running_mean_c + momentum · mean_c,
//   running_var_c  = (1 - momentum) · running_var_c  + momentum · var_c · rows / (rows - 1)
// (PyTorch's BatchNorm2d; Keras's momentum 0.99 is PyTorch's 0.01). With x_bias (a per-channel
// vector b, the bias of the convolution before the BN, never added to x in memory) the statistics
// describe x + b: the running mean tracks mean_c + b_c, the variance is unchanged, and save_mean
// stays the mean of x itself, which is what the training-mode apply and backward take with x (a
// training-mode BN is blind to a per-channel shift of its input). Needs rows >= 2. Kernel: blocks
// of 32 channels x 8 row lanes, each block sums a share of the rows in fp64 (Σx and Σx², so no
// cancellation short of |mean|/std ~ 1e7), partials go to the workspace, and a second kernel
// combines them per channel in fp64, in a fixed order (deterministic). Bytes: 4·rows·C read.
//
// batchnorm_stats_from_partials: the second half of batchnorm_stats alone, from partial sums some
// other kernel wrote in the workspace layout (for split k and channel c: Σx at partials[(2k)·C + c],
// Σx² at [(2k+1)·C + c], fp64): the convolution's statistics epilogue (Conv2dParams::stat_partials,
// splits = conv2d_stat_row_tiles), which saves batchnorm_stats' read of x. The same fixed-order
// combination and formulas (x_bias as above); p.x and p.workspace are not used.
//
// batchnorm_apply (training forward part 2, and inference forward): for each element,
//   z = gamma_c · (x - mean_c) · invstd_c + beta_c   [+ r  | + the same of a second BN on r]
//   y = relu(z) or z
// where invstd may be absent, then it is 1 / sqrt(var_c + eps) (inference from running stats), and
// x is read as x + x_bias_c when the channels carry an x_bias (inference with the running mean of
// x + b; see batchnorm_stats).
// The residual variants are the ResNet basic block's tail, relu(bn2(conv2) + bn_sc(conv_sc)), in one
// pass: bytes 8·rows·C (plain BN), 12 (identity residual), 12 (BN'd residual), instead of the
// 8 + 12 + 8 of separate BN, add and ReLU passes. Elementwise, grid-stride, float4 when C % 4 == 0.
//
// batchnorm_backward (training mode; uses the saved batch statistics): with dz = dy · [y > 0] when
// relu (y is the forward output), else dy,
//   dbeta_c = Σ dz,  dgamma_c = Σ dz · xhat,  xhat = (x - mean_c) · invstd_c,
//   dx = gamma_c · invstd_c · (dz - dbeta_c / rows - xhat · dgamma_c / rows)
// and for the residual: identity -> dr = dz; batchnorm -> the same three formulas for r with its own
// gamma, mean, invstd (dr, dr_gamma, dr_beta). Two passes: a per-channel fp64 reduction (as
// batchnorm_stats) that also turns the sums into three coefficients per channel, then an
// elementwise pass dx = k1·dz + k2·x + k3. Bytes: reads dy, y, x (and r) twice, writes dx (and dr).
// dgamma and dbeta are overwritten, not accumulated. dx may not alias any input.
//
// Errors (deeper::Error): rows < 1 (rows < 2 for statistics), channels < 1, null pointers that the
// chosen variant needs, a missing or misaligned (not 16-byte) workspace.
#pragma once

#include "kernels/runtime/device.h"

#include <cstddef>
#include <cstdint>

namespace deeper::kernels {

// One batch normalisation's per-channel vectors. invstd may be null: then 1 / sqrt(var + eps).
template <typename T>
struct BatchNormChannelsT {
  const T* gamma = nullptr;
  const T* beta = nullptr;  // not used by the backward pass
  const T* mean = nullptr;
  const T* invstd = nullptr;
  const T* var = nullptr;  // used when invstd is null (inference: the running variance)
  T eps = T(1e-5);
  const T* x_bias = nullptr;  // optional: normalise x + x_bias (batchnorm_apply only; null: 0)
};

enum class BnResidual {
  none,       // y = act(bn(x))
  identity,   // y = act(bn(x) + r)
  batchnorm,  // y = act(bn(x) + bn_r(r))
};

template <typename T>
struct BatchNormStatsParamsT {
  const T* x = nullptr;  // rows x channels
  std::int64_t rows = 0, channels = 0;
  T eps = T(1e-5);
  T momentum = T(0.1);
  T* running_mean = nullptr;  // updated in place; both may be null (no running statistics)
  T* running_var = nullptr;
  const T* x_bias = nullptr;  // optional: the running mean is that of x + x_bias (save_mean is x's)
  T* save_mean = nullptr;    // channels, written
  T* save_invstd = nullptr;  // channels, written
  void* workspace = nullptr;  // batchnorm_workspace_bytes(rows, channels), 16-byte aligned; not used on the cpu
};

template <typename T>
struct BatchNormApplyParamsT {
  std::int64_t rows = 0, channels = 0;
  const T* x = nullptr;
  BatchNormChannelsT<T> bn;
  BnResidual residual = BnResidual::none;
  const T* r = nullptr;        // rows x channels, for identity and batchnorm residuals
  BatchNormChannelsT<T> r_bn;  // for the batchnorm residual
  bool relu = false;
  T* y = nullptr;  // rows x channels; may alias x or r
  // Optional bf16 copy of y (round to nearest even, NaN kept), written in the same pass: the next
  // convolution's bf16 operand without a separate conversion pass (2 bytes per value more, instead of
  // the conversion's 4 read + 2 written).
  std::uint16_t* y_bf16 = nullptr;
};

template <typename T>
struct BatchNormBackwardParamsT {
  std::int64_t rows = 0, channels = 0;
  const T* dy = nullptr;
  const T* y = nullptr;  // the forward output, needed when relu
  const T* x = nullptr;
  BatchNormChannelsT<T> bn;  // gamma, saved mean, saved invstd
  BnResidual residual = BnResidual::none;
  const T* r = nullptr;        // the residual BN's input (batchnorm)
  BatchNormChannelsT<T> r_bn;  // its gamma, saved mean, saved invstd (batchnorm)
  bool relu = false;
  T* dx = nullptr;
  T* dgamma = nullptr;
  T* dbeta = nullptr;
  T* dr = nullptr;  // identity: dz; batchnorm: d r
  T* dr_gamma = nullptr;
  T* dr_beta = nullptr;
  // Optional bf16 copies of dx and dr (round to nearest even), written in the same pass: the bf16
  // output gradients of the convolutions before the BN.
  std::uint16_t* dx_bf16 = nullptr;
  std::uint16_t* dr_bf16 = nullptr;
  void* workspace = nullptr;  // batchnorm_workspace_bytes(rows, channels), 16-byte aligned; not used on the cpu
};

using BatchNormChannels = BatchNormChannelsT<float>;
using BatchNormStatsParams = BatchNormStatsParamsT<float>;
using BatchNormApplyParams = BatchNormApplyParamsT<float>;
using BatchNormBackwardParams = BatchNormBackwardParamsT<float>;

// Row splits of the reduction kernels (blocks along the rows per 32 channels).
int batchnorm_splits(std::int64_t rows, std::int64_t channels);
// Workspace of batchnorm_stats and batchnorm_backward on cuda and emu.
std::size_t batchnorm_workspace_bytes(std::int64_t rows, std::int64_t channels);

// Throw deeper::Error when the parameters are unusable (`device_side`: the workspace is needed).
template <typename T>
void check_batchnorm_stats_params(const BatchNormStatsParamsT<T>& p, bool device_side);
void check_batchnorm_stats_from_partials_params(const BatchNormStatsParamsT<float>& p, const double* partials,
                                                int splits);
template <typename T>
void check_batchnorm_apply_params(const BatchNormApplyParamsT<T>& p);
template <typename T>
void check_batchnorm_backward_params(const BatchNormBackwardParamsT<T>& p, bool device_side);

namespace cpu_impl {
template <typename T>
void batchnorm_stats(const BatchNormStatsParamsT<T>& p);
// The final kernel's order: split k goes to row lane k % 8, each lane adds its splits in order, then
// the 8 lane sums are added in lane order (so the cpu result equals the device one bit for bit).
void batchnorm_stats_from_partials(const BatchNormStatsParams& p, const double* partials, int splits);
template <typename T>
void batchnorm_apply(const BatchNormApplyParamsT<T>& p);
template <typename T>
void batchnorm_backward(const BatchNormBackwardParamsT<T>& p);
}  // namespace cpu_impl
namespace emu_impl {
void batchnorm_stats(const BatchNormStatsParams& p, void* stream);
void batchnorm_stats_from_partials(const BatchNormStatsParams& p, const double* partials, int splits, void* stream);
void batchnorm_apply(const BatchNormApplyParams& p, void* stream);
void batchnorm_backward(const BatchNormBackwardParams& p, void* stream);
}  // namespace emu_impl
namespace cuda_impl {
void batchnorm_stats(const BatchNormStatsParams& p, void* stream);
void batchnorm_stats_from_partials(const BatchNormStatsParams& p, const double* partials, int splits, void* stream);
void batchnorm_apply(const BatchNormApplyParams& p, void* stream);
void batchnorm_backward(const BatchNormBackwardParams& p, void* stream);
}  // namespace cuda_impl

// Run on `device`'s backend (every pointer memory of that device); `stream` is a Stream::native()
// handle, nullptr for the default stream.
void batchnorm_stats(const Device& device, const BatchNormStatsParams& p, void* stream = nullptr);
// partials: 2 * splits * channels doubles (memory of `device`), splits >= 1.
void batchnorm_stats_from_partials(const Device& device, const BatchNormStatsParams& p, const double* partials,
                                   int splits, void* stream = nullptr);
void batchnorm_apply(const Device& device, const BatchNormApplyParams& p, void* stream = nullptr);
void batchnorm_backward(const Device& device, const BatchNormBackwardParams& p, void* stream = nullptr);

// Training forward: batchnorm_stats, then batchnorm_apply with the batch statistics
// (apply.bn.mean/invstd are set to stats.save_mean/save_invstd; apply.x must equal stats.x).
void batchnorm_forward_train(const Device& device, const BatchNormStatsParams& stats, BatchNormApplyParams apply,
                             void* stream = nullptr);

}  // namespace deeper::kernels
