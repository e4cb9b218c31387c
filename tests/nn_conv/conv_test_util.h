// Helpers of the conv2d suites (tests/nn_conv on cpu/emu, tests/gpu_nn_conv on a GPU): random
// operands, bf16 rounding, the double reference with its per-element error bound, and a comparison
// that reports the worst element.
#pragma once

#include "kernels/nn/conv2d.h"
#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"

#include <gtest/gtest.h>

#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace conv_test {

namespace dk = deeper::kernels;

// A named shape. pads: top, left, bottom, right.
struct Case {
  std::string name;
  dk::Conv2dShape shape;
};

inline dk::Conv2dShape make_shape(std::int64_t n, int h, int w, int c, int k, int r, int s, int sh, int sw, int pt,
                                  int pl, int pb, int pr) {
  dk::Conv2dShape x;
  x.batch = n;
  x.height = h;
  x.width = w;
  x.in_channels = c;
  x.out_channels = k;
  x.kernel_h = r;
  x.kernel_w = s;
  x.stride_h = sh;
  x.stride_w = sw;
  x.pad_top = pt;
  x.pad_left = pl;
  x.pad_bottom = pb;
  x.pad_right = pr;
  return x;
}

// Small shapes for the emulator: the ResNet-10 kinds of conv, scaled down, and odd ones.
inline std::vector<Case> small_cases() {
  return {
      {"stem7x7s2_C3", make_shape(1, 11, 11, 3, 8, 7, 7, 2, 2, 3, 3, 3, 3)},
      {"conv3x3s1", make_shape(2, 6, 6, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1)},
      {"conv3x3s2", make_shape(2, 7, 7, 8, 24, 3, 3, 2, 2, 1, 1, 1, 1)},
      {"conv3x3s2_keras_same_even", make_shape(1, 6, 6, 16, 8, 3, 3, 2, 2, 0, 0, 1, 1)},
      {"proj1x1s2", make_shape(2, 7, 7, 16, 32, 1, 1, 2, 2, 0, 0, 0, 0)},
      {"odd3x2", make_shape(1, 5, 7, 5, 7, 3, 2, 2, 1, 1, 0, 2, 1)},
      {"two_tiles_each_way", make_shape(1, 12, 12, 8, 136, 3, 3, 1, 1, 1, 1, 1, 1)},
      // dgrad stride phases: a kernel narrower than its stride (phases no tap reaches) and a
      // height below the stride (a phase with no pixel)
      {"k2s3_phases_without_taps", make_shape(1, 8, 7, 8, 8, 2, 2, 3, 3, 1, 0, 0, 2)},
      {"h1_below_stride", make_shape(2, 1, 6, 8, 16, 1, 3, 2, 2, 0, 1, 0, 1)},
      // more K steps than the 4 cp.async stages of kernel version 2 in all three ops (forward
      // K_gemm 288, dgrad 216, wgrad 200), and a partial tile in M
      {"deep_k", make_shape(2, 10, 10, 32, 24, 3, 3, 1, 1, 1, 1, 1, 1)},
  };
}

// Whether the bf16 operands of s can take kernel version 2 (C and K multiples of 8).
inline bool vector_shape(const dk::Conv2dShape& s) { return s.in_channels % 8 == 0 && s.out_channels % 8 == 0; }

inline std::vector<float> random_values(std::int64_t count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(count));
  for (auto& e : v) e = u(rng);
  return v;
}

inline std::vector<__nv_bfloat16> to_bf16(const std::vector<float>& v) {
  std::vector<__nv_bfloat16> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = __float2bfloat16_rn(v[i]);
  return out;
}
inline std::vector<float> widen(const std::vector<__nv_bfloat16>& v) {
  std::vector<float> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = __bfloat162float(v[i]);
  return out;
}
inline std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }
// Uniform values in [-1, 1] rounded to bf16 (both maths then see the same operands).
inline std::vector<float> bf16_values(std::int64_t count, std::uint32_t seed) {
  return widen(to_bf16(random_values(count, seed)));
}
inline constexpr dk::ConvOp kOps[] = {dk::ConvOp::forward, dk::ConvOp::dgrad, dk::ConvOp::wgrad};

// Random operands (a, b) of op for shape s: (x, w) forward, (dy, w) dgrad, (x, dy) wgrad.
inline std::pair<std::vector<float>, std::vector<float>> op_operands(dk::ConvOp op, const dk::Conv2dShape& s,
                                                                     std::uint32_t seed) {
  auto x = random_values(s.x_elements(), seed), w = random_values(s.w_elements(), seed + 1),
       dy = random_values(s.y_elements(), seed + 2);
  if (op == dk::ConvOp::forward) return {std::move(x), std::move(w)};
  if (op == dk::ConvOp::dgrad) return {std::move(dy), std::move(w)};
  return {std::move(x), std::move(dy)};
}
inline std::vector<double> abs_of(const std::vector<double>& v) {
  std::vector<double> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = std::abs(v[i]);
  return out;
}

// The exact result (double reference) of an op and its error scale: the same op on |operands|,
// i.e. the sum of |terms| of every output element.
struct Expected {
  std::vector<double> value, scale;
};

inline Expected expected(dk::ConvOp op, const dk::Conv2dShape& s, const std::vector<float>& a,
                         const std::vector<float>& b) {
  const auto da = to_double(a), db = to_double(b), aa = abs_of(da), ab = abs_of(db);
  Expected e;
  const std::int64_t count = op == dk::ConvOp::forward ? s.y_elements()
                             : op == dk::ConvOp::dgrad ? s.x_elements()
                                                       : s.w_elements();
  e.value.assign(static_cast<std::size_t>(count), 0.0);
  e.scale.assign(static_cast<std::size_t>(count), 0.0);
  namespace ci = dk::cpu_impl;
  switch (op) {  // (a, b) = (x, w), (dy, w), (x, dy)
    case dk::ConvOp::forward:
      ci::conv2d_forward_ref<double>(s, da.data(), db.data(), e.value.data());
      ci::conv2d_forward_ref<double>(s, aa.data(), ab.data(), e.scale.data());
      break;
    case dk::ConvOp::dgrad:
      ci::conv2d_dgrad_ref<double>(s, da.data(), db.data(), e.value.data());
      ci::conv2d_dgrad_ref<double>(s, aa.data(), ab.data(), e.scale.data());
      break;
    case dk::ConvOp::wgrad:
      ci::conv2d_wgrad_ref<double>(s, da.data(), db.data(), e.value.data());
      ci::conv2d_wgrad_ref<double>(s, aa.data(), ab.data(), e.scale.data());
      break;
  }
  return e;
}

// Every |got - want| <= rel * scale + abs_tol (NaN fails); reports the count and the worst element.
inline ::testing::AssertionResult close_to(const std::vector<float>& got, const Expected& want, double rel,
                                           double abs_tol = 1e-30) {
  if (got.size() != want.value.size()) {
    return ::testing::AssertionFailure() << "size " << got.size() << " != " << want.value.size();
  }
  std::size_t bad = 0, worst = 0;
  double worst_ratio = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(static_cast<double>(got[i]) - want.value[i]);
    const double tol = rel * want.scale[i] + abs_tol;
    if (!(err <= tol)) ++bad;
    const double ratio = std::isnan(err) ? 1e300 : err / tol;
    if (ratio > worst_ratio) worst_ratio = ratio, worst = i;
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << got.size() << " values off; worst at " << worst << ": got "
                                       << got[worst] << ", want " << want.value[worst] << " (scale "
                                       << want.scale[worst] << ", rel tol " << rel << ")";
}

struct RunOptions {
  bool f32_out = true;
  bool bf16_out = false;
  bool accumulate = false;
  int split_k = 0;
  int bf16_kernel = 0;                          // Conv2dParams::bf16_kernel
  dk::ConvTile mma_tile = dk::ConvTile::automatic;  // Conv2dParams::mma_tile
  const std::vector<float>* initial = nullptr;  // the fp32 output before the call (default: NaN)
};

struct RunResult {
  std::vector<float> f32;
  std::vector<__nv_bfloat16> bf16;
};

template <typename T>
deeper::DeviceBuffer upload(const deeper::Device& d, const std::vector<T>& host) {
  deeper::DeviceBuffer buffer(d, host.size() * sizeof(T));
  deeper::copy_bytes(buffer.data(), d, host.data(), deeper::Device::cpu(), host.size() * sizeof(T));
  return buffer;
}
template <typename T>
std::vector<T> download(const deeper::DeviceBuffer& buffer) {
  std::vector<T> host(buffer.bytes() / sizeof(T));
  deeper::copy_bytes(host.data(), deeper::Device::cpu(), buffer.data(), buffer.device(), buffer.bytes());
  return host;
}

// Runs op on `device` with operands (a, b) = (x, w) forward, (dy, w) dgrad, (x, dy) wgrad; for
// wmma_bf16 they are rounded to bf16 first. Outputs start as NaN (or opt.initial), so a value the
// kernel does not write shows.
inline RunResult run_op(const deeper::Device& device, dk::ConvOp op, dk::ConvMath math, const dk::Conv2dShape& s,
                        const std::vector<float>& a, const std::vector<float>& b, const RunOptions& opt = {}) {
  const std::int64_t count = op == dk::ConvOp::forward ? s.y_elements()
                             : op == dk::ConvOp::dgrad ? s.x_elements()
                                                       : s.w_elements();
  const bool bf16 = math == dk::ConvMath::wmma_bf16;
  const deeper::DeviceBuffer a_buf = bf16 ? upload(device, to_bf16(a)) : upload(device, a);
  const deeper::DeviceBuffer b_buf = bf16 ? upload(device, to_bf16(b)) : upload(device, b);
  const std::vector<float> nan(static_cast<std::size_t>(count), std::numeric_limits<float>::quiet_NaN());
  deeper::DeviceBuffer out = upload(device, opt.initial ? *opt.initial : nan);
  deeper::DeviceBuffer out16 = upload(device, to_bf16(nan));
  dk::Conv2dParams p;
  p.shape = s;
  p.math = math;
  p.accumulate = opt.accumulate;
  p.split_k = opt.split_k;
  p.bf16_kernel = opt.bf16_kernel;
  p.mma_tile = opt.mma_tile;
  const void* pa = a_buf.data();
  const void* pb = b_buf.data();
  float* o32 = opt.f32_out ? static_cast<float*>(out.data()) : nullptr;
  auto* o16 = opt.bf16_out ? static_cast<__nv_bfloat16*>(out16.data()) : nullptr;
  const auto* a32 = static_cast<const float*>(pa);
  const auto* b32 = static_cast<const float*>(pb);
  const auto* a16 = static_cast<const __nv_bfloat16*>(pa);
  const auto* b16 = static_cast<const __nv_bfloat16*>(pb);
  switch (op) {
    case dk::ConvOp::forward:
      if (bf16) {
        p.x_bf16 = a16, p.w_bf16 = b16;
      } else {
        p.x = a32, p.w = b32;
      }
      p.y = o32;
      p.y_bf16 = o16;
      dk::conv2d_forward(device, p);
      break;
    case dk::ConvOp::dgrad:
      if (bf16) {
        p.dy_bf16 = a16, p.w_bf16 = b16;
      } else {
        p.dy = a32, p.w = b32;
      }
      p.dx = o32;
      p.dx_bf16 = o16;
      dk::conv2d_dgrad(device, p);
      break;
    case dk::ConvOp::wgrad:
      if (bf16) {
        p.x_bf16 = a16, p.dy_bf16 = b16;
      } else {
        p.x = a32, p.dy = b32;
      }
      p.dw = o32;
      dk::conv2d_wgrad(device, p);
      break;
  }
  RunResult r;
  if (opt.f32_out) r.f32 = download<float>(out);
  if (opt.bf16_out) r.bf16 = download<__nv_bfloat16>(out16);
  return r;
}

// The forward conv with the BN statistics epilogue (Conv2dParams::stat_partials) on `device`, bf16
// operands rounded from (x, w), split_k = 1, version 2 tile `tile`: its fp32 output (NaN before),
// its partials (NaN before: 2 * tiles * K) and conv2d_stat_row_tiles' count. With stats = false
// the same conv without the epilogue (partials empty). bf16_kernel 3: version 3 (tile automatic).
struct StatRun {
  std::vector<float> y;
  std::vector<__nv_bfloat16> y_bf16;
  std::vector<double> partials;
  int tiles = 0;
};
inline StatRun run_forward_stats(const deeper::Device& device, const dk::Conv2dShape& s, const std::vector<float>& x,
                                 const std::vector<float>& w, dk::ConvTile tile, bool stats = true,
                                 bool bf16_out = false, int bf16_kernel = 0) {
  const deeper::DeviceBuffer xb = upload(device, to_bf16(x)), wb = upload(device, to_bf16(w));
  const std::vector<float> nan(static_cast<std::size_t>(s.y_elements()), std::numeric_limits<float>::quiet_NaN());
  deeper::DeviceBuffer y = upload(device, nan), y16 = upload(device, to_bf16(nan));
  dk::Conv2dParams p;
  p.shape = s;
  p.math = dk::ConvMath::wmma_bf16;
  p.x_bf16 = static_cast<const __nv_bfloat16*>(xb.data());
  p.w_bf16 = static_cast<const __nv_bfloat16*>(wb.data());
  p.y = static_cast<float*>(y.data());
  p.y_bf16 = bf16_out ? static_cast<__nv_bfloat16*>(y16.data()) : nullptr;
  p.split_k = 1;
  p.mma_tile = tile;
  p.bf16_kernel = bf16_kernel;
  StatRun r;
  r.tiles = dk::conv2d_stat_row_tiles(device, p);
  const std::vector<double> nan_partials(
      static_cast<std::size_t>(stats ? 2 * static_cast<std::int64_t>(r.tiles) * s.out_channels : 1),
      std::numeric_limits<double>::quiet_NaN());
  deeper::DeviceBuffer partials = upload(device, nan_partials);
  if (stats) p.stat_partials = static_cast<double*>(partials.data());
  dk::conv2d_forward(device, p);
  r.y = download<float>(y);
  if (bf16_out) r.y_bf16 = download<__nv_bfloat16>(y16);
  if (stats) r.partials = download<double>(partials);
  return r;
}

// Whether partials (2 * tiles * K, the BN workspace layout) hold, for row tile t of `rows` rows
// and column n, Σ y and Σ y² over the tile's rows m < M of the M x K output y, in fp64 up to the
// order of additions (1e-12 of Σ |y| resp. Σ y²).
inline ::testing::AssertionResult partials_match(const std::vector<float>& y, const std::vector<double>& partials,
                                                 std::int64_t M, std::int64_t K, std::int64_t rows, int tiles) {
  if ((M + rows - 1) / rows != tiles) {
    return ::testing::AssertionFailure() << tiles << " row tiles, want ceil(" << M << " / " << rows << ")";
  }
  if (partials.size() != static_cast<std::size_t>(2 * tiles * K)) {
    return ::testing::AssertionFailure() << partials.size() << " partials, want " << 2 * tiles * K;
  }
  int bad = 0;
  ::testing::AssertionResult result = ::testing::AssertionSuccess();
  for (std::int64_t t = 0; t < tiles; ++t) {
    for (std::int64_t n = 0; n < K; ++n) {
      double s1 = 0, s2 = 0, a1 = 0;
      for (std::int64_t m = t * rows; m < std::min(M, (t + 1) * rows); ++m) {
        const double v = y[static_cast<std::size_t>(m * K + n)];
        s1 += v, s2 += v * v, a1 += std::abs(v);
      }
      const double g1 = partials[static_cast<std::size_t>(2 * t * K + n)];
      const double g2 = partials[static_cast<std::size_t>((2 * t + 1) * K + n)];
      if (!(std::abs(g1 - s1) <= 1e-12 * a1 + 1e-300) || !(std::abs(g2 - s2) <= 1e-12 * s2 + 1e-300)) {
        if (++bad == 1) {
          result = ::testing::AssertionFailure() << "tile " << t << " column " << n << ": sums " << g1 << ", " << g2
                                                 << "; want " << s1 << ", " << s2;
        }
      }
    }
  }
  if (bad > 0) result << " (" << bad << " of " << tiles * K << " pairs off)";
  return result;
}

inline const char* op_name(dk::ConvOp op) {
  return op == dk::ConvOp::forward ? "forward" : op == dk::ConvOp::dgrad ? "dgrad" : "wgrad";
}

}  // namespace conv_test
