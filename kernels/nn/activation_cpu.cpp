// ReLU and add on the CPU: the reference for activation.cu (definitions in activation.h), plus the
// parameter checks and the dispatch.
#include "kernels/nn/activation.h"

#include "core/error.h"
#include "kernels/common/dispatch.h"

namespace deeper::kernels {

template <typename T>
void check_relu_params(const ReluParamsT<T>& p) {
  DEEPER_CHECK(p.n >= 0, "relu_forward: negative size {}", p.n);
  DEEPER_CHECK(p.n == 0 || (p.x != nullptr && p.y != nullptr), "relu_forward: null input or output");
}

template <typename T>
void check_relu_backward_params(const ReluBackwardParamsT<T>& p) {
  DEEPER_CHECK(p.n >= 0, "relu_backward: negative size {}", p.n);
  DEEPER_CHECK(p.n == 0 || (p.dy != nullptr && p.y != nullptr && p.dx != nullptr), "relu_backward: null dy, y or dx");
}

template <typename T>
void check_add_params(const AddParamsT<T>& p) {
  DEEPER_CHECK(p.n >= 0, "add: negative size {}", p.n);
  DEEPER_CHECK(p.n == 0 || (p.a != nullptr && p.b != nullptr && p.out != nullptr), "add: null input or output");
}

namespace cpu_impl {

template <typename T>
void relu_forward(const ReluParamsT<T>& p) {
  check_relu_params(p);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < p.n; ++i) {
    const T x = p.x[i];
    p.y[i] = x > T(0) || x != x ? x : T(0);
  }
}

template <typename T>
void relu_backward(const ReluBackwardParamsT<T>& p) {
  check_relu_backward_params(p);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < p.n; ++i) p.dx[i] = p.y[i] > T(0) ? p.dy[i] : T(0);
}

template <typename T>
void add(const AddParamsT<T>& p) {
  check_add_params(p);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < p.n; ++i) p.out[i] = p.a[i] + p.b[i];
}

}  // namespace cpu_impl

#define DEEPER_ACTIVATION_INSTANTIATE(T)                                      \
  template void check_relu_params(const ReluParamsT<T>&);                     \
  template void check_relu_backward_params(const ReluBackwardParamsT<T>&);    \
  template void check_add_params(const AddParamsT<T>&);                       \
  template void cpu_impl::relu_forward(const ReluParamsT<T>&);                \
  template void cpu_impl::relu_backward(const ReluBackwardParamsT<T>&);       \
  template void cpu_impl::add(const AddParamsT<T>&);
DEEPER_ACTIVATION_INSTANTIATE(float)
DEEPER_ACTIVATION_INSTANTIATE(double)
#undef DEEPER_ACTIVATION_INSTANTIATE

void relu_forward(const Device& device, const ReluParams& p, void* stream) {
  check_relu_params(p);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::relu_forward(p);
    case Backend::emu:
      return emu_impl::relu_forward(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::relu_forward(p, stream));
  }
}

void relu_backward(const Device& device, const ReluBackwardParams& p, void* stream) {
  check_relu_backward_params(p);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::relu_backward(p);
    case Backend::emu:
      return emu_impl::relu_backward(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::relu_backward(p, stream));
  }
}

void add(const Device& device, const AddParams& p, void* stream) {
  check_add_params(p);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::add(p);
    case Backend::emu:
      return emu_impl::add(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::add(p, stream));
  }
}

}  // namespace deeper::kernels
