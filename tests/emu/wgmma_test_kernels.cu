// Test kernels for kernels/common/wgmma.cuh on the emulator and the GPU: see wgmma_test_kernels.h.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/common/wgmma.cuh"
#include "tests/emu/wgmma_test_kernels.h"

namespace deeper::testk::DEEPER_KERNEL_NS {

using kernels::fence_proxy_async_shared;
using kernels::make_wgmma_desc;
using kernels::wgmma_commit;
using kernels::wgmma_fence;
using kernels::wgmma_fence_operand;
using kernels::wgmma_m64nNk16_bf16;
using kernels::wgmma_wait;

constexpr int kK = 32;         // two k16 steps
constexpr int kCoreGap = 144;  // bytes between core matrices in a row of them (128 + 16 of padding)

// Byte offset of element (mn, k) of an operand with `rows` rows of MN in the test's layout, and the
// descriptor strides: K-major puts the K/8 core matrices of an 8-row group side by side (LBO =
// kCoreGap, SBO = K/8 * kCoreGap); MN-major the MN/8 core matrices of an 8-k group (SBO = kCoreGap,
// LBO = MN/8 * kCoreGap).
__device__ inline int tile_offset(bool mn_major, int rows, int mn, int k) {
  if (!mn_major) return (mn / 8) * (kK / 8) * kCoreGap + (k / 8) * kCoreGap + (mn % 8) * 16 + (k % 8) * 2;
  return (k / 8) * (rows / 8) * kCoreGap + (mn / 8) * kCoreGap + (k % 8) * 16 + (mn % 8) * 2;
}

__host__ __device__ constexpr int tile_bytes(int rows) { return rows / 8 * (kK / 8) * kCoreGap; }

template <int N, int TA, int TB>
__global__ void wgmma_tile_kernel(const std::uint16_t* a, const std::uint16_t* b, const float* c, float* d, int mode) {
  DEEPER_DYNAMIC_SHARED(unsigned char, smem);
  unsigned char* sa = smem;
  unsigned char* sb = smem + tile_bytes(64);
  const int tid = static_cast<int>(threadIdx.x);
  for (int i = tid; i < 64 * kK; i += static_cast<int>(blockDim.x)) {
    *reinterpret_cast<std::uint16_t*>(sa + tile_offset(TA, 64, i / kK, i % kK)) = a[i];
  }
  for (int i = tid; i < N * kK; i += static_cast<int>(blockDim.x)) {
    *reinterpret_cast<std::uint16_t*>(sb + tile_offset(TB, N, i / kK, i % kK)) = b[i];
  }
  fence_proxy_async_shared();
  __syncthreads();

  const int warp = tid / 32 % 4, lane = tid % 32;
  auto row = [&](int i) { return 16 * warp + lane / 4 + 8 * (i / 2 % 2); };
  auto col = [&](int i) { return 8 * (i / 4) + 2 * (lane % 4) + i % 2; };
  float acc[N / 2];
  for (int i = 0; i < N / 2; ++i) acc[i] = c[row(i) * N + col(i)];
  const std::uint32_t a_lbo = TA ? 64 / 8 * kCoreGap : kCoreGap, a_sbo = TA ? kCoreGap : kK / 8 * kCoreGap;
  const std::uint32_t b_lbo = TB ? N / 8 * kCoreGap : kCoreGap, b_sbo = TB ? kCoreGap : kK / 8 * kCoreGap;
  if (mode != 3) wgmma_fence();
  for (int i = 0; i < N / 2; ++i) wgmma_fence_operand(acc[i]);
  for (int s = 0; s < kK / 16; ++s) {
    // Step s reads k = 16 s .. 16 s + 15: two core matrices along K further on.
    const std::uint64_t da = make_wgmma_desc(sa + 2 * s * a_lbo, a_lbo, a_sbo);
    std::uint64_t db = make_wgmma_desc(sb + 2 * s * b_lbo, b_lbo, b_sbo);
    if (mode == 5) db |= std::uint64_t{1} << 62;
    wgmma_m64nNk16_bf16<N, TA, TB>(acc, da, db, mode == 1 && s == 0 ? 0 : 1);
  }
  wgmma_commit();
  float early[N / 2];
  if (mode == 2) {
    for (int i = 0; i < N / 2; ++i) early[i] = acc[i];
  }
  if (mode != 4) wgmma_wait<0>();
  for (int i = 0; i < N / 2; ++i) wgmma_fence_operand(acc[i]);
  for (int i = 0; i < N / 2; ++i) d[row(i) * N + col(i)] = mode == 2 ? early[i] : acc[i];
}

template <int N, int TA, int TB>
void launch_tile(const std::uint16_t* a, const std::uint16_t* b, const float* c, float* d, int mode,
                 unsigned threads, void* stream) {
  const auto kernel = wgmma_tile_kernel<N, TA, TB>;
  const std::size_t bytes = static_cast<std::size_t>(tile_bytes(64) + tile_bytes(N));
  launch(kernel, dim3(1), dim3(threads), bytes, stream, "wgmma_tile", a, b, c, d, mode);
}

void wgmma_tile(const std::uint16_t* a, const std::uint16_t* b, const float* c, float* d, int n, int trans_a,
                int trans_b, int mode, unsigned block_threads, void* stream) {
  const int key = (n == 128 ? 4 : 0) + (trans_a != 0 ? 2 : 0) + (trans_b != 0 ? 1 : 0);
  switch (key) {
    case 0: return launch_tile<64, 0, 0>(a, b, c, d, mode, block_threads, stream);
    case 1: return launch_tile<64, 0, 1>(a, b, c, d, mode, block_threads, stream);
    case 2: return launch_tile<64, 1, 0>(a, b, c, d, mode, block_threads, stream);
    case 3: return launch_tile<64, 1, 1>(a, b, c, d, mode, block_threads, stream);
    case 4: return launch_tile<128, 0, 0>(a, b, c, d, mode, block_threads, stream);
    case 5: return launch_tile<128, 0, 1>(a, b, c, d, mode, block_threads, stream);
    case 6: return launch_tile<128, 1, 0>(a, b, c, d, mode, block_threads, stream);
    default: return launch_tile<128, 1, 1>(a, b, c, d, mode, block_threads, stream);
  }
}

}  // namespace deeper::testk::DEEPER_KERNEL_NS
