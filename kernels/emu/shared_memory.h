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

// Where an address points, as far as the emulator can tell (for the checks of ldmatrix and
// cp.async, which address shared memory). `shared`: the __shared__ section or the current block's
// dynamic shared memory. `static_storage`: another static variable of the program: possibly the
// __shared__ array of a template kernel (GCC ignores the section attribute there), possibly a plain
// global; the emulator cannot tell which. `other`: the heap, a stack (a thread's local array), a
// mapping: never shared memory.
enum class AddressKind { shared, static_storage, other };
AddressKind classify_address(const void* p);

}  // namespace deeper::emu
