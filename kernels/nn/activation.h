// Elementwise layers over flat fp32 tensors (any layout; n values):
//   relu_forward:  y = max(x, 0), NaN kept (as PyTorch);                 bytes 8n
//   relu_backward: dx = dy · [y > 0], y the forward output (0 at y = 0);  bytes 12n
//   add:           out = a + b (the plain residual add, or accumulating one gradient into
//                  another: out may alias a or b);                        bytes 12n
// One thread per 4 values (float4) when every pointer is 16-byte aligned and n % 4 == 0, else one
// per value; grid-stride in int64. FLOPs: n. Errors (deeper::Error): n < 0, null pointers (n > 0).
#pragma once

#include "kernels/runtime/device.h"

#include <cstdint>

namespace deeper::kernels {

template <typename T>
struct ReluParamsT {
  std::int64_t n = 0;
  const T* x = nullptr;
  T* y = nullptr;  // may alias x
};

template <typename T>
struct ReluBackwardParamsT {
  std::int64_t n = 0;
  const T* dy = nullptr;
  const T* y = nullptr;
  T* dx = nullptr;  // may alias dy
};

template <typename T>
struct AddParamsT {
  std::int64_t n = 0;
  const T* a = nullptr;
  const T* b = nullptr;
  T* out = nullptr;  // may alias a or b
};

using ReluParams = ReluParamsT<float>;
using ReluBackwardParams = ReluBackwardParamsT<float>;
using AddParams = AddParamsT<float>;

template <typename T>
void check_relu_params(const ReluParamsT<T>& p);
template <typename T>
void check_relu_backward_params(const ReluBackwardParamsT<T>& p);
template <typename T>
void check_add_params(const AddParamsT<T>& p);

namespace cpu_impl {
template <typename T>
void relu_forward(const ReluParamsT<T>& p);
template <typename T>
void relu_backward(const ReluBackwardParamsT<T>& p);
template <typename T>
void add(const AddParamsT<T>& p);
}  // namespace cpu_impl
namespace emu_impl {
void relu_forward(const ReluParams& p, void* stream);
void relu_backward(const ReluBackwardParams& p, void* stream);
void add(const AddParams& p, void* stream);
}  // namespace emu_impl
namespace cuda_impl {
void relu_forward(const ReluParams& p, void* stream);
void relu_backward(const ReluBackwardParams& p, void* stream);
void add(const AddParams& p, void* stream);
}  // namespace cuda_impl

void relu_forward(const Device& device, const ReluParams& p, void* stream = nullptr);
void relu_backward(const Device& device, const ReluBackwardParams& p, void* stream = nullptr);
void add(const Device& device, const AddParams& p, void* stream = nullptr);

}  // namespace deeper::kernels
