// Warp-level intrinsics of the emulator: __syncwarp, shuffles, votes, match, and the sm_80 integer
// reductions. Each is a warp collective (thread_context.h): a lane deposits its operand and waits
// until every lane named in the mask has arrived at the same intrinsic with the same mask, as CUDA
// requires; the emulator then computes every lane's result at once. A lane named in the mask that
// has exited or waits elsewhere is reported as a deadlock, lanes that disagree on the intrinsic or
// the mask as an error. Shuffle widths must be powers of two up to 32.
#pragma once

#include "kernels/emu/thread_context.h"

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace deeper::emu::detail {

struct ShflSlot {
  std::uint64_t value;
  unsigned source;  // absolute lane whose value this lane receives
  std::uint64_t result;
};

inline void complete_shfl(void* const* slots, unsigned participants) {
  for (unsigned lane = 0; lane < 32; ++lane) {
    if (!(participants >> lane & 1u)) continue;
    auto* s = static_cast<ShflSlot*>(slots[lane]);
    // A source lane that does not take part gives an undefined value on a GPU; here, the lane's own.
    const bool valid = s->source < 32 && (participants >> s->source & 1u);
    s->result = valid ? static_cast<ShflSlot*>(slots[s->source])->value : s->value;
  }
}

template <typename T>
T shuffle(unsigned mask, T value, unsigned source) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "shuffled types are at most 8 bytes");
  ShflSlot slot{};
  std::memcpy(&slot.value, &value, sizeof(T));
  slot.source = source;
  warp_collective(mask, WarpOp::shfl, &slot, &complete_shfl);
  T out;
  std::memcpy(&out, &slot.result, sizeof(T));
  return out;
}

inline unsigned lane_id() { return this_thread().lane; }

inline unsigned checked_width(int width) {
  const auto w = static_cast<unsigned>(width);
  if (w == 0 || w > 32 || (w & (w - 1)) != 0) {
    throw_bad_width(width);
  }
  return w;
}

struct VoteSlot {
  std::uint64_t value;
  unsigned result;
  int predicate_out;
};

template <WarpOp Op>
void complete_vote(void* const* slots, unsigned participants) {
  unsigned ballot = 0;
  for (unsigned lane = 0; lane < 32; ++lane) {
    if ((participants >> lane & 1u) && static_cast<VoteSlot*>(slots[lane])->value != 0) ballot |= 1u << lane;
  }
  unsigned result = ballot;
  if constexpr (Op == WarpOp::vote_any) result = ballot != 0;
  if constexpr (Op == WarpOp::vote_all) result = ballot == participants;
  for (unsigned lane = 0; lane < 32; ++lane) {
    if (participants >> lane & 1u) static_cast<VoteSlot*>(slots[lane])->result = result;
  }
}

template <WarpOp Op>
void complete_match(void* const* slots, unsigned participants) {
  for (unsigned lane = 0; lane < 32; ++lane) {
    if (!(participants >> lane & 1u)) continue;
    auto* s = static_cast<VoteSlot*>(slots[lane]);
    unsigned same = 0;
    for (unsigned other = 0; other < 32; ++other) {
      if ((participants >> other & 1u) && static_cast<VoteSlot*>(slots[other])->value == s->value) same |= 1u << other;
    }
    if constexpr (Op == WarpOp::match_any) {
      s->result = same;
    } else {
      s->predicate_out = same == participants;
      s->result = same == participants ? participants : 0u;
    }
  }
}

template <WarpOp Op>
unsigned vote(unsigned mask, std::uint64_t value, int* predicate_out = nullptr) {
  VoteSlot slot{value, 0, 0};
  if constexpr (Op == WarpOp::match_any || Op == WarpOp::match_all) {
    warp_collective(mask, Op, &slot, &complete_match<Op>);
  } else {
    warp_collective(mask, Op, &slot, &complete_vote<Op>);
  }
  if (predicate_out != nullptr) *predicate_out = slot.predicate_out;
  return slot.result;
}

template <WarpOp Op, typename T>
void complete_reduce(void* const* slots, unsigned participants) {
  bool first = true;
  T acc{};
  for (unsigned lane = 0; lane < 32; ++lane) {
    if (!(participants >> lane & 1u)) continue;
    T v;
    std::memcpy(&v, &static_cast<VoteSlot*>(slots[lane])->value, sizeof(T));
    if (first) {
      acc = v;
      first = false;
    } else if constexpr (Op == WarpOp::reduce_add) {
      acc = static_cast<T>(acc + v);
    } else if constexpr (Op == WarpOp::reduce_min) {
      acc = v < acc ? v : acc;
    } else if constexpr (Op == WarpOp::reduce_max) {
      acc = v > acc ? v : acc;
    } else if constexpr (Op == WarpOp::reduce_and) {
      acc = acc & v;
    } else if constexpr (Op == WarpOp::reduce_or) {
      acc = acc | v;
    } else {
      acc = acc ^ v;
    }
  }
  for (unsigned lane = 0; lane < 32; ++lane) {
    if (participants >> lane & 1u) std::memcpy(&static_cast<VoteSlot*>(slots[lane])->result, &acc, sizeof(T));
  }
}

template <WarpOp Op, typename T>
T reduce(unsigned mask, T value) {
  VoteSlot slot{};
  std::memcpy(&slot.value, &value, sizeof(T));
  warp_collective(mask, Op, &slot, &complete_reduce<Op, T>);
  T out;
  std::memcpy(&out, &slot.result, sizeof(T));
  return out;
}

inline void complete_nothing(void* const*, unsigned) {}

}  // namespace deeper::emu::detail

inline void __syncwarp(unsigned mask = 0xFFFFFFFFu) {
  ::deeper::emu::detail::warp_collective(mask, ::deeper::emu::detail::WarpOp::syncwarp, nullptr,
                                         &::deeper::emu::detail::complete_nothing);
}

inline unsigned __activemask() { return ::deeper::emu::detail::active_mask(); }

template <typename T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = 32) {
  using namespace ::deeper::emu::detail;
  const unsigned w = checked_width(width), lane = lane_id();
  return shuffle(mask, var, (lane & ~(w - 1)) + (static_cast<unsigned>(src_lane) & (w - 1)));
}

template <typename T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = 32) {
  using namespace ::deeper::emu::detail;
  const unsigned w = checked_width(width), lane = lane_id();
  return shuffle(mask, var, (lane & (w - 1)) >= delta ? lane - delta : lane);
}

template <typename T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32) {
  using namespace ::deeper::emu::detail;
  const unsigned w = checked_width(width), lane = lane_id();
  return shuffle(mask, var, (lane & (w - 1)) + delta < w ? lane + delta : lane);
}

template <typename T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = 32) {
  using namespace ::deeper::emu::detail;
  const unsigned w = checked_width(width), lane = lane_id();
  const unsigned target = lane ^ static_cast<unsigned>(lane_mask);
  const unsigned segment_end = (lane & ~(w - 1)) + w - 1;  // may read earlier segments, not later ones
  return shuffle(mask, var, target <= segment_end ? target : lane);
}

inline unsigned __ballot_sync(unsigned mask, int predicate) {
  return ::deeper::emu::detail::vote<::deeper::emu::detail::WarpOp::vote_ballot>(mask, predicate != 0);
}
inline int __any_sync(unsigned mask, int predicate) {
  return static_cast<int>(::deeper::emu::detail::vote<::deeper::emu::detail::WarpOp::vote_any>(mask, predicate != 0));
}
inline int __all_sync(unsigned mask, int predicate) {
  return static_cast<int>(::deeper::emu::detail::vote<::deeper::emu::detail::WarpOp::vote_all>(mask, predicate != 0));
}

template <typename T>
unsigned __match_any_sync(unsigned mask, T value) {
  static_assert(std::is_trivially_copyable_v<T> && (sizeof(T) == 4 || sizeof(T) == 8), "match takes 32- or 64-bit values");
  std::uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  return ::deeper::emu::detail::vote<::deeper::emu::detail::WarpOp::match_any>(mask, bits);
}

template <typename T>
unsigned __match_all_sync(unsigned mask, T value, int* pred) {
  static_assert(std::is_trivially_copyable_v<T> && (sizeof(T) == 4 || sizeof(T) == 8), "match takes 32- or 64-bit values");
  std::uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  return ::deeper::emu::detail::vote<::deeper::emu::detail::WarpOp::match_all>(mask, bits, pred);
}

#define DEEPER_EMU_REDUCE(name, op, type)                                          \
  inline type name(unsigned mask, type value) {                                    \
    return ::deeper::emu::detail::reduce<::deeper::emu::detail::WarpOp::op, type>(mask, value); \
  }
DEEPER_EMU_REDUCE(__reduce_add_sync, reduce_add, unsigned)
DEEPER_EMU_REDUCE(__reduce_add_sync, reduce_add, int)
DEEPER_EMU_REDUCE(__reduce_min_sync, reduce_min, unsigned)
DEEPER_EMU_REDUCE(__reduce_min_sync, reduce_min, int)
DEEPER_EMU_REDUCE(__reduce_max_sync, reduce_max, unsigned)
DEEPER_EMU_REDUCE(__reduce_max_sync, reduce_max, int)
DEEPER_EMU_REDUCE(__reduce_and_sync, reduce_and, unsigned)
DEEPER_EMU_REDUCE(__reduce_or_sync, reduce_or, unsigned)
DEEPER_EMU_REDUCE(__reduce_xor_sync, reduce_xor, unsigned)
#undef DEEPER_EMU_REDUCE
