// Optimizers on the CPU: the reference for optimizer.cu (definitions in optimizer.h), in float or
// double with the same operation order as the kernels, plus the checks and the dispatch.
#include "kernels/nn/optimizer.h"

#include "core/error.h"
#include "kernels/common/dispatch.h"

#include <cmath>

namespace deeper::kernels {

namespace {

void check_segments(const char* op, const ParamSegments& segs, std::int64_t n) {
  DEEPER_CHECK(segs.size >= 0 && segs.size <= kMaxParamSegments, "{}: {} segments is outside [0, {}]", op, segs.size,
               kMaxParamSegments);
  if (segs.size == 0) return;
  std::int64_t next = 0;
  for (int s = 0; s < segs.size; ++s) {
    const ParamSegment& seg = segs.segment[s];
    DEEPER_CHECK(seg.offset == next && seg.count >= 0,
                 "{}: segment {} is [{}, {} + {}); segments must cover [0, {}) in order without gaps (next offset {})",
                 op, s, seg.offset, seg.offset, seg.count, n, next);
    next += seg.count;
  }
  DEEPER_CHECK(next == n, "{}: the segments cover [0, {}), not the {} parameters", op, next, n);
}

bool finite_nonnegative(double v) { return std::isfinite(v) && v >= 0; }

}  // namespace

template <typename T>
void check_sgd_params(const SgdParamsT<T>& p) {
  DEEPER_CHECK(p.n >= 0, "sgd_step: negative size {}", p.n);
  check_segments("sgd_step", p.segments, p.n);
  DEEPER_CHECK(finite_nonnegative(p.lr) && finite_nonnegative(p.momentum) && finite_nonnegative(p.weight_decay) &&
                   std::isfinite(p.dampening),
               "sgd_step: lr {}, momentum {}, weight decay {} must be finite and >= 0", p.lr, p.momentum,
               p.weight_decay);
  DEEPER_CHECK(!p.nesterov || (p.momentum > 0 && p.dampening == 0),
               "sgd_step: Nesterov momentum needs momentum > 0 and dampening 0");
  DEEPER_CHECK(p.step >= 1, "sgd_step: step {} (1-based) must be at least 1", p.step);
  if (p.n == 0) return;
  DEEPER_CHECK(p.weights != nullptr && p.grads != nullptr, "sgd_step: null weights or gradients");
  DEEPER_CHECK(p.momentum == 0 || p.momentum_buffer != nullptr, "sgd_step: null momentum buffer (momentum {})",
               p.momentum);
}

template <typename T>
void check_adamw_params(const AdamWParamsT<T>& p) {
  DEEPER_CHECK(p.n >= 0, "adamw_step: negative size {}", p.n);
  check_segments("adamw_step", p.segments, p.n);
  DEEPER_CHECK(finite_nonnegative(p.lr) && finite_nonnegative(p.weight_decay),
               "adamw_step: lr {} and weight decay {} must be finite and >= 0", p.lr, p.weight_decay);
  DEEPER_CHECK(p.beta1 >= 0 && p.beta1 < 1 && p.beta2 >= 0 && p.beta2 < 1, "adamw_step: betas ({}, {}) must be in [0, 1)",
               p.beta1, p.beta2);
  DEEPER_CHECK(p.eps > 0 && std::isfinite(p.eps), "adamw_step: eps {} must be positive", p.eps);
  DEEPER_CHECK(p.step >= 1, "adamw_step: step {} (1-based) must be at least 1", p.step);
  if (p.n == 0) return;
  DEEPER_CHECK(p.weights != nullptr && p.grads != nullptr && p.exp_avg != nullptr && p.exp_avg_sq != nullptr,
               "adamw_step: null weights, gradients, exp_avg or exp_avg_sq");
}

template <typename T>
SgdScalars<T> sgd_scalars(const SgdParamsT<T>& p) {
  return {static_cast<T>(p.lr), static_cast<T>(p.momentum), static_cast<T>(1.0 - p.dampening),
          static_cast<T>(p.weight_decay)};
}

template <typename T>
AdamWScalars<T> adamw_scalars(const AdamWParamsT<T>& p) {
  const double t = static_cast<double>(p.step);
  AdamWScalars<T> s;
  s.step_size = static_cast<T>(p.lr / (1.0 - std::pow(p.beta1, t)));
  s.bias_correction2_sqrt = static_cast<T>(std::sqrt(1.0 - std::pow(p.beta2, t)));
  s.decay_factor = static_cast<T>(1.0 - p.lr * p.weight_decay);
  s.lerp_weight = static_cast<T>(1.0 - p.beta1);
  s.beta2 = static_cast<T>(p.beta2);
  s.one_minus_beta2 = static_cast<T>(1.0 - p.beta2);
  s.eps = static_cast<T>(p.eps);
  return s;
}

namespace cpu_impl {

namespace {

template <typename F>
void for_each_segment(const ParamSegments& segs, std::int64_t n, F&& f) {
  if (segs.size == 0) {
    f(ParamSegment{0, n, true});
    return;
  }
  for (int s = 0; s < segs.size; ++s) f(segs.segment[s]);
}

}  // namespace

template <typename T>
void sgd_step(const SgdParamsT<T>& p) {
  check_sgd_params(p);
  const bool first = p.step == 1;
  const SgdScalars<T> s = sgd_scalars(p);
  for_each_segment(p.segments, p.n, [&](const ParamSegment& seg) {
    const T wd = seg.decay ? s.weight_decay : T(0);
#pragma omp parallel for schedule(static)
    for (std::int64_t i = seg.offset; i < seg.offset + seg.count; ++i) {
      T w = p.weights[i], g = p.grads[i];
      if (wd != T(0)) g = g + wd * w;
      if (s.momentum != T(0)) {
        const T buf = first ? g : s.momentum * p.momentum_buffer[i] + s.one_minus_dampening * g;
        p.momentum_buffer[i] = buf;
        g = p.nesterov ? g + s.momentum * buf : buf;
      }
      w = w - s.lr * g;
      p.weights[i] = w;
      if (p.weights_bf16 != nullptr) p.weights_bf16[i] = float_to_bf16_bits(static_cast<float>(w));
    }
  });
}

template <typename T>
void adamw_step(const AdamWParamsT<T>& p) {
  check_adamw_params(p);
  const AdamWScalars<T> s = adamw_scalars(p);
  for_each_segment(p.segments, p.n, [&](const ParamSegment& seg) {
    const T decay = seg.decay ? s.decay_factor : T(1);
#pragma omp parallel for schedule(static)
    for (std::int64_t i = seg.offset; i < seg.offset + seg.count; ++i) {
      T w = p.weights[i] * decay;
      const T g = p.grads[i];
      T m = p.exp_avg[i], v = p.exp_avg_sq[i];
      m = s.lerp_weight < T(0.5) ? m + s.lerp_weight * (g - m) : g - (g - m) * (T(1) - s.lerp_weight);
      v = v * s.beta2 + s.one_minus_beta2 * (g * g);
      const T denom = std::sqrt(v) / s.bias_correction2_sqrt + s.eps;
      w = w + (-s.step_size) * (m / denom);
      p.exp_avg[i] = m;
      p.exp_avg_sq[i] = v;
      p.weights[i] = w;
      if (p.weights_bf16 != nullptr) p.weights_bf16[i] = float_to_bf16_bits(static_cast<float>(w));
    }
  });
}

}  // namespace cpu_impl

template SgdScalars<float> sgd_scalars(const SgdParamsT<float>&);
template SgdScalars<double> sgd_scalars(const SgdParamsT<double>&);
template AdamWScalars<float> adamw_scalars(const AdamWParamsT<float>&);
template AdamWScalars<double> adamw_scalars(const AdamWParamsT<double>&);
template void check_sgd_params(const SgdParamsT<float>&);
template void check_sgd_params(const SgdParamsT<double>&);
template void check_adamw_params(const AdamWParamsT<float>&);
template void check_adamw_params(const AdamWParamsT<double>&);
template void cpu_impl::sgd_step(const SgdParamsT<float>&);
template void cpu_impl::sgd_step(const SgdParamsT<double>&);
template void cpu_impl::adamw_step(const AdamWParamsT<float>&);
template void cpu_impl::adamw_step(const AdamWParamsT<double>&);

void sgd_step(const Device& device, const SgdParams& p, void* stream) {
  check_sgd_params(p);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::sgd_step(p);
    case Backend::emu:
      return emu_impl::sgd_step(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::sgd_step(p, stream));
  }
}

void adamw_step(const Device& device, const AdamWParams& p, void* stream) {
  check_adamw_params(p);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::adamw_step(p);
    case Backend::emu:
      return emu_impl::adamw_step(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::adamw_step(p, stream));
  }
}

}  // namespace deeper::kernels
