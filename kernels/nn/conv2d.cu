// conv2d kernels: forward, dgrad and wgrad as implicit GEMMs (definitions, GEMM mapping, costs and
// limits in kernels/nn/conv2d.h). Built by nvcc (cuda_impl) and for the emulator (emu_impl);
// checked against the cpu reference (conv2d_cpu.cpp).
//
// One GEMM view for the three ops (kernels/nn/conv2d_gemm.cuh): out[m * N + n] = sum_kk A(m, kk) *
// B(kk, n), where a_offset / b_offset map a GEMM coordinate to the offset of its tensor element,
// or -1 for a structural zero (padding, the border of a dgrad phase, a partial tile). Every load
// goes through them, so partial tiles and odd channel counts are zero-padded in the loader.
//
//   conv_simt_kernel<Op>       64 x 64 tile, K steps of 16, A and B staged k-major in shared
//                              memory, 4 x 4 fp32 accumulators per thread (256 threads).
//   conv_wmma_kernel<Op, Vec, BM, BN>
//                              128 x 128 tile (128 x 64 when N_gemm <= 64, 64 x 128 when only
//                              M <= 64: the 64-channel layers waste no half tile), K steps of
//                              32, two shared-memory stages: the next
//                              step's loads sit in registers while the current step multiplies.
//                              A is stored row-major (m rows, kk contiguous) for forward and dgrad,
//                              column-major (kk rows, m contiguous) for wgrad; B column-major
//                              (n rows) for forward, row-major (kk rows) for dgrad and wgrad: each
//                              operand keeps its tensor's contiguous axis contiguous, so with Vec
//                              (C % 8 == 0, K % 8 == 0, 16-byte aligned operands) a thread moves 8
//                              bf16 with one 16-byte load. 8 warps: 2 x 4 of 64 x 32 each (4 x 2
//                              m16n16k16 fp32 accumulators) on 128 x 128, else 32 x 32 (2 x 2) each.
//                              The epilogue stages each
//                              fragment through a per-warp 16 x 16 float tile in shared memory.
// dgrad: one launch per stride phase (Geom::h0, w0; one for stride 1), each a GEMM over the phase's
// pixels and the taps that reach them; out_offset places its rows. Phases no tap reaches write zeros.
// Split-K: blockIdx.z takes K range [z * k_per_split, (z + 1) * k_per_split); with more than one
// slice the fp32 output is zeroed (unless accumulate) and every slice atomicAdds.
// Version 1: GEMM coordinates are decoded with 32-bit divisions; the vector loader hoists the row
// decoding of A (forward, dgrad) and the column decoding of B (wgrad) out of the K loop.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/common/vector16.cuh"
#include "kernels/common/wmma.cuh"
#include "kernels/nn/conv2d.h"
#include "kernels/nn/conv2d_gemm.cuh"
#include "kernels/nn/conv2d_mma.cuh"
#include "kernels/nn/conv2d_wgmma.cuh"
#include "kernels/runtime/cuda_check.h"

#include <cstdint>
#include <type_traits>
#include <vector>

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

constexpr int kSimtTile = 64, kSimtK = 16;
constexpr int kPad = 8;       // shared-memory row padding of the wmma kernel (bf16)
constexpr int kStageLd = 20;  // float row stride of a warp's epilogue tile
constexpr int kMaxSplits = 256;

template <ConvOp Op>
__global__ void __launch_bounds__(kThreads) conv_simt_kernel(Geom g, const float* a, const float* b, Out o) {
  __shared__ float as[kSimtK][kSimtTile + 4];  // as[kk][m]
  __shared__ float bs[kSimtK][kSimtTile + 4];  // bs[kk][n]
  const int tid = static_cast<int>(threadIdx.x), tx = tid % 16, ty = tid / 16;
  const int m0 = static_cast<int>(blockIdx.x) * kSimtTile, n0 = static_cast<int>(blockIdx.y) * kSimtTile;
  const int k_begin = static_cast<int>(blockIdx.z) * g.k_per_split;
  const int k_end = g.Kg - k_begin < g.k_per_split ? g.Kg : k_begin + g.k_per_split;
  float acc[4][4] = {};
  for (int k0 = k_begin; k0 < k_end; k0 += kSimtK) {
    for (int e = tid; e < kSimtTile * kSimtK; e += kThreads) {
      // consecutive threads walk the operand's contiguous axis
      const int am = Op == ConvOp::wgrad ? e % kSimtTile : e / kSimtK;
      const int ak = Op == ConvOp::wgrad ? e / kSimtTile : e % kSimtK;
      const std::int64_t ao = k0 + ak < k_end ? a_offset<Op>(g, m0 + am, k0 + ak) : -1;
      as[ak][am] = ao >= 0 ? a[ao] : 0.0f;
      const int bn = Op == ConvOp::forward ? e / kSimtK : e % kSimtTile;
      const int bk = Op == ConvOp::forward ? e % kSimtK : e / kSimtTile;
      const std::int64_t bo = k0 + bk < k_end ? b_offset<Op>(g, k0 + bk, n0 + bn) : -1;
      bs[bk][bn] = bo >= 0 ? b[bo] : 0.0f;
    }
    __syncthreads();
    for (int kk = 0; kk < kSimtK; ++kk) {
      float av[4], bv[4];
      for (int i = 0; i < 4; ++i) av[i] = as[kk][ty + 16 * i];
      for (int j = 0; j < 4; ++j) bv[j] = bs[kk][tx + 16 * j];
      for (int i = 0; i < 4; ++i) {
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
      }
    }
    __syncthreads();
  }
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) store_out(o, g, m0 + ty + 16 * i, n0 + tx + 16 * j, acc[i][j]);
  }
}

// Tile BM x BN (128 x 128, or 128 x 64 / 64 x 128 when the output is that narrow), 8 warps of
// WM x WN, each FM x FN fragments.
template <ConvOp Op, int BM, int BN>
struct WmmaLayout {
  static constexpr bool a_row = Op != ConvOp::wgrad;    // A: m rows, kk contiguous
  static constexpr bool b_col = Op == ConvOp::forward;  // B: n rows, kk contiguous
  static constexpr int a_len = a_row ? kBK : BM;        // contiguous length of an A row
  static constexpr int b_len = b_col ? kBK : BN;
  static constexpr int a_ld = a_len + kPad, b_ld = b_len + kPad;
  static constexpr int a_groups = BM * kBK / 8 / kThreads, b_groups = BN * kBK / 8 / kThreads;  // per thread
  static constexpr int warps_m = BM == 128 && BN == 64 ? 4 : 2, warps_n = kThreads / 32 / warps_m;
  static constexpr int wm = BM / warps_m, wn = BN / warps_n, fm = wm / 16, fn = wn / 16;
  static_assert(a_groups >= 1 && b_groups >= 1 && kThreads % (a_len / 8) == 0 && kThreads % (b_len / 8) == 0);
  static_assert((a_row ? BM : kBK) * a_ld <= 128 * (kBK + kPad) && (b_col ? BN : kBK) * b_ld <= 128 * (kBK + kPad));
};
constexpr int kStageElems = 128 * (kBK + kPad);  // the largest operand tile (5,120 bf16)

union alignas(128) WmmaShared {
  __nv_bfloat16 tile[2][2][kStageElems];          // [stage][A, B]
  float stage[kThreads / 32][16 * kStageLd];      // epilogue, per warp
};

template <ConvOp Op, bool Vec, int BM, int BN>
__global__ void __launch_bounds__(kThreads) conv_wmma_kernel(Geom g, const __nv_bfloat16* a, const __nv_bfloat16* b,
                                                             Out o) {
  using namespace nvcuda;
  using L = WmmaLayout<Op, BM, BN>;
  using ALayout = std::conditional_t<L::a_row, wmma::row_major, wmma::col_major>;
  using BLayout = std::conditional_t<L::b_col, wmma::col_major, wmma::row_major>;
  __shared__ WmmaShared sm;
  const int tid = static_cast<int>(threadIdx.x), warp = tid / 32, lane = tid % 32;
  const int wm = (warp / L::warps_n) * L::wm, wn = (warp % L::warps_n) * L::wn;
  const int m0 = static_cast<int>(blockIdx.x) * BM, n0 = static_cast<int>(blockIdx.y) * BN;
  const int k_begin = static_cast<int>(blockIdx.z) * g.k_per_split;
  const int k_end = g.Kg - k_begin < g.k_per_split ? g.Kg : k_begin + g.k_per_split;
  const __nv_bfloat16 zero = __float2bfloat16_rn(0.0f);

  // Row / column decoding hoisted out of the K loop (conv2d_gemm.cuh); the element-wise loaders
  // of C % 8 != 0 use its decoded rows (forward) and columns (wgrad) too.
  VecGather<Op, L::a_groups, L::a_len, L::b_len> gather(g, m0, n0, tid);
  const int b_r = gather.b_r, b_s = gather.b_s, b_c = gather.b_c;

  Bf16x8 ra[L::a_groups], rb[L::b_groups];
  // Global -> registers: the two A groups and two B groups of this thread for the step at k0.
  auto fetch = [&](int k0) {
    CONV_UNROLL
    for (int i = 0; i < L::a_groups; ++i) {
      const int gi = tid + kThreads * i;
      const int row = gi / (L::a_len / 8), col = (gi % (L::a_len / 8)) * 8;
      const int m = m0 + (L::a_row ? row : col), kk = k0 + (L::a_row ? col : row);
      if constexpr (Vec) {
        const std::int64_t off = kk < k_end ? gather.a(g, i, m, kk) : -1;
        if (off >= 0) {
          copy16(&ra[i], a + off);
        } else {
          CONV_UNROLL
          for (auto& v : ra[i].v) v = zero;
        }
      } else if constexpr (Op == ConvOp::forward) {
        // x along (r,s,c) (C % 8 != 0, e.g. the stem's 3): decode kk once, then step c, s, r
        int c = 0, s = 0, r = 0;
        if (kk < k_end) {
          c = kk % g.C;
          const int rs = kk / g.C;
          s = rs % g.S;
          r = rs / g.S;
        }
        CONV_UNROLL
        for (int e = 0; e < 8; ++e) {
          __nv_bfloat16 v = zero;
          if (kk + e < k_end && gather.a_base[i] >= 0) {
            const int h = gather.a_h[i] + r, w = gather.a_w[i] + s;
            if (h >= 0 && h < g.H && w >= 0 && w < g.W) {
              v = a[((static_cast<std::int64_t>(gather.a_base[i]) + h) * g.W + w) * g.C + c];
            }
          }
          ra[i].v[e] = v;
          if (++c == g.C) {
            c = 0;
            if (++s == g.S) s = 0, ++r;
          }
        }
      } else if constexpr (Op == ConvOp::wgrad) {
        // dy row kk, 8 consecutive channels m..m+7 (K % 8 != 0)
        const std::int64_t off = kk < k_end ? a_offset<Op>(g, m, kk) : -1;
        CONV_UNROLL
        for (int e = 0; e < 8; ++e) ra[i].v[e] = off >= 0 && m + e < g.M ? a[off + e] : zero;
      } else {
        CONV_UNROLL
        for (int e = 0; e < 8; ++e) {
          const std::int64_t off = kk + e < k_end ? a_offset<Op>(g, m, kk + e) : -1;
          ra[i].v[e] = off >= 0 ? a[off] : zero;
        }
      }
    }
    CONV_UNROLL
    for (int i = 0; i < L::b_groups; ++i) {
      const int gi = tid + kThreads * i;
      const int row = gi / (L::b_len / 8), col = (gi % (L::b_len / 8)) * 8;
      const int n = n0 + (L::b_col ? row : col), kk = k0 + (L::b_col ? col : row);
      if constexpr (Vec) {
        const std::int64_t off = kk < k_end ? gather.b(g, kk, n) : -1;
        if (off >= 0) {
          copy16(&rb[i], b + off);
        } else {
          CONV_UNROLL
          for (auto& v : rb[i].v) v = zero;
        }
      } else if constexpr (Op == ConvOp::forward) {
        // w row n, 8 consecutive (r,s,c) columns
        const std::int64_t off = n < g.N ? static_cast<std::int64_t>(n) * g.Kg + kk : -1;
        CONV_UNROLL
        for (int e = 0; e < 8; ++e) rb[i].v[e] = off >= 0 && kk + e < k_end ? b[off + e] : zero;
      } else if constexpr (Op == ConvOp::dgrad) {
        // w[k][r][s][c..c+7] for the tap and channel of row kk
        const std::int64_t off = kk < k_end ? b_offset<Op>(g, kk, n) : -1;
        CONV_UNROLL
        for (int e = 0; e < 8; ++e) rb[i].v[e] = off >= 0 && n + e < g.N ? b[off + e] : zero;
      } else {
        // x of row kk = (image, p, q) at 8 consecutive (r,s,c): decode the row, step c, s, r
        int img = 0, p = 0, q = 0;
        if (kk < k_end) {
          q = kk % g.Q;
          const int t = kk / g.Q;
          p = t % g.P;
          img = t / g.P;
        }
        int c = b_c, s = b_s, r = b_r;
        CONV_UNROLL
        for (int e = 0; e < 8; ++e) {
          __nv_bfloat16 v = zero;
          if (kk < k_end && n + e < g.N) {
            const int h = p * g.sh - g.pt + r, w = q * g.sw - g.pl + s;
            if (h >= 0 && h < g.H && w >= 0 && w < g.W) {
              v = b[((static_cast<std::int64_t>(img) * g.H + h) * g.W + w) * g.C + c];
            }
          }
          rb[i].v[e] = v;
          if (++c == g.C) {
            c = 0;
            if (++s == g.S) s = 0, ++r;
          }
        }
      }
    }
  };
  // Registers -> shared stage s.
  auto put = [&](int s) {
    CONV_UNROLL
    for (int i = 0; i < L::a_groups; ++i) {
      const int gi = tid + kThreads * i;
      const int arow = gi / (L::a_len / 8), acol = (gi % (L::a_len / 8)) * 8;
      copy16(&sm.tile[s][0][arow * L::a_ld + acol], &ra[i]);
    }
    CONV_UNROLL
    for (int i = 0; i < L::b_groups; ++i) {
      const int gi = tid + kThreads * i;
      const int brow = gi / (L::b_len / 8), bcol = (gi % (L::b_len / 8)) * 8;
      copy16(&sm.tile[s][1][brow * L::b_ld + bcol], &rb[i]);
    }
  };

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[L::fm][L::fn];
  CONV_UNROLL
  for (auto& row : acc) {
    CONV_UNROLL
    for (auto& f : row) wmma::fill_fragment(f, 0.0f);
  }
  if (k_begin < k_end) {
    fetch(k_begin);
    put(0);
  }
  __syncthreads();
  int s = 0;
  for (int k0 = k_begin; k0 < k_end; k0 += kBK) {
    const bool more = k0 + kBK < k_end;
    if (more) fetch(k0 + kBK);
    const __nv_bfloat16* as = sm.tile[s][0];
    const __nv_bfloat16* bs = sm.tile[s][1];
    CONV_UNROLL
    for (int kk = 0; kk < kBK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, ALayout> fa[L::fm];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, BLayout> fb[L::fn];
      CONV_UNROLL
      for (int i = 0; i < L::fm; ++i) {
        const int mi = wm + 16 * i;
        wmma::load_matrix_sync(fa[i], as + (L::a_row ? mi * L::a_ld + kk : kk * L::a_ld + mi), L::a_ld);
      }
      CONV_UNROLL
      for (int j = 0; j < L::fn; ++j) {
        const int nj = wn + 16 * j;
        wmma::load_matrix_sync(fb[j], bs + (L::b_col ? nj * L::b_ld + kk : kk * L::b_ld + nj), L::b_ld);
      }
      CONV_UNROLL
      for (int i = 0; i < L::fm; ++i) {
        CONV_UNROLL
        for (int j = 0; j < L::fn; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
      }
    }
    if (more) put(s ^ 1);
    __syncthreads();
    s ^= 1;
  }
  // Epilogue (the tiles are dead: the loop ended with a barrier).
  float* st = sm.stage[warp];
  CONV_UNROLL
  for (int i = 0; i < L::fm; ++i) {
    CONV_UNROLL
    for (int j = 0; j < L::fn; ++j) {
      wmma::store_matrix_sync(st, acc[i][j], kStageLd, wmma::mem_row_major);
      __syncwarp();
      for (int e = lane; e < 256; e += 32) {
        const int r = e / 16, c = e % 16;
        store_out(o, g, m0 + wm + 16 * i + r, n0 + wn + 16 * j + c, st[r * kStageLd + c]);
      }
      __syncwarp();
    }
  }
}

__global__ void zero_kernel(float* out, std::int64_t count) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    out[i] = 0.0f;
  }
}

// The GEMM of op; for dgrad, that of stride phase (h0, w0) (see Geom).
Geom make_geom(const Conv2dShape& s, ConvOp op, int h0 = 0, int w0 = 0) {
  Geom g{};
  g.H = s.height;
  g.W = s.width;
  g.C = s.in_channels;
  g.K = s.out_channels;
  g.R = s.kernel_h;
  g.S = s.kernel_w;
  g.P = s.out_height();
  g.Q = s.out_width();
  g.sh = s.stride_h;
  g.sw = s.stride_w;
  g.pt = s.pad_top;
  g.pl = s.pad_left;
  const auto n = static_cast<int>(s.batch);  // N*P*Q and N*H*W < 2^31 (checked), so N fits too
  auto count = [](int from, int size, int step) { return from < size ? (size - from + step - 1) / step : 0; };
  switch (op) {
    case ConvOp::forward:
      g.M = n * g.P * g.Q;
      g.N = g.K;
      g.Kg = g.R * g.S * g.C;
      break;
    case ConvOp::dgrad:
      g.h0 = h0;
      g.w0 = w0;
      g.Hp = count(h0, g.H, g.sh);
      g.Wp = count(w0, g.W, g.sw);
      g.r0 = (h0 + g.pt) % g.sh;
      g.s0 = (w0 + g.pl) % g.sw;
      g.Rp = count(g.r0, g.R, g.sh);
      g.Sp = count(g.s0, g.S, g.sw);
      g.bp = (h0 + g.pt - g.r0) / g.sh;
      g.bq = (w0 + g.pl - g.s0) / g.sw;
      g.M = n * g.Hp * g.Wp;
      g.N = g.C;
      g.Kg = g.Rp * g.Sp * g.K;
      break;
    case ConvOp::wgrad:
      g.M = g.K;
      g.N = g.R * g.S * g.C;
      g.Kg = n * g.P * g.Q;
      break;
  }
  return g;
}

// Output tile of a GEMM: 64 x 64 (simt); 128 x 128, or 128 x 64 / 64 x 128 for a narrow output
// (64 channels) with wmma.
struct TileShape {
  int bm, bn;
  bool fewer_splits = false;  // choose_splits rounds the automatic split count down (version 2's rule)
};
TileShape tile_shape(const Geom& g, bool wmma) {
  if (!wmma) return {kSimtTile, kSimtTile};
  return {g.N > 64 && g.M <= 64 ? 64 : 128, g.N <= 64 ? 64 : 128};
}

// K_gemm slices of g: asked for (split_k > 0), or automatic when the output has few tiles and
// K_gemm is long (wgrad); never for a bf16 output. Sets g.k_per_split; returns the slice count.
// The automatic count is ceil(264 / tiles) (t.fewer_splits: rounded down, so tiles x slices stays
// within 264 blocks); version 2's rule picks, per tile, whichever of the two predicts less time.
std::int64_t choose_splits(Geom& g, const TileShape& t, int split_k, bool bf16_out) {
  const std::int64_t k_steps = (static_cast<std::int64_t>(g.Kg) + kBK - 1) / kBK;
  if (k_steps == 0) {  // a dgrad phase no tap reaches: the kernel writes zeros
    g.k_per_split = kBK;
    return 1;
  }
  std::int64_t splits = split_k;
  if (splits == 0) {
    splits = 1;
    const std::int64_t tiles = (static_cast<std::int64_t>(g.M) + t.bm - 1) / t.bm *
                               ((static_cast<std::int64_t>(g.N) + t.bn - 1) / t.bn),
                       target = 2 * 132;
    if (!bf16_out && tiles < target && k_steps >= 32) {
      splits = t.fewer_splits ? target / tiles : (target + tiles - 1) / tiles;
      if (splits > k_steps / 16) splits = k_steps / 16;  // at least 16 steps of 32 per slice
    }
  }
  if (splits > kMaxSplits) splits = kMaxSplits;
  if (splits > k_steps) splits = k_steps;
  if (splits < 1) splits = 1;
  g.k_per_split = static_cast<int>((k_steps + splits - 1) / splits * kBK);
  return (static_cast<std::int64_t>(g.Kg) + g.k_per_split - 1) / g.k_per_split;
}

// Version 2's tiles, and the tile of a GEMM: the forced one, or (automatic) the one of least
// predicted time on an H100's 132 SMs. A tile's time is predicted as the tiles on the busiest SM,
// ceil(blocks / 132) with blocks = tiles * split-K slices (choose_splits for that tile), times one
// tile's FLOPs per slice over the SM's bound for the tile (mma_tile_flops_per_clk, conv2d_mma.cuh):
// large tiles where the layer has many tiles, version 1's smaller ones where a large tile would
// leave SMs idle (the 7 x 7 and 14 x 14 layers at small batch). Ties keep the earlier entry.
struct MmaTile {
  ConvTile id;
  TileShape t;
  double flops_per_clk;
};
constexpr MmaTile kMmaTiles[] = {
    {ConvTile::m128n128, {128, 128}, mma_tile_flops_per_clk<128, 128>()},
    {ConvTile::m128n64, {128, 64}, mma_tile_flops_per_clk<128, 64>()},
    {ConvTile::m64n128, {64, 128}, mma_tile_flops_per_clk<64, 128>()},
    {ConvTile::m256n128, {256, 128}, mma_tile_flops_per_clk<256, 128>()},
    {ConvTile::m128n256, {128, 256}, mma_tile_flops_per_clk<128, 256>()},
    {ConvTile::m512n64, {512, 64}, mma_tile_flops_per_clk<512, 64>()},
};
constexpr int kSms = 132;

TileShape mma_tile_shape(const Geom& g, ConvTile forced, int split_k, bool bf16_out) {
  if (forced == ConvTile::narrow) return tile_shape(g, true);
  TileShape best = kMmaTiles[0].t;
  double best_time = -1.0;
  for (const MmaTile& c : kMmaTiles) {
    if (forced != ConvTile::automatic) {
      if (c.id == forced) return c.t;
      continue;
    }
    for (const bool fewer : {false, true}) {  // the split count rounded up, then down
      TileShape t = c.t;
      t.fewer_splits = fewer;
      Geom gc = g;
      const std::int64_t splits = choose_splits(gc, t, split_k, bf16_out);
      const std::int64_t tiles = (static_cast<std::int64_t>(g.M) + t.bm - 1) / t.bm *
                                 ((static_cast<std::int64_t>(g.N) + t.bn - 1) / t.bn);
      const std::int64_t waves = (tiles * splits + kSms - 1) / kSms;
      const double steps = g.Kg > 0 ? static_cast<double>(gc.k_per_split / kBK) : 1.0;
      const double time = static_cast<double>(waves) * 2.0 * t.bm * t.bn * kBK * steps / c.flops_per_clk;
      if (best_time < 0 || time < best_time) best = t, best_time = time;
    }
  }
  return best;
}

// Launches a tensor-core conv kernel that takes `shared` bytes of dynamic shared memory (above
// the 48 KiB default: the limit is raised first) with blocks of kThreads.
template <typename Kernel, typename... Args>
void launch_with_shared(Kernel kernel, dim3 grid, std::size_t shared, void* stream, const char* name,
                        const Args&... args) {
#if !defined(DEEPER_EMU)
  DEEPER_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared)));
#endif
  launch(kernel, grid, dim3(kThreads), shared, stream, name, args...);
}

// Version 3's tile (conv2d_wgmma.cuh): 64 x 128 for a GEMM at most 64 tall and wider than 64 (the
// wgrad of a 64-channel layer: a 128-row tile would multiply as many padding rows as real ones),
// else 128 x 64 for one at most 64 wide, else 128 x 128.
TileShape wgmma_tile_shape(const Geom& g) {
  if (g.M <= 64 && g.N > 64) return {64, 128};
  return {128, g.N <= 64 ? 64 : 128};
}

// Launches version 3 of the bf16 kernel on grid (from wgmma_tile_shape's tile t).
// stats: the forward's statistics epilogue (Conv2dParams::stat_partials), or null.
void launch_wgmma(ConvOp op, const Geom& g, const TileShape& t, dim3 grid, const Out& o, const __nv_bfloat16* a16,
                  const __nv_bfloat16* b16, double* stats, const char* name, void* stream) {
  auto go = [&](auto kernel, std::size_t shared) {
    launch_with_shared(kernel, grid, shared, stream, name, g, a16, b16, o, stats);
  };
  auto tile = [&](auto op_tag, auto bm, auto bn) {
    constexpr ConvOp kOp = decltype(op_tag)::value;
    constexpr int kBm = decltype(bm)::value, kBn = decltype(bn)::value;
    if constexpr (kOp == ConvOp::forward) {
      if (stats != nullptr) return go(conv_wgmma_kernel<kOp, kBm, kBn, true>, WgmmaLayout<kOp, kBm, kBn>::shared_bytes);
    }
    go(conv_wgmma_kernel<kOp, kBm, kBn>, WgmmaLayout<kOp, kBm, kBn>::shared_bytes);
  };
  auto tiles = [&](auto op_tag) {
    using I = std::integral_constant<int, 64>;
    using II = std::integral_constant<int, 128>;
    if (t.bm == 64) return tile(op_tag, I{}, II{});
    if (t.bn == 64) return tile(op_tag, II{}, I{});
    tile(op_tag, II{}, II{});
  };
  switch (op) {
    case ConvOp::forward:
      return tiles(std::integral_constant<ConvOp, ConvOp::forward>{});
    case ConvOp::dgrad:
      return tiles(std::integral_constant<ConvOp, ConvOp::dgrad>{});
    case ConvOp::wgrad:
      return tiles(std::integral_constant<ConvOp, ConvOp::wgrad>{});
  }
}

// Launches the GEMM g (its k_per_split set) with `splits` slices into o.
void launch_gemm(const Conv2dParams& p, ConvOp op, const Geom& g, const TileShape& t, std::int64_t splits,
                 const Out& o, const char* name, void* stream) {
  const bool wmma = p.math == ConvMath::wmma_bf16;
  const std::int64_t grid_m = (static_cast<std::int64_t>(g.M) + t.bm - 1) / t.bm;
  const std::int64_t grid_n = (static_cast<std::int64_t>(g.N) + t.bn - 1) / t.bn;
  // grid_n <= 65535: check_conv2d_params bounds N_gemm by 65535 * 64
  const dim3 grid(static_cast<unsigned>(grid_m), static_cast<unsigned>(grid_n), static_cast<unsigned>(splits));
  const dim3 block(kThreads);
  auto go = [&](auto kernel, const auto* a, const auto* b) { launch(kernel, grid, block, 0, stream, name, g, a, b, o); };
  const __nv_bfloat16 *a16 = nullptr, *b16 = nullptr;
  const float *a32 = nullptr, *b32 = nullptr;
  switch (op) {
    case ConvOp::forward:
      a16 = p.x_bf16, b16 = p.w_bf16, a32 = p.x, b32 = p.w;
      break;
    case ConvOp::dgrad:
      a16 = p.dy_bf16, b16 = p.w_bf16, a32 = p.dy, b32 = p.w;
      break;
    case ConvOp::wgrad:
      a16 = p.dy_bf16, b16 = p.x_bf16, a32 = p.dy, b32 = p.x;
      break;
  }
  if (!wmma) {
    switch (op) {
      case ConvOp::forward:
        return go(conv_simt_kernel<ConvOp::forward>, a32, b32);
      case ConvOp::dgrad:
        return go(conv_simt_kernel<ConvOp::dgrad>, a32, b32);
      case ConvOp::wgrad:
        return go(conv_simt_kernel<ConvOp::wgrad>, a32, b32);
    }
  }
  const bool vec = conv2d_vector_operands(g.C, g.K, a16, b16);
  // The statistics epilogue (forward with stat_partials; check_conv2d_params admits it on versions
  // 2 and 3 only).
  double* stats = op == ConvOp::forward ? p.stat_partials : nullptr;
  // Version 2 (conv2d_mma.cuh) for the 16-byte case unless version 1 is asked for.
  if (vec && p.bf16_kernel == 3) return launch_wgmma(op, g, t, grid, o, a16, b16, stats, name, stream);
  const bool v2 = vec && p.bf16_kernel != 1;
  auto mma = [&](auto kernel, std::size_t shared) {
    launch_with_shared(kernel, grid, shared, stream, name, g, a16, b16, o, stats);
  };
  auto tiles = [&](auto op_tag, auto vec_tag) {
    constexpr ConvOp kOp = decltype(op_tag)::value;
    constexpr bool kVec = decltype(vec_tag)::value;
    if constexpr (kVec) {
      if (v2) {
        auto tile = [&](auto bm, auto bn) {
          constexpr int kBm = decltype(bm)::value, kBn = decltype(bn)::value;
          if constexpr (kOp == ConvOp::forward) {
            if (stats != nullptr) {
              return mma(conv_mma_kernel<kOp, kBm, kBn, true>, MmaLayout<kOp, kBm, kBn>::shared_bytes);
            }
          }
          return mma(conv_mma_kernel<kOp, kBm, kBn>, MmaLayout<kOp, kBm, kBn>::shared_bytes);
        };
        using I = std::integral_constant<int, 64>;
        using II = std::integral_constant<int, 128>;
        using IV = std::integral_constant<int, 256>;
        if (t.bm == 512) return tile(std::integral_constant<int, 512>{}, I{});
        if (t.bm == 256) return tile(IV{}, II{});
        if (t.bn == 256) return tile(II{}, IV{});
        if (t.bn == 64) return tile(II{}, I{});
        if (t.bm == 64) return tile(I{}, II{});
        return tile(II{}, II{});
      }
    }
    if (t.bn == 64) return go(conv_wmma_kernel<kOp, kVec, 128, 64>, a16, b16);
    if (t.bm == 64) return go(conv_wmma_kernel<kOp, kVec, 64, 128>, a16, b16);
    go(conv_wmma_kernel<kOp, kVec, 128, 128>, a16, b16);
  };
  auto vecs = [&](auto op_tag) {
    if (vec) return tiles(op_tag, std::true_type{});
    tiles(op_tag, std::false_type{});
  };
  switch (op) {
    case ConvOp::forward:
      return vecs(std::integral_constant<ConvOp, ConvOp::forward>{});
    case ConvOp::dgrad:
      return vecs(std::integral_constant<ConvOp, ConvOp::dgrad>{});
    case ConvOp::wgrad:
      return vecs(std::integral_constant<ConvOp, ConvOp::wgrad>{});
  }
}

void run(const Conv2dParams& p, ConvOp op, const char* name, void* stream) {
  check_conv2d_params(p, op);
  const bool wmma = p.math == ConvMath::wmma_bf16;
  Out o{};
  o.accumulate = p.accumulate;
  switch (op) {
    case ConvOp::forward:
      o.f32 = p.y;
      o.bf16 = p.y_bf16;
      break;
    case ConvOp::dgrad:
      o.f32 = p.dx;
      o.bf16 = p.dx_bf16;
      o.phased = true;
      break;
    case ConvOp::wgrad:
      o.f32 = p.dw;
      break;
  }
  // One GEMM (forward, wgrad), or one per stride phase of dgrad: the phases' pixels partition dx.
  struct Gemm {
    Geom g;
    TileShape t;
    std::int64_t splits;
  };
  // Whether version 2 runs (as launch_gemm decides), for its own choice of tiles.
  const bool v3 = wmma && p.bf16_kernel == 3;  // vector operands: checked by check_conv2d_params
  const bool v2 = wmma && p.bf16_kernel != 1 && !v3 && conv2d_vector_operands(p, op);
  const int phases_h = op == ConvOp::dgrad ? p.shape.stride_h : 1, phases_w = op == ConvOp::dgrad ? p.shape.stride_w : 1;
  std::vector<Gemm> gemms;
  bool any_split = false;
  for (int h0 = 0; h0 < phases_h; ++h0) {
    for (int w0 = 0; w0 < phases_w; ++w0) {
      Gemm e{make_geom(p.shape, op, h0, w0), {}, 0};
      if (e.g.M == 0) continue;  // a phase with no pixel (H or W below the stride)
      e.t = v3   ? wgmma_tile_shape(e.g)
            : v2 ? mma_tile_shape(e.g, p.mma_tile, p.split_k, o.bf16 != nullptr) : tile_shape(e.g, wmma);
      e.splits = choose_splits(e.g, e.t, p.split_k, o.bf16 != nullptr);
      any_split = any_split || e.splits > 1;
      gemms.push_back(e);
    }
  }
  // stat_partials: check_conv2d_params admitted it on versions 2 and 3 with split_k = 1 only, so the
  // forward GEMM runs unsplit and launch_gemm writes one partial pair per row tile.
  // Split slices atomicAdd into the fp32 output: zero all of it first unless accumulating.
  if (any_split && !o.accumulate) {
    const std::int64_t count = op == ConvOp::forward  ? p.shape.y_elements()
                               : op == ConvOp::dgrad ? p.shape.x_elements()
                                                     : p.shape.w_elements();
    launch(zero_kernel, dim3(grid_blocks(count, 256)), dim3(256), 0, stream, "conv2d_zero", o.f32, count);
  }
  for (const Gemm& e : gemms) {
    Out oe = o;
    oe.atomic = e.splits > 1;
    if (any_split) oe.accumulate = true;  // zeroed above: the unsplit phases add to zeros too
    launch_gemm(p, op, e.g, e.t, e.splits, oe, name, stream);
  }
}

}  // namespace

int conv2d_stat_row_tiles(const Conv2dParams& p) {
  // The dispatcher admits versions 2 and 3 only (vector operands, bf16_kernel 0, 2 or 3, split_k =
  // 1), so the tile is run()'s choice for that version on the forward GEMM.
  const Geom g = make_geom(p.shape, ConvOp::forward);
  const TileShape t =
      p.bf16_kernel == 3 ? wgmma_tile_shape(g) : mma_tile_shape(g, p.mma_tile, p.split_k, p.y_bf16 != nullptr);
  return static_cast<int>((static_cast<std::int64_t>(g.M) + t.bm - 1) / t.bm);
}

void conv2d_forward(const Conv2dParams& p, void* stream) {
  run(p, ConvOp::forward, p.math == ConvMath::wmma_bf16 ? "conv2d_forward_wmma_bf16" : "conv2d_forward_simt_f32",
      stream);
}
void conv2d_dgrad(const Conv2dParams& p, void* stream) {
  run(p, ConvOp::dgrad, p.math == ConvMath::wmma_bf16 ? "conv2d_dgrad_wmma_bf16" : "conv2d_dgrad_simt_f32", stream);
}
void conv2d_wgrad(const Conv2dParams& p, void* stream) {
  run(p, ConvOp::wgrad, p.math == ConvMath::wmma_bf16 ? "conv2d_wgrad_wmma_bf16" : "conv2d_wgrad_simt_f32", stream);
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
