// conv2d on the CPU: the reference for conv2d.cu and the cpu backend (definitions in conv2d.h), the
// parameter checks and the backend dispatch.
//
// forward  per output pixel: acc[K] += x[c] * wt[(r,s,c)][K] over the taps (weights transposed once
//          to RSC x K so that the inner loop runs over contiguous output channels);
// dgrad    per input pixel (gather form): acc[C] += dy[k] * w[k,r,s,C] over the taps that reach it;
// wgrad    per output channel k: dw[k,r,s,C] += dy[n,p,q,k] * x[n,h,w,C] over every output pixel.
#include "kernels/nn/conv2d.h"
#include "kernels/nn/conv2d_cpu_gemm.h"

#include "core/error.h"
#include "kernels/common/dispatch.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

namespace deeper::kernels {

namespace {

constexpr std::int64_t kMaxGemmDim = std::numeric_limits<std::int32_t>::max();
constexpr std::int64_t kMaxGemmColumns = std::int64_t{65535} * 64;

const char* op_name(ConvOp op) {
  switch (op) {
    case ConvOp::forward:
      return "conv2d_forward";
    case ConvOp::dgrad:
      return "conv2d_dgrad";
    case ConvOp::wgrad:
      return "conv2d_wgrad";
  }
  return "conv2d";
}

}  // namespace

Conv2dShape conv2d_shape(std::int64_t batch, int height, int width, int in_channels, int out_channels, int kernel,
                         int stride, int pad) {
  Conv2dShape s;
  s.batch = batch;
  s.height = height;
  s.width = width;
  s.in_channels = in_channels;
  s.out_channels = out_channels;
  s.kernel_h = s.kernel_w = kernel;
  s.stride_h = s.stride_w = stride;
  s.pad_top = s.pad_left = s.pad_bottom = s.pad_right = pad;
  return s;
}

void check_conv2d_shape(const Conv2dShape& s, const char* what) {
  DEEPER_CHECK(s.batch >= 1 && s.height >= 1 && s.width >= 1 && s.in_channels >= 1 && s.out_channels >= 1,
               "{}: sizes must be >= 1 (N {} H {} W {} C {} K {})", what, s.batch, s.height, s.width, s.in_channels,
               s.out_channels);
  DEEPER_CHECK(s.kernel_h >= 1 && s.kernel_w >= 1, "{}: kernel size {} x {} must be >= 1", what, s.kernel_h,
               s.kernel_w);
  DEEPER_CHECK(s.stride_h >= 1 && s.stride_w >= 1, "{}: stride {} x {} must be >= 1", what, s.stride_h, s.stride_w);
  DEEPER_CHECK(s.pad_top >= 0 && s.pad_left >= 0 && s.pad_bottom >= 0 && s.pad_right >= 0,
               "{}: negative padding (top {} left {} bottom {} right {})", what, s.pad_top, s.pad_left, s.pad_bottom,
               s.pad_right);
  DEEPER_CHECK(s.height + s.pad_top + s.pad_bottom >= s.kernel_h && s.width + s.pad_left + s.pad_right >= s.kernel_w,
               "{}: output size < 1: kernel {} x {} is larger than the padded input {} x {}", what, s.kernel_h,
               s.kernel_w, s.height + s.pad_top + s.pad_bottom, s.width + s.pad_left + s.pad_right);
  const std::int64_t pq = static_cast<std::int64_t>(s.out_height()) * s.out_width();
  const std::int64_t rsc = static_cast<std::int64_t>(s.kernel_h) * s.kernel_w * s.in_channels;
  const std::int64_t rsk = static_cast<std::int64_t>(s.kernel_h) * s.kernel_w * s.out_channels;
  DEEPER_CHECK(s.batch * pq <= kMaxGemmDim && s.batch * s.height * s.width <= kMaxGemmDim && rsc <= kMaxGemmDim &&
                   rsk <= kMaxGemmDim,
               "{}: a GEMM dimension (N*P*Q {}, N*H*W {}, R*S*C {}, R*S*K {}) exceeds 2^31 - 1", what, s.batch * pq,
               s.batch * s.height * s.width, rsc, rsk);
}

void check_conv2d_params(const Conv2dParams& p, ConvOp op) {
  const char* what = op_name(op);
  check_conv2d_shape(p.shape, what);
  const bool bf16 = p.math == ConvMath::wmma_bf16;
  DEEPER_CHECK(p.math == ConvMath::simt_f32 || bf16, "{}: unknown ConvMath {}", what, static_cast<unsigned>(p.math));
  DEEPER_CHECK(p.split_k >= 0, "{}: negative split_k {}", what, p.split_k);
  const bool has_x = bf16 ? p.x_bf16 != nullptr : p.x != nullptr;
  const bool has_w = bf16 ? p.w_bf16 != nullptr : p.w != nullptr;
  const bool has_dy = bf16 ? p.dy_bf16 != nullptr : p.dy != nullptr;
  const char* kind = bf16 ? "bf16 (wmma_bf16)" : "fp32 (simt_f32)";
  float* out = nullptr;
  __nv_bfloat16* out_bf16 = nullptr;
  switch (op) {
    case ConvOp::forward:
      DEEPER_CHECK(has_x && has_w, "{}: null {} input x or weights w", what, kind);
      out = p.y;
      out_bf16 = p.y_bf16;
      break;
    case ConvOp::dgrad:
      DEEPER_CHECK(has_dy && has_w, "{}: null {} output gradient dy or weights w", what, kind);
      out = p.dx;
      out_bf16 = p.dx_bf16;
      break;
    case ConvOp::wgrad:
      DEEPER_CHECK(has_x && has_dy, "{}: null {} input x or output gradient dy", what, kind);
      out = p.dw;
      break;
  }
  const auto& sh = p.shape;
  const std::int64_t n_gemm = op == ConvOp::forward ? sh.out_channels
                              : op == ConvOp::dgrad ? sh.in_channels
                                                    : static_cast<std::int64_t>(sh.kernel_h) * sh.kernel_w * sh.in_channels;
  DEEPER_CHECK(n_gemm <= kMaxGemmColumns, "{}: GEMM width {} exceeds {} (65535 column tiles of 64)", what, n_gemm,
               kMaxGemmColumns);
  DEEPER_CHECK(out != nullptr || out_bf16 != nullptr, "{}: null output", what);
  DEEPER_CHECK(p.bf16_kernel >= 0 && p.bf16_kernel <= 3, "{}: unknown bf16_kernel {} (0 automatic, 1, 2, 3)", what,
               p.bf16_kernel);
  if (p.bf16_kernel >= 2) {
    DEEPER_CHECK(bf16 && conv2d_vector_operands(p, op),
                 "{}: bf16_kernel {} needs math wmma_bf16, C ({}) and K ({}) multiples of 8 and 16-byte aligned "
                 "bf16 operands",
                 what, p.bf16_kernel, sh.in_channels, sh.out_channels);
  }
  DEEPER_CHECK(p.mma_tile <= ConvTile::m512n64, "{}: unknown mma_tile {}", what,
               static_cast<unsigned>(p.mma_tile));
  if (p.mma_tile != ConvTile::automatic) {
    DEEPER_CHECK(bf16 && (p.bf16_kernel == 0 || p.bf16_kernel == 2) && conv2d_vector_operands(p, op),
                 "{}: mma_tile {} is a tile of bf16 kernel version 2, which does not run here (math, bf16_kernel "
                 "1 or 3, or C ({}) / K ({}) not multiples of 8 or unaligned operands)",
                 what, static_cast<unsigned>(p.mma_tile), sh.in_channels, sh.out_channels);
  }
  if (p.stat_partials != nullptr) {
    DEEPER_CHECK(op == ConvOp::forward, "{}: stat_partials (BN statistics in the epilogue) is a forward output only",
                 what);
    DEEPER_CHECK(p.y != nullptr, "{}: stat_partials needs the fp32 output y", what);
    DEEPER_CHECK(!p.accumulate, "{}: stat_partials sums the values stored; it needs a set (not accumulated) output",
                 what);
    DEEPER_CHECK(p.split_k == 1, "{}: stat_partials needs split_k = 1 (got {}): a tile's sums need its whole K range",
                 what, p.split_k);
    DEEPER_CHECK(bf16 && p.bf16_kernel != 1 && conv2d_vector_operands(p, op),
                 "{}: stat_partials is written by bf16 kernel versions 2 and 3 only (math wmma_bf16, bf16_kernel 0, "
                 "2 or 3, C ({}) and K ({}) multiples of 8, 16-byte aligned operands); use batchnorm_stats otherwise",
                 what, sh.in_channels, sh.out_channels);
    DEEPER_CHECK(reinterpret_cast<std::uintptr_t>(p.stat_partials) % alignof(double) == 0,
                 "{}: stat_partials must be 8-byte aligned", what);
  }
  if (out_bf16 != nullptr) {
    DEEPER_CHECK(bf16, "{}: a bf16 output needs math wmma_bf16", what);
    DEEPER_CHECK(!p.accumulate, "{}: accumulate applies to the fp32 output only; the bf16 output is set", what);
    DEEPER_CHECK(p.split_k <= 1, "{}: split_k {} adds partial sums with atomics; it needs an fp32-only output",
                 what, p.split_k);
  }
}

namespace cpu_impl {

template <typename T>
void conv2d_forward_ref(const Conv2dShape& s, const T* x, const T* w, T* y, bool accumulate) {
  check_conv2d_shape(s, "conv2d_forward_ref");
  const int P = s.out_height(), Q = s.out_width(), C = s.in_channels, K = s.out_channels;
  const std::int64_t taps = static_cast<std::int64_t>(s.kernel_h) * s.kernel_w * C;
  std::vector<T> wt(static_cast<std::size_t>(taps * K));  // (r,s,c) x K
  for (std::int64_t k = 0; k < K; ++k) {
    for (std::int64_t t = 0; t < taps; ++t) wt[t * K + k] = w[k * taps + t];
  }
#pragma omp parallel
  {
    std::vector<T> acc(static_cast<std::size_t>(K));
#pragma omp for schedule(static)
    for (std::int64_t np = 0; np < s.batch * P; ++np) {
      const std::int64_t n = np / P;
      const int p = static_cast<int>(np % P);
      for (int q = 0; q < Q; ++q) {
        std::fill(acc.begin(), acc.end(), T(0));
        for (int r = 0; r < s.kernel_h; ++r) {
          const int h = p * s.stride_h - s.pad_top + r;
          if (h < 0 || h >= s.height) continue;
          for (int t = 0; t < s.kernel_w; ++t) {
            const int wi = q * s.stride_w - s.pad_left + t;
            if (wi < 0 || wi >= s.width) continue;
            const T* xp = x + ((n * s.height + h) * s.width + wi) * C;
            const T* wp = wt.data() + (static_cast<std::int64_t>(r) * s.kernel_w + t) * C * K;
            for (int c = 0; c < C; ++c) {
              const T xv = xp[c];
              const T* wr = wp + static_cast<std::int64_t>(c) * K;
              for (int k = 0; k < K; ++k) acc[k] += xv * wr[k];
            }
          }
        }
        T* yp = y + ((n * P + p) * Q + q) * K;
        for (int k = 0; k < K; ++k) yp[k] = accumulate ? yp[k] + acc[k] : acc[k];
      }
    }
  }
}

template <typename T>
void conv2d_dgrad_ref(const Conv2dShape& s, const T* dy, const T* w, T* dx, bool accumulate) {
  check_conv2d_shape(s, "conv2d_dgrad_ref");
  const int P = s.out_height(), Q = s.out_width(), C = s.in_channels, K = s.out_channels;
#pragma omp parallel
  {
    std::vector<T> acc(static_cast<std::size_t>(C));
#pragma omp for schedule(static)
    for (std::int64_t nh = 0; nh < s.batch * s.height; ++nh) {
      const std::int64_t n = nh / s.height;
      const int h = static_cast<int>(nh % s.height);
      for (int wi = 0; wi < s.width; ++wi) {
        std::fill(acc.begin(), acc.end(), T(0));
        for (int r = 0; r < s.kernel_h; ++r) {
          const int ph = h + s.pad_top - r;
          if (ph < 0 || ph % s.stride_h != 0 || ph / s.stride_h >= P) continue;
          const int p = ph / s.stride_h;
          for (int t = 0; t < s.kernel_w; ++t) {
            const int pw = wi + s.pad_left - t;
            if (pw < 0 || pw % s.stride_w != 0 || pw / s.stride_w >= Q) continue;
            const int q = pw / s.stride_w;
            const T* dyp = dy + ((n * P + p) * Q + q) * K;
            for (int k = 0; k < K; ++k) {
              const T g = dyp[k];
              const T* wp = w + ((static_cast<std::int64_t>(k) * s.kernel_h + r) * s.kernel_w + t) * C;
              for (int c = 0; c < C; ++c) acc[c] += g * wp[c];
            }
          }
        }
        T* dxp = dx + ((n * s.height + h) * s.width + wi) * C;
        for (int c = 0; c < C; ++c) dxp[c] = accumulate ? dxp[c] + acc[c] : acc[c];
      }
    }
  }
}

template <typename T>
void conv2d_wgrad_ref(const Conv2dShape& s, const T* x, const T* dy, T* dw, bool accumulate) {
  check_conv2d_shape(s, "conv2d_wgrad_ref");
  const int P = s.out_height(), Q = s.out_width(), C = s.in_channels, K = s.out_channels;
  const std::int64_t taps = static_cast<std::int64_t>(s.kernel_h) * s.kernel_w * C;
#pragma omp parallel
  {
    std::vector<T> acc(static_cast<std::size_t>(taps));
#pragma omp for schedule(static)
    for (int k = 0; k < K; ++k) {
      std::fill(acc.begin(), acc.end(), T(0));
      for (std::int64_t n = 0; n < s.batch; ++n) {
        for (int p = 0; p < P; ++p) {
          for (int q = 0; q < Q; ++q) {
            const T g = dy[((n * P + p) * Q + q) * K + k];
            for (int r = 0; r < s.kernel_h; ++r) {
              const int h = p * s.stride_h - s.pad_top + r;
              if (h < 0 || h >= s.height) continue;
              for (int t = 0; t < s.kernel_w; ++t) {
                const int wi = q * s.stride_w - s.pad_left + t;
                if (wi < 0 || wi >= s.width) continue;
                const T* xp = x + ((n * s.height + h) * s.width + wi) * C;
                T* ap = acc.data() + (static_cast<std::int64_t>(r) * s.kernel_w + t) * C;
                for (int c = 0; c < C; ++c) ap[c] += g * xp[c];
              }
            }
          }
        }
      }
      T* dwp = dw + k * taps;
      for (std::int64_t i = 0; i < taps; ++i) dwp[i] = accumulate ? dwp[i] + acc[i] : acc[i];
    }
  }
}

template void conv2d_forward_ref<float>(const Conv2dShape&, const float*, const float*, float*, bool);
template void conv2d_forward_ref<double>(const Conv2dShape&, const double*, const double*, double*, bool);
template void conv2d_dgrad_ref<float>(const Conv2dShape&, const float*, const float*, float*, bool);
template void conv2d_dgrad_ref<double>(const Conv2dShape&, const double*, const double*, double*, bool);
template void conv2d_wgrad_ref<float>(const Conv2dShape&, const float*, const float*, float*, bool);
template void conv2d_wgrad_ref<double>(const Conv2dShape&, const double*, const double*, double*, bool);

namespace {

std::vector<float> widen(const __nv_bfloat16* v, std::int64_t count) {
  std::vector<float> out(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) out[static_cast<std::size_t>(i)] = __bfloat162float(v[i]);
  return out;
}

// Runs `compute(out_fp32)` into the fp32 output (or a scratch copy when there is none) and writes the
// bf16 copy, if any.
template <typename F>
void with_outputs(float* out, __nv_bfloat16* out_bf16, std::int64_t count, bool accumulate, F&& compute) {
  std::vector<float> scratch;
  float* target = out;
  if (target == nullptr) {
    scratch.resize(static_cast<std::size_t>(count));
    target = scratch.data();
  }
  compute(target, accumulate && out != nullptr);
  if (out_bf16 != nullptr) {
    for (std::int64_t i = 0; i < count; ++i) out_bf16[i] = __float2bfloat16_rn(target[i]);
  }
}

}  // namespace

void conv2d_forward(const Conv2dParams& p) {
  check_conv2d_params(p, ConvOp::forward);
  const auto& s = p.shape;
  with_outputs(p.y, p.y_bf16, s.y_elements(), p.accumulate, [&](float* out, bool acc) {
    if (p.math == ConvMath::simt_f32) return conv2d_forward_gemm(s, p.x, p.w, out, acc);
    const auto x = widen(p.x_bf16, s.x_elements()), w = widen(p.w_bf16, s.w_elements());
    conv2d_forward_gemm(s, x.data(), w.data(), out, acc);
  });
}

void conv2d_dgrad(const Conv2dParams& p) {
  check_conv2d_params(p, ConvOp::dgrad);
  const auto& s = p.shape;
  with_outputs(p.dx, p.dx_bf16, s.x_elements(), p.accumulate, [&](float* out, bool acc) {
    if (p.math == ConvMath::simt_f32) return conv2d_dgrad_gemm(s, p.dy, p.w, out, acc);
    const auto dy = widen(p.dy_bf16, s.y_elements()), w = widen(p.w_bf16, s.w_elements());
    conv2d_dgrad_gemm(s, dy.data(), w.data(), out, acc);
  });
}

void conv2d_wgrad(const Conv2dParams& p) {
  check_conv2d_params(p, ConvOp::wgrad);
  const auto& s = p.shape;
  if (p.math == ConvMath::simt_f32) return conv2d_wgrad_gemm(s, p.x, p.dy, p.dw, p.accumulate);
  const auto x = widen(p.x_bf16, s.x_elements()), dy = widen(p.dy_bf16, s.y_elements());
  conv2d_wgrad_gemm(s, x.data(), dy.data(), p.dw, p.accumulate);
}

}  // namespace cpu_impl

namespace {
// Version 3 (wgmma) exists in sm_90a code only (DEEPER_CUDA_SM90A); the emulator runs it anywhere.
void check_cuda_kernel_built(const Conv2dParams& p, const char* what) {
  DEEPER_CHECK(DEEPER_CUDA_SM90A || p.math != ConvMath::wmma_bf16 || p.bf16_kernel != 3,
               "{}: bf16_kernel 3 (wgmma) needs a build for sm_90a (CMAKE_CUDA_ARCHITECTURES=90a); this one has none",
               what);
}
}  // namespace

std::int64_t conv2d_stat_row_tiles_bound(std::int64_t rows) { return rows > 0 ? (rows + 63) / 64 : 0; }

int conv2d_stat_row_tiles(const Device& device, const Conv2dParams& p) {
  if (device.backend == Backend::cpu || p.math != ConvMath::wmma_bf16 || p.bf16_kernel == 1 ||
      !conv2d_vector_operands(p, ConvOp::forward) || p.accumulate || p.split_k != 1) {
    return 0;
  }
  check_conv2d_shape(p.shape, "conv2d_stat_row_tiles");
  if (device.backend == Backend::emu) return emu_impl::conv2d_stat_row_tiles(p);
  int tiles = 0;
  DEEPER_CUDA_KERNEL(tiles = cuda_impl::conv2d_stat_row_tiles(p));
  return tiles;
}

void conv2d_forward(const Device& device, const Conv2dParams& p, void* stream) {
  check_conv2d_params(p, ConvOp::forward);
  switch (device.backend) {
    case Backend::cpu:
      DEEPER_CHECK(p.stat_partials == nullptr,
                   "conv2d_forward: stat_partials needs the cuda or emu backend (bf16 kernel version 2 or 3); on the cpu "
                   "use batchnorm_stats");
      return cpu_impl::conv2d_forward(p);
    case Backend::emu:
      return emu_impl::conv2d_forward(p, stream);
    case Backend::cuda:
      check_cuda_kernel_built(p, "conv2d_forward");
      return DEEPER_CUDA_KERNEL(cuda_impl::conv2d_forward(p, stream));
  }
}

void conv2d_dgrad(const Device& device, const Conv2dParams& p, void* stream) {
  check_conv2d_params(p, ConvOp::dgrad);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::conv2d_dgrad(p);
    case Backend::emu:
      return emu_impl::conv2d_dgrad(p, stream);
    case Backend::cuda:
      check_cuda_kernel_built(p, "conv2d_dgrad");
      return DEEPER_CUDA_KERNEL(cuda_impl::conv2d_dgrad(p, stream));
  }
}

void conv2d_wgrad(const Device& device, const Conv2dParams& p, void* stream) {
  check_conv2d_params(p, ConvOp::wgrad);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::conv2d_wgrad(p);
    case Backend::emu:
      return emu_impl::conv2d_wgrad(p, stream);
    case Backend::cuda:
      check_cuda_kernel_built(p, "conv2d_wgrad");
      return DEEPER_CUDA_KERNEL(cuda_impl::conv2d_wgrad(p, stream));
  }
}

}  // namespace deeper::kernels
