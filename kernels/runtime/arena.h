// Arena: one device reservation from which activations and workspaces are carved by bump
// allocation, so that a training or analysis step allocates nothing (DESIGN.md, Memory).
//
//   Arena arena(device, 512 << 20);                  // the only cudaMalloc
//   for (step...) {
//     const ArenaScope scope(arena);                   // everything below is released at scope end
//     void* act = arena.allocate(bytes, "conv1.out");
//   }
//
// Every allocation is aligned to buffer_alignment (256 bytes). Running out throws deeper::Error
// naming the request, its name, what is used and the capacity; the arena never grows by itself.
// Pointers from an arena are valid until reset() releases them (or the arena is destroyed).
#pragma once

#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"

#include <cstddef>
#include <string_view>

namespace deeper {

class Arena {
 public:
  // A position in the arena to return to (see mark() and reset()).
  struct Mark {
    std::size_t offset = 0;
  };

  // Reserves `capacity` bytes on `device` (one DeviceBuffer). Throws as DeviceBuffer does.
  Arena(Device device, std::size_t capacity);

  // `bytes` from the arena, aligned to 256 bytes; `name` is for the error message and nothing else.
  // A zero-byte request returns the current position without consuming space. Throws deeper::Error
  // when the request does not fit.
  void* allocate(std::size_t bytes, std::string_view name);

  Mark mark() const { return {used_}; }
  // Releases everything allocated after `mark`. Throws deeper::Error when the mark lies beyond the
  // current position (it was taken inside a scope that has already been reset).
  void reset(Mark mark);
  void reset() { reset(Mark{}); }

  Device device() const { return buffer_.device(); }
  void* base() const { return buffer_.data(); }
  std::size_t used() const { return used_; }
  std::size_t capacity() const { return buffer_.bytes(); }
  // The largest used() reached since construction: the capacity a workload really needs.
  std::size_t high_water() const { return high_water_; }

 private:
  DeviceBuffer buffer_;
  std::size_t used_ = 0;
  std::size_t high_water_ = 0;
};

// Takes a mark on construction and resets the arena to it on destruction.
class ArenaScope {
 public:
  explicit ArenaScope(Arena& arena) : arena_(arena), mark_(arena.mark()) {}
  ~ArenaScope() { arena_.reset(mark_); }
  ArenaScope(const ArenaScope&) = delete;
  ArenaScope& operator=(const ArenaScope&) = delete;

 private:
  Arena& arena_;
  Arena::Mark mark_;
};

}  // namespace deeper
