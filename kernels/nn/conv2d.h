// conv2d: 2-D convolution (cross-correlation, dilation 1, no bias) in NHWC with KRSC weights, and
// its two gradients, as implicit GEMMs.
//
// Shapes: x N x H x W x C, w K x R x S x C, y N x P x Q x K with
//   P = (H + pad_top + pad_bottom - R) / stride_h + 1,  Q = (W + pad_left + pad_right - S) / stride_w + 1
// (floor division; P, Q >= 1). Padding is given per side, so Keras/TF 'same' with stride 2 on an even
// size (0 before, 1 after) is expressible; padded positions read 0.
//   forward  y[n,p,q,k]  = sum_{r,s,c} x[n, p*sh - pad_top + r, q*sw - pad_left + s, c] * w[k,r,s,c]
//   dgrad    dx[n,h,w,c] = sum_{k,r,s: h = p*sh - pad_top + r, w = q*sw - pad_left + s} dy[n,p,q,k] * w[k,r,s,c]
//   wgrad    dw[k,r,s,c] = sum_{n,p,q} dy[n,p,q,k] * x[n, p*sh - pad_top + r, q*sw - pad_left + s, c]
// With accumulate, the fp32 output is added to (out += result) instead of overwritten.
//
// Implicit GEMMs (row-major M x N_gemm output, out[m * N_gemm + n], in all three):
//   forward  M = N*P*Q (n,p,q)   N_gemm = K   K_gemm = R*S*C (r,s,c; c fastest)   A = gathered x,  B = w^T
//   dgrad    M = N*H*W (n,h,w)   N_gemm = C   K_gemm = R*S*K (r,s,k; k fastest)   A = gathered dy, B = w
//   wgrad    M = K               N_gemm = R*S*C                K_gemm = N*P*Q      A = dy^T,        B = gathered x
// dgrad with stride > 1 runs as sh*sw GEMMs, one per stride phase (h mod sh, w mod sw): a phase's
// pixels are reached only by the taps r = r0 (mod sh), s = s0 (mod sw), so each phase multiplies
// only those (without the phases, 3x3/2 would issue 4x the useful FLOPs on structural zeros).
// Each op is 2*N*P*Q*K*R*S*C useful FLOPs (dgrad issues slightly more at the borders).
// Ideal bytes (each tensor read or written once): (N*H*W*C + K*R*S*C) * s_in + N*P*Q*K * s_out for
// forward, likewise for the gradients; s = 4 (fp32) or 2 (bf16) bytes per element.
//
// Versions (ConvMath):
//   simt_f32   fp32 in, fp32 out: 64 x 64 output tiles, K_gemm steps of 16 staged in shared memory,
//              4 x 4 register accumulators per thread (256 threads). The reference GPU kernel.
//   wmma_bf16  bf16 in (x_bf16, w_bf16, dy_bf16), fp32 accumulation on tensor cores, fp32 out
//              and/or bf16 out (forward, dgrad). Two kernels (Conv2dParams::bf16_kernel):
//              version 2 (the default for vector operands, kernels/nn/conv2d_mma.cuh): mma.sync
//              m16n8k16 fed by ldmatrix from 4 cp.async shared-memory stages, version 1's tiles and
//              256 x 128, 128 x 256, 512 x 64 (64 x 64 warp tiles), chosen per GEMM (ConvTile);
//              version 1 (nvcuda::wmma m16n16k16; every shape, the stem's C = 3 included): 128 x 128 output tiles (128 x 64
//              or 64 x 128 when N_gemm or M is at most 64), K_gemm steps of 32, two shared-memory
//              stages (the next step's global loads are held in registers while the current step
//              multiplies), 8 warps (64 x 32 each, 4 x 2 fragments, on a 128 x 128 tile).
//              Loads are 16-byte vectors when C and K are multiples of 8 (every ResNet conv but the
//              stem); otherwise (C = 3) element by element, zero-padded in the tile loader.
// Split-K (split_k > 1, or chosen automatically for a small output with a long K_gemm, as wgrad):
// the K_gemm range is divided among grid.z blocks that add into the fp32 output with atomicAdd
// (zeroed first unless accumulate), so such results are not bit-reproducible; split_k = 1 is.
//
// BN statistics in the epilogue (Conv2dParams::stat_partials; forward, versions 2 and 3): each block
// also reduces the fp32 values it stores, per output column n over its tile's valid rows (m < M),
// to Σy and Σy² in fp64 (per thread in fp64, then across the 8 lanes sharing a column with shuffles
// and across the warps of a column through shared memory, in a fixed order: deterministic, no
// atomics), and stores them as stat_partials[(2t)·K + n] and [(2t+1)·K + n] for row tile t
// (blockIdx.x) -- the BatchNorm workspace layout with splits = conv2d_stat_row_tiles(), which
// batchnorm_stats_from_partials combines. This replaces batchnorm_stats' read of y (4 bytes per
// value) with 16 bytes per (row tile, channel) written.
// Limits: M, N_gemm, K_gemm < 2^31 (GEMM indices are 32-bit; tensor offsets are 64-bit); all sizes
// >= 1; paddings >= 0; bf16 output is not combined with
// accumulate or split-K. Errors (deeper::Error, one line naming the op): zero or negative sizes,
// negative padding, output size < 1, null pointers, bad combinations.
#pragma once

#include "kernels/runtime/device.h"

#include <cuda_bf16.h>

#include <cstdint>

namespace deeper::kernels {

enum class ConvMath : std::uint32_t { simt_f32, wmma_bf16 };
enum class ConvOp : std::uint32_t { forward, dgrad, wgrad };
// Block tile of bf16 kernel version 2 (GEMM rows x columns per block of 8 warps; warp tiles and
// the counts behind the automatic rule in kernels/nn/conv2d_mma.cuh), Conv2dParams::mma_tile.
enum class ConvTile : std::uint32_t {
  automatic,  // per GEMM (each dgrad phase), the tile of least predicted time on 132 SMs
  narrow,     // version 1's rule: 128 x 128, or 128 x 64 / 64 x 128 for a 64-wide output
  m128n128,   // warp tiles 64 x 32
  m128n64,    // 32 x 32
  m64n128,    // 32 x 32
  m256n128,   // 64 x 64
  m128n256,   // 64 x 64
  m512n64,    // 64 x 64
};

struct Conv2dShape {
  std::int64_t batch = 0;  // N
  int height = 0, width = 0, in_channels = 0;  // H, W, C
  int out_channels = 0;                         // K
  int kernel_h = 0, kernel_w = 0;               // R, S
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;

  // P and Q (may be < 1 for unusable shapes; check_conv2d_shape rejects those).
  [[nodiscard]] int out_height() const { return (height + pad_top + pad_bottom - kernel_h) / stride_h + 1; }
  [[nodiscard]] int out_width() const { return (width + pad_left + pad_right - kernel_w) / stride_w + 1; }
  [[nodiscard]] std::int64_t x_elements() const { return batch * height * width * in_channels; }
  [[nodiscard]] std::int64_t w_elements() const {
    return static_cast<std::int64_t>(out_channels) * kernel_h * kernel_w * in_channels;
  }
  [[nodiscard]] std::int64_t y_elements() const {
    return batch * static_cast<std::int64_t>(out_height()) * out_width() * out_channels;
  }
  // 2*N*P*Q*K*R*S*C: the useful FLOPs of each of the three ops.
  [[nodiscard]] double flops() const { return 2.0 * static_cast<double>(y_elements()) * kernel_h * kernel_w * in_channels; }
};

// A square kernel with the same stride and symmetric padding on both axes.
Conv2dShape conv2d_shape(std::int64_t batch, int height, int width, int in_channels, int out_channels, int kernel,
                         int stride, int pad);

struct Conv2dParams {
  Conv2dShape shape;
  ConvMath math = ConvMath::simt_f32;
  // simt_f32 operands (and the cpu backend's fp32 path).
  const float* x = nullptr;   // N x H x W x C      (forward, wgrad)
  const float* w = nullptr;   // K x R x S x C      (forward, dgrad)
  const float* dy = nullptr;  // N x P x Q x K      (dgrad, wgrad)
  // wmma_bf16 operands.
  const __nv_bfloat16* x_bf16 = nullptr;
  const __nv_bfloat16* w_bf16 = nullptr;
  const __nv_bfloat16* dy_bf16 = nullptr;
  // Outputs: fp32 (every math) and, for wmma_bf16 forward/dgrad, an optional bf16 copy; at least one.
  float* y = nullptr;
  float* dx = nullptr;
  float* dw = nullptr;  // fp32 only
  __nv_bfloat16* y_bf16 = nullptr;
  __nv_bfloat16* dx_bf16 = nullptr;
  bool accumulate = false;  // fp32 output += result
  int split_k = 0;          // 0: automatic; 1: none (deterministic); n: n slices of K_gemm
  // wmma_bf16 kernel version on cuda and emu: 0 automatic (2 where conv2d_vector_operands holds,
  // else 1), 1 (nvcuda::wmma, two register-staged stages), 2 (mma.sync + ldmatrix + 4-stage
  // cp.async; an error where the operands are not vector operands). The cpu backend ignores it.
  int bf16_kernel = 0;
  // Version 2's block tile on cuda and emu (tests and benchmarks force one); anything but automatic
  // is an error where version 2 does not run. The cpu backend ignores it.
  ConvTile mma_tile = ConvTile::automatic;
  // Optional (forward only): fp64 per-row-tile column sums Σy and Σy² of the fp32 output y (see
  // "BN statistics in the epilogue" above), 2 * conv2d_stat_row_tiles(device, p) * K doubles,
  // 8-byte aligned. Needs math wmma_bf16 on version 2 or 3 (bf16_kernel 0, 2 or 3, vector operands),
  // the cuda or emu backend, an fp32 output y, no accumulate and split_k = 1; anything else is an
  // error.
  double* stat_partials = nullptr;
};

// Whether the bf16 operands a, b of a conv with C input and K output channels can be moved 8 values
// per 16-byte load: C and K multiples of 8 and both pointers 16-byte aligned.
inline bool conv2d_vector_operands(int in_channels, int out_channels, const void* a, const void* b) {
  const auto aligned = [](const void* p) { return (reinterpret_cast<std::uintptr_t>(p) & 15u) == 0; };
  return in_channels % 8 == 0 && out_channels % 8 == 0 && aligned(a) && aligned(b);
}
// The same for the bf16 operands op reads from p: (x, w) forward, (dy, w) dgrad, (dy, x) wgrad.
inline bool conv2d_vector_operands(const Conv2dParams& p, ConvOp op) {
  const void* a = op == ConvOp::forward ? static_cast<const void*>(p.x_bf16) : p.dy_bf16;
  const void* b = op == ConvOp::wgrad ? static_cast<const void*>(p.x_bf16) : p.w_bf16;
  return conv2d_vector_operands(p.shape.in_channels, p.shape.out_channels, a, b);
}

// Throws deeper::Error (naming `what`) when the shape is unusable.
void check_conv2d_shape(const Conv2dShape& s, const char* what);
// Throws deeper::Error when the parameters of `op` are unusable (shape, pointers, combinations).
void check_conv2d_params(const Conv2dParams& p, ConvOp op);

// The number of GEMM row tiles (blocks along M) of the forward conv p on `device`, i.e. the
// `splits` of its stat_partials; 0 where the epilogue statistics cannot run for p (cpu backend,
// simt_f32, bf16 kernel version 1, operands that are not vector operands, accumulate, split_k
// != 1): the caller then uses batchnorm_stats on y. Does not look at p.stat_partials or y.
int conv2d_stat_row_tiles(const Device& device, const Conv2dParams& p);
// An upper bound of conv2d_stat_row_tiles for any tile version 2 can choose (its shortest tile has
// 64 rows) on a forward GEMM of `rows` = N*P*Q rows: ceil(rows / 64).
std::int64_t conv2d_stat_row_tiles_bound(std::int64_t rows);

namespace cpu_impl {
// The reference: direct loops, OpenMP over images (forward, dgrad) or output channels (wgrad),
// accumulating in T. Instantiated for float and double; double is the gradient-check oracle.
template <typename T>
void conv2d_forward_ref(const Conv2dShape& s, const T* x, const T* w, T* y, bool accumulate = false);
template <typename T>
void conv2d_dgrad_ref(const Conv2dShape& s, const T* dy, const T* w, T* dx, bool accumulate = false);
template <typename T>
void conv2d_wgrad_ref(const Conv2dShape& s, const T* x, const T* dy, T* dw, bool accumulate = false);

// The cpu backend of the dispatchers: fp32 im2col + OpenBLAS sgemm (kernels/nn/conv2d_cpu_gemm.h;
// the reference loops above up to summation order, 2-8x faster); wmma_bf16 reads the bf16 operands
// (exactly widened to fp32) and writes fp32 and/or bf16 outputs.
void conv2d_forward(const Conv2dParams& p);
void conv2d_dgrad(const Conv2dParams& p);
void conv2d_wgrad(const Conv2dParams& p);
}  // namespace cpu_impl

namespace emu_impl {
int conv2d_stat_row_tiles(const Conv2dParams& p);  // p eligible (see the dispatcher)
void conv2d_forward(const Conv2dParams& p, void* stream);
void conv2d_dgrad(const Conv2dParams& p, void* stream);
void conv2d_wgrad(const Conv2dParams& p, void* stream);
}  // namespace emu_impl
namespace cuda_impl {
int conv2d_stat_row_tiles(const Conv2dParams& p);
void conv2d_forward(const Conv2dParams& p, void* stream);
void conv2d_dgrad(const Conv2dParams& p, void* stream);
void conv2d_wgrad(const Conv2dParams& p, void* stream);
}  // namespace cuda_impl

// Run on `device`'s backend (every pointer memory of that device); `stream` is a Stream::native()
// handle, nullptr for the default stream.
void conv2d_forward(const Device& device, const Conv2dParams& p, void* stream = nullptr);
void conv2d_dgrad(const Device& device, const Conv2dParams& p, void* stream = nullptr);
void conv2d_wgrad(const Device& device, const Conv2dParams& p, void* stream = nullptr);

}  // namespace deeper::kernels
