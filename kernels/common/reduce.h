// Sum of a float array, the first reduction kernel: the pattern (grid-stride loads, warp shuffles,
// shared memory across warps, a deterministic second pass) that later reductions follow.
//
// Two passes, no atomics, so the result is bit-reproducible for a given n and block count:
//   pass 1: each of `blocks` blocks sums a grid-stride share of `in` into partials[block] (fp32);
//   pass 2: one block sums the partials in fp64 and writes *out (fp32).
// Bytes moved: 4 n read + 4 blocks written and read; FLOPs: n adds. It is memory-bound, so its
// ceiling is the device's read bandwidth (bench/bench_runtime.cpp measures it against a copy).
#pragma once

#include "kernels/runtime/device.h"

#include <cstdint>

namespace deeper::kernels {

struct ReduceSumParams {
  const float* in = nullptr;  // n values (device memory of the backend)
  std::int64_t n = 0;
  float* partials = nullptr;  // workspace: reduce_sum_blocks(n) floats
  float* out = nullptr;       // one float
};

constexpr unsigned kReduceThreads = 256;
// Number of pass-1 blocks (and workspace floats) for n values.
unsigned reduce_sum_blocks(std::int64_t n);

namespace cpu_impl {
void reduce_sum(const ReduceSumParams& p);
}
namespace emu_impl {
void reduce_sum(const ReduceSumParams& p, void* stream);
}
namespace cuda_impl {
void reduce_sum(const ReduceSumParams& p, void* stream);
}

// Runs on `device`'s backend; `stream` is a Stream::native() handle (nullptr: default stream).
void reduce_sum(const Device& device, const ReduceSumParams& p, void* stream = nullptr);

}  // namespace deeper::kernels
