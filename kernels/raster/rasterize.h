// rasterize: batched instanced triangle meshes to per-pixel triangle ids, perspective-correct
// barycentrics and depth (the forward rasterizer of shared/reference/rasterizer.md §5.1-5.3).
//
// Inputs: `tri`, T triangles of 3 int32 vertex indices shared by every image; `pos`, B images of V
// clip-space vertices (x, y, z, w) as float, image-major (B x V x 4, 16-byte aligned).
// Output `out`: B x H x W pixels (row 0 at the top) of 4 floats
//   (u, v, z/w, id)   u weighs the triangle's vertex 0, v its vertex 1, 1 - u - v its vertex 2;
//                     z/w is the NDC depth at the pixel centre; id is the int32 triangle index
//                     stored as the float's bits (read it with raster_pixel_id), -1 for background,
//                     where u = v = z/w = 0.
// Conventions (pixel centres, NDC, facing, fill rule): kernels/raster/raster_math.h, docs/raster.md.
//
// Three passes:
//   clear     keys[B x H x W] = ~0 (empty), and the optional counters to 0;
//   raster    one thread per (image, triangle), grid-stride over B·T: cull (any w <= min_w, a
//             non-finite coordinate, a vertex beyond the guard band, an index outside [0, V): counted
//             in culled[b]; the facing flag: not counted), snap to 1/256 px, walk the pixel box with
//             exact int64 edge functions and the top-left rule, and for each covered pixel compute
//             z/w and atomicMin the 64-bit key (order-preserving depth bits << 32 | id): the nearest
//             triangle wins, equal depths go to the smaller id, whatever the thread order;
//   resolve   one thread per pixel: decode the winning id, recompute its barycentrics and depth with
//             the same arithmetic, write the float4.
// Triangles are not clipped: one crossing the camera plane is culled whole (faces stay far from it).
// Large triangles serialise in their thread (a pixel box of up to H x W); the face mesh's triangles
// cover a few pixels (rasterizer.md §8).
//
// Cost: raster reads 12 B of indices + 48 B of vertices per (image, triangle), ~30 integer ops of
// setup, per covered pixel ~40 FLOPs and one 64-bit atomic; clear writes 8 B and resolve reads 8 B
// and writes 16 B per pixel (plus 60 B of gathers per covered pixel).
//
// Limits: 1 <= H, W <= kRasterMaxSize; V, T < 2^31; B·H·W and B·T in int64. Errors (deeper::Error)
// for null pointers, misaligned buffers, sizes out of range, a bad cull flag or min_w, and (with
// check_indices) a vertex index outside [0, V).
#pragma once

#include "kernels/common/hd.h"
#include "kernels/raster/raster_math.h"
#include "kernels/runtime/device.h"

#include <cstdint>
#include <cstring>

namespace deeper::kernels {

using raster::RasterCull;

inline constexpr int kRasterMaxSize = 8192;

struct RasterizeParams {
  const float* pos = nullptr;         // batch x vertices x 4 clip-space (x, y, z, w), 16-byte aligned
  const std::int32_t* tri = nullptr;  // triangles x 3 vertex indices, shared by every image
  std::int64_t batch = 0, vertices = 0, triangles = 0;
  int height = 0, width = 0;
  RasterCull cull = RasterCull::none;
  float min_w = 1e-6f;  // a triangle with any w <= min_w is culled (must be >= 0 and finite)
  // Validate every index of `tri` against [0, vertices) before running (on cuda: a synchronous copy
  // of the indices to the host). Turn off in a loop once the topology has been checked
  // (check_triangle_indices); the kernel then skips, and counts, a triangle with a bad index.
  bool check_indices = true;
  unsigned long long* keys = nullptr;  // workspace: batch x height x width z-buffer keys
  float* out = nullptr;                // batch x height x width x 4, 16-byte aligned
  std::uint32_t* culled = nullptr;     // optional: batch counts of triangles culled as invalid
  std::uint32_t* fragments = nullptr;  // optional: batch x height x width counts of covering
                                       // triangles before the depth test (tests, statistics)
};

// The triangle id of a rasterize output pixel (4 floats): -1 for background.
DEEPER_HD_INLINE std::int32_t raster_pixel_id(const float* pixel) {
  return static_cast<std::int32_t>(rng::exact::bits(pixel[3]));
}

// Throws deeper::Error when the parameters are unusable (not the indices: check_triangle_indices).
void check_rasterize_params(const RasterizeParams& p);

// Throws deeper::Error naming the first triangle with a vertex index outside [0, vertices). `tri`
// is memory of `device` (copied to the host first on cuda).
void check_triangle_indices(const Device& device, const std::int32_t* tri, std::int64_t triangles,
                            std::int64_t vertices, const char* op);

namespace cpu_impl {
void rasterize(const RasterizeParams& p);
}
namespace emu_impl {
void rasterize(const RasterizeParams& p, void* stream);
}
namespace cuda_impl {
void rasterize(const RasterizeParams& p, void* stream);
}

// Runs on `device`'s backend (every pointer memory of that device); `stream` is a Stream::native()
// handle, nullptr for the default stream.
void rasterize(const Device& device, const RasterizeParams& p, void* stream = nullptr);

}  // namespace deeper::kernels
