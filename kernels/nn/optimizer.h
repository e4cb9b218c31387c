// Optimizers: one fused kernel per step over the flat fp32 parameter buffer (n values), with fp32
// master weights, the state in flat buffers beside it, and optionally a bf16 copy of the updated
// weights written in the same pass (for the bf16 convolution path; round to nearest even, NaN kept).
//
// Weight decay by segment: `segments` lists contiguous ranges [offset, offset + count) that cover
// [0, n) in order; a segment with decay = false gets no weight decay (BN gamma/beta, biases). No
// segments means one segment with decay. Kernel grid: (blocks, segments), grid-stride inside a
// segment, so the flag is one uniform value per block.
//
// sgd_step (torch.optim.SGD, maximize off), per element with g the gradient and wd the decay:
//   g = g + wd·w;  if momentum != 0: buf = (step == 1 ? g : momentum·buf + (1 - dampening)·g),
//   g = nesterov ? g + momentum·buf : buf;  w = w - lr·g.
//   Bytes per value: 12 read + 8 written with momentum (w, g, buf), + 2 for the bf16 copy.
// adamw_step (torch.optim.AdamW, amsgrad off), with step t >= 1:
//   w = w·(1 - lr·wd);  m = lerp(m, g, 1 - beta1) (torch.lerp's two-sided form);  v = beta2·v + (1 - beta2)·g²;
//   w = w - (lr / (1 - beta1^t)) · m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
//   (bias corrections in fp64 on the host, as PyTorch's Python floats). Bytes 16 read + 12 written.
// FLOPs ~ 5 (SGD) and ~ 12 (AdamW) per value: memory-bound; the ceiling is the copy rate.
//
// Errors (deeper::Error): n < 0, null buffers, segments that do not cover [0, n) in order or are
// more than kMaxParamSegments, lr / momentum / betas / eps out of range, step < 1.
#pragma once

#include "kernels/common/hd.h"
#include "kernels/runtime/device.h"

#include <cstdint>
#include <cstring>

namespace deeper::kernels {

inline constexpr int kMaxParamSegments = 64;

struct ParamSegment {
  std::int64_t offset = 0, count = 0;
  bool decay = true;
};

struct ParamSegments {
  int size = 0;  // 0: one segment [0, n) with decay
  ParamSegment segment[kMaxParamSegments];
};

template <typename T>
struct SgdParamsT {
  std::int64_t n = 0;
  T* weights = nullptr;
  const T* grads = nullptr;
  T* momentum_buffer = nullptr;  // n values; needed when momentum != 0
  std::uint16_t* weights_bf16 = nullptr;  // n bf16 values, or null
  double lr = 0.01, momentum = 0, dampening = 0, weight_decay = 0;  // Python floats, as PyTorch's
  bool nesterov = false;
  std::int64_t step = 1;  // 1-based; step 1 initialises the momentum buffer to g
  ParamSegments segments;
};

template <typename T>
struct AdamWParamsT {
  std::int64_t n = 0;
  T* weights = nullptr;
  const T* grads = nullptr;
  T* exp_avg = nullptr;     // m, n values (zeros before step 1)
  T* exp_avg_sq = nullptr;  // v, n values (zeros before step 1)
  std::uint16_t* weights_bf16 = nullptr;
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 1e-2;  // Python floats
  std::int64_t step = 1;  // 1-based, the step being taken
  ParamSegments segments;
};

using SgdParams = SgdParamsT<float>;
using AdamWParams = AdamWParamsT<float>;

// bf16 bits of x, rounded to nearest even; NaN stays a (quiet) NaN. The same bits on every backend.
DEEPER_HD_INLINE std::uint16_t float_to_bf16_bits(float x) {
  std::uint32_t u;
#if defined(__CUDA_ARCH__)
  u = __float_as_uint(x);
#else
  std::memcpy(&u, &x, sizeof u);
#endif
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((u >> 16) | 0x0040u);
  return static_cast<std::uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// The per-step scalars in T, from the fp64 hyper-parameters as PyTorch computes them (Python
// floats), each rounded once: what the kernels (T = float) and the CPU reference use.
template <typename T>
struct SgdScalars {
  T lr, momentum, one_minus_dampening, weight_decay;
};
template <typename T>
struct AdamWScalars {
  T step_size;              // lr / (1 - beta1^t)
  T bias_correction2_sqrt;  // sqrt(1 - beta2^t)
  T decay_factor;           // 1 - lr·weight_decay
  T lerp_weight;            // 1 - beta1
  T beta2, one_minus_beta2, eps;
};
template <typename T>
SgdScalars<T> sgd_scalars(const SgdParamsT<T>& p);
template <typename T>
AdamWScalars<T> adamw_scalars(const AdamWParamsT<T>& p);

template <typename T>
void check_sgd_params(const SgdParamsT<T>& p);
template <typename T>
void check_adamw_params(const AdamWParamsT<T>& p);

namespace cpu_impl {
template <typename T>
void sgd_step(const SgdParamsT<T>& p);
template <typename T>
void adamw_step(const AdamWParamsT<T>& p);
}  // namespace cpu_impl
namespace emu_impl {
void sgd_step(const SgdParams& p, void* stream);
void adamw_step(const AdamWParams& p, void* stream);
}  // namespace emu_impl
namespace cuda_impl {
void sgd_step(const SgdParams& p, void* stream);
void adamw_step(const AdamWParams& p, void* stream);
}  // namespace cuda_impl

void sgd_step(const Device& device, const SgdParams& p, void* stream = nullptr);
void adamw_step(const Device& device, const AdamWParams& p, void* stream = nullptr);

}  // namespace deeper::kernels
