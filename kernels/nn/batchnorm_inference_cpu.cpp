// Batch normalisation backward in inference mode on the CPU: the reference for
// batchnorm_inference.cu (definitions in batchnorm_inference.h), in float or double. Also the
// parameter checks and the dispatch.
#include "kernels/nn/batchnorm_inference.h"

#include "core/error.h"
#include "kernels/common/dispatch.h"

#include <cmath>
#include <cstdint>
#include <vector>

namespace deeper::kernels {

namespace {

template <typename T>
void check_scale(const char* which, const BatchNormChannelsT<T>& bn) {
  DEEPER_CHECK(bn.gamma != nullptr, "batchnorm_inference_backward: null gamma ({})", which);
  DEEPER_CHECK(bn.invstd != nullptr || bn.var != nullptr,
               "batchnorm_inference_backward: neither invstd nor var given ({})", which);
  DEEPER_CHECK(bn.invstd != nullptr || (bn.eps > T(0) && std::isfinite(static_cast<double>(bn.eps))),
               "batchnorm_inference_backward: eps {} must be positive ({})", static_cast<double>(bn.eps), which);
}

// gamma_c · invstd_c for every channel.
template <typename T>
std::vector<T> channel_scale(const BatchNormChannelsT<T>& bn, std::int64_t C) {
  std::vector<T> out(static_cast<std::size_t>(C));
  for (std::int64_t c = 0; c < C; ++c) {
    const T inv = bn.invstd != nullptr ? bn.invstd[c] : T(1) / std::sqrt(bn.var[c] + bn.eps);
    out[static_cast<std::size_t>(c)] = bn.gamma[c] * inv;
  }
  return out;
}

}  // namespace

template <typename T>
void check_batchnorm_inference_backward_params(const BatchNormInferenceBackwardParamsT<T>& p) {
  DEEPER_CHECK(p.rows >= 1, "batchnorm_inference_backward: {} rows (N·H·W); needs at least 1", p.rows);
  DEEPER_CHECK(p.channels >= 1 && p.channels <= (std::int64_t{1} << 24),
               "batchnorm_inference_backward: {} channels is outside [1, 2^24]", p.channels);
  DEEPER_CHECK(p.rows <= (std::int64_t{1} << 40) / p.channels, "batchnorm_inference_backward: {} x {} values is too many",
               p.rows, p.channels);
  DEEPER_CHECK(p.dy != nullptr && p.dx != nullptr, "batchnorm_inference_backward: null dy or dx");
  DEEPER_CHECK(!p.relu || p.y != nullptr, "batchnorm_inference_backward: null y (the forward output; needed with relu)");
  check_scale("main", p.bn);
  if (p.residual != BnResidual::none) {
    DEEPER_CHECK(p.dr != nullptr, "batchnorm_inference_backward: null residual gradient dr");
    DEEPER_CHECK(p.dr != p.dx && p.dr != p.dy, "batchnorm_inference_backward: dr may not alias dx or dy");
  }
  if (p.residual == BnResidual::batchnorm) check_scale("residual", p.r_bn);
}

namespace cpu_impl {

template <typename T>
void batchnorm_inference_backward(const BatchNormInferenceBackwardParamsT<T>& p) {
  check_batchnorm_inference_backward_params(p);
  const std::int64_t C = p.channels;
  const bool two = p.residual == BnResidual::batchnorm;
  const std::vector<T> a = channel_scale(p.bn, C);
  const std::vector<T> ar = two ? channel_scale(p.r_bn, C) : std::vector<T>();
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < p.rows; ++r) {
    for (std::int64_t c = 0; c < C; ++c) {
      const std::int64_t i = r * C + c;
      const auto k = static_cast<std::size_t>(c);
      const T g = p.relu && !(p.y[i] > T(0)) ? T(0) : p.dy[i];
      p.dx[i] = g * a[k];
      if (p.residual == BnResidual::identity) p.dr[i] = g;
      if (two) p.dr[i] = g * ar[k];
    }
  }
}

}  // namespace cpu_impl

#define DEEPER_BN_INFERENCE_INSTANTIATE(T)                                                               \
  template void check_batchnorm_inference_backward_params(const BatchNormInferenceBackwardParamsT<T>&); \
  template void cpu_impl::batchnorm_inference_backward(const BatchNormInferenceBackwardParamsT<T>&);
DEEPER_BN_INFERENCE_INSTANTIATE(float)
DEEPER_BN_INFERENCE_INSTANTIATE(double)
#undef DEEPER_BN_INFERENCE_INSTANTIATE

void batchnorm_inference_backward(const Device& device, const BatchNormInferenceBackwardParams& p, void* stream) {
  check_batchnorm_inference_backward_params(p);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::batchnorm_inference_backward(p);
    case Backend::emu:
      return emu_impl::batchnorm_inference_backward(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::batchnorm_inference_backward(p, stream));
  }
}

}  // namespace deeper::kernels
