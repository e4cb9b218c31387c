// Max-pool and global average pool on the CPU: the references for pooling.cu (definitions in
// pooling.h), plus the parameter checks and the dispatch.
#include "kernels/nn/pooling.h"

#include "core/error.h"
#include "kernels/common/dispatch.h"
#include "kernels/nn/optimizer.h"

namespace deeper::kernels {

namespace {

void check_pool_sizes(const char* op, std::int64_t batch, std::int64_t height, std::int64_t width,
                      std::int64_t channels) {
  DEEPER_CHECK(batch >= 1 && height >= 1 && width >= 1 && channels >= 1,
               "{}: sizes {} x {} x {} x {} (N x H x W x C) must all be at least 1", op, batch, height, width,
               channels);
  DEEPER_CHECK(height * width < (std::int64_t{1} << 31) && batch <= 65535 && channels <= (std::int64_t{1} << 24),
               "{}: sizes {} x {} x {} x {} are too large (H·W < 2^31, N <= 65535, C <= 2^24)", op, batch, height,
               width, channels);
  DEEPER_CHECK(batch * height * width <= (std::int64_t{1} << 40) / channels, "{}: too many values", op);
}

void check_window(const char* op, std::int64_t height, std::int64_t width, int kernel, int stride, int pad) {
  DEEPER_CHECK(kernel >= 1 && stride >= 1 && pad >= 0, "{}: kernel {}, stride {}, pad {} (need k >= 1, s >= 1, p >= 0)",
               op, kernel, stride, pad);
  DEEPER_CHECK(2 * pad <= kernel, "{}: pad {} is more than half the kernel {} (a window could hold no input)", op, pad,
               kernel);
  DEEPER_CHECK(height + 2 * pad >= kernel && width + 2 * pad >= kernel,
               "{}: window {} is larger than the padded input {} x {}", op, kernel, height + 2 * pad, width + 2 * pad);
}

}  // namespace

template <typename T>
void check_maxpool_params(const MaxPoolParamsT<T>& p) {
  check_pool_sizes("maxpool_forward", p.batch, p.height, p.width, p.channels);
  check_window("maxpool_forward", p.height, p.width, p.kernel, p.stride, p.pad);
  DEEPER_CHECK(p.x != nullptr && p.y != nullptr && p.argmax != nullptr, "maxpool_forward: null input, output or argmax");
}

template <typename T>
void check_maxpool_backward_params(const MaxPoolBackwardParamsT<T>& p) {
  check_pool_sizes("maxpool_backward", p.batch, p.height, p.width, p.channels);
  check_window("maxpool_backward", p.height, p.width, p.kernel, p.stride, p.pad);
  DEEPER_CHECK(p.dy != nullptr && p.argmax != nullptr && p.dx != nullptr, "maxpool_backward: null dy, argmax or dx");
}

template <typename T>
void check_global_avgpool_params(const GlobalAvgPoolParamsT<T>& p) {
  check_pool_sizes("global_avgpool_forward", p.batch, p.height, p.width, p.channels);
  DEEPER_CHECK(p.x != nullptr && p.y != nullptr, "global_avgpool_forward: null input or output");
}

template <typename T>
void check_global_avgpool_backward_params(const GlobalAvgPoolBackwardParamsT<T>& p) {
  check_pool_sizes("global_avgpool_backward", p.batch, p.height, p.width, p.channels);
  DEEPER_CHECK(p.dy != nullptr && p.dx != nullptr, "global_avgpool_backward: null dy or dx");
}

namespace cpu_impl {

template <typename T>
void maxpool_forward(const MaxPoolParamsT<T>& p) {
  check_maxpool_params(p);
  const std::int64_t Ho = pool_output_size(p.height, p.kernel, p.stride, p.pad);
  const std::int64_t Wo = pool_output_size(p.width, p.kernel, p.stride, p.pad), C = p.channels;
#pragma omp parallel for schedule(static)
  for (std::int64_t n = 0; n < p.batch; ++n) {
    for (std::int64_t oh = 0; oh < Ho; ++oh) {
      for (std::int64_t ow = 0; ow < Wo; ++ow) {
        // window-outer, channels inner (contiguous in NHWC)
        T* y = p.y + ((n * Ho + oh) * Wo + ow) * C;
        std::int32_t* am = p.argmax + ((n * Ho + oh) * Wo + ow) * C;
        for (std::int64_t c = 0; c < C; ++c) am[c] = -1;
        for (std::int64_t kh = 0; kh < p.kernel; ++kh) {
          for (std::int64_t kw = 0; kw < p.kernel; ++kw) {
            const std::int64_t h = oh * p.stride - p.pad + kh, w = ow * p.stride - p.pad + kw;
            if (h < 0 || h >= p.height || w < 0 || w >= p.width) continue;
            const T* x = p.x + ((n * p.height + h) * p.width + w) * C;
            const auto at = static_cast<std::int32_t>(h * p.width + w);
            for (std::int64_t c = 0; c < C; ++c) {
              const T v = x[c], best = y[c];
              if (am[c] < 0 || (best == best && (v > best || v != v))) {
                y[c] = v;
                am[c] = at;
              }
            }
          }
        }
        if (p.y_bf16 != nullptr) {
          std::uint16_t* yb = p.y_bf16 + ((n * Ho + oh) * Wo + ow) * C;
          for (std::int64_t c = 0; c < C; ++c) yb[c] = float_to_bf16_bits(static_cast<float>(y[c]));
        }
      }
    }
  }
}

template <typename T>
void maxpool_backward(const MaxPoolBackwardParamsT<T>& p) {
  check_maxpool_backward_params(p);
  const std::int64_t Ho = pool_output_size(p.height, p.kernel, p.stride, p.pad);
  const std::int64_t Wo = pool_output_size(p.width, p.kernel, p.stride, p.pad), C = p.channels;
  const std::int64_t plane = p.height * p.width;
#pragma omp parallel for schedule(static)
  for (std::int64_t n = 0; n < p.batch; ++n) {
    T* dx = p.dx + n * plane * C;
    for (std::int64_t i = 0; i < plane * C; ++i) dx[i] = T(0);
    for (std::int64_t o = 0; o < Ho * Wo * C; ++o) {
      const std::int64_t at = p.argmax[n * Ho * Wo * C + o];
      if (at >= 0 && at < plane) dx[at * C + o % C] += p.dy[n * Ho * Wo * C + o];
    }
  }
}

template <typename T>
void global_avgpool_forward(const GlobalAvgPoolParamsT<T>& p) {
  check_global_avgpool_params(p);
  const std::int64_t plane = p.height * p.width, C = p.channels;
#pragma omp parallel for schedule(static)
  for (std::int64_t n = 0; n < p.batch; ++n) {
    for (std::int64_t c = 0; c < C; ++c) {
      double s = 0;
      for (std::int64_t r = 0; r < plane; ++r) s += static_cast<double>(p.x[(n * plane + r) * C + c]);
      p.y[n * C + c] = static_cast<T>(s / static_cast<double>(plane));
    }
  }
}

template <typename T>
void global_avgpool_backward(const GlobalAvgPoolBackwardParamsT<T>& p) {
  check_global_avgpool_backward_params(p);
  const std::int64_t plane = p.height * p.width, C = p.channels;
  const T scale = T(1) / static_cast<T>(plane);
#pragma omp parallel for schedule(static)
  for (std::int64_t n = 0; n < p.batch; ++n) {
    for (std::int64_t r = 0; r < plane; ++r) {
      for (std::int64_t c = 0; c < C; ++c) p.dx[(n * plane + r) * C + c] = p.dy[n * C + c] * scale;
    }
  }
}

}  // namespace cpu_impl

#define DEEPER_POOLING_INSTANTIATE(T)                                                           \
  template void check_maxpool_params(const MaxPoolParamsT<T>&);                                 \
  template void check_maxpool_backward_params(const MaxPoolBackwardParamsT<T>&);                \
  template void check_global_avgpool_params(const GlobalAvgPoolParamsT<T>&);                    \
  template void check_global_avgpool_backward_params(const GlobalAvgPoolBackwardParamsT<T>&);   \
  template void cpu_impl::maxpool_forward(const MaxPoolParamsT<T>&);                            \
  template void cpu_impl::maxpool_backward(const MaxPoolBackwardParamsT<T>&);                   \
  template void cpu_impl::global_avgpool_forward(const GlobalAvgPoolParamsT<T>&);               \
  template void cpu_impl::global_avgpool_backward(const GlobalAvgPoolBackwardParamsT<T>&);
DEEPER_POOLING_INSTANTIATE(float)
DEEPER_POOLING_INSTANTIATE(double)
#undef DEEPER_POOLING_INSTANTIATE

void maxpool_forward(const Device& device, const MaxPoolParams& p, void* stream) {
  check_maxpool_params(p);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::maxpool_forward(p);
    case Backend::emu:
      return emu_impl::maxpool_forward(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::maxpool_forward(p, stream));
  }
}

void maxpool_backward(const Device& device, const MaxPoolBackwardParams& p, void* stream) {
  check_maxpool_backward_params(p);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::maxpool_backward(p);
    case Backend::emu:
      return emu_impl::maxpool_backward(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::maxpool_backward(p, stream));
  }
}

void global_avgpool_forward(const Device& device, const GlobalAvgPoolParams& p, void* stream) {
  check_global_avgpool_params(p);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::global_avgpool_forward(p);
    case Backend::emu:
      return emu_impl::global_avgpool_forward(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::global_avgpool_forward(p, stream));
  }
}

void global_avgpool_backward(const Device& device, const GlobalAvgPoolBackwardParams& p, void* stream) {
  check_global_avgpool_backward_params(p);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::global_avgpool_backward(p);
    case Backend::emu:
      return emu_impl::global_avgpool_backward(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::global_avgpool_backward(p, stream));
  }
}

}  // namespace deeper::kernels
