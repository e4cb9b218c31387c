#include "kernels/common/dispatch.h"

#include "core/error.h"

namespace deeper::detail {

void cuda_kernels_not_built(const char* call) {
  fail("{}: this build of deeper has no CUDA kernels (configured with DEEPER_WITH_CUDA=OFF); use --device cpu or emu, "
       "or rebuild with the release preset",
       call);
}

}  // namespace deeper::detail
