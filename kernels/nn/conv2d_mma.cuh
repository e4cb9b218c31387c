// conv_mma_kernel: version 2 of the bf16 tensor-core conv (forward, dgrad, wgrad), for the 16-byte
// case (C % 8 == 0, K % 8 == 0, 16-byte aligned operands: every ResNet-10 conv but the stem).
// Included by conv2d.cu only; the GEMM view (Geom, offsets, VecGather) is conv2d_gemm.cuh's.
//
// Computes out = A * B (+ out with accumulate; atomicAdd per split-K slice), A and B bf16, fp32
// accumulation, on a BM x BN output tile per block of 8 warps (256 threads):
//   - global -> shared with cp.async (16 bytes per thread per chunk, zero fill for structural
//     zeros), kStages = 4 shared-memory stages in flight: the loads of step t + 3 overlap the MMAs
//     of step t;
//   - shared -> registers with ldmatrix (x4; .trans for the operands stored k-major: wgrad's A and
//     the B of dgrad and wgrad), rows padded by 8 bf16 (16 bytes), so the 8 row addresses of each
//     8 x 8 matrix fall in 8 distinct 4-bank groups (no bank conflicts; every padded row stride,
//     40, 72, 136, 264 or 520 bf16, is an odd number of 16-byte units);
//   - mma.sync m16n8k16 (bf16 in, fp32 accumulate): each warp owns a wm x wn tile = wm/16 x wn/8
//     MMA tiles, (wm + wn) / 16 ldmatrix.x4 per 16-deep step;
//   - the epilogue writes each thread's accumulator pairs (two adjacent columns) straight from
//     registers, as float2 / bf16x2 when both columns are in range and N is even;
//   - with Stats (forward with Conv2dParams::stat_partials, a separate instantiation) it also sums
//     the stored values per column in fp64 (thread, then a lane butterfly, then the warp rows through
//     the freed pipeline memory in a fixed order) and stores the tile's Σ, Σ² per column (conv2d.h,
//     "BN statistics in the epilogue"; its cost in docs/nn-kernels.md).
//
// Tiles (ConvTile; shared memory for 4 stages forward / dgrad / wgrad; registers from ptxas -v,
// sm_90, nvcc 13, no spills; blocks per SM on an H100 by registers and its 227 KiB):
//   BM x BN    warps   warp tile  shared KiB      regs     blocks/SM
//   128 x 128  2 x 4   64 x 32     80 / 74 / 68   123-126  2
//   128 x 64   4 x 2   32 x 32     60 / 58 / 52    78-80   3
//    64 x 128  2 x 4   32 x 32     60 / 54 / 52    71-80   3
//   256 x 128  4 x 2   64 x 64    120 / 114 / 100 218-231  1
//   128 x 256  2 x 4   64 x 64    120 / 106 / 100 218-225  1
//   512 x 64   8 x 1   64 x 64    180 / 178 / 148 222-242  1
// (a 64 x 64 warp tile holds 128 fp32 accumulators, 16 + 16 fragment registers per thread).
// The forward's statistics epilogue (Stats) instantiations, sm_90a, nvcc 13, ptxas -v: 124 / 70 /
// 72 / 229 / 224 / 242 registers for the six tiles above (the plain forward: 123 / 78 / 76 / 228 /
// 224 / 242), no spills, the same shared memory, so the same blocks per SM.
//
// Counts per kBK = 32 step (mma_tile_flops_per_clk): FLOPs 2 * BM * BN * 32; shared-memory bytes
// = cp.async writes (BM + BN) * 32 * 2 + ldmatrix reads 8 warps * (wm + wn) * 32 * 2. An H100 SM
// moves 128 B/clk of shared memory and issues ~2,700 dense bf16 FLOP/clk with mma.sync (~2/3 of
// wgmma's ~4,100), so a tile's bound is min(2,700, 128 * FLOP per byte) FLOP/clk/SM; at 1.83 GHz on
// 132 SMs (TF/s):
//   128 x 128   1.05 MFLOP   64 KiB (16 written + 48 read)    16.0 FLOP/B   2,048 FLOP/clk   495 TF/s
//   128 x 64    0.52 MFLOP   44 KiB (12 + 32)                 11.6          1,489            360
//   256 x 128   2.10 MFLOP   88 KiB (24 + 64)                 23.3          2,700 (MMA)      652
//   128 x 256   2.10 MFLOP   88 KiB (24 + 64)                 23.3          2,700 (MMA)      652
//   512 x 64    2.10 MFLOP  100 KiB (36 + 64)                 20.5          2,621            633
// so the 64 x 64 warp tiles (32 FLOP per ldmatrix byte, against ~21 for 64 x 32) move the shared-
// memory bound above the MMA rate (512 x 64 just under it: its 512-row A tile is written once per
// 64 columns). Their cost: one block (8 warps) per SM, so nothing hides a block's barrier and
// pipeline fill, and 2-4x fewer tiles per layer.
// The choice (conv2d.cu, mma_tile_shape): per GEMM (each dgrad phase), the tile and split-K count
// (rounded up or down) of least predicted time, ceil(tiles * split-K slices / 132) * (one tile's
// FLOPs per slice / its bound): the large
// tiles where each SM gets several of them or exactly one, the 128 x 128 / 128 x 64 ones on the
// 7 x 7 and 14 x 14 layers at 112 px, where a large tile would leave SMs idle. Forced with
// Conv2dParams::mma_tile. Predictions per ResNet-10 layer in docs/nn-kernels.md (predicted, not
// measured).
#pragma once

#include "kernels/common/kernel_prelude.cuh"
#include "kernels/common/mma_sync.cuh"
#include "kernels/nn/conv2d_gemm.cuh"

#include <cuda_bf16.h>

#include <cstdint>

namespace deeper::kernels::DEEPER_KERNEL_NS {
namespace {

template <ConvOp Op, int BM, int BN>
struct MmaLayout {
  static constexpr int kStages = 4;
  static constexpr bool a_m_rows = Op != ConvOp::wgrad;   // A stored [m][kk] (else [kk][m])
  static constexpr bool b_n_rows = Op == ConvOp::forward;  // B stored [n][kk] (else [kk][n])
  static constexpr int a_len = a_m_rows ? kBK : BM, a_rows = a_m_rows ? BM : kBK;  // row length, rows
  static constexpr int b_len = b_n_rows ? kBK : BN, b_rows = b_n_rows ? BN : kBK;
  static constexpr int a_ld = a_len + 8, b_ld = b_len + 8;  // padded row strides (bf16)
  static constexpr int a_stage = a_rows * a_ld, b_stage = b_rows * b_ld;
  static constexpr int a_chunks = BM * kBK / 8 / kThreads, b_chunks = BN * kBK / 8 / kThreads;  // per thread
  // warps: 64 x 64 each where the tile has 8 of them (256 x 128, 128 x 256, 512 x 64), else
  // 64 x 32 (128 x 128) or 32 x 32 (128 x 64, 64 x 128)
  static constexpr int warps_m = BM * BN == kThreads / 32 * 64 * 64 ? BM / 64 : BM == 128 && BN == 64 ? 4 : 2;
  static constexpr int warps_n = kThreads / 32 / warps_m;
  static constexpr int wm = BM / warps_m, wn = BN / warps_n;  // warp tile
  static constexpr int fm = wm / 16, fn = wn / 8;             // m16 x n8 MMA tiles per warp
  static constexpr std::size_t shared_bytes = std::size_t{kStages} * (a_stage + b_stage) * sizeof(__nv_bfloat16);
  static_assert(warps_m * warps_n == kThreads / 32 && wm * warps_m == BM && wn * warps_n == BN);
  static_assert(a_chunks >= 1 && b_chunks >= 1 && fn % 2 == 0 && fm >= 1 && wm % 16 == 0);
  static_assert(kThreads % (a_len / 8) == 0 && kThreads % (b_len / 8) == 0);
  static_assert(shared_bytes <= 227 * 1024, "4 stages must fit an H100 SM's 227 KiB");
  // The counts of the header comment, per kBK step: FLOPs, and shared-memory bytes moved (cp.async
  // writes of A and B, plus each warp's ldmatrix reads of its wm rows of A and wn columns of B).
  static constexpr double step_flops = 2.0 * BM * BN * kBK;
  static constexpr double step_shared_bytes = 2.0 * kBK * ((BM + BN) + kThreads / 32 * (wm + wn));
};

// Predicted FLOP/clk of one H100 SM on tile BM x BN: the lesser of the mma.sync rate (~2,700 dense
// bf16 FLOP/clk) and 128 shared-memory bytes per clk times the tile's FLOPs per shared byte.
template <int BM, int BN>
constexpr double mma_tile_flops_per_clk() {
  using L = MmaLayout<ConvOp::forward, BM, BN>;  // the same counts for the three ops
  constexpr double shared_bound = 128.0 * L::step_flops / L::step_shared_bytes;
  return shared_bound < 2700.0 ? shared_bound : 2700.0;
}

// Stores the accumulator pair (m, n), (m, n + 1) of a thread.
__device__ __forceinline__ void store_pair(const Out& o, const Geom& g, int m, int n, float v0, float v1) {
  if (m >= g.M) return;
  if (o.atomic || n + 1 >= g.N || (g.N & 1) != 0) {
    store_out(o, g, m, n, v0);
    store_out(o, g, m, n + 1, v1);
    return;
  }
  const std::int64_t i = out_offset(g, o.phased, m, n);  // even: n and N are
  if (o.f32) {
    float2 v{v0, v1};
    if (o.accumulate) {
      const float2 old = *reinterpret_cast<const float2*>(o.f32 + i);
      v.x += old.x;
      v.y += old.y;
    }
    *reinterpret_cast<float2*>(o.f32 + i) = v;
  }
  if (o.bf16) *reinterpret_cast<__nv_bfloat162*>(o.bf16 + i) = __floats2bfloat162_rn(v0, v1);
}

// Epilogue with BN statistics (Stats): the per-column Σ and Σ² of a warp's stored values, fp64,
// staged per warp row in shared memory as red[warp_m][column][2] (BM / wm x BN x 2 doubles, at most
// 8 KiB, within every tile's pipeline memory).
template <int BM, int BN>
constexpr std::size_t mma_stat_shared_bytes() {
  return std::size_t{MmaLayout<ConvOp::forward, BM, BN>::warps_m} * BN * 2 * sizeof(double);
}

// Stats (forward only): also writes the column sums of its tile's valid rows to
// stats[(2 * blockIdx.x) * N + n] and [(2 * blockIdx.x + 1) * N + n] (conv2d.h, "BN statistics in
// the epilogue"); stats is unused otherwise.
template <ConvOp Op, int BM, int BN, bool Stats = false>
__global__ void __launch_bounds__(kThreads) conv_mma_kernel(Geom g, const __nv_bfloat16* a, const __nv_bfloat16* b,
                                                            Out o, double* stats) {
  static_assert(!Stats || Op == ConvOp::forward, "the statistics epilogue is the forward op's");
  using L = MmaLayout<Op, BM, BN>;
  static_assert(!Stats || mma_stat_shared_bytes<BM, BN>() <= L::shared_bytes);
  DEEPER_DYNAMIC_SHARED(__nv_bfloat16, smem);
  __nv_bfloat16* a_tiles = smem;                            // [stage][a_stage]
  __nv_bfloat16* b_tiles = smem + L::kStages * L::a_stage;  // [stage][b_stage]
  const int tid = static_cast<int>(threadIdx.x), warp = tid / 32, lane = tid % 32;
  const int wm0 = (warp / L::warps_n) * L::wm, wn0 = (warp % L::warps_n) * L::wn;
  const int m0 = static_cast<int>(blockIdx.x) * BM, n0 = static_cast<int>(blockIdx.y) * BN;
  const int k_begin = static_cast<int>(blockIdx.z) * g.k_per_split;
  const int k_end = g.Kg - k_begin < g.k_per_split ? g.Kg : k_begin + g.k_per_split;
  const int steps = k_end > k_begin ? (k_end - k_begin + kBK - 1) / kBK : 0;

  VecGather<Op, L::a_chunks, L::a_len, L::b_len> gather(g, m0, n0, tid);
  // Issue the cp.async copies of the step at k0 into stage `slot`.
  auto load_stage = [&](int slot, int k0) {
    __nv_bfloat16* as = a_tiles + slot * L::a_stage;
    __nv_bfloat16* bs = b_tiles + slot * L::b_stage;
    CONV_UNROLL
    for (int i = 0; i < L::a_chunks; ++i) {
      const int gi = tid + kThreads * i;
      const int row = gi / (L::a_len / 8), col = (gi % (L::a_len / 8)) * 8;
      const int m = m0 + (L::a_m_rows ? row : col), kk = k0 + (L::a_m_rows ? col : row);
      const std::int64_t off = kk < k_end ? gather.a(g, i, m, kk) : -1;
      cp_async_16(as + row * L::a_ld + col, off >= 0 ? a + off : a, off >= 0 ? 16 : 0);
    }
    CONV_UNROLL
    for (int i = 0; i < L::b_chunks; ++i) {
      const int gi = tid + kThreads * i;
      const int row = gi / (L::b_len / 8), col = (gi % (L::b_len / 8)) * 8;
      const int n = n0 + (L::b_n_rows ? row : col), kk = k0 + (L::b_n_rows ? col : row);
      const std::int64_t off = kk < k_end ? gather.b(g, kk, n) : -1;
      cp_async_16(bs + row * L::b_ld + col, off >= 0 ? b + off : b, off >= 0 ? 16 : 0);
    }
  };

  float acc[L::fm][L::fn][4];
  CONV_UNROLL
  for (int i = 0; i < L::fm; ++i) {
    CONV_UNROLL
    for (int j = 0; j < L::fn; ++j) {
      CONV_UNROLL
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0.0f;
    }
  }

  // Prologue: stages 0 .. kStages - 2 in flight (a group per stage, empty past the end, so that
  // "at most kStages - 2 groups pending" always means "the oldest stage has landed").
  CONV_UNROLL
  for (int st = 0; st < L::kStages - 1; ++st) {
    if (st < steps) load_stage(st, k_begin + st * kBK);
    cp_async_commit();
  }
  // ldmatrix lane roles: lanes 8j..8j+7 address the rows of 8 x 8 matrix j.
  const int lrow = lane % 8, lmat = lane / 8;
  for (int t = 0; t < steps; ++t) {
    cp_async_wait<L::kStages - 2>();
    __syncthreads();  // step t's stage is visible to all, and stage t - 1's slot is free
    const int next = t + L::kStages - 1;
    if (next < steps) load_stage(next % L::kStages, k_begin + next * kBK);
    cp_async_commit();
    const __nv_bfloat16* as = a_tiles + (t % L::kStages) * L::a_stage;
    const __nv_bfloat16* bs = b_tiles + (t % L::kStages) * L::b_stage;
    CONV_UNROLL
    for (int kk = 0; kk < kBK; kk += 16) {
      std::uint32_t af[L::fm][4], bf[L::fn][2];
      CONV_UNROLL
      for (int i = 0; i < L::fm; ++i) {
        // matrices: (m 0-7, k 0-7), (m 8-15, k 0-7), (m 0-7, k 8-15), (m 8-15, k 8-15)
        const int mr = wm0 + 16 * i + lrow + (lmat % 2) * 8, kc = kk + (lmat / 2) * 8;
        if constexpr (L::a_m_rows) {
          ldmatrix_x4(af[i], as + mr * L::a_ld + kc);
        } else {  // stored [k][m]: row k, 8 consecutive m, transposed into the fragment
          const int kr = kk + lrow + (lmat / 2) * 8, mc = wm0 + 16 * i + (lmat % 2) * 8;
          ldmatrix_x4_trans(af[i], as + kr * L::a_ld + mc);
        }
      }
      CONV_UNROLL
      for (int j = 0; j < L::fn; j += 2) {
        std::uint32_t r[4];
        if constexpr (L::b_n_rows) {
          // matrices: (n 0-7, k 0-7), (n 0-7, k 8-15), (n 8-15, k 0-7), (n 8-15, k 8-15)
          const int nr = wn0 + 8 * j + lrow + (lmat / 2) * 8, kc = kk + (lmat % 2) * 8;
          ldmatrix_x4(r, bs + nr * L::b_ld + kc);
        } else {
          // stored [k][n]; matrices: (k 0-7, n 0-7), (k 8-15, n 0-7), (k 0-7, n 8-15), (k 8-15, n 8-15)
          const int kr = kk + lrow + (lmat % 2) * 8, nc = wn0 + 8 * j + (lmat / 2) * 8;
          ldmatrix_x4_trans(r, bs + kr * L::b_ld + nc);
        }
        bf[j][0] = r[0], bf[j][1] = r[1], bf[j + 1][0] = r[2], bf[j + 1][1] = r[3];
      }
      CONV_UNROLL
      for (int i = 0; i < L::fm; ++i) {
        CONV_UNROLL
        for (int j = 0; j < L::fn; ++j) mma_m16n8k16_bf16(acc[i][j], af[i], bf[j], acc[i][j]);
      }
    }
  }
  cp_async_wait<0>();  // only empty groups can be pending here; leave none behind

  // Epilogue: c0, c1 at (row lane/4, columns 2*(lane%4) + {0, 1}), c2, c3 eight rows below.
  const int er = lane / 4, ec = 2 * (lane % 4);
  if constexpr (!Stats) {
    CONV_UNROLL
    for (int i = 0; i < L::fm; ++i) {
      CONV_UNROLL
      for (int j = 0; j < L::fn; ++j) {
        const int m = m0 + wm0 + 16 * i + er, n = n0 + wn0 + 8 * j + ec;
        store_pair(o, g, m, n, acc[i][j][0], acc[i][j][1]);
        store_pair(o, g, m + 8, n, acc[i][j][2], acc[i][j][3]);
      }
    }
  } else {
    // The pipeline's shared memory becomes red[warps_m][BN][2] once every warp is done reading it.
    __syncthreads();
    double* red = reinterpret_cast<double*>(smem);
    const int warp_m = warp / L::warps_n;
    // Column pair by column pair (j outer), so only 4 fp64 sums are live beside the accumulators.
    CONV_UNROLL
    for (int j = 0; j < L::fn; ++j) {
      const int n = n0 + wn0 + 8 * j + ec;
      double sum[2][2] = {{0.0, 0.0}, {0.0, 0.0}};  // [column n, n + 1][Σ, Σ²]
      CONV_UNROLL
      for (int i = 0; i < L::fm; ++i) {
        const int m = m0 + wm0 + 16 * i + er;
        store_pair(o, g, m, n, acc[i][j][0], acc[i][j][1]);
        store_pair(o, g, m + 8, n, acc[i][j][2], acc[i][j][3]);
        stat_add(sum, acc[i][j][0], acc[i][j][1], m < g.M);  // rows past M are not stored, so not counted
        stat_add(sum, acc[i][j][2], acc[i][j][3], m + 8 < g.M);
      }
      stat_warp_sum(sum);
      if (er == 0) stat_stage(red, warp_m, BN, wn0 + 8 * j + ec, sum);
    }
    __syncthreads();
    stat_store_tile(red, L::warps_m, BN, n0, tid, g, blockIdx.x, stats);
  }
}

}  // namespace
}  // namespace deeper::kernels::DEEPER_KERNEL_NS
