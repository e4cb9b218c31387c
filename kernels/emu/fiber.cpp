// Fiber implementation: see fiber.h.
#include "kernels/emu/fiber.h"

#include "core/error.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#if defined(__SANITIZE_ADDRESS__)
#define DEEPER_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DEEPER_EMU_ASAN 1
#endif
#endif

#if defined(DEEPER_EMU_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace deeper::emu {

#if defined(__x86_64__)
// deeper_emu_switch(void** save_sp, void* load_sp): pushes the callee-saved registers, MXCSR and the
// x87 control word, stores the stack pointer into *save_sp, loads load_sp and pops the same set.
// deeper_emu_trampoline: first code a new fiber runs; calls r12(r13) and never returns.
asm(R"(
  .text
  .globl deeper_emu_switch
  .type deeper_emu_switch, @function
deeper_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size deeper_emu_switch, .-deeper_emu_switch

  .globl deeper_emu_trampoline
  .type deeper_emu_trampoline, @function
deeper_emu_trampoline:
  movq %r13, %rdi
  callq *%r12
  ud2
  .size deeper_emu_trampoline, .-deeper_emu_trampoline
  .section .note.GNU-stack,"",@progbits
  .text
)");
extern "C" void deeper_emu_switch(void** save_sp, void* load_sp);
extern "C" void deeper_emu_trampoline();
#else
struct UContextPair {
  ucontext_t fiber;
  ucontext_t scheduler;
};
#endif

Fiber::Fiber(std::size_t stack_bytes) {
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  stack_bytes_ = (stack_bytes + page - 1) / page * page;
  map_bytes_ = stack_bytes_ + page;
  stack_base_ = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (stack_base_ == MAP_FAILED) {
    stack_base_ = nullptr;
    fail("mmap of a {}-byte emulator fiber stack failed at {}:{}: {}", map_bytes_, __FILE__, __LINE__, std::strerror(errno));
  }
  if (mprotect(stack_base_, page, PROT_NONE) != 0) {  // guard page below the stack
    munmap(stack_base_, map_bytes_);
    fail("mprotect of an emulator stack guard page failed at {}:{}: {}", __FILE__, __LINE__, std::strerror(errno));
  }
  stack_lo_ = static_cast<char*>(stack_base_) + page;
#if !defined(__x86_64__)
  context_ = new UContextPair();
#endif
}

Fiber::~Fiber() {
#if !defined(__x86_64__)
  delete static_cast<UContextPair*>(context_);
#endif
  if (stack_base_ != nullptr) munmap(stack_base_, map_bytes_);
}

void Fiber::reset(Entry entry, void* arg) {
#if defined(DEEPER_EMU_ASAN)
  // A fiber that ended by switching away (or was abandoned) never returned from its frames, so
  // ASan's shadow still marks their red zones: clear the whole stack before reusing it.
  ASAN_UNPOISON_MEMORY_REGION(stack_lo_, stack_bytes_);
#endif
#if defined(__x86_64__)
  // Initial frame, from low to high addresses: MXCSR + x87 CW, r15, r14, r13 (= arg), r12 (= entry),
  // rbx, rbp, return address (= trampoline). After `ret` the stack pointer is 16-byte aligned, so the
  // trampoline's call enters entry() with the alignment the ABI expects.
  auto top = reinterpret_cast<std::uintptr_t>(stack_lo_ + stack_bytes_) & ~std::uintptr_t{15};
  auto* frame = reinterpret_cast<std::uint64_t*>(top - 64);
  std::uint32_t mxcsr = 0;
  std::uint16_t fpucw = 0;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fpucw));
  frame[0] = static_cast<std::uint64_t>(mxcsr) | (static_cast<std::uint64_t>(fpucw) << 32);
  frame[1] = 0;                                             // r15
  frame[2] = 0;                                             // r14
  frame[3] = reinterpret_cast<std::uint64_t>(arg);          // r13
  frame[4] = reinterpret_cast<std::uint64_t>(entry);        // r12
  frame[5] = 0;                                             // rbx
  frame[6] = 0;                                             // rbp
  frame[7] = reinterpret_cast<std::uint64_t>(&deeper_emu_trampoline);
  fiber_sp_ = frame;
#else
  auto* ctx = static_cast<UContextPair*>(context_);
  if (getcontext(&ctx->fiber) != 0) fail("getcontext failed at {}:{}", __FILE__, __LINE__);
  ctx->fiber.uc_stack.ss_sp = stack_lo_;
  ctx->fiber.uc_stack.ss_size = stack_bytes_;
  ctx->fiber.uc_link = nullptr;
  // makecontext passes int arguments; split the pointers into two halves each.
  auto e = reinterpret_cast<std::uintptr_t>(entry);
  auto a = reinterpret_cast<std::uintptr_t>(arg);
  makecontext(&ctx->fiber,
              reinterpret_cast<void (*)()>(+[](unsigned e_lo, unsigned e_hi, unsigned a_lo, unsigned a_hi) {
                auto fn = reinterpret_cast<Entry>((std::uintptr_t{e_hi} << 32) | e_lo);
                fn(reinterpret_cast<void*>((std::uintptr_t{a_hi} << 32) | a_lo));
              }),
              4, static_cast<unsigned>(e), static_cast<unsigned>(e >> 32), static_cast<unsigned>(a),
              static_cast<unsigned>(a >> 32));
#endif
}

void Fiber::started() {
#if defined(DEEPER_EMU_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, &scheduler_stack_lo_, &scheduler_stack_bytes_);
#endif
}

void Fiber::resume() { switch_to_fiber(); }

void Fiber::suspend() { switch_to_scheduler(false); }

void Fiber::finish_and_return() { switch_to_scheduler(true); }

void Fiber::switch_to_fiber() {
#if defined(DEEPER_EMU_ASAN)
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, stack_lo_, stack_bytes_);
#endif
#if defined(__x86_64__)
  deeper_emu_switch(&scheduler_sp_, fiber_sp_);
#else
  auto* ctx = static_cast<UContextPair*>(context_);
  swapcontext(&ctx->scheduler, &ctx->fiber);
#endif
#if defined(DEEPER_EMU_ASAN)
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
}

void Fiber::switch_to_scheduler(bool finishing) {
#if defined(DEEPER_EMU_ASAN)
  // A finishing fiber passes nullptr so ASan releases its fake stack.
  __sanitizer_start_switch_fiber(finishing ? nullptr : &asan_fake_stack_, scheduler_stack_lo_, scheduler_stack_bytes_);
#else
  (void)finishing;
#endif
#if defined(__x86_64__)
  deeper_emu_switch(&fiber_sp_, scheduler_sp_);
#else
  auto* ctx = static_cast<UContextPair*>(context_);
  swapcontext(&ctx->fiber, &ctx->scheduler);
#endif
#if defined(DEEPER_EMU_ASAN)
  // Back on the fiber: learn the scheduler's stack for the next switch back.
  __sanitizer_finish_switch_fiber(asan_fake_stack_, &scheduler_stack_lo_, &scheduler_stack_bytes_);
#endif
}

}  // namespace deeper::emu
