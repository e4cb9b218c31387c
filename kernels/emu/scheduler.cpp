// The emulator's scheduler: runs each block's threads as fibers, releases them at barriers and warp
// collectives, interleaves them in a seeded random order, and reports deadlocks. See emulator.h.
#include "kernels/emu/async_copy.h"
#include "kernels/emu/emulator.h"
#include "kernels/emu/fiber.h"
#include "kernels/emu/shared_memory.h"
#include "kernels/emu/thread_context.h"
#include "kernels/emu/wgmma.h"

#include "core/error.h"

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace deeper::emu {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr std::size_t kFiberStackBytes = 512 * 1024;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr std::size_t kFiberStackBytes = 512 * 1024;
#else
constexpr std::size_t kFiberStackBytes = 128 * 1024;
#endif
#else
constexpr std::size_t kFiberStackBytes = 128 * 1024;
#endif

constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr std::size_t kMaxSharedBytes = 232448;  // 227 KiB, sm_90's opt-in maximum per block

enum class State { runnable, at_barrier, at_warp, done };

struct EmuThread {
  detail::ThreadIdentity id{};
  Fiber* fiber = nullptr;
  State state = State::runnable;
  // __syncthreads
  detail::BarrierKind barrier_kind = detail::BarrierKind::sync;
  int predicate = 0;
  int barrier_result = 0;
  // warp collective
  detail::WarpOp op = detail::WarpOp::syncwarp;
  unsigned mask = 0;
  void* slot = nullptr;
  detail::WarpCompletion complete = nullptr;
  // cp.async copies not yet performed (async_copy.h)
  detail::AsyncCopyQueue async_copies;
  // wgmma operations not yet performed (wgmma.h)
  detail::WgmmaQueue wgmma;
};

// splitmix64: seeds and per-block interleaving orders.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

struct Rng {
  std::uint64_t state;
  unsigned below(unsigned n) {
    state = mix(state);
    return static_cast<unsigned>((state >> 32) * n >> 32);
  }
};

std::uint64_t initial_seed() {
  if (const char* env = std::getenv("DEEPER_EMU_SEED")) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(env, &end, 0);
    if (end != env && *end == '\0') return v;
    fail("DEEPER_EMU_SEED='{}' is not an unsigned integer", env);
  }
  return 1;
}

struct Global {
  std::mutex launch_mutex;
  std::uint64_t seed = initial_seed();
  std::uint64_t launch_counter = 0;
  std::atomic<std::uint64_t> launches{0}, blocks{0}, threads{0}, switches{0};
};

Global& global() {
  static Global g;
  return g;
}

struct BlockRun;
thread_local BlockRun* tl_run = nullptr;
thread_local EmuThread* tl_emu_thread = nullptr;
thread_local const detail::BlockIdentity* tl_block = nullptr;

struct BlockRun {
  const char* kernel_name = "";
  const std::function<void()>* body = nullptr;
  detail::BlockIdentity block{};
  std::vector<EmuThread> threads;
  std::vector<unsigned> runnable;
  unsigned live = 0;
  Rng rng{0};
  std::exception_ptr error;
  std::uint64_t switches = 0;

  std::string where(const EmuThread& t) const {
    return fmt::format("kernel '{}' block ({},{},{}) thread ({},{},{}) (warp {} lane {})", kernel_name,
                       block.block_idx.x, block.block_idx.y, block.block_idx.z, t.id.thread_idx.x,
                       t.id.thread_idx.y, t.id.thread_idx.z, t.id.warp, t.id.lane);
  }

  unsigned warp_lanes(unsigned warp) const {
    const unsigned first = warp * 32;
    const unsigned n = static_cast<unsigned>(threads.size()) - first;
    return n >= 32 ? 0xFFFFFFFFu : ((1u << n) - 1u);
  }

  void make_runnable(unsigned index) {
    threads[index].state = State::runnable;
    runnable.push_back(index);
  }

  // A lane arrived at a warp collective: if every lane it names has arrived too, complete it.
  void try_complete_warp(EmuThread& t) {
    const unsigned base = t.id.warp * 32;
    const unsigned participants = t.mask & warp_lanes(t.id.warp);
    std::array<void*, 32> slots{};
    for (unsigned lane = 0; lane < 32; ++lane) {
      if (!(participants >> lane & 1u)) continue;
      const EmuThread& u = threads[base + lane];
      // Not there yet: still running, at a barrier, in another collective, or exited. If it never
      // comes, resolve_stall() reports the deadlock.
      if (u.state != State::at_warp || u.op != t.op || u.mask != t.mask) return;
      slots[lane] = u.slot;
    }
    t.complete(slots.data(), participants);
    for (unsigned lane = 0; lane < 32; ++lane) {
      if (participants >> lane & 1u) make_runnable(base + lane);
    }
  }

  // Completes __activemask for a warp once none of its lanes can run on (see thread_context.h).
  void try_complete_active_mask(unsigned warp) {
    const unsigned base = warp * 32, lanes = warp_lanes(warp);
    unsigned waiting = 0;
    for (unsigned lane = 0; lane < 32; ++lane) {
      if (!(lanes >> lane & 1u)) continue;
      const EmuThread& u = threads[base + lane];
      if (u.state == State::runnable) return;
      if (u.state == State::at_warp && u.op == detail::WarpOp::active_mask) waiting |= 1u << lane;
    }
    for (unsigned lane = 0; lane < 32; ++lane) {
      if (!(waiting >> lane & 1u)) continue;
      *static_cast<unsigned*>(threads[base + lane].slot) = waiting;
      make_runnable(base + lane);
    }
  }

  // Nothing can run: release a completed block barrier, or explain the deadlock.
  void resolve_stall() {
    bool all_at_barrier = true;
    for (const EmuThread& t : threads) {
      if (t.state != State::done && t.state != State::at_barrier) all_at_barrier = false;
    }
    if (all_at_barrier) {
      int count = 0;
      for (const EmuThread& t : threads) {
        if (t.state == State::at_barrier && t.predicate != 0) ++count;
      }
      const int arrived = static_cast<int>(live);
      for (unsigned i = 0; i < threads.size(); ++i) {
        EmuThread& t = threads[i];
        if (t.state != State::at_barrier) continue;
        switch (t.barrier_kind) {
          case detail::BarrierKind::sync: t.barrier_result = 0; break;
          case detail::BarrierKind::count: t.barrier_result = count; break;
          case detail::BarrierKind::all: t.barrier_result = count == arrived; break;
          case detail::BarrierKind::any: t.barrier_result = count > 0; break;
        }
        make_runnable(i);
      }
      return;
    }
    for (const EmuThread& t : threads) {
      if (t.state != State::at_warp) continue;
      const unsigned base = t.id.warp * 32;
      const unsigned participants = t.mask & warp_lanes(t.id.warp);
      for (unsigned lane = 0; lane < 32; ++lane) {
        if (!(participants >> lane & 1u)) continue;
        const EmuThread& u = threads[base + lane];
        if (u.state == State::at_warp && u.op == t.op && u.mask == t.mask) continue;
        std::string what = u.state == State::done         ? std::string("has exited")
                           : u.state == State::at_barrier ? std::string("waits at __syncthreads")
                                                          : fmt::format("waits in {}(mask 0x{:08x})",
                                                                        detail::warp_op_name(u.op), u.mask);
        fail("emulator: deadlock in {}: it waits in {}(mask 0x{:08x}) for lane {}, which {}", where(t),
             detail::warp_op_name(t.op), t.mask, lane, what);
      }
    }
    fail("emulator: deadlock in kernel '{}' block ({},{},{}): no thread can proceed", kernel_name,
         block.block_idx.x, block.block_idx.y, block.block_idx.z);
  }

  static void thread_entry(void* arg) {
    auto* t = static_cast<EmuThread*>(arg);
    t->fiber->started();
    try {
      (*tl_run->body)();
      if (const std::size_t pending = t->async_copies.pending_copies(); pending > 0) {
        fail("emulator: {}: the thread exited with {} cp.async cop{} not yet performed ({} committed and not waited "
             "for, {} never committed); commit them and call cp_async_wait<0>() before the thread exits",
             tl_run->where(*t), pending, pending == 1 ? "y" : "ies", t->async_copies.committed.size(),
             t->async_copies.uncommitted.size());
      }
      if (const std::size_t pending = t->wgmma.pending(); pending > 0) {
        fail("emulator: {}: the thread exited with {} wgmma operation{} not yet performed ({} committed and not "
             "waited for, {} never committed); commit them and call wgmma_wait<0>() before the thread exits",
             tl_run->where(*t), pending, pending == 1 ? "" : "s", t->wgmma.committed.size(),
             t->wgmma.uncommitted.size());
      }
    } catch (...) {
      if (!tl_run->error) tl_run->error = std::current_exception();
    }
    t->state = State::done;
    t->fiber->finish_and_return();
  }

  void run() {
    live = static_cast<unsigned>(threads.size());
    runnable.clear();
    for (unsigned i = 0; i < threads.size(); ++i) {
      threads[i].state = State::runnable;
      threads[i].async_copies.clear();
      threads[i].wgmma.clear();
      threads[i].fiber->reset(&BlockRun::thread_entry, &threads[i]);
      runnable.push_back(i);
    }
    while (live > 0) {
      if (runnable.empty()) resolve_stall();
      const unsigned pick = rng.below(static_cast<unsigned>(runnable.size()));
      const unsigned index = runnable[pick];
      runnable[pick] = runnable.back();
      runnable.pop_back();
      EmuThread& t = threads[index];
      tl_emu_thread = &t;
      ++switches;
      t.fiber->resume();
      tl_emu_thread = nullptr;
      if (error) std::rethrow_exception(error);
      if (t.state == State::done) {
        --live;
      } else if (t.state == State::at_warp && t.op != detail::WarpOp::active_mask) {
        try_complete_warp(t);
      }
      try_complete_active_mask(t.id.warp);
    }
  }
};

// Fibers are kept per OS thread and reused across launches.
std::vector<std::unique_ptr<Fiber>>& fiber_pool(std::size_t needed) {
  thread_local std::vector<std::unique_ptr<Fiber>> pool;
  while (pool.size() < needed) pool.push_back(std::make_unique<Fiber>(kFiberStackBytes));
  return pool;
}

void validate(dim3 grid, dim3 block, std::size_t shared, const char* name) {
  const auto bad = [&](const std::string& why) {
    fail("emulated launch of kernel '{}' with grid ({},{},{}) block ({},{},{}) and {} B dynamic shared memory: {}", name,
         grid.x, grid.y, grid.z, block.x, block.y, block.z, shared, why);
  };
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || block.x == 0 || block.y == 0 || block.z == 0)
    bad("invalid configuration argument (a zero dimension)");
  if (block.x > 1024 || block.y > 1024 || block.z > 64) bad("block dimension over the limit (1024, 1024, 64)");
  if (std::uint64_t{block.x} * block.y * block.z > kMaxThreadsPerBlock) bad("more than 1024 threads per block");
  if (grid.x > 0x7FFFFFFFu || grid.y > 65535 || grid.z > 65535) bad("grid dimension over the limit (2^31-1, 65535, 65535)");
  if (shared > kMaxSharedBytes) bad("more dynamic shared memory than an SM has (232448 B)");
}

}  // namespace

namespace detail {

const ThreadIdentity& this_thread() {
  if (tl_emu_thread == nullptr) fail("threadIdx used outside an emulated kernel");
  return tl_emu_thread->id;
}

const BlockIdentity& this_block() {
  if (tl_block == nullptr) fail("blockIdx, blockDim or gridDim used outside an emulated kernel");
  return *tl_block;
}

const char* warp_op_name(WarpOp op) {
  switch (op) {
    case WarpOp::syncwarp: return "__syncwarp";
    case WarpOp::shfl: return "__shfl_sync";
    case WarpOp::vote_ballot: return "__ballot_sync";
    case WarpOp::vote_any: return "__any_sync";
    case WarpOp::vote_all: return "__all_sync";
    case WarpOp::match_any: return "__match_any_sync";
    case WarpOp::match_all: return "__match_all_sync";
    case WarpOp::reduce_add: return "__reduce_add_sync";
    case WarpOp::reduce_min: return "__reduce_min_sync";
    case WarpOp::reduce_max: return "__reduce_max_sync";
    case WarpOp::reduce_and: return "__reduce_and_sync";
    case WarpOp::reduce_or: return "__reduce_or_sync";
    case WarpOp::reduce_xor: return "__reduce_xor_sync";
    case WarpOp::wmma_load: return "wmma::load_matrix_sync";
    case WarpOp::wmma_store: return "wmma::store_matrix_sync";
    case WarpOp::wmma_mma: return "wmma::mma_sync";
    case WarpOp::active_mask: return "__activemask";
    case WarpOp::mma_m16n8k16: return "mma_m16n8k16_bf16";
    case WarpOp::ldmatrix_x1: return "ldmatrix_x1";
    case WarpOp::ldmatrix_x2: return "ldmatrix_x2";
    case WarpOp::ldmatrix_x4: return "ldmatrix_x4";
    case WarpOp::ldmatrix_x1_trans: return "ldmatrix_x1_trans";
    case WarpOp::ldmatrix_x2_trans: return "ldmatrix_x2_trans";
    case WarpOp::ldmatrix_x4_trans: return "ldmatrix_x4_trans";
  }
  return "?";
}

static EmuThread& current_thread(const char* what) {
  if (tl_emu_thread == nullptr) fail("{} called outside an emulated kernel", what);
  return *tl_emu_thread;
}

int block_barrier(BarrierKind kind, int predicate) {
  EmuThread& t = current_thread("__syncthreads");
  t.barrier_kind = kind;
  t.predicate = predicate;
  t.state = State::at_barrier;
  t.fiber->suspend();
  return t.barrier_result;
}

void warp_collective(unsigned mask, WarpOp op, void* slot, WarpCompletion complete) {
  EmuThread& t = current_thread(warp_op_name(op));
  if (!(mask >> t.id.lane & 1u)) {
    fail("emulator: {}: {}(mask 0x{:08x}) called by lane {}, which the mask does not name", tl_run->where(t),
         warp_op_name(op), mask, t.id.lane);
  }
  t.op = op;
  t.mask = mask;
  t.slot = slot;
  t.complete = complete;
  t.state = State::at_warp;
  t.fiber->suspend();
}

void thread_fail(const char* what) {
  const EmuThread& t = current_thread(what);
  fail("emulator: {}: {}", tl_run->where(t), what);
}

AsyncCopyQueue& async_copy_queue() { return current_thread("cp.async").async_copies; }

WgmmaQueue& wgmma_queue() { return current_thread("wgmma").wgmma; }

void throw_bad_width(int width) {
  fail("emulator: shuffle width {} is not a power of two in [1, 32]", width);
}

unsigned active_mask() {
  EmuThread& t = current_thread("__activemask");
  unsigned result = 0;
  t.op = WarpOp::active_mask;
  t.mask = 0;
  t.slot = &result;
  t.complete = nullptr;
  t.state = State::at_warp;
  t.fiber->suspend();
  return result;
}

}  // namespace detail

void set_seed(std::uint64_t s) {
  std::lock_guard lock(global().launch_mutex);
  global().seed = s;
  global().launch_counter = 0;
}

std::uint64_t seed() {
  std::lock_guard lock(global().launch_mutex);
  return global().seed;
}

Stats stats() {
  Global& g = global();
  return Stats{g.launches.load(), g.blocks.load(), g.threads.load(), g.switches.load()};
}

void launch(dim3 grid, dim3 block, std::size_t dynamic_shared_bytes, const char* kernel_name,
            const std::function<void()>& body) {
  validate(grid, block, dynamic_shared_bytes, kernel_name);
  Global& g = global();
  std::lock_guard lock(g.launch_mutex);
  if (tl_run != nullptr) fail("emulated launch of kernel '{}' from inside another emulated kernel", kernel_name);
  const std::uint64_t launch_seed = mix(g.seed ^ mix(g.launch_counter++));

  const unsigned nthreads = block.x * block.y * block.z;
  auto& pool = fiber_pool(nthreads);
  // Exactly the requested size, so AddressSanitizer flags any access past it.
  std::unique_ptr<unsigned char[]> dynamic_shared(new unsigned char[dynamic_shared_bytes]);

  BlockRun run;
  run.kernel_name = kernel_name;
  run.body = &body;
  run.block.block_dim = block;
  run.block.grid_dim = grid;
  run.block.dynamic_shared = dynamic_shared.get();
  run.block.dynamic_shared_bytes = dynamic_shared_bytes;
  run.threads.resize(nthreads);
  for (unsigned i = 0; i < nthreads; ++i) {
    EmuThread& t = run.threads[i];
    t.id.thread_idx = uint3{i % block.x, (i / block.x) % block.y, i / (block.x * block.y)};
    t.id.linear = i;
    t.id.lane = i % 32;
    t.id.warp = i / 32;
    t.fiber = pool[i].get();
  }

  struct Scope {  // restores the thread-local context even when a block throws
    BlockRun* run;
    explicit Scope(BlockRun* r) : run(r) {
      tl_run = r;
      tl_block = &r->block;
    }
    ~Scope() {
      tl_run = nullptr;
      tl_block = nullptr;
      global().switches += run->switches;
    }
  } scope(&run);

  for (unsigned z = 0; z < grid.z; ++z) {
    for (unsigned y = 0; y < grid.y; ++y) {
      for (unsigned x = 0; x < grid.x; ++x) {
        run.block.block_idx = uint3{x, y, z};
        const std::uint64_t linear = x + std::uint64_t{grid.x} * (y + std::uint64_t{grid.y} * z);
        run.rng.state = launch_seed ^ mix(linear);
        poison_shared_memory(dynamic_shared.get(), dynamic_shared_bytes);
        run.run();
        ++g.blocks;
        g.threads += nthreads;
      }
    }
  }
  ++g.launches;
}

}  // namespace deeper::emu
