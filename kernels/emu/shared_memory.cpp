// Shared-memory poisoning: see shared_memory.h.
#include "kernels/emu/shared_memory.h"

#include <cstdint>

// Weak, so that a program without any emulated __shared__ variable still links (both are null).
extern "C" {
extern unsigned char __start_deeper_emu_shared[] __attribute__((weak));
extern unsigned char __stop_deeper_emu_shared[] __attribute__((weak));
}

namespace deeper::emu {

// Writes through volatile bytes in a function AddressSanitizer does not instrument: the section also
// holds ASan's red zones between variables, which must be overwritten without a report (the shadow
// memory that marks them is elsewhere and stays intact).
__attribute__((no_sanitize("address"))) static void poison_bytes(unsigned char* begin, unsigned char* end) {
  for (volatile unsigned char* p = begin; p < end; ++p) *p = 0xFF;
}

void poison_shared_memory(unsigned char* dynamic_shared, std::size_t dynamic_bytes) {
  if (__start_deeper_emu_shared != nullptr && __stop_deeper_emu_shared != nullptr) {
    poison_bytes(__start_deeper_emu_shared, __stop_deeper_emu_shared);
  }
  if (dynamic_shared != nullptr) poison_bytes(dynamic_shared, dynamic_shared + dynamic_bytes);
}

}  // namespace deeper::emu
