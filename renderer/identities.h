// Identity sets: a deterministic function of (seed, count). Identity i of any set with seed S is
// the same face whatever the count (sets with the same seed are prefixes of each other).
//
// Factors: gender and ethnicity cycle through the 2E cells, cell = i mod 2E, gender = cell mod 2
// (0 female, 1 male), ethnicity = cell / 2, so every prefix is balanced to within one identity per
// cell. Age is uniform in [age_min, age_max) (the model's range; 20-70 years in the procedural
// model). Coefficients are z * SD with z ~ N(0, 1) (Box-Muller).
//
// Philox addressing (kernels/common/random.h), index = the identity's number i:
//   age                      stream kIdentityAgeStream     ("FMAG"), draw 0, word 0
//   shape coefficient k      stream kIdentityShapeStream   ("FMSH"), draw k / 4, value k % 4
//   texture coefficient k    stream kIdentityTextureStream ("FMTX"), draw k / 4, value k % 4
// (values 0-3 of a draw are rng::normal_float4 of that block).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/common/random_streams.h"
#include "renderer/face_model.h"

namespace deeper::render {

inline constexpr std::uint32_t kIdentityAgeStream = rng::streams::face_identity_age;
inline constexpr std::uint32_t kIdentityShapeStream = rng::streams::face_identity_shape;
inline constexpr std::uint32_t kIdentityTextureStream = rng::streams::face_identity_texture;

struct Identity {
  Factors factors;
  std::vector<float> shape;    // K_s coefficients, z * shape_sd (mm)
  std::vector<float> texture;  // K_t coefficients, z * texture_sd
};

struct IdentitySet {
  std::uint64_t seed = 0;
  std::vector<Identity> identities;
};

// The index-th identity of the sets with this seed.
Identity make_identity(const FaceModel& model, std::uint64_t seed, std::uint64_t index);
// `count` identities (count >= 0).
IdentitySet make_identities(const FaceModel& model, std::uint64_t seed, std::int64_t count);

}  // namespace deeper::render
