// Linear (fully connected) layer, fp32: y = x · Wᵀ + b.
//
// Layout: x rows x in (row-major), weight out x in (PyTorch's nn.Linear), bias out, y rows x out.
// Backward: dx = dy · W (rows x in), dW = dyᵀ · x (out x in), db = Σ_rows dy. Each output that is
// null is skipped; every one given is overwritten (not accumulated).
//
// Kernels: one tiled fp32 GEMM C[m x n] = A[m x k] · B[k x n] (+ bias[n]) with A and B read through
// strides, so the three products need no transposed copies: 64 x 64 output tiles, k in steps of 16
// through shared memory, 256 threads with a 4 x 4 register micro-tile each (FMA accumulation in k
// order). FLOPs 2·m·n·k per product: forward 2·rows·in·out, backward twice that. db is a (32 x 8)
// column reduction in fp64. cuBLAS is not used.
//
// Errors (deeper::Error): sizes < 1, null x / weight / y (forward), null dy and inputs the requested
// gradients need (backward).
#pragma once

#include "kernels/runtime/device.h"

#include <cstdint>

namespace deeper::kernels {

template <typename T>
struct LinearParamsT {
  std::int64_t rows = 0, in_features = 0, out_features = 0;
  const T* x = nullptr;
  const T* weight = nullptr;
  const T* bias = nullptr;  // may be null (no bias)
  T* y = nullptr;
};

template <typename T>
struct LinearBackwardParamsT {
  std::int64_t rows = 0, in_features = 0, out_features = 0;
  const T* x = nullptr;       // needed for dweight
  const T* weight = nullptr;  // needed for dx
  const T* dy = nullptr;
  T* dx = nullptr;       // rows x in, or null
  T* dweight = nullptr;  // out x in, or null
  T* dbias = nullptr;    // out, or null
};

using LinearParams = LinearParamsT<float>;
using LinearBackwardParams = LinearBackwardParamsT<float>;

template <typename T>
void check_linear_params(const LinearParamsT<T>& p);
template <typename T>
void check_linear_backward_params(const LinearBackwardParamsT<T>& p);

namespace cpu_impl {
template <typename T>
void linear_forward(const LinearParamsT<T>& p);
template <typename T>
void linear_backward(const LinearBackwardParamsT<T>& p);
}  // namespace cpu_impl
namespace emu_impl {
void linear_forward(const LinearParams& p, void* stream);
void linear_backward(const LinearBackwardParams& p, void* stream);
}  // namespace emu_impl
namespace cuda_impl {
void linear_forward(const LinearParams& p, void* stream);
void linear_backward(const LinearBackwardParams& p, void* stream);
}  // namespace cuda_impl

void linear_forward(const Device& device, const LinearParams& p, void* stream = nullptr);
void linear_backward(const Device& device, const LinearBackwardParams& p, void* stream = nullptr);

}  // namespace deeper::kernels
