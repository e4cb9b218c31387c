// Fibers for the kernel emulator: one per emulated CUDA thread, so that a thread can stop at
// __syncthreads or a warp collective and resume later on the same OS thread.
//
// A Fiber owns an mmap'ed stack with a guard page below it (a stack overflow faults instead of
// corrupting memory). Switching is a handful of instructions on x86-64 (callee-saved registers,
// MXCSR and the x87 control word); other architectures use ucontext. Under AddressSanitizer every
// switch is announced with __sanitizer_{start,finish}_switch_fiber so ASan follows the stacks.
#pragma once

#include <cstddef>

namespace deeper::emu {

class Fiber {
 public:
  using Entry = void (*)(void* arg);

  explicit Fiber(std::size_t stack_bytes);
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // Prepares the fiber to run entry(arg) from the top of its stack on the next resume().
  // entry must never return: it ends by calling finish_and_return().
  void reset(Entry entry, void* arg);

  // Called on the fiber as the first act of entry(): completes the switch onto the new stack.
  void started();

  // Runs the fiber until it calls suspend() or finish_and_return(). Called from the scheduler.
  void resume();

  // Called on the fiber: returns control to the scheduler; resume() continues after this call.
  void suspend();

  // Called on the fiber as its last act: returns to the scheduler for good and never comes back.
  // Not declared [[noreturn]] on purpose: AddressSanitizer instruments calls to noreturn functions
  // with a stack unpoisoning that does not understand fiber stacks.
  void finish_and_return();

 private:
  void switch_to_fiber();
  void switch_to_scheduler(bool finishing);

  void* stack_base_ = nullptr;   // the mapping, guard page included
  std::size_t map_bytes_ = 0;
  char* stack_lo_ = nullptr;      // usable stack [stack_lo_, stack_lo_ + stack_bytes_)
  std::size_t stack_bytes_ = 0;
  void* fiber_sp_ = nullptr;      // saved stack pointer of the fiber (x86-64 path)
  void* scheduler_sp_ = nullptr;  // saved stack pointer of the scheduler (x86-64 path)
  void* context_ = nullptr;       // ucontext pair (other architectures)
  void* asan_fake_stack_ = nullptr;
  const void* scheduler_stack_lo_ = nullptr;
  std::size_t scheduler_stack_bytes_ = 0;
};

}  // namespace deeper::emu
