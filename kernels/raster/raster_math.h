// The arithmetic of rasterization, shared by the CUDA kernels, their emulated build and the CPU
// reference (kernels/raster/rasterize.cu, rasterize_cpu.cpp), so that every backend computes the
// same bits: coverage in exact 64-bit integers, barycentrics and depth with rng::exact operations
// (correctly rounded, never fused or reassociated, identical on the host and the GPU).
//
// Conventions (docs/raster.md):
//   - clip space as OpenGL: NDC = (x/w, y/w, z/w), x right, y up, visible x, y in [-1, 1];
//   - image: pixel (i, j) is column i, row j, row 0 at the TOP; it covers the continuous pixel
//     coordinates [i, i+1) x [j, j+1) and its sample point is the centre (i + 0.5, j + 0.5);
//     screen s_x = (x/w + 1) W/2, s_y = (1 - y/w) H/2, so pixel centre (i, j) is at
//     NDC (2(i + 0.5)/W - 1, 1 - 2(j + 0.5)/H);
//   - front face: counter-clockwise in NDC (y up), the OpenGL default.
//
// Coverage (shared/reference/rasterizer.md §5.2): vertices snap to a 1/256-pixel grid (8 subpixel
// bits, round to nearest even); the three edge functions are evaluated exactly in int64 at pixel
// centres, with a top-left fill rule, so a pixel centre on an edge shared by two triangles belongs
// to exactly one of them. A snapped coordinate must lie within ±2^21 px (the guard band): then
// every edge-function value is below 2^61 and cannot overflow.
//
// Barycentrics (§5.1): from clip-space cross products at the pixel centre, perspective-correct,
// not clamped (a covered pixel next to an edge can get a barycentric a few 1e-3 below 0 from the
// vertex snapping; the backward pass differentiates this unclamped formula).
#pragma once

#include "kernels/common/hd.h"
#include "kernels/common/random.h"

#include <cstdint>

#if !defined(__CUDA_ARCH__)
#include <cmath>
#endif

namespace deeper::kernels::raster {

inline constexpr int kSubpixelBits = 8;
inline constexpr std::int64_t kSubpixel = std::int64_t{1} << kSubpixelBits;  // 256 steps per pixel
inline constexpr float kGuardBandPixels = 2097152.0f;                        // 2^21
inline constexpr unsigned long long kEmptyKey = ~0ull;                       // the cleared z-buffer

// Which faces rasterize skips. Front faces are counter-clockwise in NDC.
enum class RasterCull : std::uint32_t { none, back, front };

struct ClipVertex {
  float x, y, z, w;
};

// Why a triangle produced no fragments (or `visible` when it may have).
enum class TriangleStatus : std::uint32_t {
  visible,     // set up; its pixel box is not empty
  outside,     // its pixel box holds no pixel centre of the image
  degenerate,  // zero snapped area
  faced,       // culled by the facing flag
  invalid,     // culled: a w <= min_w (behind or on the camera plane), a non-finite coordinate, a
               // vertex beyond the guard band, or a vertex index outside [0, V)
};

// What the pixel loop needs of a triangle: the pixel box and the three biased edge functions at
// its first pixel centre with their per-pixel steps. Covered: all three values >= 0.
struct TriangleSetup {
  int i0, i1, j0, j1;         // inclusive pixel box, clipped to the image
  std::int64_t edge[3];       // E + bias at pixel (i0, j0)
  std::int64_t step_x[3];     // change of E per pixel to the right
  std::int64_t step_y[3];     // change of E per pixel down
};

// Round to nearest (ties to even) to an integer; |x| <= 2^29 here.
DEEPER_HD_INLINE std::int64_t round_to_int64(float x) {
#if defined(__CUDA_ARCH__)
  return __float2ll_rn(x);
#else
  return static_cast<std::int64_t>(std::nearbyint(x));
#endif
}

// The fixed-point screen coordinate of one clip coordinate: false when it is not finite or lies
// beyond the guard band. `flip` maps y (up) to rows (down).
DEEPER_HD_INLINE bool snap_coordinate(float c, float w, float half_size, bool flip, std::int64_t& fixed) {
  const float ndc = rng::exact::div(c, w);
  const float s = rng::exact::mul(flip ? rng::exact::sub(1.0f, ndc) : rng::exact::add(ndc, 1.0f), half_size);
  if (!(s >= -kGuardBandPixels && s <= kGuardBandPixels)) return false;  // NaN fails too
  fixed = round_to_int64(rng::exact::mul(s, static_cast<float>(kSubpixel)));
  return true;
}

DEEPER_HD_INLINE bool finite(float x) { return rng::exact::sub(x, x) == 0.0f; }  // inf - inf, NaN: NaN

// NDC of the pixel centres of column i and row j.
DEEPER_HD_INLINE float pixel_ndc_x(int i, int width) {
  return rng::exact::sub(rng::exact::div(static_cast<float>(2 * i + 1), static_cast<float>(width)), 1.0f);
}
DEEPER_HD_INLINE float pixel_ndc_y(int j, int height) {
  return rng::exact::sub(1.0f, rng::exact::div(static_cast<float>(2 * j + 1), static_cast<float>(height)));
}

// Triangle setup: culling, snapping, facing, the pixel box and the edge functions.
DEEPER_HD_INLINE TriangleStatus setup_triangle(const ClipVertex (&v)[3], int width, int height, float min_w,
                                               RasterCull cull, TriangleSetup& s) {
  std::int64_t x[3], y[3];
  const float half_w = 0.5f * static_cast<float>(width), half_h = 0.5f * static_cast<float>(height);
  for (int k = 0; k < 3; ++k) {
    if (!(v[k].w > min_w) || !finite(v[k].w) || !finite(v[k].z)) return TriangleStatus::invalid;
    if (!snap_coordinate(v[k].x, v[k].w, half_w, false, x[k]) || !snap_coordinate(v[k].y, v[k].w, half_h, true, y[k])) {
      return TriangleStatus::invalid;
    }
  }
  // Twice the signed area in screen coordinates (rows down): negative for counter-clockwise in NDC.
  const std::int64_t area = (x[1] - x[0]) * (y[2] - y[0]) - (y[1] - y[0]) * (x[2] - x[0]);
  if (area == 0) return TriangleStatus::degenerate;
  const bool front = area < 0;
  if ((cull == RasterCull::back && !front) || (cull == RasterCull::front && front)) return TriangleStatus::faced;
  // Pixel box: centres 256 i + 128 within [min, max] of the snapped coordinates.
  const std::int64_t min_x = x[0] < x[1] ? (x[0] < x[2] ? x[0] : x[2]) : (x[1] < x[2] ? x[1] : x[2]);
  const std::int64_t max_x = x[0] > x[1] ? (x[0] > x[2] ? x[0] : x[2]) : (x[1] > x[2] ? x[1] : x[2]);
  const std::int64_t min_y = y[0] < y[1] ? (y[0] < y[2] ? y[0] : y[2]) : (y[1] < y[2] ? y[1] : y[2]);
  const std::int64_t max_y = y[0] > y[1] ? (y[0] > y[2] ? y[0] : y[2]) : (y[1] > y[2] ? y[1] : y[2]);
  const std::int64_t half = kSubpixel / 2;
  std::int64_t i0 = (min_x - half + kSubpixel - 1) >> kSubpixelBits, i1 = (max_x - half) >> kSubpixelBits;
  std::int64_t j0 = (min_y - half + kSubpixel - 1) >> kSubpixelBits, j1 = (max_y - half) >> kSubpixelBits;
  i0 = i0 < 0 ? 0 : i0;
  j0 = j0 < 0 ? 0 : j0;
  i1 = i1 > width - 1 ? width - 1 : i1;
  j1 = j1 > height - 1 ? height - 1 : j1;
  if (i0 > i1 || j0 > j1) return TriangleStatus::outside;
  s.i0 = static_cast<int>(i0);
  s.i1 = static_cast<int>(i1);
  s.j0 = static_cast<int>(j0);
  s.j1 = static_cast<int>(j1);
  // Orient the edges so that the interior is where all three are positive: with area > 0 the
  // cycle 0 -> 1 -> 2 does that, else 0 -> 2 -> 1.
  const int order[3] = {0, area > 0 ? 1 : 2, area > 0 ? 2 : 1};
  const std::int64_t px = i0 * kSubpixel + half, py = j0 * kSubpixel + half;
  for (int k = 0; k < 3; ++k) {
    const int a = order[k], b = order[(k + 1) % 3];
    const std::int64_t dx = x[b] - x[a], dy = y[b] - y[a];
    // E(p) = dx (p_y - a_y) - dy (p_x - a_x): > 0 on the interior side, whose normal is (-dy, dx).
    // Top edge: horizontal with the interior below (rows grow down): dy == 0, dx > 0.
    // Left edge: the interior to its right: dy < 0. A pixel centre on such an edge is covered.
    const bool top_left = dy < 0 || (dy == 0 && dx > 0);
    s.edge[k] = dx * (py - y[a]) - dy * (px - x[a]) - (top_left ? 0 : 1);
    s.step_x[k] = -dy * kSubpixel;
    s.step_y[k] = dx * kSubpixel;
  }
  return TriangleStatus::visible;
}

// Calls visit(i, j) for every covered pixel centre of a set-up triangle, rows top to bottom.
template <typename Visit>
DEEPER_HD_INLINE void for_each_covered_pixel(const TriangleSetup& s, Visit&& visit) {
  std::int64_t row0 = s.edge[0], row1 = s.edge[1], row2 = s.edge[2];
  for (int j = s.j0; j <= s.j1; ++j) {
    std::int64_t e0 = row0, e1 = row1, e2 = row2;
    for (int i = s.i0; i <= s.i1; ++i) {
      if ((e0 | e1 | e2) >= 0) visit(i, j);
      e0 += s.step_x[0];
      e1 += s.step_x[1];
      e2 += s.step_x[2];
    }
    row0 += s.step_y[0];
    row1 += s.step_y[1];
    row2 += s.step_y[2];
  }
}

// Perspective-correct barycentrics of the pixel centre at NDC (px, py) and the depth z/w there.
// b0 = u weighs vertex 0, b1 = v vertex 1, b2 vertex 2. `ok` is false when the result is not
// finite (a degenerate or numerically empty triangle at this pixel).
struct PixelSample {
  float b0, b1, depth;
  bool ok;
};

DEEPER_HD_INLINE float cross2(float ax, float ay, float bx, float by) {
  return rng::exact::sub(rng::exact::mul(ax, by), rng::exact::mul(ay, bx));
}

DEEPER_HD_INLINE PixelSample sample_triangle(const ClipVertex (&v)[3], float px, float py) {
  namespace ex = rng::exact;
  // Move the pixel to the origin in homogeneous 2-D: q_k = (x_k - px w_k, y_k - py w_k).
  float qx[3], qy[3];
  for (int k = 0; k < 3; ++k) {
    qx[k] = ex::sub(v[k].x, ex::mul(px, v[k].w));
    qy[k] = ex::sub(v[k].y, ex::mul(py, v[k].w));
  }
  const float a0 = cross2(qx[1], qy[1], qx[2], qy[2]);
  const float a1 = cross2(qx[2], qy[2], qx[0], qy[0]);
  const float a2 = cross2(qx[0], qy[0], qx[1], qy[1]);
  const float inv = ex::div(1.0f, ex::add(ex::add(a0, a1), a2));
  const float b0 = ex::mul(a0, inv), b1 = ex::mul(a1, inv), b2 = ex::mul(a2, inv);
  const float zc = ex::add(ex::add(ex::mul(b0, v[0].z), ex::mul(b1, v[1].z)), ex::mul(b2, v[2].z));
  const float wc = ex::add(ex::add(ex::mul(b0, v[0].w), ex::mul(b1, v[1].w)), ex::mul(b2, v[2].w));
  const float depth = ex::div(zc, wc);
  return {b0, b1, depth, finite(b0) && finite(b1) && finite(b2) && finite(depth)};
}

// An order-preserving 32-bit image of a finite float (-0 counts as +0).
DEEPER_HD_INLINE std::uint32_t depth_order_bits(float d) {
  const std::uint32_t b = d == 0.0f ? 0u : rng::exact::bits(d);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

// The z-buffer key: nearer depth first, then the smaller triangle id (id < 2^31, so a key never
// equals kEmptyKey).
DEEPER_HD_INLINE unsigned long long depth_key(float depth, std::int32_t id) {
  return (static_cast<unsigned long long>(depth_order_bits(depth)) << 32) | static_cast<std::uint32_t>(id);
}

}  // namespace deeper::kernels::raster
