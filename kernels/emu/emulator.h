// The kernel emulator's host-side interface: run a CUDA kernel, compiled by the host compiler from
// the same .cu source, on the CPU with CUDA's execution model.
//
// Blocks run one after another; the threads of a block are fibers interleaved in a seeded random
// order between barriers and warp collectives, so a kernel that forgets a __syncthreads or a
// __syncwarp gives a wrong answer for some seed. Kernels reach the emulator through
// deeper::launch (kernels/common/launch.cuh), never by calling this directly.
#pragma once

#include <vector_types.h>  // dim3, uint3 (host-usable CUDA header)

#include <cstddef>
#include <cstdint>
#include <functional>

namespace deeper::emu {

// Runs `body` once per thread of a grid x block launch; dynamic_shared_bytes of dynamic shared
// memory per block. Validates the launch like CUDA (block <= 1024 threads, grid limits, shared
// memory <= 227 KiB) and throws deeper::Error naming the kernel on a bad configuration, a deadlock
// (threads waiting at a barrier or warp collective that can never complete), a warp collective
// whose lanes disagree, or an exception raised by a thread. One emulated launch runs at a time per
// process (static shared memory is process-wide storage).
void launch(dim3 grid, dim3 block, std::size_t dynamic_shared_bytes, const char* kernel_name,
            const std::function<void()>& body);

// The interleaving seed. Launches after set_seed(s) follow a sequence that depends only on s, so a
// failure reproduces with DEEPER_EMU_SEED=s (read from the environment at first use; default 1).
void set_seed(std::uint64_t seed);
std::uint64_t seed();

struct Stats {
  std::uint64_t launches = 0;
  std::uint64_t blocks = 0;
  std::uint64_t threads = 0;
  std::uint64_t context_switches = 0;
};
// Counters since process start (tests use them to prove a kernel really ran under the emulator).
Stats stats();

}  // namespace deeper::emu
