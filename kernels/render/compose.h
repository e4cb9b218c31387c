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
//                Fused interpolation (fused = true): uv, normal and albedo buffers are not read;
//                the pixel interpolates them itself from rast, tri (T x 3), the shared vertex_uv
//                (V x 2), the per-image vertex_normal (B x V x 3) and, instead of the texture, the
//                optional shared vertex_albedo (V x 3), with interpolate_corners / interpolate_at
//                of kernels/raster/interpolate.h: exactly the values the interpolate kernel would
//                have written (background ids, bad ids and bad indices included: NaN), so the image
//                is bit-identical to interpolate + compose on every backend. Per face pixel: 16 B
//                of rast, 12 B of indices, 6 + 9 gathered vertex floats (60 B, mostly cached),
//                4 x 12 B of texels read, 12 B written, ~35 more FLOPs; the staged path also writes
//                and reads back the 8 B uv and 12 B normal per pixel (and 12 B of albedo) and
//                reads rast and the indices once per interpolate launch (two or three launches).
//
//                out_bf16 (optional, B x H x W x 3 bf16 bits): the colour also (or only: out may
//                be null) written as bf16, round to nearest even by float_to_bf16_bits, the same
//                bits to_bf16 gives from out: 6 B written instead of 12 + a 12 B read + 6 B write.
//
// to_bf16        out[i] = bf16 bits of in[i], round to nearest even (kernels/nn/optimizer.h's
//                float_to_bf16_bits), one thread per value. 4 B read, 2 B written.
#pragma once

#include "kernels/common/hd.h"
#include "kernels/nn/optimizer.h"
#include "kernels/raster/interpolate.h"
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
  float* out = nullptr;  // batch x height x width x 3 (may be null when out_bf16 is given)
  std::uint16_t* out_bf16 = nullptr;  // optional: batch x height x width x 3 bf16 bits of the colour
  // Fused interpolation (see above): uv, normal and albedo unused.
  bool fused = false;
  const std::int32_t* tri = nullptr;       // triangles x 3, as given to rasterize
  std::int64_t vertices = 0, triangles = 0;
  const float* vertex_uv = nullptr;      // vertices x 2 (needed without vertex_albedo)
  const float* vertex_normal = nullptr;  // batch x vertices x 3
  const float* vertex_albedo = nullptr;  // optional: vertices x 3, used instead of texture sampling
  bool check_indices = true;             // fused: as RasterizeParams::check_indices
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

// Writes the colour of pixel `pixel` to out and / or out_bf16.
DEEPER_HD_INLINE void compose_store(const ComposeParams& p, std::int64_t pixel, const float (&rgb)[3]) {
  if (p.out) {
    for (int c = 0; c < 3; ++c) p.out[3 * pixel + c] = rgb[c];
  }
  if (p.out_bf16) {
    for (int c = 0; c < 3; ++c) p.out_bf16[3 * pixel + c] = float_to_bf16_bits(rgb[c]);
  }
}

// The colour of pixel `pixel` (the flat B·H·W index), written to out[3 pixel .. 3 pixel + 2] (and
// out_bf16).
DEEPER_HD_INLINE void compose_pixel(const ComposeParams& p, std::int64_t pixel) {
  float rgb[3];
  const std::int32_t id = raster_pixel_id(p.rast + 4 * pixel);
  if (id == -1) {
    for (int c = 0; c < 3; ++c) rgb[c] = p.background[c];
    compose_store(p, pixel, rgb);
    return;
  }
  const float nan = rng::exact::from_bits(0x7FC00000u);
  const std::int64_t b = pixel / (static_cast<std::int64_t>(p.height) * p.width);
  const RenderSetup& s = p.setup[b];
  // The pixel's uv, normal and (per-vertex colour mode) albedo: read, or interpolated here.
  const bool vertex_albedo = p.fused ? p.vertex_albedo != nullptr : p.albedo != nullptr;
  float uv[2] = {0.0f, 0.0f}, normal[3], albedo_in[3] = {0.0f, 0.0f, 0.0f};
  if (p.fused) {
    const InterpolateCorners k = interpolate_corners(p.rast + 4 * pixel, p.tri, p.triangles, p.vertices);
    const bool ok = k.state == InterpolateState::covered;
    const float* vn = p.vertex_normal + b * p.vertices * 3;
    for (int c = 0; c < 3; ++c) normal[c] = ok ? interpolate_at(k, vn, 3, c) : nan;
    if (vertex_albedo) {
      for (int c = 0; c < 3; ++c) albedo_in[c] = ok ? interpolate_at(k, p.vertex_albedo, 3, c) : nan;
    } else {
      for (int c = 0; c < 2; ++c) uv[c] = ok ? interpolate_at(k, p.vertex_uv, 2, c) : nan;
    }
  } else {
    for (int c = 0; c < 3; ++c) normal[c] = p.normal[3 * pixel + c];
    if (vertex_albedo) {
      for (int c = 0; c < 3; ++c) albedo_in[c] = p.albedo[3 * pixel + c];
    } else {
      for (int c = 0; c < 2; ++c) uv[c] = p.uv[2 * pixel + c];
    }
  }
  const std::int64_t tex_index = p.shared_texture ? 0 : s.identity;
  TexelQuad<float> q{};
  if (!vertex_albedo && (tex_index < 0 || tex_index >= p.tex_count ||
                         !texel_quad(uv[0], uv[1], p.tex_height, p.tex_width, TextureWrap::clamp, q))) {
    for (int c = 0; c < 3; ++c) rgb[c] = nan;
    compose_store(p, pixel, rgb);
    return;
  }
  const float* tex = vertex_albedo ? nullptr : p.textures + tex_index * p.tex_height * p.tex_width * 3;
  float w[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  if (!vertex_albedo) {
    w[0] = (1.0f - q.fx) * (1.0f - q.fy);
    w[1] = q.fx * (1.0f - q.fy);
    w[2] = (1.0f - q.fx) * q.fy;
    w[3] = q.fx * q.fy;
  }
  float n[3];
  shade_normalise(normal, n);
  float light[3];
  shade_factor(compose_shade_model(s.lighting), s.light, n, light);
  for (int c = 0; c < 3; ++c) {
    float albedo = 0.0f;
    if (vertex_albedo) {
      albedo = albedo_in[c];
    } else {
      for (int k = 0; k < 4; ++k) albedo += w[k] * tex[3 * q.offset[k] + c];
    }
    albedo = albedo < 0.0f ? 0.0f : (albedo > 1.0f ? 1.0f : albedo);
    const float v = albedo * light[c];
    rgb[c] = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
  }
  compose_store(p, pixel, rgb);
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
