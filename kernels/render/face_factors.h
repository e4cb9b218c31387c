// Per-image factors of a rendered face and their Philox sampling, shared by every backend.
//
// An image's factors are a pure function of (seed, image index) and the sampling ranges: one
// rng::RandomSequence on stream rng::streams::render_factors ("RFAC"), index = the image's number,
// read in a fixed order, one 32-bit word per factor whether the factor is fixed or not (so fixing
// one factor never changes the others):
//   word  0 identity     uniform integer in [0, identity_count): (word * count) >> 32 (bias below
//                        count / 2^32), unless fixed_identity >= 0
//   word  1 expression   uniform integer in [0, 7) the same way, unless fixed_expression >= 0
//   words 2-12           intensity, yaw, pitch, roll, scale, tx, ty, light azimuth, light
//                        elevation, ambient, diffuse: lo + u (hi - lo) with u = rng::uniform_float
//                        (24 bits, [0, 1)), so lo == hi fixes the factor to lo exactly.
//   word  13             reserved: nn/data.cpp draws a training expression subset from it
//   words 14-22          only with lighting == sh9 (read after the words above, so switching the
//                        lighting model never changes another factor's draw; Lambert reads no more):
//                        word 14 + k is shared by the three colour channels of SH basis function
//                        k: sh[9 c + k] = lo + u (hi - lo) with the range sampling.sh[9 c + k]
//                        (so equal per-channel ranges give white light, and fixing one coefficient
//                        leaves the others' draws alone).
// All arithmetic is rng::exact (correctly rounded, never fused): cpu, emu and cuda give the same
// bits. Units: degrees, fractions of the frame (tx, ty), dimensionless intensities.
//
// Lighting models (kernels/raster/shade.h): lambert (default) shades with ambient + diffuse
// max(0, n·l) from light_azimuth / elevation, ambient, diffuse; sh9 with 27 second-order spherical-
// harmonics coefficients, 9 per colour channel (r0..r8, g0..g8, b0..b8; the Basel / 3DMM
// convention), s_c(n) = sum_k sh[9 c + k] Y_k(n), n the unit normal in camera space (+z toward the
// camera, +y up, +x to the viewer's right). The DC term carries the ambient level (s = 0.282095
// sh[9 c]), band 1 (k = 1, 2, 3: y, z, x) a directional light, band 2 (k = 4..8) its shape. Default
// ranges (every channel): DC [1.6, 2.6] (s_DC 0.45 .. 0.73), y [-0.4, 0.4], z [0, 0.6] (frontal),
// x [-0.5, 0.5], band 2 [-0.1, 0.1]. Under sh9 the Lambert light factors are still drawn (and
// recorded) but do not shade.
//
// RenderSetup: what the synthesis and shading kernels need of an image, derived from its factors:
//   rotation R = Rz(roll) Rx'(pitch) Ry(yaw) (row-major; yaw turns the face toward +x, pitch > 0
//   lifts the chin, roll > 0 turns it counter-clockwise in the image), with sines and cosines from
//   rng::portable::sincos_turns53 of the angle quantized to 2^-53 turns (bit-identical everywhere);
//   light = (l_x, l_y, l_z, ambient x3, diffuse x3, 0 x 18) as kernels/raster/shade.h's lambert
//   model, with l = (cos el sin az, sin el, cos el cos az) in camera space (az > 0: light from the
//   viewer's right, el > 0: from above; az = el = 0: from the camera); under sh9 light = sh (27
//   values, shade.h's sh9 layout); lighting = the model (0 lambert, 1 sh9).
#pragma once

#include "kernels/common/hd.h"
#include "kernels/common/random.h"
#include "kernels/common/random_streams.h"

#include <cstdint>

namespace deeper::kernels {

inline constexpr int kFaceExpressions = 7;  // renderer/face_model.h: neutral .. sad
inline constexpr int kFactorWords = 13;     // words read per image (Lambert)
inline constexpr int kShBasis = 9;          // second-order SH basis functions
inline constexpr int kShCoefficients = 27;  // 9 per colour channel
inline constexpr int kShFirstWord = 14;     // the SH draws: words 14 .. 22 (word 13 is reserved)

// The lighting model of an image (values match ShadeModel of kernels/raster/shade.h).
enum class Lighting : std::int32_t { lambert = 0, sh9 = 1 };

struct FactorRange {
  float lo = 0.0f, hi = 0.0f;
};

// How the factors of images are drawn. Plain data (passed to kernels by value).
struct FactorSampling {
  std::uint64_t seed = 0;
  std::int32_t identity_count = 1;    // identities in the set the images draw from (>= 1)
  std::int32_t fixed_identity = -1;   // >= 0: every image shows this identity
  std::int32_t fixed_expression = -1; // >= 0: every image has this expression (0 neutral .. 6 sad)
  FactorRange intensity{0.0f, 1.0f};
  FactorRange yaw{-45.0f, 45.0f};     // degrees
  FactorRange pitch{-20.0f, 20.0f};
  FactorRange roll{-10.0f, 10.0f};
  FactorRange scale{0.8f, 1.2f};
  FactorRange tx{-0.1f, 0.1f};        // fraction of the frame width, + to the right
  FactorRange ty{-0.1f, 0.1f};        // fraction of the frame height, + up
  FactorRange light_azimuth{-90.0f, 90.0f};    // degrees: the frontal hemisphere
  FactorRange light_elevation{-90.0f, 90.0f};
  FactorRange ambient{0.35f, 0.65f};
  FactorRange diffuse{0.3f, 0.7f};
  Lighting lighting = Lighting::lambert;
  // SH coefficient ranges, channel-major (sh[9 c + k]); used with lighting == sh9.
  FactorRange sh[kShCoefficients] = {
      {1.6f, 2.6f}, {-0.4f, 0.4f}, {0.0f, 0.6f}, {-0.5f, 0.5f}, {-0.1f, 0.1f}, {-0.1f, 0.1f}, {-0.1f, 0.1f},
      {-0.1f, 0.1f}, {-0.1f, 0.1f},
      {1.6f, 2.6f}, {-0.4f, 0.4f}, {0.0f, 0.6f}, {-0.5f, 0.5f}, {-0.1f, 0.1f}, {-0.1f, 0.1f}, {-0.1f, 0.1f},
      {-0.1f, 0.1f}, {-0.1f, 0.1f},
      {1.6f, 2.6f}, {-0.4f, 0.4f}, {0.0f, 0.6f}, {-0.5f, 0.5f}, {-0.1f, 0.1f}, {-0.1f, 0.1f}, {-0.1f, 0.1f},
      {-0.1f, 0.1f}, {-0.1f, 0.1f}};
};

// One image's factors (164 bytes; sh is all 0 under lambert).
struct ImageFactors {
  std::int32_t identity = 0;
  std::int32_t expression = 0;
  float intensity = 0.0f;
  float yaw = 0.0f, pitch = 0.0f, roll = 0.0f;
  float scale = 1.0f, tx = 0.0f, ty = 0.0f;
  float light_azimuth = 0.0f, light_elevation = 0.0f;
  float ambient = 0.5f, diffuse = 0.5f;
  Lighting lighting = Lighting::lambert;
  float sh[kShCoefficients] = {};
};

struct RenderSetup {
  float rotation[9];
  float scale, tx, ty;
  float light[kShCoefficients];  // lambert: the first 9 used, the rest 0
  std::int32_t identity;
  std::int32_t expression;
  std::int32_t lighting;         // Lighting as an integer
};

DEEPER_HD_INLINE float factor_value(const FactorRange& r, std::uint32_t word) {
  namespace ex = rng::exact;
  return ex::add(r.lo, ex::mul(rng::uniform_float(word), ex::sub(r.hi, r.lo)));
}

DEEPER_HD_INLINE std::int32_t factor_choice(std::uint32_t word, std::uint32_t count) {
  return static_cast<std::int32_t>((static_cast<std::uint64_t>(word) * count) >> 32);
}

// The factors of image `index` (the definition above).
DEEPER_HD_INLINE ImageFactors sample_image_factors(const FactorSampling& s, std::uint64_t index) {
  rng::RandomSequence seq(s.seed, rng::streams::render_factors, index);
  std::uint32_t w[kFactorWords];
  for (int i = 0; i < kFactorWords; ++i) w[i] = seq.next_u32();
  ImageFactors f;
  f.identity = s.fixed_identity >= 0 ? s.fixed_identity
                                     : factor_choice(w[0], static_cast<std::uint32_t>(s.identity_count));
  f.expression = s.fixed_expression >= 0 ? s.fixed_expression : factor_choice(w[1], kFaceExpressions);
  f.intensity = factor_value(s.intensity, w[2]);
  f.yaw = factor_value(s.yaw, w[3]);
  f.pitch = factor_value(s.pitch, w[4]);
  f.roll = factor_value(s.roll, w[5]);
  f.scale = factor_value(s.scale, w[6]);
  f.tx = factor_value(s.tx, w[7]);
  f.ty = factor_value(s.ty, w[8]);
  f.light_azimuth = factor_value(s.light_azimuth, w[9]);
  f.light_elevation = factor_value(s.light_elevation, w[10]);
  f.ambient = factor_value(s.ambient, w[11]);
  f.diffuse = factor_value(s.diffuse, w[12]);
  f.lighting = s.lighting;
  if (s.lighting == Lighting::sh9) {
    for (int k = kFactorWords; k < kShFirstWord; ++k) seq.next_u32();  // the reserved word
    std::uint32_t u[kShBasis];
    for (int k = 0; k < kShBasis; ++k) u[k] = seq.next_u32();
    for (int c = 0; c < 3; ++c) {
      for (int k = 0; k < kShBasis; ++k) f.sh[kShBasis * c + k] = factor_value(s.sh[kShBasis * c + k], u[k]);
    }
  }
  return f;
}

// sin and cos of an angle in degrees (|deg| <= 360), through an exact reduction in turns.
DEEPER_HD_INLINE rng::portable::SinCosD sincos_degrees(float deg) {
  namespace ex = rng::exact;
  // turns * 2^53: |deg| / 360 * 2^53 < 2^53, rounded to the nearest integer (ties away from zero).
  const double scaled = ex::mul(static_cast<double>(deg), 0x1p53 / 360.0);
  const double rounded = scaled >= 0.0 ? ex::add(scaled, 0.5) : ex::sub(scaled, 0.5);
  const auto k = static_cast<std::int64_t>(rounded);  // truncation: exact for |x| < 2^63
  return rng::portable::sincos_turns53(static_cast<std::uint64_t>(k));
}

DEEPER_HD_INLINE void mat3_mul(const float* a, const float* b, float* out) {
  namespace ex = rng::exact;
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) {
      out[3 * r + c] = ex::add(ex::add(ex::mul(a[3 * r], b[c]), ex::mul(a[3 * r + 1], b[3 + c])),
                               ex::mul(a[3 * r + 2], b[6 + c]));
    }
  }
}

// The setup of an image from its factors (the definition above).
DEEPER_HD_INLINE RenderSetup make_render_setup(const ImageFactors& f) {
  namespace ex = rng::exact;
  RenderSetup s;
  const auto y = sincos_degrees(f.yaw), p = sincos_degrees(f.pitch), r = sincos_degrees(f.roll);
  const float cy = static_cast<float>(y.cos), sy = static_cast<float>(y.sin);
  const float cp = static_cast<float>(p.cos), sp = static_cast<float>(p.sin);
  const float cr = static_cast<float>(r.cos), sr = static_cast<float>(r.sin);
  const float ry[9] = {cy, 0.0f, sy, 0.0f, 1.0f, 0.0f, -sy, 0.0f, cy};
  const float rx[9] = {1.0f, 0.0f, 0.0f, 0.0f, cp, sp, 0.0f, -sp, cp};  // pitch > 0: +z toward +y
  const float rz[9] = {cr, -sr, 0.0f, sr, cr, 0.0f, 0.0f, 0.0f, 1.0f};
  float m[9];
  mat3_mul(rx, ry, m);
  mat3_mul(rz, m, s.rotation);
  s.scale = f.scale;
  s.tx = f.tx;
  s.ty = f.ty;
  const auto az = sincos_degrees(f.light_azimuth), el = sincos_degrees(f.light_elevation);
  const float ce = static_cast<float>(el.cos);
  s.light[0] = ex::mul(ce, static_cast<float>(az.sin));
  s.light[1] = static_cast<float>(el.sin);
  s.light[2] = ex::mul(ce, static_cast<float>(az.cos));
  for (int c = 0; c < 3; ++c) {
    s.light[3 + c] = f.ambient;
    s.light[6 + c] = f.diffuse;
  }
  for (int k = 9; k < kShCoefficients; ++k) s.light[k] = 0.0f;
  if (f.lighting == Lighting::sh9) {
    for (int k = 0; k < kShCoefficients; ++k) s.light[k] = f.sh[k];
  }
  s.identity = f.identity;
  s.expression = f.expression;
  s.lighting = f.lighting == Lighting::sh9 ? 1 : 0;  // anything else shades as Lambert (the host refuses it)
  return s;
}

}  // namespace deeper::kernels
