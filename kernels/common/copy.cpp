// Copy: CPU reference and dispatch (see copy.h).
#include "kernels/common/copy.h"

#include "core/error.h"
#include "kernels/common/dispatch.h"

#include <cstring>

namespace deeper::kernels {

namespace cpu_impl {
void copy(const CopyParams& p) {
  if (p.bytes > 0) std::memcpy(p.dst, p.src, static_cast<std::size_t>(p.bytes));
}
}  // namespace cpu_impl

void copy(const Device& device, const CopyParams& p, void* stream) {
  DEEPER_CHECK(p.bytes >= 0, "copy: negative byte count {}", p.bytes);
  DEEPER_CHECK(p.bytes == 0 || (p.src != nullptr && p.dst != nullptr), "copy: null pointer for {} bytes", p.bytes);
  switch (device.backend) {
    case Backend::cpu: return cpu_impl::copy(p);
    case Backend::emu: return emu_impl::copy(p, stream);
    case Backend::cuda: return DEEPER_CUDA_KERNEL(cuda_impl::copy(p, stream));
  }
}

}  // namespace deeper::kernels
