// Softmax cross-entropy with integer labels (PyTorch's F.cross_entropy, reduction 'mean').
//
// Layout: logits rows x classes fp32 (row-major), labels rows int32 in [0, classes).
// For row i with m = max_k l[i, k] and S = Σ_k exp(l[i, k] - m) (numerically stable log-sum-exp):
//   sample_loss[i] = log S + m - l[i, label_i]
//   predicted[i]   = argmax_k l[i, k] (the first maximum; a NaN counts as the maximum, as torch.argmax)
//   correct[i]     = predicted[i] == label_i (1 or 0)
//   loss           = Σ_i sample_loss[i] / rows            (fp64 sum, one block, fixed order)
//   num_correct    = Σ_i correct[i]
//   dlogits[i, k]  = (exp(l[i, k] - m) / S - [k == label_i]) · grad_scale / rows
// cross_entropy_forward computes the first five (sample_loss is required; predicted, correct, loss,
// num_correct may be null); cross_entropy_backward computes dlogits (the same per-row kernel with only
// the gradient written; it may alias logits). A label outside [0, classes) gives a NaN loss and a NaN
// gradient row and correct = 0, without reading out of bounds; check_labels finds such labels on the
// host first and names them. Kernel: one 256-thread block per row, three passes over the row
// (max/argmax, sum of exp, loss or gradient) with warp shuffles. Bytes: 4·classes read per pass
// (the row stays in L1/L2), 4·classes written for the gradient. FLOPs ~ 3·rows·classes (+ exp).
//
// Errors (deeper::Error): rows < 1 or > 2^31 - 1, classes < 1 or > 2^31 - 1, null pointers, and
// from check_labels a label out of range.
#pragma once

#include "kernels/runtime/device.h"

#include <cstdint>

namespace deeper::kernels {

template <typename T>
struct CrossEntropyParamsT {
  std::int64_t rows = 0, classes = 0;
  const T* logits = nullptr;
  const std::int32_t* labels = nullptr;
  // forward
  T* sample_loss = nullptr;  // rows; required by the forward pass
  std::int32_t* predicted = nullptr;  // rows, or null
  std::int32_t* correct = nullptr;    // rows, or null
  T* loss = nullptr;                  // one value, or null
  std::int32_t* num_correct = nullptr;  // one value, or null (needs correct)
  // backward
  T grad_scale = T(1);  // the upstream gradient of the mean loss
  T* dlogits = nullptr;  // rows x classes; required by the backward pass
};

using CrossEntropyParams = CrossEntropyParamsT<float>;

template <typename T>
void check_cross_entropy_params(const CrossEntropyParamsT<T>& p, bool backward);

// Throws deeper::Error naming the first label outside [0, classes) (labels in `device`'s memory).
void check_labels(const Device& device, const std::int32_t* labels, std::int64_t rows, std::int64_t classes,
                  const char* op = "cross_entropy");

namespace cpu_impl {
template <typename T>
void cross_entropy_forward(const CrossEntropyParamsT<T>& p);
template <typename T>
void cross_entropy_backward(const CrossEntropyParamsT<T>& p);
}  // namespace cpu_impl
namespace emu_impl {
void cross_entropy_forward(const CrossEntropyParams& p, void* stream);
void cross_entropy_backward(const CrossEntropyParams& p, void* stream);
}  // namespace emu_impl
namespace cuda_impl {
void cross_entropy_forward(const CrossEntropyParams& p, void* stream);
void cross_entropy_backward(const CrossEntropyParams& p, void* stream);
}  // namespace cuda_impl

// The dispatchers do not call check_labels (it copies labels to the host on cuda): call it where
// the labels come from outside.
void cross_entropy_forward(const Device& device, const CrossEntropyParams& p, void* stream = nullptr);
void cross_entropy_backward(const Device& device, const CrossEntropyParams& p, void* stream = nullptr);

}  // namespace deeper::kernels
