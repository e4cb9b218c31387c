// Test kernels for kernels/common/mma_sync.cuh on the emulator and the GPU: see mma_test_kernels.h.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/common/mma_sync.cuh"
#include "tests/emu/mma_test_kernels.h"

namespace deeper::testk::DEEPER_KERNEL_NS {

using kernels::cp_async_16;
using kernels::cp_async_commit;
using kernels::cp_async_wait;
using kernels::ldmatrix_x1;
using kernels::ldmatrix_x1_trans;
using kernels::ldmatrix_x2;
using kernels::ldmatrix_x2_trans;
using kernels::ldmatrix_x4;
using kernels::ldmatrix_x4_trans;
using kernels::mma_m16n8k16_bf16;

constexpr int kStride = 24;  // shared row stride in 16-bit elements: 48 bytes, 16-byte aligned, padded

__global__ void mma_chain_kernel(const std::uint32_t* a, const std::uint32_t* b, const float* c, float* d, int steps) {
  const int lane = threadIdx.x;
  float acc[4];
  for (int i = 0; i < 4; ++i) acc[i] = c[lane * 4 + i];
  for (int s = 0; s < steps; ++s) {
    std::uint32_t fa[4], fb[2];
    for (int i = 0; i < 4; ++i) fa[i] = a[(s * 32 + lane) * 4 + i];
    for (int i = 0; i < 2; ++i) fb[i] = b[(s * 32 + lane) * 2 + i];
    mma_m16n8k16_bf16(acc, fa, fb, acc);
  }
  for (int i = 0; i < 4; ++i) d[lane * 4 + i] = acc[i];
}

void mma_chain(const std::uint32_t* a, const std::uint32_t* b, const float* c, float* d, int steps, void* stream) {
  launch(mma_chain_kernel, dim3(1), dim3(32), 0, stream, "mma_chain", a, b, c, d, steps);
}

__global__ void ldmatrix_all_kernel(const std::uint16_t* rows, const int* row_of_lane, std::uint32_t* out) {
  __shared__ __align__(16) std::uint16_t tile[33 * kStride];
  const int lane = threadIdx.x;
  for (int r = lane; r < 33; r += 32) {
    for (int e = 0; e < 8; ++e) tile[r * kStride + e] = rows[r * 8 + e];
  }
  __syncthreads();
  const std::uint16_t* mine = &tile[row_of_lane[lane] * kStride];
  const std::uint16_t* decoy = &tile[32 * kStride];
  std::uint32_t* o = out + lane * 4;
  {
    std::uint32_t r[1];
    ldmatrix_x1(r, lane < 8 ? mine : decoy);
    o[0 * 128 + 0] = r[0];
    ldmatrix_x1_trans(r, lane < 8 ? mine : decoy);
    o[3 * 128 + 0] = r[0];
  }
  {
    std::uint32_t r[2];
    ldmatrix_x2(r, lane < 16 ? mine : decoy);
    for (int j = 0; j < 2; ++j) o[1 * 128 + j] = r[j];
    ldmatrix_x2_trans(r, lane < 16 ? mine : decoy);
    for (int j = 0; j < 2; ++j) o[4 * 128 + j] = r[j];
  }
  {
    std::uint32_t r[4];
    ldmatrix_x4(r, mine);
    for (int j = 0; j < 4; ++j) o[2 * 128 + j] = r[j];
    ldmatrix_x4_trans(r, mine);
    for (int j = 0; j < 4; ++j) o[5 * 128 + j] = r[j];
  }
}

void ldmatrix_all(const std::uint16_t* rows, const int* row_of_lane, std::uint32_t* out, void* stream) {
  launch(ldmatrix_all_kernel, dim3(1), dim3(32), 0, stream, "ldmatrix_all", rows, row_of_lane, out);
}

// A template kernel with A in static and B in dynamic shared memory, so that both kinds of shared
// address pass the emulator's checks (a template kernel's __shared__ array is not in the emulator's
// shared section: it is accepted as static storage).
template <int Stride>
__global__ void ldmatrix_mma_roundtrip_kernel(const std::uint16_t* a, const std::uint16_t* b, const float* c, float* d,
                                              float* d_x2) {
  __shared__ __align__(16) std::uint16_t sa[16 * Stride];
  DEEPER_DYNAMIC_SHARED(std::uint16_t, sb);  // 16 * Stride elements
  const int lane = threadIdx.x;
  // 16 rows x 32 bytes per tile: lane copies row lane/2, 16-byte half lane%2, of A and of B.
  const int row = lane / 2, half = lane % 2;
  cp_async_16(&sa[row * Stride + half * 8], &a[row * 16 + half * 8], 16);
  cp_async_16(&sb[row * Stride + half * 8], &b[row * 16 + half * 8], 16);
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();

  // Matrix j = lane/8 of the x4 loads covers rows 8*(j%2).., columns 8*(j/2)..
  const int r = lane % 8 + 8 * ((lane / 8) % 2), col = 8 * (lane / 16);
  std::uint32_t fa[4], fb[4];
  ldmatrix_x4(fa, &sa[r * Stride + col]);
  ldmatrix_x4_trans(fb, &sb[r * Stride + col]);  // fb[0..1]: n 0-7, fb[2..3]: n 8-15
  const int g = lane / 4, t = lane % 4;
  for (int nt = 0; nt < 2; ++nt) {
    float acc[4];
    for (int i = 0; i < 4; ++i) acc[i] = c[(g + 8 * (i / 2)) * 16 + nt * 8 + 2 * t + i % 2];
    const std::uint32_t b2[2] = {fb[2 * nt], fb[2 * nt + 1]};
    mma_m16n8k16_bf16(acc, fa, b2, acc);
    for (int i = 0; i < 4; ++i) d[(g + 8 * (i / 2)) * 16 + nt * 8 + 2 * t + i % 2] = acc[i];
  }
  std::uint32_t fb2[2];
  ldmatrix_x2_trans(fb2, &sb[(lane % 16) * Stride]);
  float c2[4], d2[4];
  for (int i = 0; i < 4; ++i) c2[i] = c[(g + 8 * (i / 2)) * 16 + 2 * t + i % 2];
  mma_m16n8k16_bf16(d2, fa, fb2, c2);
  for (int i = 0; i < 4; ++i) d_x2[(g + 8 * (i / 2)) * 8 + 2 * t + i % 2] = d2[i];
}

void ldmatrix_mma_roundtrip(const std::uint16_t* a, const std::uint16_t* b, const float* c, float* d, float* d_x2,
                            void* stream) {
  launch(ldmatrix_mma_roundtrip_kernel<kStride>, dim3(1), dim3(32), 16 * kStride * sizeof(std::uint16_t), stream,
         "ldmatrix_mma_roundtrip", a, b, c, d, d_x2);
}

// mode 0 writes out[0..28):
//   [0, 8)   buf[0..8) right after committing two groups (chunks 0 and 1): not yet waited for
//   [8, 12)  buf[0..4) after wait<1>: chunk 0, complete
//   [12, 16) buf[4..8) after wait<1>: chunk 1, still pending
//   [16, 24) buf[0..8) after wait<0>: both chunks
//   [24, 28) buf[8..12) after a zero-fill copy (src_bytes 0) over four 7.0f
// mode 5 writes out[0..8): buf[0..4) after wait<0> with the copy not committed, then after commit + wait<0>.
__global__ void cp_async_probe_kernel(const float* src, float* out, int mode) {
  __shared__ __align__(16) float buf[16];
  switch (mode) {
    case 0:
      cp_async_16(&buf[0], &src[0], 16);
      cp_async_commit();
      cp_async_16(&buf[4], &src[4], 16);
      cp_async_commit();
      for (int i = 0; i < 8; ++i) out[i] = buf[i];
      cp_async_wait<1>();
      for (int i = 0; i < 8; ++i) out[8 + i] = buf[i];
      cp_async_wait<0>();
      for (int i = 0; i < 8; ++i) out[16 + i] = buf[i];
      for (int i = 8; i < 12; ++i) buf[i] = 7.0f;
      __syncthreads();
      cp_async_16(&buf[8], &src[8], 0);
      cp_async_commit();
      cp_async_wait<0>();
      for (int i = 0; i < 4; ++i) out[24 + i] = buf[8 + i];
      break;
    case 1:
      cp_async_16(&buf[1], &src[0], 16);
      break;
    case 2:
      cp_async_16(&buf[0], &src[1], 16);
      break;
    case 3:
      cp_async_16(&buf[0], &src[0], 16);
      cp_async_commit();
      break;
    case 4:
      cp_async_16(out, &src[0], 16);
      break;
    case 5:
      cp_async_16(&buf[0], &src[0], 16);
      cp_async_wait<0>();
      for (int i = 0; i < 4; ++i) out[i] = buf[i];
      cp_async_commit();
      cp_async_wait<0>();
      for (int i = 0; i < 4; ++i) out[4 + i] = buf[i];
      break;
    case 6:
      cp_async_16(&buf[0], &src[0], 17);
      break;
    case 7:
      cp_async_16(&buf[0], &buf[4], 16);
      break;
    case 8:  // empty groups pending at exit: harmless
      cp_async_commit();
      cp_async_commit();
      cp_async_wait<5>();
      break;
    default:
      break;
  }
}

void cp_async_probe(const float* src, float* out, int mode, void* stream) {
  launch(cp_async_probe_kernel, dim3(1), dim3(1), 0, stream, "cp_async_probe", src, out, mode);
}

__global__ void cp_async_neighbour_kernel(const float* src, float* out, bool with_sync) {
  __shared__ __align__(16) float buf[64 * 4];
  const int t = threadIdx.x;
  cp_async_16(&buf[4 * t], &src[4 * t], 16);
  cp_async_commit();
  cp_async_wait<0>();
  if (with_sync) __syncthreads();
  const int n = (t + 1) % 64;
  for (int i = 0; i < 4; ++i) out[4 * t + i] = buf[4 * n + i];
}

void cp_async_neighbour(const float* src, float* out, bool with_sync, void* stream) {
  launch(cp_async_neighbour_kernel, dim3(1), dim3(64), 0, stream, "cp_async_neighbour", src, out, with_sync);
}

__global__ void mma_misuse_kernel(int mode, std::uint32_t* out) {
  __shared__ __align__(16) std::uint16_t tile[32 * 8];
  const int lane = threadIdx.x % 32;
  for (int i = lane; i < 32 * 8; i += 32) tile[i] = static_cast<std::uint16_t>(i);
  __syncthreads();
  std::uint32_t r[4] = {0, 0, 0, 0};
  switch (mode) {
    case 0: {
      if (lane == 3) return;
      const std::uint32_t a[4] = {0, 0, 0, 0}, b[2] = {0, 0};
      float acc[4] = {0, 0, 0, 0};
      mma_m16n8k16_bf16(acc, a, b, acc);
      break;
    }
    case 1: {
      const unsigned char* p = reinterpret_cast<const unsigned char*>(&tile[lane * 8]) + (lane == 2 ? 2 : 0);
      ldmatrix_x4(r, p);
      break;
    }
    case 2: {
      std::uint32_t r2[2];
      ldmatrix_x2(r2, out + 4 * (lane % 16));  // 16-byte rows of global memory
      r[0] = r2[0];
      break;
    }
    case 3: {
      __align__(16) std::uint16_t local[8] = {1, 2, 3, 4, 5, 6, 7, 8};
      std::uint32_t r1[1];
      ldmatrix_x1(r1, local);
      r[0] = r1[0];
      break;
    }
    case 4: {
      if (lane < 16) {
        std::uint32_t r2[2];
        ldmatrix_x2(r2, &tile[lane * 8]);
        r[0] = r2[0];
      } else {
        ldmatrix_x4(r, &tile[lane * 8]);
      }
      break;
    }
    case 5: {
      const unsigned char* p = reinterpret_cast<const unsigned char*>(&tile[lane * 8]) + (lane >= 8 ? 2 : 0);
      std::uint32_t r1[1];
      ldmatrix_x1(r1, p);
      r[0] = r1[0];
      break;
    }
    case 6: {
      const std::uint32_t a[4] = {0, 0, 0, 0}, b[2] = {0, 0};
      float acc[4] = {0, 0, 0, 0};
      mma_m16n8k16_bf16(acc, a, b, acc);
      break;
    }
    default:
      break;
  }
  for (int j = 0; j < 4; ++j) out[lane * 4 + j] = r[j];
}

void mma_misuse(int mode, unsigned block_threads, std::uint32_t* out, void* stream) {
  launch(mma_misuse_kernel, dim3(1), dim3(block_threads), 0, stream, "mma_misuse", mode, out);
}

}  // namespace deeper::testk::DEEPER_KERNEL_NS
