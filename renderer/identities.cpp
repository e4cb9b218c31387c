// Identity sets: balanced factors and N(0,1) x SD coefficients from Philox (identities.h).
#include "renderer/identities.h"

#include "core/error.h"
#include "kernels/common/random.h"

namespace deeper::render {
namespace {

std::vector<float> coefficients(std::uint64_t seed, std::uint32_t stream, std::uint64_t index,
                                const std::vector<float>& sd) {
  std::vector<float> out(sd.size());
  for (std::size_t k = 0; k < sd.size(); k += 4) {
    const rng::Float4 z = rng::normal_float4(rng::random_block(seed, stream, index, static_cast<std::uint32_t>(k / 4)));
    for (std::size_t j = 0; j < 4 && k + j < sd.size(); ++j) out[k + j] = z.v[j] * sd[k + j];
  }
  return out;
}

}  // namespace

Identity make_identity(const FaceModel& model, std::uint64_t seed, std::uint64_t index) {
  const int cells = kGenders * model.ethnicity_count();
  if (cells == 0) fail("identities: the face model names no ethnicity");
  Identity id;
  const std::uint64_t cell = index % static_cast<std::uint64_t>(cells);
  id.factors.gender = static_cast<Gender>(cell % kGenders);
  id.factors.ethnicity = static_cast<std::int32_t>(cell / kGenders);
  const float u = rng::uniform_float(rng::random_block(seed, kIdentityAgeStream, index).w[0]);
  id.factors.age = model.age_min + u * (model.age_max - model.age_min);
  id.shape = coefficients(seed, kIdentityShapeStream, index, model.shape_sd);
  id.texture = coefficients(seed, kIdentityTextureStream, index, model.texture_sd);
  return id;
}

IdentitySet make_identities(const FaceModel& model, std::uint64_t seed, std::int64_t count) {
  if (count < 0) fail("identities: the count must be >= 0, got {}", count);
  IdentitySet set;
  set.seed = seed;
  set.identities.reserve(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) set.identities.push_back(make_identity(model, seed, static_cast<std::uint64_t>(i)));
  return set;
}

}  // namespace deeper::render
