// Softmax cross-entropy on the CPU: the reference for cross_entropy.cu (definitions in
// cross_entropy.h), plus the parameter checks, the label check and the dispatch.
#include "kernels/nn/cross_entropy.h"

#include "core/error.h"
#include "kernels/common/dispatch.h"
#include "kernels/runtime/memory.h"

#include <cmath>
#include <limits>
#include <vector>

namespace deeper::kernels {

template <typename T>
void check_cross_entropy_params(const CrossEntropyParamsT<T>& p, bool backward) {
  const char* op = backward ? "cross_entropy_backward" : "cross_entropy_forward";
  DEEPER_CHECK(p.rows >= 1 && p.rows <= INT32_MAX, "{}: {} rows is outside [1, 2^31 - 1]", op, p.rows);
  DEEPER_CHECK(p.classes >= 1 && p.classes <= INT32_MAX, "{}: {} classes is outside [1, 2^31 - 1]", op, p.classes);
  DEEPER_CHECK(p.rows <= (std::int64_t{1} << 40) / p.classes, "{}: {} x {} logits is too many", op, p.rows, p.classes);
  DEEPER_CHECK(p.logits != nullptr && p.labels != nullptr, "{}: null logits or labels", op);
  if (backward) {
    DEEPER_CHECK(p.dlogits != nullptr, "{}: null dlogits", op);
  } else {
    DEEPER_CHECK(p.sample_loss != nullptr, "{}: null sample_loss (the per-sample losses are required)", op);
    DEEPER_CHECK(p.num_correct == nullptr || p.correct != nullptr, "{}: num_correct needs the correct array", op);
  }
}

void check_labels(const Device& device, const std::int32_t* labels, std::int64_t rows, std::int64_t classes,
                  const char* op) {
  DEEPER_CHECK(labels != nullptr || rows == 0, "{}: null labels", op);
  const std::int32_t* host = labels;
  std::vector<std::int32_t> copy;
  if (device.backend == Backend::cuda && rows > 0) {
    copy.resize(static_cast<std::size_t>(rows));
    copy_bytes(copy.data(), Device::cpu(), labels, device, copy.size() * sizeof(std::int32_t));
    host = copy.data();
  }
  for (std::int64_t i = 0; i < rows; ++i) {
    DEEPER_CHECK(host[i] >= 0 && host[i] < classes, "{}: label {} of sample {} is outside [0, {}) ({} classes)", op,
                 host[i], i, classes, classes);
  }
}

namespace cpu_impl {

namespace {

// max, argmax (NaN wins, first index on ties) and Σ exp(l - max) of one row, in T.
template <typename T>
void row_stats(const T* l, std::int64_t K, T& best, std::int64_t& best_i, T& sum) {
  best = l[0];
  best_i = 0;
  for (std::int64_t k = 1; k < K; ++k) {
    const bool v_nan = l[k] != l[k], b_nan = best != best;
    if ((v_nan && !b_nan) || (!v_nan && !b_nan && l[k] > best)) {
      best = l[k];
      best_i = k;
    }
  }
  sum = T(0);
  for (std::int64_t k = 0; k < K; ++k) sum += std::exp(l[k] - best);
}

}  // namespace

template <typename T>
void cross_entropy_forward(const CrossEntropyParamsT<T>& p) {
  check_cross_entropy_params(p, false);
  const std::int64_t K = p.classes;
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < p.rows; ++i) {
    T best, sum;
    std::int64_t best_i;
    row_stats(p.logits + i * K, K, best, best_i, sum);
    const std::int32_t label = p.labels[i];
    const bool valid = label >= 0 && label < K;
    p.sample_loss[i] = valid ? std::log(sum) + best - p.logits[i * K + label] : std::numeric_limits<T>::quiet_NaN();
    if (p.predicted != nullptr) p.predicted[i] = static_cast<std::int32_t>(best_i);
    if (p.correct != nullptr) p.correct[i] = valid && best_i == label ? 1 : 0;
  }
  double total = 0;
  std::int64_t correct = 0;
  for (std::int64_t i = 0; i < p.rows; ++i) {
    total += static_cast<double>(p.sample_loss[i]);
    if (p.correct != nullptr) correct += p.correct[i];
  }
  if (p.loss != nullptr) *p.loss = static_cast<T>(total / static_cast<double>(p.rows));
  if (p.num_correct != nullptr) *p.num_correct = static_cast<std::int32_t>(correct);
}

template <typename T>
void cross_entropy_backward(const CrossEntropyParamsT<T>& p) {
  check_cross_entropy_params(p, true);
  const std::int64_t K = p.classes;
  const T scale = p.grad_scale / static_cast<T>(p.rows);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < p.rows; ++i) {
    T best, sum;
    std::int64_t best_i;
    row_stats(p.logits + i * K, K, best, best_i, sum);
    const std::int32_t label = p.labels[i];
    const bool valid = label >= 0 && label < K;
    for (std::int64_t k = 0; k < K; ++k) {
      const T soft = std::exp(p.logits[i * K + k] - best) / sum;
      p.dlogits[i * K + k] = valid ? (soft - (k == label ? T(1) : T(0))) * scale : std::numeric_limits<T>::quiet_NaN();
    }
  }
}

}  // namespace cpu_impl

template void check_cross_entropy_params(const CrossEntropyParamsT<float>&, bool);
template void check_cross_entropy_params(const CrossEntropyParamsT<double>&, bool);
template void cpu_impl::cross_entropy_forward(const CrossEntropyParamsT<float>&);
template void cpu_impl::cross_entropy_forward(const CrossEntropyParamsT<double>&);
template void cpu_impl::cross_entropy_backward(const CrossEntropyParamsT<float>&);
template void cpu_impl::cross_entropy_backward(const CrossEntropyParamsT<double>&);

void cross_entropy_forward(const Device& device, const CrossEntropyParams& p, void* stream) {
  check_cross_entropy_params(p, false);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::cross_entropy_forward(p);
    case Backend::emu:
      return emu_impl::cross_entropy_forward(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::cross_entropy_forward(p, stream));
  }
}

void cross_entropy_backward(const Device& device, const CrossEntropyParams& p, void* stream) {
  check_cross_entropy_params(p, true);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::cross_entropy_backward(p);
    case Backend::emu:
      return emu_impl::cross_entropy_backward(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::cross_entropy_backward(p, stream));
  }
}

}  // namespace deeper::kernels
