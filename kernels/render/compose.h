// Image composition kernels of the render pipeline: textured, shaded colour over a background, and
// the bf16 conversion of a finished image.
//
// compose_faces  one thread per pixel of B x H x W: background pixels (rast id -1) get
//                background[0..2]; a face pixel of image b samples its identity's texture,
//                textures[setup[b].identity] (tex_count x Ht x Wt x 3, the per-identity cache), at
//                uv (B x H x W x 2) bilinearly with clamped addressing (texel_quad of
//                kernels/raster/texture.h), clamps the albedo to [0, 1], shades it with the image's
//                lighting model of kernels/raster/shade.h (shade_factor with setup[b].light, the
//                interpolated normal normalized: Lambert + ambient for setup[b].lighting == 0, 9 x RGB
//                spherical harmonics for 1) and writes min(max(albedo · s, 0), 1). An identity
//                outside [0, tex_count) or a non-finite uv gives NaN (a corrupt input shows).
//                With shared_texture every image samples texture 0; with albedo given (B x H x W x 3,
//                e.g. interpolated per-vertex colours) no texture is read.
//                This is texture + shade + background fused for per-identity textures (the raster
//                family's texture op takes one texture per image, which would mean copying a
//                786 KB texture per image). Cost per face pixel: 4 x 12 B of texels, 36 B of uv,
//                normal and rast read, 12 B written, ~60 FLOPs (Lambert; ~80 with SH).
//
// to_bf16        out[i] = bf16 bits of in[i], round to nearest even (kernels/nn/optimizer.h's
//                float_to_bf16_bits), one thread per value. 4 B read, 2 B written.
#pragma once

#include "kernels/common/hd.h"
#include "kernels/raster/rasterize.h"
#include "kernels/raster/shade.h"
#include "kernels/raster/texture.h"
#include "kernels/render/face_factors.h"
#include "kernels/runtime/device.h"

#include <cstdint>

namespace deeper::kernels {

struct ComposeParams {
  std::int64_t batch = 0;
  int height = 0, width = 0;
  const float* rast = nullptr;    // batch x height x width x 4
  const float* uv = nullptr;      // batch x height x width x 2
  const float* normal = nullptr;  // batch x height x width x 3
  const float* textures = nullptr;  // tex_count x tex_height x tex_width x 3
  std::int64_t tex_count = 0;
  int tex_height = 0, tex_width = 0;
  bool shared_texture = false;         // true: every image samples texture 0 (a colour-map texture)
  const float* albedo = nullptr;       // optional: batch x height x width x 3 albedo used instead of
                                       // texture sampling (per-vertex colours through interpolate)
  const RenderSetup* setup = nullptr;  // batch
  float background[3] = {0.5f, 0.5f, 0.5f};
  float* out = nullptr;  // batch x height x width x 3
};

struct ToBf16Params {
  const float* in = nullptr;
  std::uint16_t* out = nullptr;
  std::int64_t count = 0;
};

// The shade model of a RenderSetup::lighting value (0 lambert, anything else sh9; the host checks).
DEEPER_HD_INLINE ShadeModel compose_shade_model(std::int32_t lighting) {
  return lighting == 0 ? ShadeModel::lambert : ShadeModel::sh9;
}

// The colour of pixel `pixel` (the flat B·H·W index), written to out[3 pixel .. 3 pixel + 2].
DEEPER_HD_INLINE void compose_pixel(const ComposeParams& p, std::int64_t pixel) {
  float* out = p.out + 3 * pixel;
  const std::int32_t id = raster_pixel_id(p.rast + 4 * pixel);
  if (id == -1) {
    for (int c = 0; c < 3; ++c) out[c] = p.background[c];
    return;
  }
  const std::int64_t b = pixel / (static_cast<std::int64_t>(p.height) * p.width);
  const RenderSetup& s = p.setup[b];
  const std::int64_t tex_index = p.shared_texture ? 0 : s.identity;
  const float* uv = p.uv + 2 * pixel;
  TexelQuad<float> q{};
  if (!p.albedo && (tex_index < 0 || tex_index >= p.tex_count ||
                    !texel_quad(uv[0], uv[1], p.tex_height, p.tex_width, TextureWrap::clamp, q))) {
    for (int c = 0; c < 3; ++c) out[c] = rng::exact::from_bits(0x7FC00000u);
    return;
  }
  const float* tex = p.albedo ? nullptr : p.textures + tex_index * p.tex_height * p.tex_width * 3;
  float w[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  if (!p.albedo) {
    w[0] = (1.0f - q.fx) * (1.0f - q.fy);
    w[1] = q.fx * (1.0f - q.fy);
    w[2] = (1.0f - q.fx) * q.fy;
    w[3] = q.fx * q.fy;
  }
  float n[3];
  shade_normalise(p.normal + 3 * pixel, n);
  float light[3];
  shade_factor(compose_shade_model(s.lighting), s.light, n, light);
  for (int c = 0; c < 3; ++c) {
    float albedo = 0.0f;
    if (p.albedo) {
      albedo = p.albedo[3 * pixel + c];
    } else {
      for (int k = 0; k < 4; ++k) albedo += w[k] * tex[3 * q.offset[k] + c];
    }
    albedo = albedo < 0.0f ? 0.0f : (albedo > 1.0f ? 1.0f : albedo);
    const float v = albedo * light[c];
    out[c] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
  }
}

void check_compose_params(const ComposeParams& p);
void check_to_bf16_params(const ToBf16Params& p);

namespace cpu_impl {
void compose_faces(const ComposeParams& p);
void to_bf16(const ToBf16Params& p);
}  // namespace cpu_impl
namespace emu_impl {
void compose_faces(const ComposeParams& p, void* stream);
void to_bf16(const ToBf16Params& p, void* stream);
}  // namespace emu_impl
namespace cuda_impl {
void compose_faces(const ComposeParams& p, void* stream);
void to_bf16(const ToBf16Params& p, void* stream);
}  // namespace cuda_impl

void compose_faces(const Device& device, const ComposeParams& p, void* stream = nullptr);
void to_bf16(const Device& device, const ToBf16Params& p, void* stream = nullptr);

}  // namespace deeper::kernels
