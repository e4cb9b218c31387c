// Device helpers shared by the kernels/nn kernel sources (included after kernel_prelude.cuh):
// packed loads and stores of V = 1 or 4 floats, the NaN-propagating ReLU, and a column sum over
// the 8 row lanes of a (32 x 8)-thread block. Everything here lives in the including file's
// DEEPER_KERNEL_NS namespace.
#pragma once

#include "kernels/nn/optimizer.h"  // float_to_bf16_bits: the same bits on every backend

#include <cstdint>

namespace deeper::kernels::DEEPER_KERNEL_NS::nn {

constexpr int kLanes = 32;     // channels per block of the column reductions (threadIdx.x)
constexpr int kRowLanes = 8;   // row lanes per block (threadIdx.y)
constexpr unsigned kElementwiseThreads = 256;

template <int V>
struct Pack {
  float v[V];
};

template <int V>
__device__ __forceinline__ Pack<V> load(const float* ptr) {
  Pack<V> out;
  if constexpr (V == 4) {
    const float4 t = *reinterpret_cast<const float4*>(ptr);
    out.v[0] = t.x;
    out.v[1] = t.y;
    out.v[2] = t.z;
    out.v[3] = t.w;
  } else {
    out.v[0] = *ptr;
  }
  return out;
}

template <int V>
__device__ __forceinline__ void store(float* ptr, const Pack<V>& in) {
  if constexpr (V == 4) {
    *reinterpret_cast<float4*>(ptr) = make_float4(in.v[0], in.v[1], in.v[2], in.v[3]);
  } else {
    *ptr = in.v[0];
  }
}

// The bf16 bits of V floats (float_to_bf16_bits: round to nearest even, NaN kept), stored with one 8-byte store when
// V == 4 (ptr 8-byte aligned).
template <int V>
__device__ __forceinline__ void store_bf16(std::uint16_t* ptr, const Pack<V>& in) {
  std::uint16_t b[V];
  for (int j = 0; j < V; ++j) b[j] = float_to_bf16_bits(in.v[j]);
  if constexpr (V == 4) {
    *reinterpret_cast<uint2*>(ptr) = make_uint2(b[0] | (static_cast<unsigned>(b[1]) << 16),
                                                b[2] | (static_cast<unsigned>(b[3]) << 16));
  } else {
    *ptr = b[0];
  }
}

// max(z, 0), keeping NaN (as PyTorch's relu).
__device__ __forceinline__ float relu(float z) { return z > 0.0f || z != z ? z : 0.0f; }

// Sums acc over the kRowLanes row lanes of a (kLanes x kRowLanes) block; the totals land in the
// threads with threadIdx.y == 0. Call at most once per kernel, by every thread of the block.
template <int NQ>
__device__ void column_sum(double (&acc)[NQ]) {
  __shared__ double red[NQ][kRowLanes][kLanes];
  for (int q = 0; q < NQ; ++q) red[q][threadIdx.y][threadIdx.x] = acc[q];
  __syncthreads();
  if (threadIdx.y == 0) {
    for (int q = 0; q < NQ; ++q) {
      double s = 0;
      for (int j = 0; j < kRowLanes; ++j) s += red[q][j][threadIdx.x];
      acc[q] = s;
    }
  }
}

inline bool aligned16(const void* ptr) { return (reinterpret_cast<std::uintptr_t>(ptr) & 15u) == 0; }
inline bool aligned8(const void* ptr) { return (reinterpret_cast<std::uintptr_t>(ptr) & 7u) == 0; }

}  // namespace deeper::kernels::DEEPER_KERNEL_NS::nn
