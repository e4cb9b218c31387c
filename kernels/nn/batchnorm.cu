// Batch normalisation kernels (definitions, layout and costs in kernels/nn/batchnorm.h). Built by
// nvcc (cuda_impl) and for the emulator (emu_impl). Version 1:
//   - reductions: (32 channels x 8 row lanes) blocks, grid (channel blocks, row splits), fp64
//     accumulators, partials in the workspace, a second (32 x 8) kernel per channel block combines
//     them in a fixed order and finishes the statistics / backward coefficients;
//   - elementwise passes: grid-stride over packs of V = 4 floats when C % 4 == 0 and every pointer
//     is 16-byte aligned (else V = 1), the channel advanced incrementally (no division per element).
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/nn/batchnorm.h"
#include "kernels/nn/nn_device.cuh"

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

using nn::kLanes;
using nn::kRowLanes;
using nn::Pack;

double* partials_of(void* workspace) { return static_cast<double*>(workspace); }
float* coefficients_of(void* workspace, std::int64_t rows, std::int64_t channels) {
  const auto splits = static_cast<std::size_t>(batchnorm_splits(rows, channels));
  return reinterpret_cast<float*>(static_cast<unsigned char*>(workspace) +
                                  splits * 3 * static_cast<std::size_t>(channels) * sizeof(double));
}

// ---------------------------------------------------------------------------------------------
// Statistics.

__global__ void __launch_bounds__(kLanes* kRowLanes) bn_stats_partials_kernel(BatchNormStatsParams p, double* partials) {
  const std::int64_t C = p.channels;
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kLanes + threadIdx.x;
  double acc[2] = {0.0, 0.0};
  if (c < C) {
    const std::int64_t step = static_cast<std::int64_t>(gridDim.y) * kRowLanes;
#if defined(__CUDA_ARCH__)
#pragma unroll 4
#endif
    for (std::int64_t r = static_cast<std::int64_t>(blockIdx.y) * kRowLanes + threadIdx.y; r < p.rows; r += step) {
      const double v = p.x[r * C + c];
      acc[0] += v;
      acc[1] += v * v;
    }
  }
  nn::column_sum<2>(acc);
  if (threadIdx.y == 0 && c < C) {
    partials[(2 * static_cast<std::int64_t>(blockIdx.y)) * C + c] = acc[0];
    partials[(2 * static_cast<std::int64_t>(blockIdx.y) + 1) * C + c] = acc[1];
  }
}

__global__ void __launch_bounds__(kLanes* kRowLanes)
    bn_stats_final_kernel(BatchNormStatsParams p, const double* partials, int splits) {
  const std::int64_t C = p.channels;
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kLanes + threadIdx.x;
  double acc[2] = {0.0, 0.0};
  if (c < C) {
    for (int k = static_cast<int>(threadIdx.y); k < splits; k += kRowLanes) {
      acc[0] += partials[(2 * static_cast<std::int64_t>(k)) * C + c];
      acc[1] += partials[(2 * static_cast<std::int64_t>(k) + 1) * C + c];
    }
  }
  nn::column_sum<2>(acc);
  if (threadIdx.y != 0 || c >= C) return;
  const double n = static_cast<double>(p.rows);
  const double mean = acc[0] / n;
  double var = acc[1] / n - mean * mean;
  var = var > 0.0 ? var : 0.0;
  p.save_mean[c] = static_cast<float>(mean);
  p.save_invstd[c] = static_cast<float>(1.0 / sqrt(var + static_cast<double>(p.eps)));
  if (p.running_mean != nullptr) {
    const double m = p.momentum;
    const double biased_mean = mean + (p.x_bias != nullptr ? static_cast<double>(p.x_bias[c]) : 0.0);
    p.running_mean[c] = static_cast<float>((1.0 - m) * p.running_mean[c] + m * biased_mean);
    p.running_var[c] = static_cast<float>((1.0 - m) * p.running_var[c] + m * var * n / (n - 1.0));
  }
}

// ---------------------------------------------------------------------------------------------
// Apply (forward).

template <int V>
__device__ __forceinline__ void channel_affine(const BatchNormChannels& bn, std::int64_t c0, float (&scale)[V],
                                               float (&shift)[V]) {
  const Pack<V> g = nn::load<V>(bn.gamma + c0), b = nn::load<V>(bn.beta + c0), m = nn::load<V>(bn.mean + c0);
  Pack<V> inv;
  if (bn.invstd != nullptr) {
    inv = nn::load<V>(bn.invstd + c0);
  } else {
    const Pack<V> var = nn::load<V>(bn.var + c0);
    for (int j = 0; j < V; ++j) inv.v[j] = 1.0f / sqrtf(var.v[j] + bn.eps);
  }
  // (x + x_bias - m) · scale + b = x · scale + (b - (m - x_bias) · scale)
  const Pack<V> xb = bn.x_bias != nullptr ? nn::load<V>(bn.x_bias + c0) : Pack<V>{};
  for (int j = 0; j < V; ++j) {
    scale[j] = g.v[j] * inv.v[j];
    shift[j] = b.v[j] - (m.v[j] - xb.v[j]) * scale[j];
  }
}

template <int V>
__global__ void __launch_bounds__(nn::kElementwiseThreads) bn_apply_kernel(BatchNormApplyParams p) {
  const std::int64_t units = p.rows * p.channels / V, channel_units = p.channels / V;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  std::int64_t idx = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  std::int64_t cu = idx % channel_units;
  const std::int64_t cu_step = stride % channel_units;
  for (; idx < units; idx += stride) {
    const std::int64_t c0 = cu * V, i = idx * V;
    float scale[V], shift[V];
    channel_affine<V>(p.bn, c0, scale, shift);
    const Pack<V> x = nn::load<V>(p.x + i);
    Pack<V> z;
    for (int j = 0; j < V; ++j) z.v[j] = x.v[j] * scale[j] + shift[j];
    if (p.residual == BnResidual::identity) {
      const Pack<V> r = nn::load<V>(p.r + i);
      for (int j = 0; j < V; ++j) z.v[j] += r.v[j];
    } else if (p.residual == BnResidual::batchnorm) {
      float rscale[V], rshift[V];
      channel_affine<V>(p.r_bn, c0, rscale, rshift);
      const Pack<V> r = nn::load<V>(p.r + i);
      for (int j = 0; j < V; ++j) z.v[j] += r.v[j] * rscale[j] + rshift[j];
    }
    if (p.relu) {
      for (int j = 0; j < V; ++j) z.v[j] = nn::relu(z.v[j]);
    }
    nn::store<V>(p.y + i, z);
    if (p.y_bf16 != nullptr) nn::store_bf16<V>(p.y_bf16 + i, z);
    cu += cu_step;
    if (cu >= channel_units) cu -= channel_units;
  }
}

// ---------------------------------------------------------------------------------------------
// Backward.

__device__ __forceinline__ float grad_z(const BatchNormBackwardParams& p, std::int64_t i) {
  return p.relu && !(p.y[i] > 0.0f) ? 0.0f : p.dy[i];
}

__global__ void __launch_bounds__(kLanes* kRowLanes)
    bn_backward_partials_kernel(BatchNormBackwardParams p, double* partials) {
  const std::int64_t C = p.channels;
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kLanes + threadIdx.x;
  const bool two = p.residual == BnResidual::batchnorm;
  double acc[3] = {0.0, 0.0, 0.0};
  if (c < C) {
    const double mean = p.bn.mean[c], r_mean = two ? static_cast<double>(p.r_bn.mean[c]) : 0.0;
    const std::int64_t step = static_cast<std::int64_t>(gridDim.y) * kRowLanes;
#if defined(__CUDA_ARCH__)
#pragma unroll 2
#endif
    for (std::int64_t r = static_cast<std::int64_t>(blockIdx.y) * kRowLanes + threadIdx.y; r < p.rows; r += step) {
      const std::int64_t i = r * C + c;
      const double g = grad_z(p, i);
      acc[0] += g;
      acc[1] += g * (static_cast<double>(p.x[i]) - mean);
      if (two) acc[2] += g * (static_cast<double>(p.r[i]) - r_mean);
    }
  }
  nn::column_sum<3>(acc);
  if (threadIdx.y == 0 && c < C) {
    for (int q = 0; q < 3; ++q) partials[(3 * static_cast<std::int64_t>(blockIdx.y) + q) * C + c] = acc[q];
  }
}

// Coefficients per channel c (rows of `coef`): 0 a = gamma·invstd, 1 kx = Σdz(x-mean)·invstd²/rows,
// 2 ar, 3 kr (the same for the residual BN), 4 mean of dz; dx = a·(dz - mean_dz - (x - mean)·kx).
__global__ void __launch_bounds__(kLanes* kRowLanes)
    bn_backward_final_kernel(BatchNormBackwardParams p, const double* partials, int splits, float* coef) {
  const std::int64_t C = p.channels;
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kLanes + threadIdx.x;
  const bool two = p.residual == BnResidual::batchnorm;
  double acc[3] = {0.0, 0.0, 0.0};
  if (c < C) {
    for (int k = static_cast<int>(threadIdx.y); k < splits; k += kRowLanes) {
      for (int q = 0; q < 3; ++q) acc[q] += partials[(3 * static_cast<std::int64_t>(k) + q) * C + c];
    }
  }
  nn::column_sum<3>(acc);
  if (threadIdx.y != 0 || c >= C) return;
  const double n = static_cast<double>(p.rows), inv = p.bn.invstd[c];
  p.dbeta[c] = static_cast<float>(acc[0]);
  p.dgamma[c] = static_cast<float>(acc[1] * inv);
  coef[c] = static_cast<float>(static_cast<double>(p.bn.gamma[c]) * inv);
  coef[C + c] = static_cast<float>(acc[1] * inv * inv / n);
  coef[4 * C + c] = static_cast<float>(acc[0] / n);
  if (two) {
    const double r_inv = p.r_bn.invstd[c];
    p.dr_beta[c] = static_cast<float>(acc[0]);
    p.dr_gamma[c] = static_cast<float>(acc[2] * r_inv);
    coef[2 * C + c] = static_cast<float>(static_cast<double>(p.r_bn.gamma[c]) * r_inv);
    coef[3 * C + c] = static_cast<float>(acc[2] * r_inv * r_inv / n);
  }
}

template <int V>
__global__ void __launch_bounds__(nn::kElementwiseThreads) bn_backward_apply_kernel(BatchNormBackwardParams p,
                                                                                    const float* coef) {
  const std::int64_t C = p.channels;
  const std::int64_t units = p.rows * C / V, channel_units = C / V;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  std::int64_t idx = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  std::int64_t cu = idx % channel_units;
  const std::int64_t cu_step = stride % channel_units;
  for (; idx < units; idx += stride) {
    const std::int64_t c0 = cu * V, i = idx * V;
    Pack<V> g = nn::load<V>(p.dy + i);
    if (p.relu) {
      const Pack<V> y = nn::load<V>(p.y + i);
      for (int j = 0; j < V; ++j) g.v[j] = y.v[j] > 0.0f ? g.v[j] : 0.0f;
    }
    const Pack<V> a = nn::load<V>(coef + c0), kx = nn::load<V>(coef + C + c0), mg = nn::load<V>(coef + 4 * C + c0);
    const Pack<V> x = nn::load<V>(p.x + i), mean = nn::load<V>(p.bn.mean + c0);
    Pack<V> dx;
    for (int j = 0; j < V; ++j) dx.v[j] = a.v[j] * (g.v[j] - mg.v[j] - (x.v[j] - mean.v[j]) * kx.v[j]);
    nn::store<V>(p.dx + i, dx);
    if (p.dx_bf16 != nullptr) nn::store_bf16<V>(p.dx_bf16 + i, dx);
    if (p.residual == BnResidual::identity) {
      nn::store<V>(p.dr + i, g);
      if (p.dr_bf16 != nullptr) nn::store_bf16<V>(p.dr_bf16 + i, g);
    } else if (p.residual == BnResidual::batchnorm) {
      const Pack<V> ar = nn::load<V>(coef + 2 * C + c0), kr = nn::load<V>(coef + 3 * C + c0);
      const Pack<V> r = nn::load<V>(p.r + i), r_mean = nn::load<V>(p.r_bn.mean + c0);
      Pack<V> dr;
      for (int j = 0; j < V; ++j) dr.v[j] = ar.v[j] * (g.v[j] - mg.v[j] - (r.v[j] - r_mean.v[j]) * kr.v[j]);
      nn::store<V>(p.dr + i, dr);
      if (p.dr_bf16 != nullptr) nn::store_bf16<V>(p.dr_bf16 + i, dr);
    }
    cu += cu_step;
    if (cu >= channel_units) cu -= channel_units;
  }
}

bool channels_aligned(const BatchNormChannels& bn) {
  return nn::aligned16(bn.gamma) && nn::aligned16(bn.beta) && nn::aligned16(bn.mean) && nn::aligned16(bn.invstd) &&
         nn::aligned16(bn.var) && nn::aligned16(bn.x_bias);
}

}  // namespace

void batchnorm_stats(const BatchNormStatsParams& p, void* stream) {
  const int splits = batchnorm_splits(p.rows, p.channels);
  const unsigned channel_blocks = static_cast<unsigned>((p.channels + kLanes - 1) / kLanes);
  double* partials = partials_of(p.workspace);
  launch(bn_stats_partials_kernel, dim3(channel_blocks, static_cast<unsigned>(splits)), dim3(kLanes, kRowLanes), 0,
         stream, "batchnorm_stats_partials", p, partials);
  launch(bn_stats_final_kernel, dim3(channel_blocks), dim3(kLanes, kRowLanes), 0, stream, "batchnorm_stats_final", p,
         static_cast<const double*>(partials), splits);
}

void batchnorm_stats_from_partials(const BatchNormStatsParams& p, const double* partials, int splits, void* stream) {
  const unsigned channel_blocks = static_cast<unsigned>((p.channels + kLanes - 1) / kLanes);
  launch(bn_stats_final_kernel, dim3(channel_blocks), dim3(kLanes, kRowLanes), 0, stream, "batchnorm_stats_final", p,
         partials, splits);
}

void batchnorm_apply(const BatchNormApplyParams& p, void* stream) {
  const bool res_bn = p.residual == BnResidual::batchnorm;
  const bool vec = p.channels % 4 == 0 && nn::aligned16(p.x) && nn::aligned16(p.y) && nn::aligned16(p.r) &&
                   nn::aligned8(p.y_bf16) && channels_aligned(p.bn) && (!res_bn || channels_aligned(p.r_bn));
  const std::int64_t total = p.rows * p.channels;
  if (vec) {
    launch(bn_apply_kernel<4>, dim3(grid_blocks(total / 4, nn::kElementwiseThreads)), dim3(nn::kElementwiseThreads),
           0, stream, "batchnorm_apply<4>", p);
  } else {
    launch(bn_apply_kernel<1>, dim3(grid_blocks(total, nn::kElementwiseThreads)), dim3(nn::kElementwiseThreads), 0,
           stream, "batchnorm_apply<1>", p);
  }
}

void batchnorm_backward(const BatchNormBackwardParams& p, void* stream) {
  const int splits = batchnorm_splits(p.rows, p.channels);
  const unsigned channel_blocks = static_cast<unsigned>((p.channels + kLanes - 1) / kLanes);
  double* partials = partials_of(p.workspace);
  float* coef = coefficients_of(p.workspace, p.rows, p.channels);
  launch(bn_backward_partials_kernel, dim3(channel_blocks, static_cast<unsigned>(splits)), dim3(kLanes, kRowLanes), 0,
         stream, "batchnorm_backward_partials", p, partials);
  launch(bn_backward_final_kernel, dim3(channel_blocks), dim3(kLanes, kRowLanes), 0, stream,
         "batchnorm_backward_final", p, static_cast<const double*>(partials), splits, coef);
  const bool vec = p.channels % 4 == 0 && nn::aligned16(p.dy) && nn::aligned16(p.y) && nn::aligned16(p.x) &&
                   nn::aligned16(p.dx) && nn::aligned16(p.r) && nn::aligned16(p.dr) && nn::aligned16(p.bn.mean) &&
                   nn::aligned16(p.r_bn.mean) && nn::aligned8(p.dx_bf16) && nn::aligned8(p.dr_bf16);
  const std::int64_t total = p.rows * p.channels;
  if (vec) {
    launch(bn_backward_apply_kernel<4>, dim3(grid_blocks(total / 4, nn::kElementwiseThreads)),
           dim3(nn::kElementwiseThreads), 0, stream, "batchnorm_backward_apply<4>", p,
           static_cast<const float*>(coef));
  } else {
    launch(bn_backward_apply_kernel<1>, dim3(grid_blocks(total, nn::kElementwiseThreads)),
           dim3(nn::kElementwiseThreads), 0, stream, "batchnorm_backward_apply<1>", p,
           static_cast<const float*>(coef));
  }
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
