// Image composition on the CPU: the reference for compose.cu and the cpu backend (definitions in
// compose.h), OpenMP over images; also the parameter checks and the backend dispatch.
#include "kernels/render/compose.h"

#include "core/error.h"
#include "kernels/common/dispatch.h"
#include "kernels/nn/optimizer.h"

#include <cmath>

namespace deeper::kernels {

void check_compose_params(const ComposeParams& p) {
  DEEPER_CHECK(p.batch >= 0, "compose_faces: negative batch {}", p.batch);
  DEEPER_CHECK(p.height >= 1 && p.height <= kRasterMaxSize && p.width >= 1 && p.width <= kRasterMaxSize,
               "compose_faces: image size {} x {} (H x W) is outside [1, {}] per side", p.height, p.width,
               kRasterMaxSize);
  DEEPER_CHECK(p.tex_count >= 1 && p.tex_height >= 1 && p.tex_width >= 1 && p.tex_height <= kTextureMaxSize &&
                   p.tex_width <= kTextureMaxSize,
               "compose_faces: {} textures of {} x {} texels (need >= 1, sides in [1, {}])", p.tex_count,
               p.tex_height, p.tex_width, kTextureMaxSize);
  for (int c = 0; c < 3; ++c) {
    DEEPER_CHECK(std::isfinite(p.background[c]), "compose_faces: background channel {} is not finite", c);
  }
  if (p.batch == 0) return;
  DEEPER_CHECK(p.rast != nullptr && p.normal != nullptr && p.setup != nullptr && p.out != nullptr,
               "compose_faces: null rasterize output, normal, setup or output");
  DEEPER_CHECK(p.albedo != nullptr || (p.uv != nullptr && p.textures != nullptr),
               "compose_faces: null uv or textures (and no albedo)");
}

void check_to_bf16_params(const ToBf16Params& p) {
  DEEPER_CHECK(p.count >= 0, "to_bf16: negative count {}", p.count);
  DEEPER_CHECK(p.count == 0 || (p.in != nullptr && p.out != nullptr), "to_bf16: null input or output");
}

namespace cpu_impl {

void compose_faces(const ComposeParams& p) {
  check_compose_params(p);
  const std::int64_t plane = static_cast<std::int64_t>(p.height) * p.width;
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < p.batch; ++b) {
    for (std::int64_t i = b * plane; i < (b + 1) * plane; ++i) compose_pixel(p, i);
  }
}

void to_bf16(const ToBf16Params& p) {
  check_to_bf16_params(p);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < p.count; ++i) p.out[i] = float_to_bf16_bits(p.in[i]);
}

}  // namespace cpu_impl

void compose_faces(const Device& device, const ComposeParams& p, void* stream) {
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::compose_faces(p);
    case Backend::emu:
      return emu_impl::compose_faces(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::compose_faces(p, stream));
  }
}

void to_bf16(const Device& device, const ToBf16Params& p, void* stream) {
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::to_bf16(p);
    case Backend::emu:
      return emu_impl::to_bf16(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::to_bf16(p, stream));
  }
}

}  // namespace deeper::kernels
