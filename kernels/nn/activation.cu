// ReLU and add kernels (definitions in kernels/nn/activation.h). Version 1: grid-stride, float4
// packs when aligned.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/nn/activation.h"
#include "kernels/nn/nn_device.cuh"

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

using nn::Pack;

template <int V>
__global__ void __launch_bounds__(nn::kElementwiseThreads) relu_forward_kernel(ReluParams p) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t u = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; u < p.n / V; u += stride) {
    Pack<V> x = nn::load<V>(p.x + u * V);
    for (int j = 0; j < V; ++j) x.v[j] = nn::relu(x.v[j]);
    nn::store<V>(p.y + u * V, x);
  }
}

template <int V>
__global__ void __launch_bounds__(nn::kElementwiseThreads) relu_backward_kernel(ReluBackwardParams p) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t u = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; u < p.n / V; u += stride) {
    Pack<V> g = nn::load<V>(p.dy + u * V);
    const Pack<V> y = nn::load<V>(p.y + u * V);
    for (int j = 0; j < V; ++j) g.v[j] = y.v[j] > 0.0f ? g.v[j] : 0.0f;
    nn::store<V>(p.dx + u * V, g);
  }
}

template <int V>
__global__ void __launch_bounds__(nn::kElementwiseThreads) add_kernel(AddParams p) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t u = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; u < p.n / V; u += stride) {
    Pack<V> a = nn::load<V>(p.a + u * V);
    const Pack<V> b = nn::load<V>(p.b + u * V);
    for (int j = 0; j < V; ++j) a.v[j] += b.v[j];
    nn::store<V>(p.out + u * V, a);
  }
}

template <typename P>
void launch_packed(void (*k4)(P), void (*k1)(P), const P& p, bool aligned, void* stream, const char* name) {
  if (p.n == 0) return;
  const unsigned t = nn::kElementwiseThreads;
  if (aligned && p.n % 4 == 0) {
    launch(k4, dim3(grid_blocks(p.n / 4, t)), dim3(t), 0, stream, name, p);
  } else {
    launch(k1, dim3(grid_blocks(p.n, t)), dim3(t), 0, stream, name, p);
  }
}

}  // namespace

void relu_forward(const ReluParams& p, void* stream) {
  launch_packed(relu_forward_kernel<4>, relu_forward_kernel<1>, p, nn::aligned16(p.x) && nn::aligned16(p.y), stream,
                "relu_forward");
}

void relu_backward(const ReluBackwardParams& p, void* stream) {
  launch_packed(relu_backward_kernel<4>, relu_backward_kernel<1>, p,
                nn::aligned16(p.dy) && nn::aligned16(p.y) && nn::aligned16(p.dx), stream, "relu_backward");
}

void add(const AddParams& p, void* stream) {
  launch_packed(add_kernel<4>, add_kernel<1>, p, nn::aligned16(p.a) && nn::aligned16(p.b) && nn::aligned16(p.out),
                stream, "add");
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
