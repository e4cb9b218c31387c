// Identity sets: determinism, prefix stability, balance, age range, coefficient SDs, and that
// evaluation reproduces the coefficients through the orthonormal bases.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "renderer/evaluate.h"
#include "renderer/identities.h"
#include "test_model.h"

namespace deeper::render {
namespace {

TEST(RendererIdentities, SameSeedSameBytesOtherSeedOtherFaces) {
  const FaceModel& m = test_model();
  const IdentitySet a = make_identities(m, 7, 20), b = make_identities(m, 7, 20), c = make_identities(m, 8, 20);
  const IdentitySet longer = make_identities(m, 7, 30);
  for (int i = 0; i < 20; ++i) {
    const Identity &x = a.identities[i], &y = b.identities[i], &z = longer.identities[i];
    EXPECT_EQ(std::memcmp(x.shape.data(), y.shape.data(), x.shape.size() * 4), 0);
    EXPECT_EQ(std::memcmp(x.texture.data(), z.texture.data(), x.texture.size() * 4), 0);
    EXPECT_EQ(x.factors.age, z.factors.age);
    EXPECT_NE(x.shape[0], c.identities[i].shape[0]);
  }
  const auto v1 = vertices(m, a.identities[3]), v2 = vertices(m, b.identities[3]);
  EXPECT_EQ(std::memcmp(v1.data(), v2.data(), v1.size() * 4), 0);
  const auto t1 = texture(m, a.identities[3]), t2 = texture(m, b.identities[3]);
  EXPECT_EQ(std::memcmp(t1.data(), t2.data(), t1.size() * 4), 0);
}

TEST(RendererIdentities, BalancedFactorsAndAgeRange) {
  const FaceModel& m = test_model();
  for (int count : {6, 64, 100}) {
    const IdentitySet set = make_identities(m, 3, count);
    std::array<int, 6> cells{};
    for (const Identity& id : set.identities) {
      ++cells[static_cast<std::size_t>(static_cast<int>(id.factors.gender) + 2 * id.factors.ethnicity)];
      EXPECT_GE(id.factors.age, m.age_min);
      EXPECT_LT(id.factors.age, m.age_max);
    }
    for (int n : cells) EXPECT_LE(std::abs(n - count / 6), 1) << count;
  }
}

TEST(RendererIdentities, CoefficientSdsAsSpecified) {
  const FaceModel& m = test_model();
  const int n = 4000;
  std::vector<double> ss(m.shape_sd.size()), st(m.texture_sd.size());
  double age_sum = 0;
  for (int i = 0; i < n; ++i) {
    const Identity id = make_identity(m, 11, static_cast<std::uint64_t>(i));
    for (std::size_t k = 0; k < ss.size(); ++k) ss[k] += static_cast<double>(id.shape[k]) * id.shape[k];
    for (std::size_t k = 0; k < st.size(); ++k) st[k] += static_cast<double>(id.texture[k]) * id.texture[k];
    age_sum += id.factors.age;
  }
  // The sample SD of n N(0, sd^2) draws is within 4 standard errors (sd / sqrt(2n)) of sd.
  for (std::size_t k = 0; k < ss.size(); ++k)
    EXPECT_NEAR(std::sqrt(ss[k] / n) / m.shape_sd[k], 1.0, 4.0 / std::sqrt(2.0 * n)) << "shape " << k;
  for (std::size_t k = 0; k < st.size(); ++k)
    EXPECT_NEAR(std::sqrt(st[k] / n) / m.texture_sd[k], 1.0, 4.0 / std::sqrt(2.0 * n)) << "texture " << k;
  EXPECT_NEAR(age_sum / n, 0.5 * (m.age_min + m.age_max), 1.0);
}

TEST(RendererIdentities, EvaluationRecoversTheCoefficients) {
  const FaceModel& m = test_model();
  const Identity id = make_identity(m, 5, 2);
  const auto v = vertices(m, id), mean = mean_shape(m, id.factors);
  const std::size_t v3 = v.size();
  for (std::size_t k = 0; k < m.shape_sd.size(); k += 7) {
    double proj = 0;
    for (std::size_t i = 0; i < v3; ++i) proj += (static_cast<double>(v[i]) - mean[i]) * m.shape_basis[k * v3 + i];
    EXPECT_NEAR(proj, id.shape[k], 1e-3 * m.shape_sd[0]);
  }
  const auto t = texture(m, id), tmean = mean_texture(m, id.factors);
  for (std::size_t k = 0; k < m.texture_sd.size(); k += 7) {
    double proj = 0;
    for (std::size_t i = 0; i < t.size(); ++i) proj += (static_cast<double>(t[i]) - tmean[i]) * m.texture_basis[k * t.size() + i];
    EXPECT_NEAR(proj, id.texture[k], 1e-3 * m.texture_sd[0]);
  }
}

}  // namespace
}  // namespace deeper::render
