// Backend dispatch helpers for kernel entry points.
//
// DEEPER_CUDA_KERNEL(call) evaluates `call` when the library was built with nvcc
// (DEEPER_HAVE_CUDA_KERNELS=1) and otherwise throws deeper::Error saying so, so that a build
// without the CUDA pass (the sanitize preset) links and fails clearly if asked for `cuda`.
#pragma once

namespace deeper::detail {
[[noreturn]] void cuda_kernels_not_built(const char* call);
}

#if DEEPER_HAVE_CUDA_KERNELS
#define DEEPER_CUDA_KERNEL(call) call
#else
#define DEEPER_CUDA_KERNEL(call) ::deeper::detail::cuda_kernels_not_built(#call)
#endif
