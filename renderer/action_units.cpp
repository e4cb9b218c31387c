// Action-unit-like blendshapes of the procedural model (displacements in mm at intensity 1, each
// with compact support so that it moves only its region) and the seven expressions as AU
// amplitudes, after the lab's FACS-based expressions (paper.md section 2).
#include <functional>

#include "renderer/face_model.h"
#include "renderer/procedural.h"

namespace deeper::render::procedural {
namespace {

using Field = std::function<Vec3(float x, float y)>;

// The jaw drop: everything below the mouth line moves down; the step is sharp between the lips
// (so the dark mouth line opens) and widens toward the cheeks; nothing above y = -14 moves.
Vec3 jaw_drop(float x, float y) {
  const float ax = std::abs(x);
  const float width = 1.2f + std::max(0.0f, ax - 20.0f) * 1.6f;
  const float below = smoothstep(kMouthY + 0.5f * width, kMouthY - 0.5f * width, y);
  const float sides = smoothstep(62.0f, 40.0f, ax);
  const float w = below * sides * (y > -14.0f ? 0.0f : 1.0f);
  return {0, -11.0f * w, -3.0f * w * smoothstep(kMouthY, -75.0f, y)};
}

// Vertical scaling of the eye opening around the eye's centre line (k > 0 opens, k < 0 closes).
Vec3 lid(float x, float y, float k) {
  const float w = cbump(std::abs(x), y, kEyeX, kEyeY, 16.0f, 9.0f);
  return {0, k * (y - kEyeY) * w, 0};
}

}  // namespace

ActionUnits action_units(const std::vector<FacePoint>& vertices) {
  const std::vector<std::pair<std::string, Field>> units{
      {"AU1+2 brow raise",
       [](float x, float y) { return Vec3{0, 5.0f * cbump(std::abs(x), y, 28, 30, 26, 16), 0}; }},
      {"AU1 inner brow raise",
       [](float x, float y) { return Vec3{0, 4.0f * cbump(std::abs(x), y, 14, 28, 14, 12), 0}; }},
      {"AU4 brow lower",
       [](float x, float y) {
         const float ax = std::abs(x);
         return Vec3{-sign(x) * 2.5f * cbump(ax, y, 18, 27, 16, 10), -3.5f * cbump(ax, y, 22, 27, 20, 12),
                     1.5f * cbump(x, y, 0, 26, 14, 9)};
       }},
      {"AU5 upper lid raise", [](float x, float y) { return lid(x, y, 0.35f); }},
      {"AU43 lid close", [](float x, float y) { return lid(x, y, -0.7f); }},
      {"AU6 cheek raise",
       [](float x, float y) {
         const float ax = std::abs(x);
         const float c = cbump(ax, y, 38, -8, 18, 16);
         return Vec3{0, 3.5f * c + 1.2f * cbump(ax, y, kEyeX, 7, 12, 5), 2.0f * c};
       }},
      {"AU12 lip corner pull",
       [](float x, float y) {
         const float c = cbump(std::abs(x), y, 22, kMouthY, 16, 12);
         return Vec3{sign(x) * 4.0f * c, 4.0f * c, -1.5f * c};
       }},
      {"AU15 lip corner depress",
       [](float x, float y) {
         const float c = cbump(std::abs(x), y, 22, kMouthY - 2, 15, 12);
         return Vec3{-sign(x) * 1.0f * c, -4.0f * c, 0};
       }},
      {"AU26 jaw drop", jaw_drop},
      {"AU20 lip stretch",
       [](float x, float y) {
         const float c = cbump(std::abs(x), y, 20, kMouthY - 2, 16, 10);
         return Vec3{sign(x) * 3.5f * c, -1.0f * c, -1.0f * c};
       }},
      {"AU9 nose wrinkle",
       [](float x, float y) {
         const float ax = std::abs(x);
         return Vec3{0,
                     2.5f * cbump(ax, y, 10, -14, 12, 12) + 2.0f * cbump(x, y, 0, -38, 18, 5) -
                         1.5f * cbump(ax, y, 15, 26, 10, 8),
                     0};
       }},
      {"AU24 lip press",
       [](float x, float y) {
         return Vec3{0, -0.45f * (y - kMouthY) * cbump(x, y, 0, kMouthY, 24, 10), -1.0f * cbump(x, y, 0, kMouthY, 20, 8)};
       }},
  };
  // Expression amplitudes over the units above (in their order).
  const float table[kExpressions][12] = {
      //  1+2   1     4     5     43    6     12    15    26    20    9     24
      {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},                                // neutral
      {0, 0, 0, 0, 0, 0.8f, 1.0f, 0, 0.25f, 0, 0, 0},                      // happy
      {1.0f, 0, 0, 0.9f, 0, 0, 0, 0, 0.85f, 0, 0, 0},                      // surprise
      {0.6f, 0.5f, 0.4f, 1.0f, 0, 0, 0, 0, 0.35f, 0.9f, 0, 0},             // fear
      {0, 0, 0.4f, 0, 0.3f, 0, 0, 0.4f, 0, 0, 1.0f, 0},                    // disgust
      {0, 0, 1.0f, 0, 0.4f, 0, 0, 0, 0, 0, 0.2f, 1.0f},                    // anger
      {0, 0.9f, 0.4f, 0, 0.45f, 0, 0, 1.0f, 0, 0, 0, 0.3f},                // sad
  };
  ActionUnits out;
  const std::size_t n = vertices.size(), a = units.size();
  out.blendshapes.assign(a * n * 3, 0.0f);
  for (std::size_t u = 0; u < a; ++u) {
    out.names.push_back(units[u].first);
    for (std::size_t i = 0; i < n; ++i) {
      const Vec3 d = units[u].second(vertices[i].x, vertices[i].y);
      float* o = &out.blendshapes[(u * n + i) * 3];
      o[0] = d.x;
      o[1] = d.y;
      o[2] = d.z;
    }
  }
  for (int e = 0; e < kExpressions; ++e)
    for (std::size_t u = 0; u < a; ++u) out.expression_weights.push_back(table[e][u]);
  return out;
}

}  // namespace deeper::render::procedural
