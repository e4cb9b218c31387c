// The face grid mesh, its UV-to-face-plane map, and topology / geometry validation (mesh.h).
#include "renderer/mesh.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include "core/error.h"
#include "renderer/vec.h"

namespace deeper::render {

FacePoint face_plane(float u, float v) {
  const float s = 2.0f * u - 1.0f;  // -1 left .. +1 right
  const float t = 1.0f - 2.0f * v;  // +1 top .. -1 bottom
  const float a = s * std::sqrt(std::max(0.0f, 1.0f - 0.5f * t * t));
  const float b = t * std::sqrt(std::max(0.0f, 1.0f - 0.5f * s * s));
  // Egg shape: full width above the cheekbones, narrowing toward the jaw and the chin.
  const float narrowing = b < 0.0f ? 1.0f - 0.20f * b * b : 1.0f - 0.06f * b * b;
  const float half_height = 0.5f * (kFaceTop - kFaceBottom);
  return {a * kFaceHalfWidth * narrowing, kFaceBottom + half_height * (b + 1.0f)};
}

Mesh make_face_grid(int grid) {
  if (grid < 3) fail("face mesh: the grid needs at least 3 vertices per side, got {}", grid);
  Mesh mesh;
  const int g = grid;
  mesh.uv.resize(static_cast<std::size_t>(g) * g * 2);
  for (int r = 0; r < g; ++r) {
    for (int c = 0; c < g; ++c) {
      const std::size_t i = static_cast<std::size_t>(r) * g + c;
      mesh.uv[2 * i] = static_cast<float>(c) / static_cast<float>(g - 1);
      mesh.uv[2 * i + 1] = static_cast<float>(r) / static_cast<float>(g - 1);
    }
  }
  mesh.triangles.reserve(static_cast<std::size_t>(g - 1) * (g - 1) * 6);
  const int mirror = (g - 1) / 2;  // quads left of it use one diagonal, the rest its mirror image
  for (int r = 0; r + 1 < g; ++r) {
    for (int c = 0; c + 1 < g; ++c) {
      const std::int32_t a = r * g + c, b = a + 1, cc = a + g, d = cc + 1;  // a b / cc d, y up
      if (c < mirror) {
        mesh.triangles.insert(mesh.triangles.end(), {a, cc, d, a, d, b});
      } else {
        mesh.triangles.insert(mesh.triangles.end(), {a, cc, b, b, cc, d});
      }
    }
  }
  return mesh;
}

namespace {

struct UnionFind {
  std::vector<std::int64_t> parent;
  explicit UnionFind(std::int64_t n) : parent(static_cast<std::size_t>(n)) {
    std::iota(parent.begin(), parent.end(), std::int64_t{0});
  }
  std::int64_t find(std::int64_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  }
  void join(std::int64_t a, std::int64_t b) { parent[find(a)] = find(b); }
};

}  // namespace

void validate_topology(const Mesh& mesh, std::string_view what) {
  const std::int64_t nv = mesh.vertex_count(), nt = mesh.triangle_count();
  if (mesh.uv.size() % 2 != 0 || mesh.triangles.size() % 3 != 0)
    fail("{}: uv must be V x 2 and triangles T x 3", what);
  if (nv < 3 || nt < 1) fail("{}: a mesh needs at least 3 vertices and 1 triangle (has {} and {})", what, nv, nt);
  std::vector<std::uint8_t> used(static_cast<std::size_t>(nv), 0);
  // Directed edge (i, j) -> number of triangles traversing i -> j.
  std::unordered_map<std::uint64_t, int> directed;
  directed.reserve(static_cast<std::size_t>(nt) * 3);
  UnionFind components(nv);
  for (std::int64_t t = 0; t < nt; ++t) {
    const std::int32_t* tri = &mesh.triangles[static_cast<std::size_t>(t) * 3];
    for (int k = 0; k < 3; ++k) {
      if (tri[k] < 0 || tri[k] >= nv)
        fail("{}: triangle {} has vertex index {} outside [0, {})", what, t, tri[k], nv);
      used[tri[k]] = 1;
    }
    if (tri[0] == tri[1] || tri[1] == tri[2] || tri[0] == tri[2])
      fail("{}: triangle {} repeats a vertex ({}, {}, {})", what, t, tri[0], tri[1], tri[2]);
    for (int k = 0; k < 3; ++k) {
      const std::uint64_t i = static_cast<std::uint32_t>(tri[k]), j = static_cast<std::uint32_t>(tri[(k + 1) % 3]);
      if (++directed[(i << 32) | j] > 1)
        fail("{}: edge ({}, {}) is traversed in the same direction by two triangles (inconsistent winding "
             "or a duplicate triangle, triangle {})",
             what, i, j, t);
      components.join(tri[k], tri[(k + 1) % 3]);
    }
  }
  for (std::int64_t v = 0; v < nv; ++v)
    if (!used[v]) fail("{}: vertex {} belongs to no triangle", what, v);
  std::vector<int> boundary_degree(static_cast<std::size_t>(nv), 0);
  for (const auto& [key, count] : directed) {
    const std::uint64_t i = key >> 32, j = key & 0xffffffffu;
    if (directed.count((j << 32) | i) == 0) {  // a boundary edge: no triangle traverses j -> i
      ++boundary_degree[i];
      ++boundary_degree[j];
    }
  }
  for (std::int64_t v = 0; v < nv; ++v)
    if (boundary_degree[v] != 0 && boundary_degree[v] != 2)
      fail("{}: vertex {} lies on {} boundary edges (a manifold boundary has 2)", what, v, boundary_degree[v]);
  const std::int64_t root = components.find(0);
  for (std::int64_t v = 1; v < nv; ++v)
    if (components.find(v) != root) fail("{}: the mesh is not connected (vertex {} is apart from vertex 0)", what, v);
}

void validate_geometry(const Mesh& mesh, std::span<const float> positions, std::string_view what, float min_area) {
  const std::int64_t nv = mesh.vertex_count();
  if (static_cast<std::int64_t>(positions.size()) != nv * 3)
    fail("{}: {} position values for {} vertices (need V x 3)", what, positions.size(), nv);
  for (std::size_t i = 0; i < positions.size(); ++i)
    if (!std::isfinite(positions[i])) fail("{}: vertex {} has a non-finite coordinate", what, i / 3);
  for (std::int64_t t = 0; t < mesh.triangle_count(); ++t) {
    const std::int32_t* tri = &mesh.triangles[static_cast<std::size_t>(t) * 3];
    auto p = [&](int k) {
      const float* q = &positions[static_cast<std::size_t>(tri[k]) * 3];
      return Vec3{q[0], q[1], q[2]};
    };
    const float area = 0.5f * length(cross(p(1) - p(0), p(2) - p(0)));
    if (!(area > min_area)) fail("{}: triangle {} is degenerate (area {} mm^2)", what, t, area);
  }
}

}  // namespace deeper::render
