// interpolate: per-pixel attributes from per-vertex attributes and a rasterize output.
//
// For a pixel of image b covered by triangle t = (t0, t1, t2) with barycentrics (u, v):
//   out[b, y, x, c] = u · a[t0, c] + v · a[t1, c] + (1 - u - v) · a[t2, c]
// evaluated left to right in fp32 with rng::exact operations (the same bits on every backend),
// where a is attr[b] (B x V x C, attr_batched) or the shared attr (V x C). Background pixels (id -1)
// get background[c] (C values), or 0 when background is null. A pixel whose id is neither -1 nor in
// [0, T), or whose triangle has an index outside [0, V), gets NaN in every channel, so a corrupt
// rasterize output shows instead of reading out of bounds.
//
// Layout: rast B x H x W x 4 (kernels/raster/rasterize.h), out B x H x W x C (NHWC). One thread per
// output value, grid-stride over B·H·W·C in int64: consecutive threads write consecutive floats;
// the C threads of a pixel read the same rast pixel and triangle (cached).
// Cost per output value: 3 multiply-adds (5 FLOPs), 4 B written; per pixel 16 B of rast and 12 B of
// indices read, plus 3 gathered attribute values per channel.
//
// Errors (deeper::Error): null pointers, sizes out of range (as rasterize; 1 <= C <= 2^20) and, with
// check_indices, vertex indices outside [0, V).
#pragma once

#include "kernels/common/hd.h"
#include "kernels/common/random.h"
#include "kernels/runtime/device.h"

#include <cstdint>

namespace deeper::kernels {

inline constexpr std::int64_t kInterpolateMaxChannels = std::int64_t{1} << 20;

struct InterpolateParams {
  const float* attr = nullptr;  // batch x vertices x channels, or vertices x channels (!attr_batched)
  bool attr_batched = true;
  const float* rast = nullptr;        // batch x height x width x 4, from rasterize
  const std::int32_t* tri = nullptr;  // triangles x 3, as given to rasterize
  std::int64_t batch = 0, vertices = 0, triangles = 0, channels = 0;
  int height = 0, width = 0;
  const float* background = nullptr;  // channels values, or nullptr for 0
  bool check_indices = true;          // as RasterizeParams::check_indices
  float* out = nullptr;               // batch x height x width x channels
};

// The triangle under a rasterized pixel, as interpolate reads it (shared with the fused
// kernels that interpolate per pixel themselves, e.g. kernels/render/compose.h, so they get the
// same bits): state background (id -1), invalid (an id outside [0, T) or a triangle with an index
// outside [0, V): NaN in every channel) or covered, with the corner vertex indices t[0..2] and the
// barycentric weights u, v, w = (1 - u) - v.
enum class InterpolateState : std::int32_t { covered, background, invalid };
struct InterpolateCorners {
  InterpolateState state = InterpolateState::background;
  std::int64_t t[3] = {0, 0, 0};
  float u = 0.0f, v = 0.0f, w = 0.0f;
};

DEEPER_HD_INLINE InterpolateCorners interpolate_corners(const float* r, const std::int32_t* tri, std::int64_t triangles,
                                                        std::int64_t vertices) {
  namespace ex = rng::exact;
  InterpolateCorners k;
  const auto id = static_cast<std::int32_t>(ex::bits(r[3]));
  if (id == -1) return k;
  k.state = InterpolateState::invalid;
  if (id < 0 || id >= triangles) return k;
  for (int c = 0; c < 3; ++c) k.t[c] = tri[3 * static_cast<std::int64_t>(id) + c];
  for (int c = 0; c < 3; ++c) {
    if (k.t[c] < 0 || k.t[c] >= vertices) return k;
  }
  k.state = InterpolateState::covered;
  k.u = r[0];
  k.v = r[1];
  k.w = ex::sub(ex::sub(1.0f, k.u), k.v);
  return k;
}

// u · a[t0, channel] + v · a[t1, channel] + w · a[t2, channel] for covered corners, left to right
// with rng::exact operations; a is one image's V x channels attributes.
DEEPER_HD_INLINE float interpolate_at(const InterpolateCorners& k, const float* a, std::int64_t channels,
                                      std::int64_t channel) {
  namespace ex = rng::exact;
  return ex::add(ex::add(ex::mul(k.u, a[k.t[0] * channels + channel]), ex::mul(k.v, a[k.t[1] * channels + channel])),
                 ex::mul(k.w, a[k.t[2] * channels + channel]));
}

// Output value `channel` of pixel `pixel` (the flat B·H·W index): the definition above, shared by
// every backend.
DEEPER_HD_INLINE float interpolate_value(const InterpolateParams& p, std::int64_t pixel, std::int64_t channel) {
  const InterpolateCorners k = interpolate_corners(p.rast + 4 * pixel, p.tri, p.triangles, p.vertices);
  if (k.state == InterpolateState::background) return p.background ? p.background[channel] : 0.0f;
  if (k.state == InterpolateState::invalid) return rng::exact::from_bits(0x7FC00000u);
  const float* a = p.attr;
  if (p.attr_batched) a += pixel / (static_cast<std::int64_t>(p.height) * p.width) * p.vertices * p.channels;
  return interpolate_at(k, a, p.channels, channel);
}

// Throws deeper::Error when the parameters are unusable (indices: check_triangle_indices).
void check_interpolate_params(const InterpolateParams& p);

namespace cpu_impl {
void interpolate(const InterpolateParams& p);
}
namespace emu_impl {
void interpolate(const InterpolateParams& p, void* stream);
}
namespace cuda_impl {
void interpolate(const InterpolateParams& p, void* stream);
}

// Runs on `device`'s backend (every pointer memory of that device); `stream` is a Stream::native()
// handle, nullptr for the default stream.
void interpolate(const Device& device, const InterpolateParams& p, void* stream = nullptr);

}  // namespace deeper::kernels
