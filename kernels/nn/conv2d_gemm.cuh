// The GEMM view shared by the conv2d kernels (conv2d.cu, conv2d_mma.cuh): the problem geometry,
// the map from a GEMM coordinate to its tensor element, the output placement, and the hoisted
// 16-byte gather of the tensor-core kernels. Included by conv2d.cu only (an anonymous namespace:
// each translation unit of the kernels, nvcc's and the emulator's, has its own copy).
//
// One GEMM for the three ops: out[m * N + n] = sum_kk A(m, kk) * B(kk, n), where a_offset /
// b_offset map a GEMM coordinate to the offset of its tensor element, or -1 for a structural zero
// (padding, the border of a dgrad phase, a partial tile). Mappings in kernels/nn/conv2d.h.
#pragma once

#include "kernels/common/kernel_prelude.cuh"
#include "kernels/nn/conv2d.h"

#include <cuda_bf16.h>

#include <cstdint>

// Full unrolling of the fragment and chunk loops under nvcc, so that fragment arrays stay in
// registers (a dynamically indexed fragment array goes to local memory).
#if defined(__CUDA_ARCH__)
#define CONV_UNROLL _Pragma("unroll")
#else
#define CONV_UNROLL
#endif

namespace deeper::kernels::DEEPER_KERNEL_NS {
namespace {

constexpr int kThreads = 256;  // threads per block of every conv kernel
constexpr int kBK = 32;        // K_gemm step of the tensor-core kernels (and the split-K granule)

struct Geom {
  int H, W, C, K, R, S, P, Q, sh, sw, pt, pl;
  int M, N, Kg;     // the GEMM
  int k_per_split;  // K range of one grid.z slice (a multiple of kBK)
  // dgrad runs once per stride phase (h0, w0) in [0, sh) x [0, sw): its GEMM rows are the input
  // pixels (n, h0 + sh*i, w0 + sw*j), i < Hp, j < Wp, and its columns the taps that reach them,
  // (r0 + sh*u, s0 + sw*v, k), u < Rp, v < Sp, with r0 = (h0 + pt) % sh; tap (u, v) of row (i, j)
  // reads dy at (bp + i - u, bq + j - v), bp = (h0 + pt - r0) / sh. So no structural zero of the
  // stride is multiplied. Stride 1 is the single phase (0, 0) with bp = pt, bq = pl.
  int h0, w0, Hp, Wp, r0, s0, Rp, Sp, bp, bq;
};

struct Out {
  float* f32;
  __nv_bfloat16* bf16;
  bool accumulate;
  bool atomic;
  bool phased;  // dgrad: rows are one stride phase's pixels (out_offset)
};

// Offset in x of forward row m = (n,p,q), column j = (r,s,c) (also wgrad's B), or -1 in the padding.
__device__ __forceinline__ std::int64_t x_gather(const Geom& g, int m, int j) {
  const int q = m % g.Q, t = m / g.Q, p = t % g.P, n = t / g.P;
  const int c = j % g.C, rs = j / g.C, s = rs % g.S, r = rs / g.S;
  const int h = p * g.sh - g.pt + r, w = q * g.sw - g.pl + s;
  if (h < 0 || h >= g.H || w < 0 || w >= g.W) return -1;
  return ((static_cast<std::int64_t>(n) * g.H + h) * g.W + w) * g.C + c;
}

// Offset in dy of dgrad row m = (n,i,j) of the phase, column kk = (u,v,k), or -1 where the tap
// reads outside dy (the border).
__device__ __forceinline__ std::int64_t dy_gather(const Geom& g, int m, int kk) {
  const int j = m % g.Wp, t = m / g.Wp, i = t % g.Hp, n = t / g.Hp;
  const int k = kk % g.K, uv = kk / g.K, v = uv % g.Sp, u = uv / g.Sp;
  const int p = g.bp + i - u, q = g.bq + j - v;
  if (p < 0 || q < 0 || p >= g.P || q >= g.Q) return -1;
  return ((static_cast<std::int64_t>(n) * g.P + p) * g.Q + q) * g.K + k;
}

// Output offset of GEMM element (m, n): row-major M x N, except dgrad, whose row m = (n,i,j) of
// the phase is input pixel (n, h0 + sh*i, w0 + sw*j).
__device__ __forceinline__ std::int64_t out_offset(const Geom& g, bool phased, int m, int n) {
  if (!phased) return static_cast<std::int64_t>(m) * g.N + n;
  const int j = m % g.Wp, t = m / g.Wp, i = t % g.Hp, img = t / g.Hp;
  const std::int64_t pixel =
      (static_cast<std::int64_t>(img) * g.H + g.h0 + g.sh * i) * g.W + g.w0 + g.sw * j;
  return pixel * g.N + n;
}

template <ConvOp Op>
__device__ __forceinline__ std::int64_t a_offset(const Geom& g, int m, int kk) {
  if (m >= g.M || kk >= g.Kg) return -1;
  if constexpr (Op == ConvOp::forward) {
    return x_gather(g, m, kk);
  } else if constexpr (Op == ConvOp::dgrad) {
    return dy_gather(g, m, kk);
  } else {
    return static_cast<std::int64_t>(kk) * g.K + m;  // dy[(n,p,q) = kk][k = m]
  }
}

template <ConvOp Op>
__device__ __forceinline__ std::int64_t b_offset(const Geom& g, int kk, int n) {
  if (kk >= g.Kg || n >= g.N) return -1;
  if constexpr (Op == ConvOp::forward) {
    return static_cast<std::int64_t>(n) * g.Kg + kk;  // w[k = n][(r,s,c) = kk]
  } else if constexpr (Op == ConvOp::dgrad) {
    const int k = kk % g.K, uv = kk / g.K, v = uv % g.Sp, u = uv / g.Sp;  // w[k][r][s][c = n]
    const int r = g.r0 + g.sh * u, s = g.s0 + g.sw * v;
    return ((static_cast<std::int64_t>(k) * g.R + r) * g.S + s) * g.C + n;
  } else {
    return x_gather(g, kk, n);
  }
}

__device__ __forceinline__ void store_out(const Out& o, const Geom& g, int m, int n, float v) {
  if (m >= g.M || n >= g.N) return;
  const std::int64_t i = out_offset(g, o.phased, m, n);
  if (o.atomic) {
    atomicAdd(o.f32 + i, v);
    return;
  }
  if (o.f32) o.f32[i] = o.accumulate ? o.f32[i] + v : v;
  if (o.bf16) o.bf16[i] = __float2bfloat16_rn(v);
}

// The 16-byte gather of the tensor-core kernels (C % 8 == 0 and K % 8 == 0): a thread loads
// chunks of 8 consecutive elements along the operand's contiguous axis. Chunk i of a thread is
// gi = tid + kThreads * i of the tile in row-major order over (rows, len / 8), so a thread's A
// chunks share their column and differ in row (forward and dgrad: the GEMM row m) and its B chunks
// share their column (wgrad: the GEMM column n). The decoding of those fixed coordinates (image,
// input row and column of tap (0, 0); wgrad: the tap and channel of n) is done once, here, instead
// of in the K loop, and a step's tap (r, s, c) is decoded once for all of the thread's A chunks.
//   ALen, BLen: the contiguous length of an A / B tile row (kBK for K-contiguous tiles, else BM / BN).
template <ConvOp Op, int AChunks, int ALen, int BLen>
struct VecGather {
  int a_base[AChunks], a_h[AChunks], a_w[AChunks];
  int b_r = 0, b_s = 0, b_c = 0;
  int tap_kk = -1, tap_r = 0, tap_s = 0, tap_c = 0;  // the last decoded A column

  __device__ VecGather(const Geom& g, int m0, int n0, int tid) {
    CONV_UNROLL
    for (int i = 0; i < AChunks; ++i) a_base[i] = -1, a_h[i] = a_w[i] = 0;
    if constexpr (Op != ConvOp::wgrad) {
      CONV_UNROLL
      for (int i = 0; i < AChunks; ++i) {
        const int m = m0 + (tid + kThreads * i) / (ALen / 8);
        if (m >= g.M) continue;
        if constexpr (Op == ConvOp::forward) {
          const int q = m % g.Q, t = m / g.Q, p = t % g.P;
          a_base[i] = t / g.P * g.H;
          a_h[i] = p * g.sh - g.pt;
          a_w[i] = q * g.sw - g.pl;
        } else {
          const int j = m % g.Wp, t = m / g.Wp, ii = t % g.Hp;
          a_base[i] = t / g.Hp * g.P;
          a_h[i] = g.bp + ii;
          a_w[i] = g.bq + j;
        }
      }
    } else {
      const int n = n0 + (tid % (BLen / 8)) * 8;
      b_c = n % g.C;
      const int rs = n / g.C;
      b_s = rs % g.S;
      b_r = rs / g.S;
    }
  }

  // Offset of A chunk i (row m, columns kk..kk+7), or -1 when it reads zeros.
  __device__ __forceinline__ std::int64_t a(const Geom& g, int i, int m, int kk) {
    if constexpr (Op == ConvOp::wgrad) {
      return a_offset<Op>(g, m, kk);
    } else {
      if (a_base[i] < 0 || kk >= g.Kg) return -1;
      if (kk != tap_kk) {
        const int ch = Op == ConvOp::forward ? g.C : g.K;
        const int taps_w = Op == ConvOp::forward ? g.S : g.Sp;
        tap_kk = kk;
        tap_c = kk % ch;
        const int rs = kk / ch;
        tap_s = rs % taps_w;
        tap_r = rs / taps_w;
      }
      if constexpr (Op == ConvOp::forward) {
        const int h = a_h[i] + tap_r, w = a_w[i] + tap_s;
        if (h < 0 || h >= g.H || w < 0 || w >= g.W) return -1;
        return ((static_cast<std::int64_t>(a_base[i]) + h) * g.W + w) * g.C + tap_c;
      } else {
        const int p = a_h[i] - tap_r, q = a_w[i] - tap_s;  // tap (u, v) of the phase
        if (p < 0 || q < 0 || p >= g.P || q >= g.Q) return -1;
        return ((static_cast<std::int64_t>(a_base[i]) + p) * g.Q + q) * g.K + tap_c;
      }
    }
  }

  // Offset of a B chunk (row kk, columns n..n+7 or, forward, row n, columns kk..kk+7), or -1.
  __device__ __forceinline__ std::int64_t b(const Geom& g, int kk, int n) const {
    if constexpr (Op == ConvOp::wgrad) {
      if (kk >= g.Kg || n >= g.N) return -1;
      const int q = kk % g.Q, t = kk / g.Q, p = t % g.P, img = t / g.P;
      const int h = p * g.sh - g.pt + b_r, w = q * g.sw - g.pl + b_s;
      if (h < 0 || h >= g.H || w < 0 || w >= g.W) return -1;
      return ((static_cast<std::int64_t>(img) * g.H + h) * g.W + w) * g.C + b_c;
    } else {
      return b_offset<Op>(g, kk, n);
    }
  }
};

// The BN-statistics epilogue (Conv2dParams::stat_partials), shared by versions 2 and 3. A lane
// holds, per pair of adjacent columns, fp64 sums sum[column][Σ, Σ²] over its rows; lanes with equal
// lane % 4 hold the same columns (the mma / wgmma accumulator layouts).

// Adds row values v0 (column c) and v1 (column c + 1) when the row is one of the M stored ones.
__device__ __forceinline__ void stat_add(double (&sum)[2][2], float v0, float v1, bool row_stored) {
  if (!row_stored) return;
  const double v[2] = {v0, v1};
  CONV_UNROLL
  for (int e = 0; e < 2; ++e) {
    sum[e][0] += v[e];
    sum[e][1] += v[e] * v[e];
  }
}

// The 8 lanes of a column pair (equal lane % 4) add their sums: a butterfly over lane / 4, in a
// fixed order, so every lane ends with the warp's sums.
__device__ __forceinline__ void stat_warp_sum(double (&sum)[2][2]) {
  CONV_UNROLL
  for (int d = 4; d < 32; d *= 2) {
    CONV_UNROLL
    for (int e = 0; e < 2; ++e) {
      sum[e][0] += __shfl_xor_sync(0xffffffffu, sum[e][0], d);
      sum[e][1] += __shfl_xor_sync(0xffffffffu, sum[e][1], d);
    }
  }
}

// Stages a warp's sums of tile columns c, c + 1 as row slice `slice` of red[slices][bn][2].
__device__ __forceinline__ void stat_stage(double* red, int slice, int bn, int c, const double (&sum)[2][2]) {
  CONV_UNROLL
  for (int e = 0; e < 2; ++e) {
    red[(slice * bn + c + e) * 2] = sum[e][0];
    red[(slice * bn + c + e) * 2 + 1] = sum[e][1];
  }
}

// After a barrier: one thread per tile column adds the `slices` row slices of red in order and
// stores row tile `tile`'s two partials, stats[(2 tile) N + n] and stats[(2 tile + 1) N + n].
__device__ __forceinline__ void stat_store_tile(const double* red, int slices, int bn, int n0, int tid, const Geom& g,
                                                std::int64_t tile, double* stats) {
  for (int c = tid; c < bn; c += kThreads) {
    const int n = n0 + c;
    if (n >= g.N) continue;
    double s1 = 0.0, s2 = 0.0;
    for (int w = 0; w < slices; ++w) {
      s1 += red[(w * bn + c) * 2];
      s2 += red[(w * bn + c) * 2 + 1];
    }
    stats[(2 * tile) * g.N + n] = s1;
    stats[(2 * tile + 1) * g.N + n] = s2;
  }
}

}  // namespace
}  // namespace deeper::kernels::DEEPER_KERNEL_NS
