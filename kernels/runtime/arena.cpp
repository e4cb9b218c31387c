#include "kernels/runtime/arena.h"

#include "core/error.h"
#include "kernels/runtime/bytes.h"

#include <algorithm>

namespace deeper {

Arena::Arena(Device device, std::size_t capacity) : buffer_(device, capacity) {}

void* Arena::allocate(std::size_t bytes, std::string_view name) {
  const std::size_t capacity = buffer_.bytes();
  // used_ is a multiple of the alignment (or equals the capacity), so every allocation starts
  // aligned. Compare before rounding the request up, so that a size near SIZE_MAX cannot overflow.
  if (bytes > capacity - used_) {
    fail(
        "arena on {} is full: cannot allocate '{}' ({}, {} bytes); {} of {} used ({} of {} bytes), high "
        "water {}",
        device().name(), name, format_bytes(bytes), bytes, format_bytes(used_), format_bytes(capacity), used_,
        capacity, format_bytes(high_water_));
  }
  std::byte* const base = static_cast<std::byte*>(buffer_.data());
  void* result = base != nullptr ? base + used_ : nullptr;
  const std::size_t padded = (bytes + buffer_alignment - 1) / buffer_alignment * buffer_alignment;
  used_ = std::min(capacity, used_ + padded);  // the last allocation may use an unaligned tail
  high_water_ = std::max(high_water_, used_);
  return result;
}

void Arena::reset(Mark mark) {
  if (mark.offset > used_) {
    fail(
        "arena on {}: cannot reset to offset {} beyond the {} bytes in use (a mark from a scope that was "
        "already reset)",
        device().name(), mark.offset, used_);
  }
  used_ = mark.offset;
}

}  // namespace deeper
