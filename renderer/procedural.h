// Internals of the embedded procedural face model: smooth bump functions, the face-plane
// landmarks, and the builders of each part of the model (shape_fields.cpp, texture_fields.cpp,
// identity_basis.cpp, action_units.cpp). Everything here is a deterministic function of the face
// plane (x, y in mm; mesh.h); procedural_model.cpp assembles the FaceModel.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "renderer/mesh.h"
#include "renderer/vec.h"

namespace deeper::render::procedural {

// A Gaussian bump with peak 1 at (cx, cy) and standard deviations sx, sy (mm).
inline float gauss(float x, float y, float cx, float cy, float sx, float sy) {
  const float dx = (x - cx) / sx, dy = (y - cy) / sy;
  return std::exp(-0.5f * (dx * dx + dy * dy));
}
// A compactly supported bump, (1 - r^2)^3 inside the ellipse of radii rx, ry, exactly 0 outside.
inline float cbump(float x, float y, float cx, float cy, float rx, float ry) {
  const float dx = (x - cx) / rx, dy = (y - cy) / ry;
  const float q = 1.0f - (dx * dx + dy * dy);
  return q > 0.0f ? q * q * q : 0.0f;
}
inline float smoothstep(float e0, float e1, float x) {
  const float t = std::clamp((x - e0) / (e1 - e0), 0.0f, 1.0f);
  return t * t * (3.0f - 2.0f * t);
}
inline float sign(float x) { return x < 0.0f ? -1.0f : 1.0f; }

// Face-plane landmarks (mm): eye centres at (+-kEyeX, kEyeY), the mouth line at kMouthY between
// the corners +-kMouthHalfWidth, the nose tip at (0, kNoseTipY), the chin at (0, kChinY).
inline constexpr float kEyeX = 32.0f, kEyeY = 12.0f, kEyeHalfWidth = 12.5f;
inline constexpr float kBrowY = 26.0f;
inline constexpr float kNoseTipY = -16.0f;
inline constexpr float kMouthY = -42.0f, kMouthHalfWidth = 23.0f;
inline constexpr float kChinY = -67.0f;

// The ethnicities of the procedural model (the three groups of the lab's 2023 model).
inline const std::vector<std::string>& ethnicity_names() {
  static const std::vector<std::string> names{"WC", "EA", "BA"};
  return names;
}

// Face-plane points of the mesh vertices and of the texel centres (row-major, H = W = size).
std::vector<FacePoint> vertex_points(const Mesh& mesh);
std::vector<FacePoint> texel_points(int size);

// The mean face's depth z(x, y) (mm; 0 at the front, negative behind).
float base_height(float x, float y);

// Shape GLM terms, P x V x 3 (P = 4 + 3E, E = 3): the intercept holds the base positions.
std::vector<float> shape_glm(const std::vector<FacePoint>& vertices);
// Texture GLM terms, P x H x W x 3.
std::vector<float> texture_glm(const std::vector<FacePoint>& texels, int size);

// Identity components before orthonormalization: each field's amplitude is what one SD does.
struct RawComponent {
  std::vector<float> field;
  int band = 0;
};
std::vector<RawComponent> shape_raw_components(const std::vector<FacePoint>& vertices);
std::vector<RawComponent> texture_raw_components(const std::vector<FacePoint>& texels, int per_band);

// Sorts the components by norm (largest first), keeps the first `count`, and orthonormalizes them
// in that order (modified Gram-Schmidt in double, twice). Outputs the basis rows, each SD (the raw
// field's norm) and band.
void orthonormalize(std::vector<RawComponent> raw, int count, std::vector<float>& basis,
                    std::vector<float>& sd, std::vector<int>& band);

// Action-unit blendshapes (A x V x 3, mm at intensity 1), their names, and the kExpressions x A
// expression amplitudes.
struct ActionUnits {
  std::vector<std::string> names;
  std::vector<float> blendshapes;
  std::vector<float> expression_weights;
};
ActionUnits action_units(const std::vector<FacePoint>& vertices);

}  // namespace deeper::render::procedural
