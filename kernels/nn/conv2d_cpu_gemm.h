// The cpu backend's fp32 convolutions as im2col + OpenBLAS sgemm (the implicit GEMMs of
// kernels/nn/conv2d.h, made explicit a chunk of rows at a time).
//
//   forward  y[M x K]  = cols[M x RSC] · w^T          cols = im2col(x), M = N·P·Q rows (n, p, q)
//   dgrad    dx        = col2im(dy[M x K] · w[K x RSC]) (the columns scattered back, added per tap)
//   wgrad    dw[K x RSC] = dy^T · cols                  (a sum over M, chunk after chunk)
// with RSC = R·S·C in (r, s, c) order, c fastest (the weights' KRSC rows). cols holds zeros where a
// tap falls in the padding. FLOPs as the direct convolution (2·M·K·RSC per op), plus the im2col /
// col2im copies (M·RSC values each); the GEMM runs at OpenBLAS's rate (tens of GFLOP/s per core)
// instead of the reference loops' few.
//
// Memory: cols is built kChunkValues values at a time (16 MiB; whole images at a time for dgrad,
// one image when an image alone is larger), so any shape runs in bounded scratch.
// Determinism: chunks run in a fixed order and each sgemm is deterministic for a fixed OpenBLAS
// thread count, so repeated runs give the same bits (resume is bit-identical on the cpu); wgrad
// sums its chunks into dw in row order. The results equal the reference loops (conv2d_*_ref) up to
// fp32 summation order.
// Assumes a shape that check_conv2d_shape accepts; accumulate adds into the output.
#pragma once

#include "kernels/nn/conv2d.h"

#include <cstdint>

namespace deeper::kernels::cpu_impl {

// Scratch values per chunk of columns (16 MiB of floats).
inline constexpr std::int64_t kConvGemmChunkValues = std::int64_t{4} << 20;

void conv2d_forward_gemm(const Conv2dShape& s, const float* x, const float* w, float* y, bool accumulate);
void conv2d_dgrad_gemm(const Conv2dShape& s, const float* dy, const float* w, float* dx, bool accumulate);
void conv2d_wgrad_gemm(const Conv2dShape& s, const float* x, const float* dy, float* dw, bool accumulate);

}  // namespace deeper::kernels::cpu_impl
