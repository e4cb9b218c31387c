// antialias / antialias_grad: analytic antialiasing of silhouette edges (the method of nvdiffrast's
// antialias, Laine et al. 2020, in our own formulation) and its backward pass to the colours and to
// the clip-space vertex positions: the visibility (silhouette) gradient that rasterize_grad lacks.
//
// Edge topology (host, once per mesh): build_edge_topology gives, for edge k of triangle t (from
// vertex k to vertex (k+1) mod 3), the vertex opposite that edge in the adjacent triangle, or -1
// when the edge has no neighbour or more than one (non-manifold). Needs shared vertex indices: with
// duplicated vertices every edge looks like a boundary and becomes a silhouette.
//
// Forward. Screen coordinates s_x = (x/w + 1) W/2, s_y = (1 - y/w) H/2 (pixels, row 0 at the top,
// centre of pixel (i, j) at (i + 0.5, j + 0.5)). For every pair of horizontally or vertically
// adjacent pixels (A, B) whose triangle ids differ:
//   - the occluder O is the non-background one, else the nearer (smaller rast depth; equal depth:
//     the smaller id); N is the other pixel;
//   - the candidate edges are the edges of O's triangle that are silhouettes in this image: no
//     neighbour (or one with w <= 0), or the neighbour's opposite vertex lies on the same side of
//     the edge (in screen space) as the triangle's own: one face front-facing, the other back-facing;
//   - horizontal pairs consider only steep edges (|d s_y| >= |d s_x|), vertical pairs only flat ones
//     (|d s_x| > |d s_y|), as nvdiffrast does, so an edge through a pixel centre blends that pixel
//     once, not from both axes;
//   - the first candidate (in edge order) whose segment crosses the line through the two pixel
//     centres between them is the silhouette; tt in [0, 1] is where it crosses, 0 at O's centre, 1 at
//     N's (up to kAntialiasSnapSlack = 1/64 px beyond either centre is accepted: rasterize decides
//     coverage with vertices snapped to 1/256 px, this pass uses the exact positions);
//   - 1-D box coverage: when tt > 1/2, the occluder covers tt - 1/2 of N's pixel:
//       out[N] += (tt - 1/2) (color[O] - color[N]);
//     when tt < 1/2, the background of O covers 1/2 - tt of O's pixel:
//       out[O] += (1/2 - tt) (color[N] - color[O]).
//   Pairs with no such edge (interior edges, intersections) blend nothing. Every other pixel gets its
//   colour unchanged. As an edge sweeps across a pixel centre the result is continuous (the
//   blend weight reaches 1/2 on both sides), so the loss changes smoothly with the vertices.
//   Limitation (as nvdiffrast): only O's own triangle's edges are searched, so a silhouette formed
//   by a triangle that covers no pixel centre is missed.
// Backward (+=): grad_color per pixel (a gather over the pixel's 4 pairs: no atomics);
//   grad_pos (B x V x 4, x y w; z gets nothing): d loss / d alpha = sum_c g[target, c]
//   (color[other, c] - color[target, c]) times d alpha / d (x, y, w) of the silhouette edge's two
//   endpoints, through tt = the edge's crossing and the perspective division; atomics
//   (fixed-point in deterministic mode).
//
// Edge mask (optional, AntialiasParams::edge_mask): antialias_edge_mask precomputes, per image and
// triangle, which of its edges are silhouettes (and whether it is unusable: w <= 0 or a bad index),
// by the same function aa_pair uses (aa_edge_silhouette), so a pair reads 1 byte for its occluder
// and skips at once when it has no silhouette edge (interior triangles, most of them); the results
// are bit-identical with and without it.
// Kernels: one thread per pixel; forward evaluates its 4 pairs; backward its 4 pairs for the
// colour gradient and the 2 pairs it owns (right and down) for the position gradient. Cost per pair
// with differing ids: 3 vertices + up to 3 opposite vertices read (~100 B), ~80 FLOPs; per pixel
// otherwise 2 x 16 B of rast and C floats of colour read and written (or C bf16 values written with
// out_bf16 and no out: the render pipeline's bf16 output without a separate conversion pass).
// CPU reference templated on float / double, OpenMP over images.
#pragma once

#include "kernels/common/hd.h"
#include "kernels/common/random.h"
#include "kernels/nn/optimizer.h"
#include "kernels/raster/grad_accum.h"
#include "kernels/runtime/device.h"

#include <cstdint>
#include <vector>

namespace deeper::kernels {

// The adjacency of `tri` (T x 3 indices in [0, V), host memory): T x 3 opposite vertices or -1.
// Throws deeper::Error for an index outside [0, V).
std::vector<std::int32_t> build_edge_topology(const std::int32_t* tri, std::int64_t triangles, std::int64_t vertices);

template <typename T>
struct AntialiasParamsT {
  const T* color = nullptr;               // batch x height x width x channels
  const float* rast = nullptr;            // batch x height x width x 4, from rasterize(pos)
  const T* pos = nullptr;                 // batch x vertices x 4 clip-space
  const std::int32_t* tri = nullptr;      // triangles x 3
  const std::int32_t* topology = nullptr;  // triangles x 3, from build_edge_topology (device memory)
  // Optional batch x triangles silhouette-edge masks from antialias_edge_mask on the same pos, tri,
  // topology, height and width (nullptr: each pair evaluates its occluder's edges itself). Same
  // results bit for bit; a pair whose occluder has no silhouette edge then reads 1 byte, not ~100.
  const std::uint8_t* edge_mask = nullptr;
  std::int64_t batch = 0, vertices = 0, triangles = 0, channels = 0;
  int height = 0, width = 0;
  bool check_indices = true;  // as RasterizeParams::check_indices
  T* out = nullptr;           // forward: batch x height x width x channels (may be null with out_bf16)
  // Forward, optional: the output also (or only) as bf16 bits, round to nearest even
  // (float_to_bf16_bits of kernels/nn/optimizer.h on the float result; T = double rounds to float
  // first): the same bits to_bf16 (kernels/render/compose.h) gives from out, without its pass.
  // Without out at most kAntialiasBf16OnlyChannels channels (accumulated in registers).
  std::uint16_t* out_bf16 = nullptr;
  // Backward:
  const T* grad_out = nullptr;  // batch x height x width x channels
  T* grad_color = nullptr;      // += batch x height x width x channels (nullptr: not computed)
  GradAccumT<T> grad_pos;       // += batch x vertices x 4 (nullptr: not computed)
};
using AntialiasParams = AntialiasParamsT<float>;

inline constexpr std::int64_t kAntialiasMaxChannels = 1024;
// The most channels of a bf16-only forward (out_bf16 without out, aa_pixel_forward_bf16): they are
// accumulated in registers.
inline constexpr std::int64_t kAntialiasBf16OnlyChannels = 4;
// How far (in pixels, beyond the two centres) a silhouette crossing may lie and still blend a pair.
inline constexpr float kAntialiasSnapSlack = 1.0f / 64.0f;

// antialias_edge_mask bits: bit k (kAaMaskEdges) edge k is a silhouette; kAaMaskUnusable the
// triangle has a vertex index outside [0, V) or a vertex with w <= 0 (no pair blends with it).
inline constexpr std::uint8_t kAaMaskEdges = 0x7;
inline constexpr std::uint8_t kAaMaskUnusable = 0x8;

// One pixel pair's blend: target pixel (0: the left / top one, 1: the right / bottom one) gets
// alpha (color[other] - color[target]); the silhouette edge's endpoints are rows va, vb of pos
// (b·V + index) with d alpha / d (x, y, w).
template <typename T>
struct AaPair {
  bool active = false;
  int target = 0;
  T alpha = T(0);
  std::int64_t va = 0, vb = 0;
  T dalpha[2][3] = {};
};

template <typename T>
DEEPER_HD_INLINE bool aa_screen(const AntialiasParamsT<T>& p, std::int64_t row, T& sx, T& sy) {
  const T* c = p.pos + 4 * row;
  if (!(c[3] > T(0))) return false;
  sx = (c[0] / c[3] + T(1)) * T(0.5) * static_cast<T>(p.width);
  sy = (T(1) - c[1] / c[3]) * T(0.5) * static_cast<T>(p.height);
  return true;
}

// Triangle t of image b: its vertices' rows of pos (b·V + index) and screen positions; false when
// the triangle is unusable (a vertex index outside [0, V) or a vertex with w <= 0).
template <typename T>
DEEPER_HD_INLINE bool aa_triangle_screen(const AntialiasParamsT<T>& p, std::int64_t b, std::int64_t t,
                                         std::int64_t* row, T* sx, T* sy) {
  for (int k = 0; k < 3; ++k) {
    const std::int64_t v = p.tri[3 * t + k];
    if (v < 0 || v >= p.vertices) return false;
    row[k] = b * p.vertices + v;
    if (!aa_screen(p, row[k], sx[k], sy[k])) return false;
  }
  return true;
}

// Whether edge k (vertex k to k+1) of triangle t of image b, screen vertices (sx, sy), is a
// silhouette: no neighbour across it (or one with w <= 0 or an index outside [0, V)), or the
// neighbour's opposite vertex on the same side of the edge as the triangle's own third vertex. The
// one rule of both aa_pair and antialias_edge_mask. The two side products are rounded separately
// (rng::exact: nvcc may not fuse them into an fma in one caller and not the other), so the decision
// has the same bits wherever it is inlined.
template <typename T>
DEEPER_HD_INLINE bool aa_edge_silhouette(const AntialiasParamsT<T>& p, std::int64_t b, std::int64_t t, int k,
                                         const T* sx, const T* sy) {
  namespace ex = rng::exact;
  const int a = k, e = (k + 1) % 3, own = (k + 2) % 3;
  const std::int32_t nv = p.topology[3 * t + k];
  T nx, ny;
  if (!(nv >= 0 && nv < p.vertices && aa_screen(p, b * p.vertices + nv, nx, ny))) return true;
  const T edx = ex::sub(sx[e], sx[a]), edy = ex::sub(sy[e], sy[a]);
  const T side_own = ex::sub(ex::mul(edx, ex::sub(sy[own], sy[a])), ex::mul(edy, ex::sub(sx[own], sx[a])));
  const T side_n = ex::sub(ex::mul(edx, ex::sub(ny, sy[a])), ex::mul(edy, ex::sub(nx, sx[a])));
  return (side_own > T(0)) == (side_n > T(0));
}

// The silhouette-edge mask of triangle t in image b (antialias_edge_mask): bit k set when edge k is
// a silhouette (aa_edge_silhouette), kAaMaskUnusable when the triangle is (aa_triangle_screen).
template <typename T>
DEEPER_HD_INLINE std::uint8_t aa_triangle_mask(const AntialiasParamsT<T>& p, std::int64_t b, std::int64_t t) {
  std::int64_t row[3];
  T sx[3], sy[3];
  if (!aa_triangle_screen(p, b, t, row, sx, sy)) return kAaMaskUnusable;
  std::uint8_t m = 0;
  for (int k = 0; k < 3; ++k) {
    if (aa_edge_silhouette(p, b, t, k, sx, sy)) m = static_cast<std::uint8_t>(m | (1u << k));
  }
  return m;
}

// The pair of pixel (i, j) of image b and its right (vertical false) or lower (vertical true)
// neighbour, which must exist.
template <typename T>
DEEPER_HD_INLINE AaPair<T> aa_pair(const AntialiasParamsT<T>& p, std::int64_t b, int i, int j, bool vertical) {
  AaPair<T> r;
  const int i2 = vertical ? i : i + 1, j2 = vertical ? j + 1 : j;
  const float* ra = p.rast + 4 * ((b * p.height + j) * p.width + i);
  const float* rb = p.rast + 4 * ((b * p.height + j2) * p.width + i2);
  const auto ida = static_cast<std::int32_t>(rng::exact::bits(ra[3]));
  const auto idb = static_cast<std::int32_t>(rng::exact::bits(rb[3]));
  if (ida == idb || ida < -1 || ida >= p.triangles || idb < -1 || idb >= p.triangles) return r;
  int o;  // the occluder: 0 = A, 1 = B
  if (ida == -1) {
    o = 1;
  } else if (idb == -1) {
    o = 0;
  } else {
    o = ra[2] < rb[2] ? 0 : (rb[2] < ra[2] ? 1 : (ida < idb ? 0 : 1));
  }
  const std::int64_t t = o ? idb : ida;
  // With the mask: an unusable occluder or one without silhouette edges blends nothing (exactly
  // what the per-edge evaluation below would conclude), without reading its vertices.
  const int mask = p.edge_mask ? static_cast<int>(p.edge_mask[b * p.triangles + t]) : -1;
  if (mask >= 0 && ((mask & kAaMaskUnusable) != 0 || (mask & kAaMaskEdges) == 0)) return r;
  std::int64_t row[3];
  T sx[3], sy[3];
  if (!aa_triangle_screen(p, b, t, row, sx, sy)) return r;
  // Along: the axis joining the two centres; across: the other. s = along, q = across coordinate.
  const T* s = vertical ? sy : sx;
  const T* q = vertical ? sx : sy;
  const T qc = static_cast<T>(vertical ? i : j) + T(0.5);
  const T so = static_cast<T>(vertical ? (o ? j2 : j) : (o ? i2 : i)) + T(0.5);
  const T dir = o ? T(-1) : T(1);
  for (int k = 0; k < 3; ++k) {
    const int a = k, e = (k + 1) % 3;
    if (!(mask >= 0 ? ((mask >> k) & 1) != 0 : aa_edge_silhouette(p, b, t, k, sx, sy))) continue;
    const T d = q[e] - q[a];
    const T span = s[e] - s[a];
    // Each edge is handled by one orientation of pairs: horizontal pairs take the steep edges
    // (|dy| >= |dx|), vertical pairs the flat ones, so no pixel is blended twice by one edge.
    const T ad = d < T(0) ? -d : d, aspan = span < T(0) ? -span : span;
    if (vertical ? !(ad > aspan) : !(ad >= aspan)) continue;
    const T rr = (qc - q[a]) / d;
    if (!(rr >= T(0) && rr <= T(1))) continue;
    const T tt = (s[a] + rr * span - so) * dir;
    // The ids come from rasterize's 1/256-px snapped vertices, this crossing from the exact ones: a
    // crossing up to kAntialiasSnapSlack outside the pair still belongs to it (alpha slightly above
    // 1/2), so the blend does not drop out between the two edge positions.
    if (!(tt >= -kAntialiasSnapSlack && tt <= T(1) + kAntialiasSnapSlack)) continue;
    r.active = true;
    const bool far = tt > T(0.5);
    r.target = far ? 1 - o : o;
    r.alpha = far ? tt - T(0.5) : T(0.5) - tt;
    const T k_cross = (far ? T(1) : T(-1)) * dir;  // d alpha / d crossing
    // d crossing / d (s, q) of the endpoints a and e.
    const T ds[2] = {T(1) - rr, rr};
    const T dq[2] = {span * (rr - T(1)) / d, -span * rr / d};
    const int ends[2] = {a, e};
    for (int m = 0; m < 2; ++m) {
      const T* c = p.pos + 4 * row[ends[m]];
      const T dsx = k_cross * (vertical ? dq[m] : ds[m]), dsy = k_cross * (vertical ? ds[m] : dq[m]);
      const T hx = T(0.5) * static_cast<T>(p.width) / c[3], hy = T(0.5) * static_cast<T>(p.height) / c[3];
      r.dalpha[m][0] = dsx * hx;
      r.dalpha[m][1] = -dsy * hy;
      r.dalpha[m][2] = -dsx * hx * (c[0] / c[3]) + dsy * hy * (c[1] / c[3]);
    }
    r.va = row[a];
    r.vb = row[e];
    return r;
  }
  return r;
}

// The pair k of pixel (i, j) (0 left, 1 right, 2 up, 3 down): false when the neighbour is outside
// the image; else the pair's first pixel (pi, pj), orientation, this pixel's index in the pair
// (0 first, 1 second) and the neighbour (ni, nj).
DEEPER_HD_INLINE bool aa_neighbour(int i, int j, int k, int width, int height, int& pi, int& pj, bool& vertical,
                                   int& me, int& ni, int& nj) {
  vertical = k >= 2;
  const int step = (k & 1) ? 1 : -1;
  ni = vertical ? i : i + step;
  nj = vertical ? j + step : j;
  if (ni < 0 || ni >= width || nj < 0 || nj >= height) return false;
  me = (k & 1) ? 0 : 1;
  pi = me ? ni : i;
  pj = me ? nj : j;
  return true;
}

// The forward's walk over pixel (i, j) of image b: for each of its pairs (left, right, up, down, in
// that order) whose blend targets it, blend(alpha, the neighbour's `channels` colour values). The
// one walk of aa_pixel_forward and aa_pixel_forward_bf16, so both add the same terms in the same
// order (bit-identical sums).
template <typename T, typename Blend>
DEEPER_HD_INLINE void aa_pixel_blends(const AntialiasParamsT<T>& p, std::int64_t b, int i, int j, Blend&& blend) {
  for (int k = 0; k < 4; ++k) {
    int pi, pj, me, ni, nj;
    bool vertical;
    if (!aa_neighbour(i, j, k, p.width, p.height, pi, pj, vertical, me, ni, nj)) continue;
    const AaPair<T> pr = aa_pair(p, b, pi, pj, vertical);
    if (!pr.active || pr.target != me) continue;
    blend(pr.alpha, p.color + ((b * p.height + nj) * p.width + ni) * p.channels);
  }
}

// Forward of pixel (i, j) of image b into out (its `channels` values): out = color + the blends
// of the pairs targeting it. The callers add the optional bf16 copy (the rounded out).
template <typename T>
DEEPER_HD_INLINE void aa_pixel_forward(const AntialiasParamsT<T>& p, std::int64_t b, int i, int j, T* out) {
  const std::int64_t pixel = (b * p.height + j) * p.width + i;
  const T* cp = p.color + pixel * p.channels;
  for (std::int64_t c = 0; c < p.channels; ++c) out[c] = cp[c];
  aa_pixel_blends(p, b, i, j, [&](T alpha, const T* co) {
    for (std::int64_t c = 0; c < p.channels; ++c) out[c] += alpha * (co[c] - cp[c]);
  });
}

// The bf16-only forward of the device kernels (out null, channels <= kAntialiasBf16OnlyChannels):
// the sums of aa_pixel_forward (the same walk), accumulated in registers, written as bf16 only.
// (The cpu reference runs aa_pixel_forward into a per-thread scratch image instead.)
template <typename T>
DEEPER_HD_INLINE void aa_pixel_forward_bf16(const AntialiasParamsT<T>& p, std::int64_t b, int i, int j) {
  constexpr int kC = static_cast<int>(kAntialiasBf16OnlyChannels);
  const std::int64_t pixel = (b * p.height + j) * p.width + i;
  const T* cp = p.color + pixel * p.channels;
  T acc[kC];
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int c = 0; c < kC; ++c) acc[c] = c < p.channels ? cp[c] : T(0);
  aa_pixel_blends(p, b, i, j, [&](T alpha, const T* co) {
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
    for (int c = 0; c < kC; ++c) {
      if (c < p.channels) acc[c] += alpha * (co[c] - cp[c]);
    }
  });
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int c = 0; c < kC; ++c) {
    if (c < p.channels) p.out_bf16[pixel * p.channels + c] = float_to_bf16_bits(static_cast<float>(acc[c]));
  }
}

// Backward of pixel (i, j): its colour gradient (gathered from its 4 pairs) and, through `add`
// (row·4 + coordinate, value), the position gradients of the 2 pairs it owns (right, down).
template <typename T, typename Add>
DEEPER_HD_INLINE void aa_pixel_backward(const AntialiasParamsT<T>& p, std::int64_t b, int i, int j, Add&& add) {
  const std::int64_t pixel = (b * p.height + j) * p.width + i;
  const T* gp = p.grad_out + pixel * p.channels;
  if (p.grad_color) {
    T* gc = p.grad_color + pixel * p.channels;
    for (std::int64_t c = 0; c < p.channels; ++c) gc[c] += gp[c];
  }
  for (int k = 0; k < 4; ++k) {
    int pi, pj, me, ni, nj;
    bool vertical;
    if (!aa_neighbour(i, j, k, p.width, p.height, pi, pj, vertical, me, ni, nj)) continue;
    const AaPair<T> pr = aa_pair(p, b, pi, pj, vertical);
    if (!pr.active) continue;
    const std::int64_t other = (b * p.height + nj) * p.width + ni;
    const T* go = p.grad_out + other * p.channels;
    if (p.grad_color) {
      T* gc = p.grad_color + pixel * p.channels;
      if (pr.target == me) {
        for (std::int64_t c = 0; c < p.channels; ++c) gc[c] -= pr.alpha * gp[c];
      } else {
        for (std::int64_t c = 0; c < p.channels; ++c) gc[c] += pr.alpha * go[c];
      }
    }
    if (me == 0 && p.grad_pos.grad) {
      const bool mine = pr.target == 0;
      const T* gt = mine ? gp : go;
      const T* ct = p.color + (mine ? pixel : other) * p.channels;
      const T* cn = p.color + (mine ? other : pixel) * p.channels;
      T dl = 0;
      for (std::int64_t c = 0; c < p.channels; ++c) dl += gt[c] * (cn[c] - ct[c]);
      if (dl == T(0)) continue;
      const std::int64_t rows[2] = {pr.va, pr.vb};
      for (int m = 0; m < 2; ++m) {
        add(4 * rows[m], dl * pr.dalpha[m][0]);
        add(4 * rows[m] + 1, dl * pr.dalpha[m][1]);
        add(4 * rows[m] + 3, dl * pr.dalpha[m][2]);
      }
    }
  }
}

void check_antialias_params(const AntialiasParams& p, bool backward);

// antialias_edge_mask: mask[b·T + t] = aa_triangle_mask (bits above) for every image b and triangle
// t: one thread per (image, triangle), reading its 3 vertex indices, 3 opposite vertices and their 6
// clip positions (~130 B, scattered by index) and writing 1 byte; ~100 FLOPs. AntialiasParams::
// edge_mask takes it; it must come from the same pos, tri, topology, height and width.
template <typename T>
struct AntialiasEdgeMaskParamsT {
  const T* pos = nullptr;                  // batch x vertices x 4 clip-space
  const std::int32_t* tri = nullptr;       // triangles x 3
  const std::int32_t* topology = nullptr;  // triangles x 3, from build_edge_topology
  std::int64_t batch = 0, vertices = 0, triangles = 0;
  int height = 0, width = 0;  // the image antialias runs on (screen coordinates depend on it)
  bool check_indices = true;  // as RasterizeParams::check_indices
  std::uint8_t* mask = nullptr;  // batch x triangles
  // The geometry fields as AntialiasParams, for the shared HD functions.
  DEEPER_HD AntialiasParamsT<T> geometry() const {
    AntialiasParamsT<T> g;
    g.pos = pos;
    g.tri = tri;
    g.topology = topology;
    g.batch = batch;
    g.vertices = vertices;
    g.triangles = triangles;
    g.height = height;
    g.width = width;
    return g;
  }
};
using AntialiasEdgeMaskParams = AntialiasEdgeMaskParamsT<float>;

void check_antialias_edge_mask_params(const AntialiasEdgeMaskParams& p);

namespace cpu_impl {
template <typename T>
void antialias(const AntialiasParamsT<T>& p);  // float and double
template <typename T>
void antialias_grad(const AntialiasParamsT<T>& p);
template <typename T>
void antialias_edge_mask(const AntialiasEdgeMaskParamsT<T>& p);
}  // namespace cpu_impl
namespace emu_impl {
void antialias(const AntialiasParams& p, void* stream);
void antialias_grad(const AntialiasParams& p, void* stream);
void antialias_edge_mask(const AntialiasEdgeMaskParams& p, void* stream);
}  // namespace emu_impl
namespace cuda_impl {
void antialias(const AntialiasParams& p, void* stream);
void antialias_grad(const AntialiasParams& p, void* stream);
void antialias_edge_mask(const AntialiasEdgeMaskParams& p, void* stream);
}  // namespace cuda_impl

void antialias(const Device& device, const AntialiasParams& p, void* stream = nullptr);
void antialias_grad(const Device& device, const AntialiasParams& p, void* stream = nullptr);
void antialias_edge_mask(const Device& device, const AntialiasEdgeMaskParams& p, void* stream = nullptr);

}  // namespace deeper::kernels
