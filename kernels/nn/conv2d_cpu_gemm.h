// The cpu backend's fp32 convolutions as im2col + OpenBLAS sgemm (the implicit GEMMs of
// kernels/nn/conv2d.h, made explicit a block of rows at a time).
//
//   forward  y[M x K]  = cols[M x RSC] · w^T          cols = im2col(x), M = N·P·Q rows (n, p, q)
//   dgrad    dx        = col2im(dy[M x K] · w[K x RSC]) (the columns scattered back, added per tap)
//   wgrad    dw[K x RSC] = dy^T · cols                  (a sum over M, block by block)
// with RSC = R·S·C in (r, s, c) order, c fastest (the weights' KRSC rows). cols holds zeros where a
// tap falls in the padding. FLOPs as the direct convolution (2·M·K·RSC per op), plus the im2col /
// col2im copies (M·RSC values each); the GEMM runs at OpenBLAS's rate (tens of GFLOP/s per core)
// instead of the reference loops' few.
//
// Threads: the rows (whole images for dgrad) are cut into blocks, at least 16 when there are enough
// rows and each at most kConvGemmChunkValues values of columns (16 MiB, in a buffer each thread keeps
// between calls), and OpenMP's threads take the blocks, each running its own im2col and a
// single-threaded sgemm (OpenBLAS's own thread pool is turned off for the call: competing with
// OpenMP's threads for the cores, it made the step slower).
// Blocks write disjoint rows of y / images of dx; wgrad sums each block into its own partial dw and
// adds the partials in block order. The blocks depend on the shape only, never on the thread count,
// so the results are the same bits for any number of threads and any run (resume is bit-identical
// on the cpu). They equal the reference loops (conv2d_*_ref) up to fp32 summation order.
// Assumes a shape that check_conv2d_shape accepts; accumulate adds into the output.
#pragma once

#include "kernels/nn/conv2d.h"

#include <cstdint>

namespace deeper::kernels::cpu_impl {

// Most values of columns one block builds at a time (16 MiB of floats).
inline constexpr std::int64_t kConvGemmChunkValues = std::int64_t{4} << 20;

// chunk_values: the cap on one block's columns (tests pass a small one to reach every path on small
// shapes).
void conv2d_forward_gemm(const Conv2dShape& s, const float* x, const float* w, float* y, bool accumulate,
                         std::int64_t chunk_values = kConvGemmChunkValues);
void conv2d_dgrad_gemm(const Conv2dShape& s, const float* dy, const float* w, float* dx, bool accumulate,
                       std::int64_t chunk_values = kConvGemmChunkValues);
void conv2d_wgrad_gemm(const Conv2dShape& s, const float* x, const float* dy, float* dw, bool accumulate,
                       std::int64_t chunk_values = kConvGemmChunkValues);

}  // namespace deeper::kernels::cpu_impl
