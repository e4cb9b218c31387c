// Per-image render factors: names, documented ranges, fixing a factor, validation, sampling on the
// host and JSON records. The sampling itself (Philox on (seed, image index), stream "RFAC") is
// kernels/render/face_factors.h, evaluated the same way, to the bit, on cpu, emu and cuda.
//
// Factors and their default ranges (docs/renderer.md, "Render factors"):
//   identity          uniform over the identity set, or fixed
//   expression        uniform over the 7 expressions, or fixed (neutral .. sad)
//   intensity         [0, 1]        expression intensity            valid [0, 1]
//   yaw               [-45, 45] deg turn toward +x                  valid [-90, 90]
//   pitch             [-20, 20] deg chin up                         valid [-90, 90]
//   roll              [-10, 10] deg counter-clockwise               valid [-180, 180]
//   scale             [0.8, 1.2]    size                            valid [0.25, 4]
//   tx, ty            [-0.1, 0.1]   frame fractions, + right / up   valid [-0.5, 0.5]
//   light_azimuth     [-90, 90] deg + from the viewer's right       valid [-90, 90]
//   light_elevation   [-90, 90] deg + from above                    valid [-90, 90]
//                     (together: the frontal hemisphere)
//   ambient           [0.35, 0.65]  ambient light                   valid [0, 2]
//   diffuse           [0.3, 0.7]    Lambert light                   valid [0, 2]
// A factor is fixed by giving it one value (lo = hi); identity and expression by an index.
//
// Lighting (sampling.lighting, "lighting=lambert|sh9"): lambert (default) shades with the light
// factors above; sh9 with 27 spherical-harmonics coefficients per image, sh_<c><k> for colour
// c in r, g, b and basis function k in 0..8 (kernels/render/face_factors.h has the basis and the
// sampling; one draw per k shared by the three channels). "sh<k>" names the three channels of k at
// once (fixing or ranging all three). Default ranges (each channel) and valid ranges:
//   sh_c0   [1.6, 2.6]    DC: the ambient level s = 0.282095 sh_c0      valid [0, 6]
//   sh_c1   [-0.4, 0.4]   band 1, y: light from above (> 0) / below      valid [-4, 4]
//   sh_c2   [0, 0.6]      band 1, z: light from the camera side (> 0)    valid [-4, 4]
//   sh_c3   [-0.5, 0.5]   band 1, x: light from the viewer's right (> 0) valid [-4, 4]
//   sh_c4 .. sh_c8  [-0.1, 0.1]  band 2 (xy, yz, 3z² - 1, xz, x² - y²)   valid [-4, 4]
// Under lambert the SH values are neither drawn nor used (ImageFactors::sh stays 0).
#pragma once

#include "kernels/render/face_factors.h"

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace deeper::render {

using kernels::FactorRange;
using kernels::FactorSampling;
using kernels::ImageFactors;
using kernels::Lighting;

// The continuous factors, in ImageFactors / JSON order.
inline constexpr std::array<std::string_view, 11> kContinuousFactors = {
    "intensity", "yaw", "pitch", "roll", "scale", "tx", "ty", "light_azimuth", "light_elevation", "ambient", "diffuse"};

// Every factor name: identity, expression, then the continuous ones (not the SH coefficients).
std::vector<std::string_view> factor_names();

// The 27 SH coefficient names, in ImageFactors::sh order: sh_r0 .. sh_r8, sh_g0 .., sh_b0 .. sh_b8.
std::vector<std::string> sh_factor_names();
// True for an SH coefficient name (sh_r0 .. sh_b8) or a three-channel group name (sh0 .. sh8).
bool is_sh_factor(std::string_view name);

// "lambert" / "sh9", and back (throws deeper::Error naming the models for anything else).
std::string_view lighting_name(Lighting lighting);
Lighting parse_lighting(std::string_view name);

// The range a continuous factor must stay in (the "valid" column above; SH names too). Throws for
// an unknown name.
FactorRange factor_limits(std::string_view name);

// The sampling range of a continuous factor or an SH coefficient (read or write; a group name
// sh<k> gives the red channel's). Throws deeper::Error for an unknown name, with the list of names.
FactorRange& factor_range(FactorSampling& sampling, std::string_view name);
const FactorRange& factor_range(const FactorSampling& sampling, std::string_view name);

// The default sampling for `identity_count` identities (>= 1).
FactorSampling default_sampling(std::uint64_t seed, std::int32_t identity_count);

// Fixes a factor: a continuous one to `value` (lo = hi = value), identity or expression to the
// index `value` (an integer). Throws deeper::Error for an unknown name or a value out of range.
void fix_factor(FactorSampling& sampling, std::string_view name, double value);

// Parses "NAME=VALUE" (fix) or "NAME=LO:HI" (range) and applies it; expression also takes a name
// ("happy"), and "lighting=lambert|sh9" chooses the lighting model. Throws deeper::Error naming the
// text on any problem.
void apply_factor_setting(FactorSampling& sampling, std::string_view text);

// Throws deeper::Error (one line naming the factor, the value and the valid range) unless every
// range is finite, lo <= hi, inside the limits, and the fixed indices are in range.
void validate_sampling(const FactorSampling& sampling);

// Throws deeper::Error unless every factor of `f` is finite and within the limits, the identity is in
// [0, identity_count), the expression in [0, 7), the lighting model known and, under sh9, every SH
// coefficient finite and within its limits. `what` starts the message ("image 3").
void validate_factors(const ImageFactors& f, std::int32_t identity_count, std::string_view what);

// The value of factor `name` of `f` (identity and expression as numbers; sh<k>: the red channel's).
double factor_value(const ImageFactors& f, std::string_view name);
// Sets factor `name` of `f` (no validation; sh<k> sets the three channels).
void set_factor_value(ImageFactors& f, std::string_view name, double value);

// The factors of images [first, first + count) on the host (sample_image_factors).
std::vector<ImageFactors> sample_factors(const FactorSampling& sampling, std::uint64_t first, std::int64_t count);

// One JSON object (no newline) with every factor, the expression also by name, and the image index;
// under sh9 also "lighting": "sh9" and "sh": the 27 coefficients (ImageFactors::sh order). Lambert
// records have neither key.
std::string factors_json(const ImageFactors& f, std::uint64_t index);

}  // namespace deeper::render
