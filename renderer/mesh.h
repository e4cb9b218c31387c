// The face-and-forehead mesh: a regular G x G grid in UV space (default 69 x 69 = 4,761 vertices,
// 9,248 triangles), mapped onto an egg-shaped face outline in the face plane (x, y in mm), with
// shared vertex indices and counter-clockwise winding seen from +z (outward normals face a camera
// on +z). Coordinates: x to the viewer's right, y up, z toward the viewer, millimetres.
//
// Vertex (row r, column c) has index r * G + c and UV (c / (G - 1), r / (G - 1)); v grows downward
// (row 0 is the top of the forehead), as texture rows do, so a texture map reads upright.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace deeper::render {

inline constexpr int kDefaultGrid = 69;

struct Mesh {
  std::vector<float> uv;                // V x 2, in [0, 1]^2
  std::vector<std::int32_t> triangles;  // T x 3, counter-clockwise seen from +z

  std::int64_t vertex_count() const { return static_cast<std::int64_t>(uv.size() / 2); }
  std::int64_t triangle_count() const { return static_cast<std::int64_t>(triangles.size() / 3); }
};

// A point of the face plane, in mm.
struct FacePoint {
  float x = 0, y = 0;
};

// The face outline's extent in the face plane (mm): x in [-kFaceHalfWidth, kFaceHalfWidth] at its
// widest, y from kFaceBottom (chin) to kFaceTop (top of the forehead).
inline constexpr float kFaceHalfWidth = 66.0f;
inline constexpr float kFaceTop = 76.0f;
inline constexpr float kFaceBottom = -80.0f;

// The map from UV to the face plane: the square [0,1]^2 onto a disc (a smooth, one-to-one
// square-to-disc map), stretched to the face's height and narrowed toward the chin.
FacePoint face_plane(float u, float v);

// The grid mesh with G x G vertices (G >= 3); both diagonals are mirrored about the vertical midline
// so that a symmetric shape gives a symmetric triangulation.
Mesh make_face_grid(int grid = kDefaultGrid);

// Topology checks, throwing a deeper::Error that starts with `what`: triangle indices in [0, V),
// no repeated index in a triangle, every vertex used, each edge in one (boundary) or two
// (interior) triangles, interior edges traversed in opposite directions by their two triangles
// (consistent winding), every boundary vertex on exactly two boundary edges (a manifold boundary),
// and one connected component.
void validate_topology(const Mesh& mesh, std::string_view what);

// Geometry checks on positions (V x 3): finite, and every triangle with an area above min_area mm^2.
void validate_geometry(const Mesh& mesh, std::span<const float> positions, std::string_view what,
                       float min_area = 1e-4f);

}  // namespace deeper::render
