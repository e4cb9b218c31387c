// conv_wgmma_kernel: version 3 of the bf16 tensor-core conv (forward, dgrad, wgrad), sm_90a's
// warpgroup MMA (wgmma.mma_async) for the 16-byte case (C % 8 == 0, K % 8 == 0, 16-byte aligned
// operands). Included by conv2d.cu only; the GEMM view (Geom, VecGather, store_pair) is that of
// conv2d_gemm.cuh and conv2d_mma.cuh; the wgmma wrappers and layouts: kernels/common/wgmma.cuh.
//
// Computes out = A * B (+ out with accumulate; atomicAdd per split-K slice) on a BM x BN output
// tile per block of 256 threads = 2 warpgroups: BM = 128 (BN = 64 or 128), each warpgroup owning
// 64 x BN; or BM = 64, BN = 128 (the GEMMs only 64 rows tall: wgrad of the 64-channel layers),
// each warpgroup owning 64 x 64, so that no MMA is spent on rows past M:
//   - global -> shared with cp.async, 16 bytes per thread per chunk (zero fill for structural zeros),
//     K steps of kStepK = 64 in kStages stages, the copies of step t + kPrefetch issued at step t
//     (kPrefetch = kStages - 2: 4 stages and 2 ahead on 27 KiB stages, 3 and 1 ahead on 36 KiB);
//   - shared memory in wgmma's interleaved layout: 8 x 8 core matrices of 128 bytes, placed 144
//     bytes apart within a row of them, so that the 8 chunks a quarter-warp writes (8 consecutive
//     chunks of one tile row) fall in 8 distinct 16-byte bank groups: no bank conflicts for
//     cp.async, as version 2's 8-element row padding. The operands stored [mn][kk] (forward's A and
//     B, dgrad's A) are K-major (LBO 144, SBO 8 x 144), those stored [kk][mn] (wgrad's A, the B of
//     dgrad and wgrad) MN-major (the wgmma transpose flag; LBO = BM/8 or BN/8 x 144, SBO 144);
//   - per step and warpgroup: 4 wgmma m64nBNk16 from the descriptors, one commit, then
//     wgmma_wait<1>: one group stays in flight, so the tensor cores run step t's group while the
//     threads pass the next barrier and issue the next copies. Stage hazard: after step t's barrier
//     every thread has waited for its step t - 2 group, but step t - 1's may still read its stage;
//     the copies issued then go to step t + kPrefetch's stage = step t - 2's (mod kStages), never
//     t - 1's or t's. wgmma_wait<0> drains before the epilogue;
//   - epilogue from registers (wgmma's accumulator fragment is mma.sync's m16n8 C fragment per warp,
//     so version 2's store_pair writes it).
// Shared memory per stage: (BM + BN) / 8 x 8 x 144 bytes = 36 KiB (128 x 128), 27 KiB (128 x 64, 64
// x 128). The stage count, predicted (counted, not measured) for an H100 (228 KiB of shared memory
// per SM, 227 per block, 1 reserved per block; 132 SMs, ~1.75 GHz under load; bf16 dense peak
// ~4,096 FLOP/clk/SM): a 128 x 128 x 64 step is 2.1 MFLOP = 512 clk of an SM's peak, ~1,000 clk per
// block with two blocks per SM sharing the tensor cores; a 128 x 64 step half that. Copies issued
// kPrefetch steps ahead have kPrefetch block steps to land: with 3 stages at 128 x 128 (108 KiB,
// two blocks) 1 step, ~1,000 clk; 4 stages there (144 KiB) would leave one block per SM and cover
// the same ~1,000 clk in 2 steps of a lone block, with no second block to fill its barriers and
// epilogue. At 128 x 64 and 64 x 128, 4 stages (108 KiB) still leave two blocks and cover 2 steps,
// ~1,000 clk (3 stages, 81 KiB: ~500 clk, under an L2 miss). Little's law agrees: at peak a 128 x
// 128 block consumes 32 KiB of operands per 512 SM clk (64 B/clk/SM; 128 x 64: 24 KiB per 256, 96
// B/clk), so ~1,000 clk of latency needs 64 KiB (96 KiB) in flight per SM: 2 blocks x 1 stage x 32
// KiB (2 x 2 x 24 KiB). Bytes per FLOP do not depend on the pipeline (the tile sets them): 64 FLOP
// per global byte at 128 x 128, 43 at 128 x 64.
// Cost per 128 x 128 x 64 step: 2.1 MFLOP; shared-memory traffic: 32 KiB written by cp.async, and
// wgmma reads A (8 KiB per warpgroup) and B (16 KiB, read by both warpgroups): 80 KiB, 26 FLOP per
// byte (version 2: 16); shared memory at 128 B/clk/SM (~3,300 FLOP/clk at 26 FLOP/B) lets the
// kernel reach ~80% of peak before it binds. Predicted, not measured: with one group in flight the
// tensor cores idle only when a block's barrier and copy issue outlast the other block's work and
// its own group in flight; 550-700 TF/s on the 3 x 3 convs (with a wait for all per step: 500-650).
// ptxas -v (sm_90a, CUDA 13.0; the 9 instantiations): 88-127 registers, no spills, no wgmma
// serialisation warning; __launch_bounds__(256, 2) and 108 KiB each: two blocks per SM. The 3
// forward instantiations with the BN statistics epilogue (Stats): 121 / 93 / 89 registers (128 x
// 128, 128 x 64, 64 x 128; the plain forward 123 / 93 / 88), no spills, two blocks per SM.
//
// Needs sm_90a (DEEPER_CUDA_SM90A); under the emulator it runs everywhere (kernels/emu/wgmma.h).
#pragma once

#include "kernels/common/kernel_prelude.cuh"
#include "kernels/common/mma_sync.cuh"
#include "kernels/common/wgmma.cuh"
#include "kernels/nn/conv2d_gemm.cuh"
#include "kernels/nn/conv2d_mma.cuh"

#include <cuda_bf16.h>

#include <cstdint>

namespace deeper::kernels::DEEPER_KERNEL_NS {
namespace {

template <ConvOp Op, int BM, int BN>
struct WgmmaLayout {
  static constexpr int kBM = BM, kStepK = 64;
  static constexpr bool split_m = BM == 128;        // warpgroups own 64-row halves (else 64-column halves)
  static constexpr int wg_n = split_m ? BN : BN / 2;  // the wgmma's N
  static constexpr int kCoreGap = 144;                     // bytes between core matrices in a row of them
  static constexpr bool a_k_major = Op != ConvOp::wgrad;   // A stored [m][kk] (else [kk][m])
  static constexpr bool b_k_major = Op == ConvOp::forward;  // B stored [n][kk] (else [kk][n])
  static constexpr int a_len = a_k_major ? kStepK : kBM;   // contiguous length of an A tile row
  static constexpr int b_len = b_k_major ? kStepK : BN;
  // Bytes of one 8-row group of a tile whose rows are `len` elements long.
  static constexpr int group_bytes(int len) { return len / 8 * kCoreGap; }
  static constexpr int a_bytes = (a_k_major ? kBM : kStepK) / 8 * group_bytes(a_len);
  static constexpr int b_bytes = (b_k_major ? BN : kStepK) / 8 * group_bytes(b_len);
  static constexpr int stage_bytes = a_bytes + b_bytes;
  // Stages: 4 where 4 still leave two blocks per SM (27 KiB stages: 108 KiB), else 3 (36 KiB: 108
  // KiB); the copies run kPrefetch = kStages - 2 steps ahead, so that with step t - 1's wgmmas still
  // pending while step t's are issued, the stage being refilled is step t - 2's (see the header).
  static constexpr int kStages = 4 * stage_bytes <= 113 * 1024 ? 4 : 3;
  static constexpr int kPrefetch = kStages - 2;
  static constexpr std::size_t shared_bytes = std::size_t{kStages} * stage_bytes;
  static constexpr int a_chunks = kBM * kStepK / 8 / kThreads, b_chunks = BN * kStepK / 8 / kThreads;
  // Descriptor strides: LBO along K, SBO along M / N (wgmma.cuh).
  static constexpr std::uint32_t a_lbo = a_k_major ? kCoreGap : group_bytes(a_len);
  static constexpr std::uint32_t a_sbo = a_k_major ? group_bytes(a_len) : kCoreGap;
  static constexpr std::uint32_t b_lbo = b_k_major ? kCoreGap : group_bytes(b_len);
  static constexpr std::uint32_t b_sbo = b_k_major ? group_bytes(b_len) : kCoreGap;
  static_assert(a_chunks >= 1 && b_chunks >= 1 && ((BM == 128 && (BN == 64 || BN == 128)) || (BM == 64 && BN == 128)));
  static_assert(kThreads == 256 && kThreads % (a_len / 8) == 0 && kThreads % (b_len / 8) == 0);
  static_assert(shared_bytes <= 113 * 1024, "two blocks per SM");
  static_assert(kPrefetch >= 1 && kPrefetch + 2 <= kStages, "a stage refilled at step t is neither t - 1's nor t's");

  // Byte offset of the 8-element chunk (row, col) of a tile with rows of `len` elements.
  __device__ static int chunk_offset(int len, int row, int col) {
    return row / 8 * group_bytes(len) + col / 8 * kCoreGap + row % 8 * 16;
  }
};

// Stats (forward only): the BN statistics epilogue, as version 2's (conv2d.h, "BN statistics in the
// epilogue"): per thread fp64 Σ, Σ² of its stored values per column, a butterfly over the 8 lanes of
// a column, then the block's 16-row slices (8 with split_m, else 4 per warpgroup's 64 columns) in
// order through red[slice][BN][2] in the drained pipeline memory (at most 16 KiB), one store per
// (row tile, column) into stats.
template <ConvOp Op, int BM, int BN, bool Stats = false>
__global__ void __launch_bounds__(kThreads, 2) conv_wgmma_kernel(Geom g, const __nv_bfloat16* a,
                                                                  const __nv_bfloat16* b, Out o, double* stats) {
  using L = WgmmaLayout<Op, BM, BN>;
  constexpr int WN = L::wg_n;
  constexpr int kSlices = L::split_m ? 8 : 4;  // 16-row slices of the block tile
  static_assert(!Stats || Op == ConvOp::forward, "the statistics epilogue is the forward op's");
  static_assert(!Stats || std::size_t{kSlices} * BN * 2 * sizeof(double) <= L::shared_bytes);
  DEEPER_DYNAMIC_SHARED(unsigned char, smem);
  const int tid = static_cast<int>(threadIdx.x), wg = tid / 128, warp = tid / 32 % 4, lane = tid % 32;
  const int m0 = static_cast<int>(blockIdx.x) * L::kBM, n0 = static_cast<int>(blockIdx.y) * BN;
  const int k_begin = static_cast<int>(blockIdx.z) * g.k_per_split;
  const int k_end = g.Kg - k_begin < g.k_per_split ? g.Kg : k_begin + g.k_per_split;
  const int steps = k_end > k_begin ? (k_end - k_begin + L::kStepK - 1) / L::kStepK : 0;

  VecGather<Op, L::a_chunks, L::a_len, L::b_len> gather(g, m0, n0, tid);
  // Issue the cp.async copies of the step at k0 into stage `slot`.
  auto load_stage = [&](int slot, int k0) {
    unsigned char* as = smem + slot * L::stage_bytes;
    unsigned char* bs = as + L::a_bytes;
    CONV_UNROLL
    for (int i = 0; i < L::a_chunks; ++i) {
      const int gi = tid + kThreads * i;
      const int row = gi / (L::a_len / 8), col = (gi % (L::a_len / 8)) * 8;
      const int m = m0 + (L::a_k_major ? row : col), kk = k0 + (L::a_k_major ? col : row);
      const std::int64_t off = kk < k_end ? gather.a(g, i, m, kk) : -1;
      cp_async_16(as + L::chunk_offset(L::a_len, row, col), off >= 0 ? a + off : a, off >= 0 ? 16 : 0);
    }
    CONV_UNROLL
    for (int i = 0; i < L::b_chunks; ++i) {
      const int gi = tid + kThreads * i;
      const int row = gi / (L::b_len / 8), col = (gi % (L::b_len / 8)) * 8;
      const int n = n0 + (L::b_k_major ? row : col), kk = k0 + (L::b_k_major ? col : row);
      const std::int64_t off = kk < k_end ? gather.b(g, kk, n) : -1;
      cp_async_16(bs + L::chunk_offset(L::b_len, row, col), off >= 0 ? b + off : b, off >= 0 ? 16 : 0);
    }
  };

  float acc[WN / 2];
  CONV_UNROLL
  for (int i = 0; i < WN / 2; ++i) acc[i] = 0.0f;

  // Prologue: the copies of steps 0 .. kPrefetch - 1 in flight (a group per step, empty past the
  // end, so that "at most kPrefetch - 1 groups pending" always means "step t's stage has landed").
  CONV_UNROLL
  for (int st = 0; st < L::kPrefetch; ++st) {
    if (st < steps) load_stage(st, k_begin + st * L::kStepK);
    cp_async_commit();
  }
  // This warpgroup's 64 rows of A (split_m) or 64 columns of B: 8 row groups further on (K-major)
  // or 8 core matrices (MN-major).
  const int a_wg = L::split_m ? wg * (L::a_k_major ? 64 / 8 * L::group_bytes(L::a_len) : 64 / 8 * L::kCoreGap) : 0;
  const int b_wg = L::split_m ? 0 : wg * (L::b_k_major ? 64 / 8 * L::group_bytes(L::b_len) : 64 / 8 * L::kCoreGap);
  // Mainloop with one wgmma group in flight: step t's group is issued while step t - 1's may still
  // run, and waited for at the end of step t + 1.
  for (int t = 0; t < steps; ++t) {
    cp_async_wait<L::kPrefetch - 1>();
    fence_proxy_async_shared();  // this thread's landed copies, before the wgmmas of any thread read them
    // After this barrier: step t's stage is complete, and every thread has waited for its wgmmas
    // of step t - 2 (the wgmma_wait<1> that ended step t - 1), so step t - 2's stage, (t +
    // kPrefetch) % kStages, may be refilled. Step t - 1's group may still be reading its stage.
    __syncthreads();
    const int next = t + L::kPrefetch;
    if (next < steps) load_stage(next % L::kStages, k_begin + next * L::kStepK);
    cp_async_commit();
    const unsigned char* as = smem + (t % L::kStages) * L::stage_bytes;
    const unsigned char* bs = as + L::a_bytes;
    wgmma_fence();  // the PTX ISA's fence before the first wgmma after the accumulators' last access
    CONV_UNROLL
    for (int i = 0; i < WN / 2; ++i) wgmma_fence_operand(acc[i]);
    CONV_UNROLL
    for (int s = 0; s < L::kStepK / 16; ++s) {
      // k16 slice s: two core matrices along K per slice.
      const std::uint64_t da = make_wgmma_desc(as + a_wg + 2 * s * L::a_lbo, L::a_lbo, L::a_sbo);
      const std::uint64_t db = make_wgmma_desc(bs + b_wg + 2 * s * L::b_lbo, L::b_lbo, L::b_sbo);
      wgmma_m64nNk16_bf16<WN, L::a_k_major ? 0 : 1, L::b_k_major ? 0 : 1>(acc, da, db, 1);
    }
    wgmma_commit();
    wgmma_wait<1>();  // step t - 1's group has finished; step t's may still run
    CONV_UNROLL
    for (int i = 0; i < WN / 2; ++i) wgmma_fence_operand(acc[i]);
  }
  wgmma_wait<0>();  // drain: the last step's group, before the epilogue reads the accumulators
  CONV_UNROLL
  for (int i = 0; i < WN / 2; ++i) wgmma_fence_operand(acc[i]);
  cp_async_wait<0>();  // only empty groups can be pending here; leave none behind

  // Epilogue: acc[4 j + 2 h + e] is (row 16 warp + lane / 4 + 8 h, column 8 j + 2 (lane % 4) + e) of
  // the warpgroup's 64 x WN tile.
  const int er = m0 + (L::split_m ? 64 * wg : 0) + 16 * warp + lane / 4;
  const int ec = n0 + (L::split_m ? 0 : 64 * wg) + 2 * (lane % 4);
  if constexpr (!Stats) {
    CONV_UNROLL
    for (int j = 0; j < WN / 8; ++j) {
      store_pair(o, g, er, ec + 8 * j, acc[4 * j], acc[4 * j + 1]);
      store_pair(o, g, er + 8, ec + 8 * j, acc[4 * j + 2], acc[4 * j + 3]);
    }
  } else {
    __syncthreads();  // every warpgroup's wgmmas and copies are done: the stages become red
    double* red = reinterpret_cast<double*>(smem);
    const int slice = L::split_m ? 4 * wg + warp : warp;
    CONV_UNROLL
    for (int j = 0; j < WN / 8; ++j) {
      store_pair(o, g, er, ec + 8 * j, acc[4 * j], acc[4 * j + 1]);
      store_pair(o, g, er + 8, ec + 8 * j, acc[4 * j + 2], acc[4 * j + 3]);
      double sum[2][2] = {{0.0, 0.0}, {0.0, 0.0}};  // [column, column + 1][Σ, Σ²]
      stat_add(sum, acc[4 * j], acc[4 * j + 1], er < g.M);  // rows past M are not stored, so not counted
      stat_add(sum, acc[4 * j + 2], acc[4 * j + 3], er + 8 < g.M);
      stat_warp_sum(sum);
      if (lane < 4) stat_stage(red, slice, BN, ec - n0 + 8 * j, sum);
    }
    __syncthreads();
    // split_m: 8 slices of 16 rows, each over all BN columns; else the 4 slices of 16 rows of the
    // column's warpgroup (the warpgroups' columns are disjoint, so they share the slice rows).
    stat_store_tile(red, kSlices, BN, n0, tid, g, blockIdx.x, stats);
  }
}

}  // namespace
}  // namespace deeper::kernels::DEEPER_KERNEL_NS
