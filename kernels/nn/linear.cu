// Linear layer kernels (definitions in kernels/nn/linear.h). Version 1: a strided, tiled fp32
// GEMM (64 x 64 x 16 tiles, 4 x 4 per thread) and a column-sum kernel for the bias gradient.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/nn/linear.h"
#include "kernels/nn/nn_device.cuh"

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

constexpr int kTile = 64, kTileK = 16, kGemmThreads = 256, kMicro = 4;

// C[i, j] = Σ_k A[i·sam + k·sak] · B[k·sbk + j·sbn] (+ bias[j]), C row-major m x n.
struct GemmArgs {
  const float* a;
  std::int64_t sam, sak;
  const float* b;
  std::int64_t sbk, sbn;
  const float* bias;
  float* c;
  std::int64_t m, n, k;
};

__global__ void __launch_bounds__(kGemmThreads) gemm_kernel(GemmArgs g) {
  __shared__ float as[kTileK][kTile + 4];  // as[kk][i]
  __shared__ float bs[kTileK][kTile + 4];  // bs[kk][j]
  const int t = static_cast<int>(threadIdx.x);
  const int ti = t / 16, tj = t % 16;  // micro-tile rows ti·4.., cols tj·4..
  const std::int64_t i0 = static_cast<std::int64_t>(blockIdx.y) * kTile, j0 = static_cast<std::int64_t>(blockIdx.x) * kTile;
  float acc[kMicro][kMicro] = {};
  for (std::int64_t k0 = 0; k0 < g.k; k0 += kTileK) {
    // 64 x 16 values of A and 16 x 64 of B, 4 per thread; the fast index follows the unit stride.
    for (int e = t; e < kTile * kTileK; e += kGemmThreads) {
      const int ii = g.sak == 1 ? e / kTileK : e % kTile, kk = g.sak == 1 ? e % kTileK : e / kTile;
      const std::int64_t i = i0 + ii, k = k0 + kk;
      as[kk][ii] = i < g.m && k < g.k ? g.a[i * g.sam + k * g.sak] : 0.0f;
    }
    for (int e = t; e < kTile * kTileK; e += kGemmThreads) {
      const int jj = g.sbn == 1 ? e % kTile : e / kTileK, kk = g.sbn == 1 ? e / kTile : e % kTileK;
      const std::int64_t j = j0 + jj, k = k0 + kk;
      bs[kk][jj] = j < g.n && k < g.k ? g.b[k * g.sbk + j * g.sbn] : 0.0f;
    }
    __syncthreads();
    for (int kk = 0; kk < kTileK; ++kk) {
      float av[kMicro], bv[kMicro];
      for (int u = 0; u < kMicro; ++u) {
        av[u] = as[kk][ti * kMicro + u];
        bv[u] = bs[kk][tj * kMicro + u];
      }
      for (int u = 0; u < kMicro; ++u) {
        for (int v = 0; v < kMicro; ++v) acc[u][v] = fmaf(av[u], bv[v], acc[u][v]);
      }
    }
    __syncthreads();
  }
  for (int u = 0; u < kMicro; ++u) {
    const std::int64_t i = i0 + ti * kMicro + u;
    if (i >= g.m) continue;
    for (int v = 0; v < kMicro; ++v) {
      const std::int64_t j = j0 + tj * kMicro + v;
      if (j < g.n) g.c[i * g.n + j] = acc[u][v] + (g.bias != nullptr ? g.bias[j] : 0.0f);
    }
  }
}

// dbias[j] = Σ_i dy[i, j]: grid over 32-column blocks, 8 row lanes, fp64.
__global__ void __launch_bounds__(nn::kLanes* nn::kRowLanes) column_sum_kernel(LinearBackwardParams p) {
  const std::int64_t j = static_cast<std::int64_t>(blockIdx.x) * nn::kLanes + threadIdx.x;
  double acc[1] = {0.0};
  if (j < p.out_features) {
    for (std::int64_t i = threadIdx.y; i < p.rows; i += nn::kRowLanes) acc[0] += p.dy[i * p.out_features + j];
  }
  nn::column_sum<1>(acc);
  if (threadIdx.y == 0 && j < p.out_features) p.dbias[j] = static_cast<float>(acc[0]);
}

void gemm(const GemmArgs& g, void* stream, const char* name) {
  const dim3 grid(static_cast<unsigned>((g.n + kTile - 1) / kTile), static_cast<unsigned>((g.m + kTile - 1) / kTile));
  launch(gemm_kernel, grid, dim3(kGemmThreads), 0, stream, name, g);
}

}  // namespace

void linear_forward(const LinearParams& p, void* stream) {
  // y (rows x out) = x (rows x in) · Wᵀ: A = x, B[k = in, j = out] = W[j, k].
  gemm(GemmArgs{p.x, p.in_features, 1, p.weight, 1, p.in_features, p.bias, p.y, p.rows, p.out_features, p.in_features},
       stream, "linear_forward");
}

void linear_backward(const LinearBackwardParams& p, void* stream) {
  if (p.dx != nullptr) {  // dx (rows x in) = dy (rows x out) · W (out x in)
    gemm(GemmArgs{p.dy, p.out_features, 1, p.weight, p.in_features, 1, nullptr, p.dx, p.rows, p.in_features,
                  p.out_features},
         stream, "linear_backward_dx");
  }
  if (p.dweight != nullptr) {  // dW (out x in) = dyᵀ (out x rows) · x (rows x in)
    gemm(GemmArgs{p.dy, 1, p.out_features, p.x, p.in_features, 1, nullptr, p.dweight, p.out_features, p.in_features,
                  p.rows},
         stream, "linear_backward_dweight");
  }
  if (p.dbias != nullptr) {
    launch(column_sum_kernel, dim3(static_cast<unsigned>((p.out_features + nn::kLanes - 1) / nn::kLanes)),
           dim3(nn::kLanes, nn::kRowLanes), 0, stream, "linear_backward_dbias", p);
  }
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
