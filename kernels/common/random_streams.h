// Every Philox stream id that deeper's own random choices use, in one place.
//
// A random value is a pure function of (seed, stream, index) (docs/random.md), so two different
// choices that shared a stream and an index would draw the same numbers. Each kind of choice gets
// its own stream here; the ids spell four ASCII letters so that they read in a debugger, and the
// static_assert below keeps them distinct. Streams chosen by users (random_fill's `stream`) are
// theirs to pick.
#pragma once

#include <cstdint>

namespace deeper::rng::streams {

// GCMI (kernels/gcmi, infotheory)
inline constexpr std::uint32_t gcmi_permutation = 0x4743504Du;     // "GCPM" trial permutations
inline constexpr std::uint32_t gcmi_copnorm_jitter = 0x47434A54u;  // "GCJT" jitter tie keys
// Face model (renderer)
inline constexpr std::uint32_t face_texture_basis = 0x464D5442u;   // "FMTB" building the texture basis
inline constexpr std::uint32_t face_identity_age = 0x464D4147u;    // "FMAG" identity ages
inline constexpr std::uint32_t face_identity_shape = 0x464D5348u;  // "FMSH" shape coefficients
inline constexpr std::uint32_t face_identity_texture = 0x464D5458u;  // "FMTX" texture coefficients
inline constexpr std::uint32_t render_factors = 0x52464143u;         // "RFAC" per-image render factors
// Network training (nn)
inline constexpr std::uint32_t nn_weight_init = 0x4E4E494Eu;  // "NNIN" He / Glorot weight initialisation

inline constexpr std::uint32_t all[] = {gcmi_permutation,   gcmi_copnorm_jitter, face_texture_basis,
                                        face_identity_age,  face_identity_shape, face_identity_texture,
                                        nn_weight_init,     render_factors};

constexpr bool all_distinct() {
  for (std::uint32_t i = 0; i < sizeof(all) / sizeof(all[0]); ++i) {
    for (std::uint32_t j = i + 1; j < sizeof(all) / sizeof(all[0]); ++j) {
      if (all[i] == all[j]) return false;
    }
  }
  return true;
}
static_assert(all_distinct(), "two kinds of random choice share a Philox stream id");

}  // namespace deeper::rng::streams
