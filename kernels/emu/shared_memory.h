// Shared memory under the emulator.
//
// Static shared memory: `__shared__` declares a function-local static placed in the linker section
// `deeper_emu_shared` (cuda_shim.h). The linker gathers every such variable of the program between
// __start_deeper_emu_shared and __stop_deeper_emu_shared, and the emulator fills that range with
// 0xFF bytes (NaN for floats, -1 for integers) before each block, as uninitialized shared memory
// would be on a GPU: a kernel that reads shared memory before writing it, or before a barrier,
// sees garbage rather than the previous block's values.
// Dynamic shared memory: one allocation of exactly the launch's size, poisoned the same way.
#pragma once

#include <cstddef>

namespace deeper::emu {

void poison_shared_memory(unsigned char* dynamic_shared, std::size_t dynamic_bytes);

}  // namespace deeper::emu
