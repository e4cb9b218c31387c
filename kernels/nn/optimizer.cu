// Fused optimizer kernels (definitions in kernels/nn/optimizer.h). Version 1: grid (blocks,
// segments), grid-stride within the segment, one value per thread per iteration; the per-element
// arithmetic lives in the __device__ helpers that mirror optimizer_cpu.cpp.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/nn/nn_device.cuh"
#include "kernels/nn/optimizer.h"

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

constexpr unsigned kThreads = 256;

__global__ void __launch_bounds__(kThreads) sgd_kernel(SgdParams p, SgdScalars<float> s) {
  const ParamSegment seg = p.segments.segment[blockIdx.y];
  const float wd = seg.decay ? s.weight_decay : 0.0f;
  const bool first = p.step == 1;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < seg.count; k += stride) {
    const std::int64_t i = seg.offset + k;
    float w = p.weights[i], g = p.grads[i];
    if (wd != 0.0f) g = g + wd * w;
    if (s.momentum != 0.0f) {
      const float buf = first ? g : s.momentum * p.momentum_buffer[i] + s.one_minus_dampening * g;
      p.momentum_buffer[i] = buf;
      g = p.nesterov ? g + s.momentum * buf : buf;
    }
    w = w - s.lr * g;
    p.weights[i] = w;
    if (p.weights_bf16 != nullptr) p.weights_bf16[i] = float_to_bf16_bits(w);
  }
}

__global__ void __launch_bounds__(kThreads) adamw_kernel(AdamWParams p, AdamWScalars<float> s) {
  const ParamSegment seg = p.segments.segment[blockIdx.y];
  const float decay = seg.decay ? s.decay_factor : 1.0f;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t k = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; k < seg.count; k += stride) {
    const std::int64_t i = seg.offset + k;
    float w = p.weights[i] * decay;
    const float g = p.grads[i];
    float m = p.exp_avg[i], v = p.exp_avg_sq[i];
    m = s.lerp_weight < 0.5f ? m + s.lerp_weight * (g - m) : g - (g - m) * (1.0f - s.lerp_weight);
    v = v * s.beta2 + s.one_minus_beta2 * (g * g);
    const float denom = sqrtf(v) / s.bias_correction2_sqrt + s.eps;
    w = w + (-s.step_size) * (m / denom);
    p.exp_avg[i] = m;
    p.exp_avg_sq[i] = v;
    p.weights[i] = w;
    if (p.weights_bf16 != nullptr) p.weights_bf16[i] = float_to_bf16_bits(w);
  }
}

// The segments to launch over (the whole buffer when none are given) and the grid.
ParamSegments resolved(const ParamSegments& in, std::int64_t n) {
  if (in.size > 0) return in;
  ParamSegments out;
  out.size = 1;
  out.segment[0] = ParamSegment{0, n, true};
  return out;
}

dim3 grid_for(const ParamSegments& segs) {
  std::int64_t largest = 1;
  for (int s = 0; s < segs.size; ++s) largest = segs.segment[s].count > largest ? segs.segment[s].count : largest;
  const unsigned per_segment = 2112u / static_cast<unsigned>(segs.size);
  return dim3(grid_blocks(largest, kThreads, per_segment < 1 ? 1 : per_segment), static_cast<unsigned>(segs.size));
}

}  // namespace

void sgd_step(const SgdParams& p, void* stream) {
  if (p.n == 0) return;
  SgdParams q = p;
  q.segments = resolved(p.segments, p.n);
  launch(sgd_kernel, grid_for(q.segments), dim3(kThreads), 0, stream, "sgd_step", q, sgd_scalars(p));
}

void adamw_step(const AdamWParams& p, void* stream) {
  if (p.n == 0) return;
  AdamWParams q = p;
  q.segments = resolved(p.segments, p.n);
  launch(adamw_kernel, grid_for(q.segments), dim3(kThreads), 0, stream, "adamw_step", q, adamw_scalars(p));
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
