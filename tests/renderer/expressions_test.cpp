// Expressions: each moves its own region and nothing else; neutral and intensity 0 move nothing;
// the displacement is linear in the intensity; bad intensities are refused.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "renderer/evaluate.h"
#include "renderer/procedural.h"
#include "test_model.h"

namespace deeper::render {
namespace {

// The largest displacement (mm) of the vertices whose face-plane point satisfies `in`.
template <typename Pred>
float max_move(const std::vector<float>& d, const std::vector<FacePoint>& pts, Pred in) {
  float worst = 0;
  for (std::size_t i = 0; i < pts.size(); ++i)
    if (in(pts[i])) worst = std::max(worst, std::hypot(d[3 * i], d[3 * i + 1], d[3 * i + 2]));
  return worst;
}

TEST(RendererExpressions, EachMovesOnlyItsRegions) {
  const FaceModel& m = test_model();
  const std::vector<FacePoint> pts = procedural::vertex_points(m.mesh);
  auto forehead = [](FacePoint p) { return p.y > 50.0f; };
  auto below_nose = [](FacePoint p) { return p.y < -14.0f; };
  auto eyes_brows = [](FacePoint p) { return p.y > 0.0f && p.y < 45.0f && std::abs(p.x) < 50.0f; };
  auto mouth = [](FacePoint p) { return std::abs(p.y + 42.0f) < 8.0f && std::abs(p.x) < 20.0f; };
  auto chin = [](FacePoint p) { return p.y < -60.0f && std::abs(p.x) < 15.0f; };
  for (int e = 0; e < kExpressions; ++e) {
    const auto d = expression_displacement(m, static_cast<Expression>(e), 1.0f);
    EXPECT_EQ(max_move(d, pts, forehead), 0.0f) << expression_names()[e] << " moves the top of the forehead";
    if (e == 0) {
      EXPECT_EQ(max_move(d, pts, [](FacePoint) { return true; }), 0.0f);
      continue;
    }
    EXPECT_GT(max_move(d, pts, [](FacePoint) { return true; }), 2.0f) << expression_names()[e] << " moves nothing";
  }
  const auto happy = expression_displacement(m, Expression::happy, 1.0f);
  EXPECT_GT(max_move(happy, pts, mouth), 2.0f);
  const auto surprise = expression_displacement(m, Expression::surprise, 1.0f);
  EXPECT_GT(max_move(surprise, pts, chin), 8.0f) << "the jaw drops";
  EXPECT_GT(max_move(surprise, pts, eyes_brows), 3.0f) << "the brows rise";
  const auto anger = expression_displacement(m, Expression::anger, 1.0f);
  EXPECT_EQ(max_move(anger, pts, chin), 0.0f) << "anger keeps the jaw";
  // Each action unit on its own: upper-face units leave the lower face alone, and vice versa.
  const std::size_t v3 = static_cast<std::size_t>(m.vertex_count() * 3);
  for (int a = 0; a < m.action_unit_count(); ++a) {
    const std::vector<float> d(m.blendshapes.begin() + static_cast<std::ptrdiff_t>(a * v3),
                               m.blendshapes.begin() + static_cast<std::ptrdiff_t>((a + 1) * v3));
    const std::string& name = m.action_units[static_cast<std::size_t>(a)];
    const bool upper = name.find("brow") != std::string::npos || name.find("lid") != std::string::npos;
    if (upper) {
      EXPECT_EQ(max_move(d, pts, below_nose), 0.0f) << name;
    }
    const bool lower = name.find("lip") != std::string::npos || name.find("jaw") != std::string::npos;
    if (lower) {
      EXPECT_EQ(max_move(d, pts, eyes_brows), 0.0f) << name;
    }
  }
}

TEST(RendererExpressions, LinearInIntensityAndChecked) {
  const FaceModel& m = test_model();
  const auto full = expression_displacement(m, Expression::sad, 1.0f);
  const auto half = expression_displacement(m, Expression::sad, 0.5f);
  for (std::size_t i = 0; i < full.size(); ++i) EXPECT_NEAR(half[i], 0.5f * full[i], 1e-5f);
  const auto zero = expression_displacement(m, Expression::fear, 0.0f);
  for (float x : zero) EXPECT_EQ(x, 0.0f);
  EXPECT_THROW(expression_displacement(m, Expression::happy, 1.5f), Error);
  EXPECT_THROW(expression_displacement(m, Expression::happy, -0.1f), Error);
  EXPECT_THROW(expression_displacement(m, static_cast<Expression>(7), 1.0f), Error);
}

}  // namespace
}  // namespace deeper::render
