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
  if (p.fused) {
    DEEPER_CHECK(p.vertices >= 1 && p.vertices <= INT32_MAX,
                 "compose_faces: {} vertices is outside [1, 2^31 - 1] (fused interpolation)", p.vertices);
    DEEPER_CHECK(p.triangles >= 0 && p.triangles <= INT32_MAX,
                 "compose_faces: {} triangles is outside [0, 2^31 - 1] (fused interpolation)", p.triangles);
  }
  if (p.batch == 0) return;
  DEEPER_CHECK(p.rast != nullptr && p.setup != nullptr && (p.out != nullptr || p.out_bf16 != nullptr),
               "compose_faces: null rasterize output, setup or output (out and out_bf16)");
  if (p.fused) {
    DEEPER_CHECK(p.uv == nullptr && p.normal == nullptr && p.albedo == nullptr,
                 "compose_faces: fused interpolation reads vertex attributes, but per-pixel uv, normal or albedo "
                 "was given");
    DEEPER_CHECK(p.tri != nullptr || p.triangles == 0, "compose_faces: null triangles (fused interpolation)");
    DEEPER_CHECK(p.vertex_normal != nullptr, "compose_faces: null vertex normals (fused interpolation)");
    DEEPER_CHECK(p.vertex_albedo != nullptr || (p.vertex_uv != nullptr && p.textures != nullptr),
                 "compose_faces: null vertex uv or textures (and no vertex albedo; fused interpolation)");
  } else {
    DEEPER_CHECK(p.vertex_uv == nullptr && p.vertex_normal == nullptr && p.vertex_albedo == nullptr,
                 "compose_faces: vertex attributes given without fused = true");
    DEEPER_CHECK(p.normal != nullptr, "compose_faces: null normal");
    DEEPER_CHECK(p.albedo != nullptr || (p.uv != nullptr && p.textures != nullptr),
                 "compose_faces: null uv or textures (and no albedo)");
  }
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
  check_compose_params(p);
  if (p.fused && p.check_indices && p.batch > 0) {
    check_triangle_indices(device, p.tri, p.triangles, p.vertices, "compose_faces");
  }
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
