// Shared-memory poisoning and address classification: see shared_memory.h.
#include "kernels/emu/shared_memory.h"
#include "kernels/emu/thread_context.h"

#include <link.h>

#include <cstdint>
#include <vector>

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

// ---------------------------------------------------------------------------------------------
// Address classification: the writable segments of every loaded module, found once.

namespace deeper::emu {
namespace {

struct Range {
  std::uintptr_t begin, end;
};

int collect_writable_segments(dl_phdr_info* info, std::size_t, void* data) {
  auto* ranges = static_cast<std::vector<Range>*>(data);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_W) != 0) {
      const std::uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
      ranges->push_back(Range{begin, begin + ph.p_memsz});
    }
  }
  return 0;
}

const std::vector<Range>& static_storage_ranges() {
  static const std::vector<Range> ranges = [] {
    std::vector<Range> r;
    dl_iterate_phdr(&collect_writable_segments, &r);
    return r;
  }();
  return ranges;
}

}  // namespace

AddressKind classify_address(const void* p) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  const auto in = [a](const void* begin, const void* end) {
    return begin != nullptr && a >= reinterpret_cast<std::uintptr_t>(begin) && a < reinterpret_cast<std::uintptr_t>(end);
  };
  if (in(__start_deeper_emu_shared, __stop_deeper_emu_shared)) return AddressKind::shared;
  const detail::BlockIdentity& block = detail::this_block();
  if (in(block.dynamic_shared, block.dynamic_shared + block.dynamic_shared_bytes)) return AddressKind::shared;
  for (const Range& r : static_storage_ranges()) {
    if (a >= r.begin && a < r.end) return AddressKind::static_storage;
  }
  return AddressKind::other;
}

}  // namespace deeper::emu
