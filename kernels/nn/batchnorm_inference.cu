// Batch normalisation backward in inference mode (definitions and costs in
// kernels/nn/batchnorm_inference.h). Built by nvcc (cuda_impl) and for the emulator (emu_impl).
// One elementwise kernel: grid-stride over packs of V = 4 floats when C % 4 == 0 and every pointer
// is 16-byte aligned (else V = 1), the channel advanced incrementally (no division per element),
// the per-channel scale gamma·invstd recomputed per pack from the (cached) channel vectors.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/nn/batchnorm_inference.h"
#include "kernels/nn/nn_device.cuh"

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

using nn::Pack;

// gamma_c · invstd_c for the V channels from c0.
template <int V>
__device__ __forceinline__ Pack<V> channel_scale(const BatchNormChannels& bn, std::int64_t c0) {
  const Pack<V> g = nn::load<V>(bn.gamma + c0);
  Pack<V> inv;
  if (bn.invstd != nullptr) {
    inv = nn::load<V>(bn.invstd + c0);
  } else {
    const Pack<V> var = nn::load<V>(bn.var + c0);
    for (int j = 0; j < V; ++j) inv.v[j] = 1.0f / sqrtf(var.v[j] + bn.eps);
  }
  Pack<V> out;
  for (int j = 0; j < V; ++j) out.v[j] = g.v[j] * inv.v[j];
  return out;
}

template <int V>
__global__ void __launch_bounds__(nn::kElementwiseThreads)
    bn_inference_backward_kernel(BatchNormInferenceBackwardParams p) {
  const std::int64_t units = p.rows * p.channels / V, channel_units = p.channels / V;
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
    const Pack<V> a = channel_scale<V>(p.bn, c0);
    Pack<V> dx;
    for (int j = 0; j < V; ++j) dx.v[j] = g.v[j] * a.v[j];
    nn::store<V>(p.dx + i, dx);
    if (p.residual == BnResidual::identity) {
      nn::store<V>(p.dr + i, g);
    } else if (p.residual == BnResidual::batchnorm) {
      const Pack<V> ar = channel_scale<V>(p.r_bn, c0);
      Pack<V> dr;
      for (int j = 0; j < V; ++j) dr.v[j] = g.v[j] * ar.v[j];
      nn::store<V>(p.dr + i, dr);
    }
    cu += cu_step;
    if (cu >= channel_units) cu -= channel_units;
  }
}

bool scale_aligned(const BatchNormChannels& bn) {
  return nn::aligned16(bn.gamma) && nn::aligned16(bn.invstd) && nn::aligned16(bn.var);
}

}  // namespace

void batchnorm_inference_backward(const BatchNormInferenceBackwardParams& p, void* stream) {
  const bool res_bn = p.residual == BnResidual::batchnorm;
  const bool vec = p.channels % 4 == 0 && nn::aligned16(p.dy) && nn::aligned16(p.y) && nn::aligned16(p.dx) &&
                   nn::aligned16(p.dr) && scale_aligned(p.bn) && (!res_bn || scale_aligned(p.r_bn));
  const std::int64_t total = p.rows * p.channels;
  if (vec) {
    launch(bn_inference_backward_kernel<4>, dim3(grid_blocks(total / 4, nn::kElementwiseThreads)),
           dim3(nn::kElementwiseThreads), 0, stream, "batchnorm_inference_backward<4>", p);
  } else {
    launch(bn_inference_backward_kernel<1>, dim3(grid_blocks(total, nn::kElementwiseThreads)),
           dim3(nn::kElementwiseThreads), 0, stream, "batchnorm_inference_backward<1>", p);
  }
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
