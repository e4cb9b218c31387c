// Device side of kernels/raster/grad_accum.h: the atomic add of one contribution (float atomics or
// fixed-point int64 atomics) and the warp-segmented reduction that aggregates consecutive lanes
// adding to the same destination. Included by kernel sources (.cu) only.
#pragma once

#include "kernels/raster/grad_accum.h"

namespace deeper::kernels::DEEPER_KERNEL_NS {

// Adds v to element i of the accumulation.
__device__ __forceinline__ void grad_atomic_add(const GradAccumT<float>& a, std::int64_t i, float v) {
  if (a.fixed) {
    atomicAdd(reinterpret_cast<unsigned long long*>(a.fixed + i),
              static_cast<unsigned long long>(grad_to_fixed(v, grad_fixed_scale(a.bits))));
  } else {
    atomicAdd(a.grad + i, v);
  }
}

// Segments of a warp: runs of consecutive lanes with the same key. Every lane of the warp must call
// this (full mask). `head`: this lane starts a segment; `end`: the last lane of its segment.
struct WarpSegment {
  bool head;
  int end;
};

__device__ __forceinline__ WarpSegment warp_segment(long long key) {
  const int lane = static_cast<int>(threadIdx.x & 31u);
  const long long previous = __shfl_up_sync(0xFFFFFFFFu, key, 1);
  const bool head = lane == 0 || previous != key;
  const unsigned heads = __ballot_sync(0xFFFFFFFFu, head);
  const unsigned above = lane == 31 ? 0u : heads & (0xFFFFFFFFu << (lane + 1));
  return {head, above ? __ffs(static_cast<int>(above)) - 2 : 31};
}

// The sum of v over this lane and the following lanes of its segment (the segment's total at its
// head). Every lane of the warp must call this.
template <typename V>
__device__ __forceinline__ V warp_segment_sum(V v, const WarpSegment& s) {
  const int lane = static_cast<int>(threadIdx.x & 31u);
  for (int offset = 1; offset < 32; offset <<= 1) {
    const V other = __shfl_down_sync(0xFFFFFFFFu, v, offset);
    if (lane + offset <= s.end) v += other;
  }
  return v;
}

// Warp-aggregated add: the lanes of a segment (same key, hence the same index i) add their v once,
// from the head. Every lane of the warp must call this; lanes with valid == false contribute
// nothing (their segment's head may still add the others' sum only if it is valid itself, so a
// segment is valid or not as a whole: give invalid lanes a key of their own, e.g. -1).
__device__ __forceinline__ void grad_warp_add(const GradAccumT<float>& a, const WarpSegment& s, bool valid,
                                              std::int64_t i, float v) {
  if (a.fixed) {
    const long long f = valid ? grad_to_fixed(v, grad_fixed_scale(a.bits)) : 0;
    const long long sum = warp_segment_sum(f, s);
    if (valid && s.head && sum != 0) {
      atomicAdd(reinterpret_cast<unsigned long long*>(a.fixed + i), static_cast<unsigned long long>(sum));
    }
  } else {
    const float sum = warp_segment_sum(valid ? v : 0.0f, s);
    if (valid && s.head) atomicAdd(a.grad + i, sum);
  }
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
