// Linear layer on the CPU: the reference for linear.cu (definitions in linear.h), with fp64 sums,
// plus the parameter checks and the dispatch.
#include "kernels/nn/linear.h"

#include "core/error.h"
#include "kernels/common/dispatch.h"

namespace deeper::kernels {

namespace {

void check_linear_sizes(const char* op, std::int64_t rows, std::int64_t in, std::int64_t out) {
  constexpr std::int64_t kMax = std::int64_t{1} << 31;
  DEEPER_CHECK(rows >= 1 && in >= 1 && out >= 1, "{}: sizes rows {}, in {}, out {} must be at least 1", op, rows, in,
               out);
  DEEPER_CHECK(rows < kMax && in < kMax && out < kMax && rows * in < (std::int64_t{1} << 40) &&
                   in * out < (std::int64_t{1} << 40) && rows * out < (std::int64_t{1} << 40),
               "{}: sizes rows {}, in {}, out {} are too large", op, rows, in, out);
  DEEPER_CHECK((out + 63) / 64 < kMax && (rows + 63) / 64 <= 65535 && (in + 63) / 64 <= 65535 && (out + 63) / 64 <= 65535,
               "{}: sizes rows {}, in {}, out {} exceed the GEMM grid (at most 65535 x 64 per dimension)", op, rows,
               in, out);
}

}  // namespace

template <typename T>
void check_linear_params(const LinearParamsT<T>& p) {
  check_linear_sizes("linear_forward", p.rows, p.in_features, p.out_features);
  DEEPER_CHECK(p.x != nullptr && p.weight != nullptr && p.y != nullptr, "linear_forward: null input, weight or output");
}

template <typename T>
void check_linear_backward_params(const LinearBackwardParamsT<T>& p) {
  check_linear_sizes("linear_backward", p.rows, p.in_features, p.out_features);
  DEEPER_CHECK(p.dy != nullptr, "linear_backward: null dy");
  DEEPER_CHECK(p.dx == nullptr || p.weight != nullptr, "linear_backward: dx needs the weight (null)");
  DEEPER_CHECK(p.dweight == nullptr || p.x != nullptr, "linear_backward: dweight needs the input x (null)");
}

namespace cpu_impl {

template <typename T>
void linear_forward(const LinearParamsT<T>& p) {
  check_linear_params(p);
  const std::int64_t I = p.in_features, O = p.out_features;
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < p.rows; ++r) {
    for (std::int64_t o = 0; o < O; ++o) {
      double s = p.bias != nullptr ? static_cast<double>(p.bias[o]) : 0.0;
      for (std::int64_t i = 0; i < I; ++i) s += static_cast<double>(p.x[r * I + i]) * static_cast<double>(p.weight[o * I + i]);
      p.y[r * O + o] = static_cast<T>(s);
    }
  }
}

template <typename T>
void linear_backward(const LinearBackwardParamsT<T>& p) {
  check_linear_backward_params(p);
  const std::int64_t I = p.in_features, O = p.out_features, R = p.rows;
  if (p.dx != nullptr) {
#pragma omp parallel for schedule(static)
    for (std::int64_t r = 0; r < R; ++r) {
      for (std::int64_t i = 0; i < I; ++i) {
        double s = 0;
        for (std::int64_t o = 0; o < O; ++o) s += static_cast<double>(p.dy[r * O + o]) * static_cast<double>(p.weight[o * I + i]);
        p.dx[r * I + i] = static_cast<T>(s);
      }
    }
  }
  if (p.dweight != nullptr) {
#pragma omp parallel for schedule(static)
    for (std::int64_t o = 0; o < O; ++o) {
      for (std::int64_t i = 0; i < I; ++i) {
        double s = 0;
        for (std::int64_t r = 0; r < R; ++r) s += static_cast<double>(p.dy[r * O + o]) * static_cast<double>(p.x[r * I + i]);
        p.dweight[o * I + i] = static_cast<T>(s);
      }
    }
  }
  if (p.dbias != nullptr) {
    for (std::int64_t o = 0; o < O; ++o) {
      double s = 0;
      for (std::int64_t r = 0; r < R; ++r) s += static_cast<double>(p.dy[r * O + o]);
      p.dbias[o] = static_cast<T>(s);
    }
  }
}

}  // namespace cpu_impl

template void check_linear_params(const LinearParamsT<float>&);
template void check_linear_params(const LinearParamsT<double>&);
template void check_linear_backward_params(const LinearBackwardParamsT<float>&);
template void check_linear_backward_params(const LinearBackwardParamsT<double>&);
template void cpu_impl::linear_forward(const LinearParamsT<float>&);
template void cpu_impl::linear_forward(const LinearParamsT<double>&);
template void cpu_impl::linear_backward(const LinearBackwardParamsT<float>&);
template void cpu_impl::linear_backward(const LinearBackwardParamsT<double>&);

void linear_forward(const Device& device, const LinearParams& p, void* stream) {
  check_linear_params(p);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::linear_forward(p);
    case Backend::emu:
      return emu_impl::linear_forward(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::linear_forward(p, stream));
  }
}

void linear_backward(const Device& device, const LinearBackwardParams& p, void* stream) {
  check_linear_backward_params(p);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::linear_backward(p);
    case Backend::emu:
      return emu_impl::linear_backward(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::linear_backward(p, stream));
  }
}

}  // namespace deeper::kernels
