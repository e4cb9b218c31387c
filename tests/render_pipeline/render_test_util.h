// Shared by the render_pipeline tests: a small procedural model (fast under the emulator) and
// helpers to compare float buffers.
#pragma once

#include "renderer/face_model.h"
#include "renderer/identities.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

namespace deeper::render::test {

// 17 x 17 grid (289 vertices, 512 triangles), 6 shape and 5 texture components, 32 x 32 texture.
inline const FaceModel& small_model() {
  static const FaceModel model = make_procedural_model(ProceduralOptions{17, 6, 5, 32});
  return model;
}

inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

inline double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (std::isnan(a[i]) != std::isnan(b[i])) return INFINITY;
    if (!std::isnan(a[i])) m = std::max(m, static_cast<double>(std::fabs(a[i] - b[i])));
  }
  return m;
}

}  // namespace deeper::render::test
