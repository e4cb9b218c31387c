// The procedural model: sizes, orthonormal bases with a decaying SD spectrum, 5 texture bands, the
// GLM design vector, and the category means differing by factor.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "renderer/evaluate.h"
#include "test_model.h"

namespace deeper::render {
namespace {

double dot(const float* a, const float* b, std::size_t n) {
  double s = 0;
  for (std::size_t i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

TEST(RendererModel, SizesAndValidity) {
  const FaceModel& m = test_model();
  EXPECT_EQ(m.vertex_count(), 4761);
  EXPECT_EQ(m.shape_components(), 50);
  EXPECT_EQ(m.texture_components(), 50);
  EXPECT_EQ(m.texture_height, 256);
  EXPECT_EQ(m.ethnicity_count(), 3);
  EXPECT_EQ(m.action_unit_count(), 12);
  EXPECT_NO_THROW(validate_model(m, "procedural", 1e-4));
}

TEST(RendererModel, BasesAreOrthonormal) {
  const FaceModel& m = test_model();
  const std::size_t v3 = static_cast<std::size_t>(m.vertex_count() * 3), tx = static_cast<std::size_t>(m.texel_values());
  double worst_shape = 0, worst_texture = 0;
  for (std::size_t a = 0; a < 50; ++a)
    for (std::size_t b = 0; b <= a; ++b) {
      worst_shape = std::max(worst_shape, std::abs(dot(&m.shape_basis[a * v3], &m.shape_basis[b * v3], v3) - (a == b)));
      worst_texture = std::max(worst_texture, std::abs(dot(&m.texture_basis[a * tx], &m.texture_basis[b * tx], tx) - (a == b)));
    }
  EXPECT_LT(worst_shape, 1e-5);
  EXPECT_LT(worst_texture, 1e-5);
}

TEST(RendererModel, SpectrumDecaysAndBandsAreFilled) {
  const FaceModel& m = test_model();
  for (std::size_t k = 1; k < m.shape_sd.size(); ++k) EXPECT_LE(m.shape_sd[k], m.shape_sd[k - 1]);
  for (std::size_t k = 1; k < m.texture_sd.size(); ++k) EXPECT_LE(m.texture_sd[k], m.texture_sd[k - 1]);
  EXPECT_GT(m.shape_sd.front(), 5 * m.shape_sd.back());
  // One SD of the first shape component moves a vertex by 1-10 mm RMS over the face.
  const double rms = m.shape_sd[0] / std::sqrt(static_cast<double>(m.vertex_count()));
  EXPECT_GT(rms, 0.5);
  EXPECT_LT(rms, 10.0);
  std::array<int, 5> per_band{};
  for (std::int32_t b : m.texture_band) ++per_band[static_cast<std::size_t>(b)];
  for (int count : per_band) EXPECT_EQ(count, 10);
}

TEST(RendererModel, DesignVectorAndFactorsChangeTheMean) {
  const FaceModel& m = test_model();
  const std::vector<float> d = design_vector(m, {Gender::male, 2, 45.0f});
  ASSERT_EQ(d.size(), 13u);
  EXPECT_EQ(d[0], 1.0f);
  EXPECT_EQ(d[1], 1.0f);
  EXPECT_FLOAT_EQ(d[2], 0.5f);
  EXPECT_EQ(d[4 + 2], 1.0f);
  EXPECT_EQ(d[4 + 3 + 2], 1.0f);
  EXPECT_EQ(glm_term_names(m)[4], "ethnicity[WC]");
  EXPECT_THROW(design_vector(m, {Gender::male, 3, 45.0f}), Error);
  EXPECT_THROW(design_vector(m, {Gender::male, 0, NAN}), Error);
  auto distance = [](const std::vector<float>& a, const std::vector<float>& b) {
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
    return std::sqrt(s / static_cast<double>(a.size()));
  };
  const Factors f{Gender::female, 0, 30.0f};
  const auto shape = mean_shape(m, f), tex = mean_texture(m, f);
  for (Factors g : {Factors{Gender::male, 0, 30.0f}, Factors{Gender::female, 1, 30.0f}, Factors{Gender::female, 0, 65.0f}}) {
    EXPECT_GT(distance(shape, mean_shape(m, g)), 0.5) << "shape must change with each factor";
    EXPECT_GT(distance(tex, mean_texture(m, g)), 0.01) << "texture must change with each factor";
  }
}

}  // namespace
}  // namespace deeper::render
