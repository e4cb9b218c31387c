// allpairs_mi kernels (definition in kernels/gcmi/allpairs.h). Built by nvcc (cuda_impl) and for
// the emulator (emu_impl); checked against the cpu reference in allpairs_cpu.cpp.
//
// Tiling: a block owns a 64 × 64 tile of (unit, feature) pairs; grid.x = unit tiles, grid.y =
// feature tiles × permutation chunks. 256 threads; thread (ty, tx) = (tid / 16, tid % 16) owns the
// pairs (ty + 16i, tx + 16j), i, j < 4, in the epilogue. Launches:
//   1. allpairs_init_kernel   (P > 0) zeroes exceed, max_r2_pf, max_r2_p;
//   2. observed pass          mi and r2 for every pair;
//   3. permuted pass          (P > 0) each block loops over its chunk of permutations: the GEMM
//                             with the B tile gathered through π_p, then the epilogue compares
//                             with r2 (kept in registers), counts exceedances in registers (one
//                             atomicAdd per pair per block), and reduces the per-feature maximum
//                             over the tile's units in shared memory (atomicMax on the float's
//                             bits, valid because r² ≥ +0) before one global atomicMax per
//                             feature, and one per block for the overall maximum.
// Main loops:
//   simt_f32   K tiles of 16: A (64 × 16) and B (16 × 64) staged transposed in shared memory
//              (rows padded to 65 floats), 4 × 4 register accumulators per thread.
//   wmma_bf16  K tiles of 32: A and B (64 × 32 bf16, rows padded to 40) in shared memory; eight
//              warps each own a 16 × 32 strip (two m16n16k16 accumulators); the fragments are
//              stored to a shared 64 × 64 float tile that the threads read in the epilogue.
// Version 1: no double buffering, element-wise global loads; correct first, tuned on a GPU later.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/common/vector16.cuh"
#include "kernels/common/wmma.cuh"
#include "kernels/gcmi/allpairs.h"

#include <cstdint>

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

constexpr int kTile = 64;  // units and features per block
constexpr int kThreads = 256;
constexpr int kSimtK = 16;
constexpr int kWmmaK = 32;
constexpr int kWmmaLd = kWmmaK + 8;  // bf16 row stride in shared memory (a multiple of 8)
constexpr int kTileLd = kTile + 4;   // float row stride of the accumulator tile (a multiple of 4)
constexpr int kDefaultPermsPerBlock = 16;

enum Pass : int { kObserved = 0, kPermuted = 1 };

// The grid's layout of permutations: chunks of `per_block` permutations.
struct PermChunks {
  std::int64_t per_block = 1;
  std::int64_t chunks = 1;
};

// Trial index of column k of the B operand in permutation perm (or the identity when perm < 0).
__device__ __forceinline__ std::int64_t b_trial(const AllPairsParams& p, std::int64_t perm, std::int64_t k) {
  return perm < 0 ? k : p.perms[perm * p.n + k];
}

struct EpilogueState {
  float obs[4][4];     // observed r2 of the owned pairs (permuted pass)
  unsigned cnt[4][4];  // exceedances over the block's permutations
};

// The epilogue for one tile and one permutation (perm < 0: the observed pass). colmax is a shared
// array of kTile unsigned, zeroed before the call's main loop; the caller syncs before reusing it.
__device__ void epilogue(const AllPairsParams& p, std::int64_t perm, std::int64_t u0, std::int64_t f0,
                         const float (&acc)[4][4], EpilogueState& st, unsigned* colmax, float inv_s_n,
                         float bias) {
  const int ty = static_cast<int>(threadIdx.x) / 16, tx = static_cast<int>(threadIdx.x) % 16;
  unsigned local_max[4] = {0, 0, 0, 0};
  for (int i = 0; i < 4; ++i) {
    const std::int64_t u = u0 + ty + 16 * i;
    for (int j = 0; j < 4; ++j) {
      const std::int64_t f = f0 + tx + 16 * j;
      if (u >= p.units || f >= p.features) continue;
      const float scale = perm < 0 ? (p.scale_obs ? p.scale_obs[f] : 1.0f)
                                   : (p.scale_perm ? p.scale_perm[perm * p.features + f] : 1.0f);
      const float r2 = allpairs_r2_scaled(acc[i][j], inv_s_n, scale);
      if (perm < 0) {
        p.mi[u * p.features + f] = allpairs_mi_bits(r2, bias);
        if (p.r2) p.r2[u * p.features + f] = r2;
        if (p.r) p.r[u * p.features + f] = acc[i][j] * inv_s_n;
      } else {
        st.cnt[i][j] += r2 >= st.obs[i][j] ? 1u : 0u;
        const unsigned bits = __float_as_uint(r2);
        local_max[j] = bits > local_max[j] ? bits : local_max[j];
      }
    }
  }
  if (perm < 0) return;
  for (int j = 0; j < 4; ++j) {
    if (local_max[j]) atomicMax(&colmax[tx + 16 * j], local_max[j]);
  }
  __syncthreads();
  if (threadIdx.x < kTile && f0 + threadIdx.x < p.features && colmax[threadIdx.x]) {
    atomicMax(reinterpret_cast<unsigned*>(p.max_r2_pf) + perm * p.features + f0 + threadIdx.x,
              colmax[threadIdx.x]);
  }
  if (p.max_r2_p && threadIdx.x < 32) {
    unsigned v =
        colmax[threadIdx.x] > colmax[threadIdx.x + 32] ? colmax[threadIdx.x] : colmax[threadIdx.x + 32];
    for (int offset = 16; offset > 0; offset /= 2) {
      const unsigned o = __shfl_xor_sync(0xFFFFFFFFu, v, offset);
      v = o > v ? o : v;
    }
    if (threadIdx.x == 0 && v) atomicMax(reinterpret_cast<unsigned*>(p.max_r2_p) + perm, v);
  }
}

// Loads the observed r2 of the owned pairs and clears the counts (permuted pass).
__device__ void epilogue_begin(const AllPairsParams& p, std::int64_t u0, std::int64_t f0, EpilogueState& st) {
  const int ty = static_cast<int>(threadIdx.x) / 16, tx = static_cast<int>(threadIdx.x) % 16;
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) {
      const std::int64_t u = u0 + ty + 16 * i, f = f0 + tx + 16 * j;
      st.cnt[i][j] = 0;
      st.obs[i][j] = (u < p.units && f < p.features) ? p.r2[u * p.features + f] : 0.0f;
    }
  }
}

// Adds the block's exceedance counts to the global ones (permuted pass).
__device__ void epilogue_end(const AllPairsParams& p, std::int64_t u0, std::int64_t f0,
                             const EpilogueState& st) {
  const int ty = static_cast<int>(threadIdx.x) / 16, tx = static_cast<int>(threadIdx.x) % 16;
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) {
      const std::int64_t u = u0 + ty + 16 * i, f = f0 + tx + 16 * j;
      if (u < p.units && f < p.features && st.cnt[i][j])
        atomicAdd(&p.exceed[u * p.features + f], st.cnt[i][j]);
    }
  }
}

// The block's tile origin and permutation range.
struct BlockWork {
  std::int64_t u0, f0, perm_begin, perm_end;
};
__device__ BlockWork block_work(const AllPairsParams& p, int pass, PermChunks chunks) {
  const std::int64_t feature_tiles = (p.features + kTile - 1) / kTile;
  const std::int64_t y = blockIdx.y;
  BlockWork w;
  w.u0 = static_cast<std::int64_t>(blockIdx.x) * kTile;
  w.f0 = (y % feature_tiles) * kTile;
  if (pass == kObserved) {
    w.perm_begin = -1;
    w.perm_end = 0;
  } else {
    w.perm_begin = (y / feature_tiles) * chunks.per_block;
    w.perm_end = w.perm_begin + chunks.per_block < p.n_perms ? w.perm_begin + chunks.per_block : p.n_perms;
  }
  return w;
}

__global__ void __launch_bounds__(kThreads)
    allpairs_simt_kernel(AllPairsParams p, int pass, PermChunks chunks) {
  __shared__ float a_tile[kSimtK][kTile + 1];
  __shared__ float b_tile[kSimtK][kTile + 1];
  __shared__ unsigned colmax[kTile];
  const BlockWork w = block_work(p, pass, chunks);
  const int tid = static_cast<int>(threadIdx.x), ty = tid / 16, tx = tid % 16;
  const float inv_s_n = static_cast<float>(1.0 / p.s_n), bias = static_cast<float>(p.bias);
  EpilogueState st;
  if (pass == kPermuted) epilogue_begin(p, w.u0, w.f0, st);
  for (std::int64_t perm = w.perm_begin; perm < w.perm_end; ++perm) {
    if (tid < kTile) colmax[tid] = 0;
    float acc[4][4] = {};
    for (std::int64_t k0 = 0; k0 < p.n; k0 += kSimtK) {
      for (int e = tid; e < kTile * kSimtK; e += kThreads) {
        const int row = e / kSimtK, kk = e % kSimtK;
        const std::int64_t k = k0 + kk, u = w.u0 + row, f = w.f0 + row;
        const bool k_ok = k < p.n;
        a_tile[kk][row] = (k_ok && u < p.units) ? p.zx[u * p.n + k] : 0.0f;
        b_tile[kk][row] = (k_ok && f < p.features) ? p.zy[f * p.n + b_trial(p, perm, k)] : 0.0f;
      }
      __syncthreads();
      for (int kk = 0; kk < kSimtK; ++kk) {
        float a[4], b[4];
        for (int i = 0; i < 4; ++i) a[i] = a_tile[kk][ty + 16 * i];
        for (int j = 0; j < 4; ++j) b[j] = b_tile[kk][tx + 16 * j];
        for (int i = 0; i < 4; ++i) {
          for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
        }
      }
      __syncthreads();
    }
    epilogue(p, perm, w.u0, w.f0, acc, st, colmax, inv_s_n, bias);
    __syncthreads();  // colmax is cleared by the next permutation
  }
  if (pass == kPermuted) epilogue_end(p, w.u0, w.f0, st);
}

// Shared memory of the wmma kernel, 32-byte aligned as wmma loads and stores require.
struct alignas(32) WmmaShared {
  __nv_bfloat16 a[kTile * kWmmaLd];
  __nv_bfloat16 b[kTile * kWmmaLd];
  float c[kTile * kTileLd];
  unsigned colmax[kTile];
};

__global__ void __launch_bounds__(kThreads)
    allpairs_wmma_kernel(AllPairsParams p, int pass, PermChunks chunks) {
  using namespace nvcuda;
  __shared__ WmmaShared sm;
  const BlockWork w = block_work(p, pass, chunks);
  const int tid = static_cast<int>(threadIdx.x), ty = tid / 16, tx = tid % 16;
  const int warp = tid / 32, warp_row = (warp / 2) * 16, warp_col = (warp % 2) * 32;
  const float inv_s_n = static_cast<float>(1.0 / p.s_n), bias = static_cast<float>(p.bias);
  const __nv_bfloat16 zero = __float2bfloat16_rn(0.0f);
  EpilogueState st;
  if (pass == kPermuted) epilogue_begin(p, w.u0, w.f0, st);
  for (std::int64_t perm = w.perm_begin; perm < w.perm_end; ++perm) {
    if (tid < kTile) sm.colmax[tid] = 0;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> c_frag[2];
    wmma::fill_fragment(c_frag[0], 0.0f);
    wmma::fill_fragment(c_frag[1], 0.0f);
    for (std::int64_t k0 = 0; k0 < p.n; k0 += kWmmaK) {
      for (int e = tid; e < kTile * kWmmaK; e += kThreads) {
        const int row = e / kWmmaK, kk = e % kWmmaK;
        const std::int64_t k = k0 + kk, u = w.u0 + row, f = w.f0 + row;
        const bool k_ok = k < p.n;
        sm.a[row * kWmmaLd + kk] = (k_ok && u < p.units) ? p.zx_bf16[u * p.n + k] : zero;
        sm.b[row * kWmmaLd + kk] = (k_ok && f < p.features) ? p.zy_bf16[f * p.n + b_trial(p, perm, k)] : zero;
      }
      __syncthreads();
      for (int kk = 0; kk < kWmmaK; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a_frag;
        wmma::load_matrix_sync(a_frag, sm.a + warp_row * kWmmaLd + kk, kWmmaLd);
        for (int jj = 0; jj < 2; ++jj) {
          // B(k, n) = Zy[n][k]: the rows of the b tile, read as a column-major K × N matrix.
          wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> b_frag;
          wmma::load_matrix_sync(b_frag, sm.b + (warp_col + 16 * jj) * kWmmaLd + kk, kWmmaLd);
          wmma::mma_sync(c_frag[jj], a_frag, b_frag, c_frag[jj]);
        }
      }
      __syncthreads();
    }
    for (int jj = 0; jj < 2; ++jj) {
      wmma::store_matrix_sync(sm.c + warp_row * kTileLd + warp_col + 16 * jj, c_frag[jj], kTileLd,
                              wmma::mem_row_major);
    }
    __syncthreads();
    float acc[4][4];
    for (int i = 0; i < 4; ++i) {
      for (int j = 0; j < 4; ++j) acc[i][j] = sm.c[(ty + 16 * i) * kTileLd + tx + 16 * j];
    }
    epilogue(p, perm, w.u0, w.f0, acc, st, sm.colmax, inv_s_n, bias);
    __syncthreads();  // colmax and the c tile are reused by the next permutation
  }
  if (pass == kPermuted) epilogue_end(p, w.u0, w.f0, st);
}

// ---------------------------------------------------------------------------------------------
// Version 2 of the permuted pass on tensor cores (wmma_bf16, N % 8 == 0, 16-byte aligned rows).
// A block owns 128 units x 64 features and loops over its chunk of permutations. Per K tile of 32
// trials: A is 128 x 32 bf16 loaded as 16-byte vectors (2 per thread); B is the 64 x 32 tile of
// Zy∘π, each thread gathering 8 trials of one feature through the permutation (two 16-byte index
// loads, 8 two-byte loads from Zy, which stays in L1/L2) and storing them as one 16-byte vector.
// The next tile is loaded into registers while the tensor cores work on the current one (two shared
// buffers, one barrier per tile). 8 warps as 4 (units) x 2 (features), each 32 x 32 = 2 x 2
// fragments (8 mma per warp per K tile, against 4 in version 1). Epilogue: each warp stores its
// fragments to its own shared 32 x 32 float tile (overlaying the operand buffers); lane l owns
// column l of it (one feature, 32 units): exceedance counts and observed r² stay in registers across
// the permutations; the per-feature maximum is reduced in registers, then over the warps in shared
// memory, then one global atomicMax per (permutation, feature) per block.
constexpr int kV2Units = 128;
constexpr int kV2Ld = kWmmaK + 8;             // bf16 row stride of the operand tiles (80 B: 16-byte aligned)
constexpr int kV2WarpLd = 32 + 4;             // float row stride of a warp's epilogue tile
#if defined(__CUDA_ARCH__)
#define DEEPER_V2_UNROLL _Pragma("unroll")
#else
#define DEEPER_V2_UNROLL
#endif

union alignas(128) WmmaV2Shared {
  __nv_bfloat16 tile[2][(kV2Units + kTile) * kV2Ld];  // [stage]: A rows 0..127, then B rows
  float epilogue[8][32 * kV2WarpLd];
};
static_assert(sizeof(WmmaV2Shared) + kTile * sizeof(unsigned) <= 48 * 1024, "static shared memory limit");

// One thread's share of a K tile, staged in registers: two 8-trial pieces of A, one of B.
struct V2Stage {
  Bf16x8 a[2];
  Bf16x8 b;
};

__device__ __forceinline__ void v2_load(const AllPairsParams& p, std::int64_t perm, std::int64_t u0,
                                        std::int64_t f0, std::int64_t k0, V2Stage& st) {
  const int tid = static_cast<int>(threadIdx.x);
  const __nv_bfloat16 zero = __float2bfloat16_rn(0.0f);
  for (int i = 0; i < 2; ++i) {
    const int c = tid + kThreads * i, row = c >> 2, kc = (c & 3) * 8;
    const std::int64_t u = u0 + row, k = k0 + kc;
    if (u < p.units && k < p.n) {
      copy16(&st.a[i], p.zx_bf16 + u * p.n + k);
    } else {
      for (int e = 0; e < 8; ++e) st.a[i].v[e] = zero;
    }
  }
  const int row = tid >> 2, kc = (tid & 3) * 8;
  const std::int64_t f = f0 + row, k = k0 + kc;
  if (f < p.features && k < p.n) {
    alignas(16) std::int32_t idx[8];
    copy16(idx, p.perms + perm * p.n + k);
    copy16(idx + 4, p.perms + perm * p.n + k + 4);
    const __nv_bfloat16* zy = p.zy_bf16 + f * p.n;
    for (int e = 0; e < 8; ++e) st.b.v[e] = zy[idx[e]];
  } else {
    for (int e = 0; e < 8; ++e) st.b.v[e] = zero;
  }
}

__device__ __forceinline__ void v2_store(__nv_bfloat16* tile, const V2Stage& st) {
  const int tid = static_cast<int>(threadIdx.x);
  for (int i = 0; i < 2; ++i) {
    const int c = tid + kThreads * i, row = c >> 2, kc = (c & 3) * 8;
    copy16(tile + row * kV2Ld + kc, &st.a[i]);
  }
  const int row = tid >> 2, kc = (tid & 3) * 8;
  copy16(tile + (kV2Units + row) * kV2Ld + kc, &st.b);
}

__global__ void __launch_bounds__(kThreads) allpairs_wmma_v2_perm_kernel(AllPairsParams p, PermChunks chunks) {
  using namespace nvcuda;
  __shared__ WmmaV2Shared sm;
  __shared__ unsigned colmax[kTile];
  const std::int64_t feature_tiles = (p.features + kTile - 1) / kTile;
  const std::int64_t u0 = static_cast<std::int64_t>(blockIdx.x) * kV2Units;
  const std::int64_t f0 = (static_cast<std::int64_t>(blockIdx.y) % feature_tiles) * kTile;
  const std::int64_t perm_begin = (static_cast<std::int64_t>(blockIdx.y) / feature_tiles) * chunks.per_block;
  const std::int64_t perm_end = perm_begin + chunks.per_block < p.n_perms ? perm_begin + chunks.per_block : p.n_perms;
  const int tid = static_cast<int>(threadIdx.x), warp = tid / 32, lane = tid % 32;
  const int warp_row = (warp / 2) * 32, warp_col = (warp % 2) * 32;
  const float inv_s_n = static_cast<float>(1.0 / p.s_n);
  // This lane's column: feature f, units u0 + warp_row + 0..31.
  const std::int64_t f = f0 + warp_col + lane;
  const bool f_ok = f < p.features;
  float obs[32];  // registers: every loop over them is unrolled
  unsigned cnt[32];
  DEEPER_V2_UNROLL
  for (int i = 0; i < 32; ++i) {
    const std::int64_t u = u0 + warp_row + i;
    cnt[i] = 0;
    obs[i] = (f_ok && u < p.units) ? p.r2[u * p.features + f] : 0.0f;
  }
  for (std::int64_t perm = perm_begin; perm < perm_end; ++perm) {
    if (tid < kTile) colmax[tid] = 0;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> c_frag[2][2];
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 2; ++j) wmma::fill_fragment(c_frag[i][j], 0.0f);
    }
    V2Stage st;
    v2_load(p, perm, u0, f0, 0, st);
    v2_store(sm.tile[0], st);
    __syncthreads();
    int buf = 0;
    for (std::int64_t k0 = 0; k0 < p.n; k0 += kWmmaK) {
      const bool more = k0 + kWmmaK < p.n;
      if (more) v2_load(p, perm, u0, f0, k0 + kWmmaK, st);  // in flight during the mma below
      const __nv_bfloat16* a = sm.tile[buf];
      const __nv_bfloat16* b = sm.tile[buf] + kV2Units * kV2Ld;
      for (int kk = 0; kk < kWmmaK; kk += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> a_frag[2];
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> b_frag[2];
        for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(a_frag[i], a + (warp_row + 16 * i) * kV2Ld + kk, kV2Ld);
        for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(b_frag[j], b + (warp_col + 16 * j) * kV2Ld + kk, kV2Ld);
        for (int i = 0; i < 2; ++i) {
          for (int j = 0; j < 2; ++j) wmma::mma_sync(c_frag[i][j], a_frag[i], b_frag[j], c_frag[i][j]);
        }
      }
      if (more) v2_store(sm.tile[buf ^ 1], st);  // the other buffer: last read before the previous barrier
      __syncthreads();
      buf ^= 1;
    }
    // Epilogue (the operand buffers are free: every warp passed the last barrier).
    float* mine = sm.epilogue[warp];
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 2; ++j) {
        wmma::store_matrix_sync(mine + 16 * i * kV2WarpLd + 16 * j, c_frag[i][j], kV2WarpLd, wmma::mem_row_major);
      }
    }
    __syncwarp();
    unsigned col_max = 0;
    if (f_ok) {
      const float scale = p.scale_perm ? p.scale_perm[perm * p.features + f] : 1.0f;
      DEEPER_V2_UNROLL
      for (int i = 0; i < 32; ++i) {
        if (u0 + warp_row + i < p.units) {
          const float r2 = allpairs_r2_scaled(mine[i * kV2WarpLd + lane], inv_s_n, scale);
          cnt[i] += r2 >= obs[i] ? 1u : 0u;
          const unsigned bits = __float_as_uint(r2);
          col_max = bits > col_max ? bits : col_max;
        }
      }
    }
    if (col_max) atomicMax(&colmax[warp_col + lane], col_max);
    __syncthreads();
    if (tid < kTile && f0 + tid < p.features && colmax[tid]) {
      atomicMax(reinterpret_cast<unsigned*>(p.max_r2_pf) + perm * p.features + f0 + tid, colmax[tid]);
    }
    if (p.max_r2_p && tid < 32) {
      unsigned v = colmax[tid] > colmax[tid + 32] ? colmax[tid] : colmax[tid + 32];
      for (int offset = 16; offset > 0; offset /= 2) {
        const unsigned o = __shfl_xor_sync(0xFFFFFFFFu, v, offset);
        v = o > v ? o : v;
      }
      if (tid == 0 && v) atomicMax(reinterpret_cast<unsigned*>(p.max_r2_p) + perm, v);
    }
    __syncthreads();  // colmax and the epilogue tiles are reused by the next permutation
  }
  if (f_ok) {
    DEEPER_V2_UNROLL
    for (int i = 0; i < 32; ++i) {
      const std::int64_t u = u0 + warp_row + i;
      if (u < p.units && cnt[i]) atomicAdd(&p.exceed[u * p.features + f], cnt[i]);
    }
  }
}

// Version 2 needs whole 16-byte pieces of every row: N % 8 == 0 and 16-byte aligned bases.
bool v2_eligible(const AllPairsParams& p) {
  const auto aligned = [](const void* ptr) { return reinterpret_cast<std::uintptr_t>(ptr) % 16 == 0; };
  return p.math == AllPairsMath::wmma_bf16 && p.n % 8 == 0 && aligned(p.zx_bf16) && aligned(p.zy_bf16) &&
         aligned(p.perms);
}

// Zeroes the permutation outputs: exceed (U·F), max_r2_pf (P·F), max_r2_p (P).
__global__ void allpairs_init_kernel(AllPairsParams p) {
  const std::int64_t pairs = p.units * p.features, maxima = p.n_perms * p.features;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < pairs + maxima;
       i += stride) {
    if (i < pairs) {
      p.exceed[i] = 0;
    } else {
      p.max_r2_pf[i - pairs] = 0.0f;
    }
    if (p.max_r2_p && i < p.n_perms) p.max_r2_p[i] = 0.0f;
  }
}

}  // namespace

void allpairs_mi(const AllPairsParams& p, void* stream) {
  check_allpairs_params(p);
  if (p.units == 0 || p.features == 0) return;
  const std::int64_t feature_tiles = (p.features + kTile - 1) / kTile;
  const dim3 block(kThreads);
  auto run = [&](int pass, PermChunks chunks) {
    const dim3 grid(static_cast<unsigned>((p.units + kTile - 1) / kTile),
                    static_cast<unsigned>(feature_tiles * chunks.chunks));
    if (p.math == AllPairsMath::simt_f32) {
      launch(allpairs_simt_kernel, grid, block, 0, stream, "allpairs_mi_simt_f32", p, pass, chunks);
    } else {
      launch(allpairs_wmma_kernel, grid, block, 0, stream, "allpairs_mi_wmma_bf16", p, pass, chunks);
    }
  };
  if (p.n_perms > 0) {
    const std::int64_t total = p.units * p.features + p.n_perms * p.features;
    launch(allpairs_init_kernel, dim3(grid_blocks(total, 256)), dim3(256), 0, stream, "allpairs_init", p);
  }
  run(kObserved, PermChunks{});
  if (p.n_perms > 0) {
    // At most 65535 / feature_tiles chunks along grid.y (checked: feature_tiles <= 65535).
    PermChunks chunks;
    chunks.per_block = p.perms_per_block > 0 ? p.perms_per_block : kDefaultPermsPerBlock;
    const std::int64_t max_chunks = 65535 / feature_tiles;
    if ((p.n_perms + chunks.per_block - 1) / chunks.per_block > max_chunks) {
      chunks.per_block = (p.n_perms + max_chunks - 1) / max_chunks;
    }
    chunks.chunks = (p.n_perms + chunks.per_block - 1) / chunks.per_block;
    if (v2_eligible(p)) {
      const dim3 grid(static_cast<unsigned>((p.units + kV2Units - 1) / kV2Units),
                      static_cast<unsigned>(feature_tiles * chunks.chunks));
      launch(allpairs_wmma_v2_perm_kernel, grid, block, 0, stream, "allpairs_mi_wmma_bf16_v2_perm", p, chunks);
    } else {
      run(kPermuted, chunks);
    }
  }
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
