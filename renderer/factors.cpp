// Render factors on the host: names, limits, fixing, validation, sampling and JSON (factors.h).
#include "renderer/factors.h"

#include "core/error.h"
#include "renderer/face_model.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <utility>

namespace deeper::render {

namespace {

struct FactorInfo {
  std::string_view name;
  FactorRange FactorSampling::*range;
  float ImageFactors::*value;
  FactorRange limits;
};

constexpr std::array<FactorInfo, 11> kInfo = {{
    {"intensity", &FactorSampling::intensity, &ImageFactors::intensity, {0.0f, 1.0f}},
    {"yaw", &FactorSampling::yaw, &ImageFactors::yaw, {-90.0f, 90.0f}},
    {"pitch", &FactorSampling::pitch, &ImageFactors::pitch, {-90.0f, 90.0f}},
    {"roll", &FactorSampling::roll, &ImageFactors::roll, {-180.0f, 180.0f}},
    {"scale", &FactorSampling::scale, &ImageFactors::scale, {0.25f, 4.0f}},
    {"tx", &FactorSampling::tx, &ImageFactors::tx, {-0.5f, 0.5f}},
    {"ty", &FactorSampling::ty, &ImageFactors::ty, {-0.5f, 0.5f}},
    {"light_azimuth", &FactorSampling::light_azimuth, &ImageFactors::light_azimuth, {-90.0f, 90.0f}},
    {"light_elevation", &FactorSampling::light_elevation, &ImageFactors::light_elevation, {-90.0f, 90.0f}},
    {"ambient", &FactorSampling::ambient, &ImageFactors::ambient, {0.0f, 2.0f}},
    {"diffuse", &FactorSampling::diffuse, &ImageFactors::diffuse, {0.0f, 2.0f}},
}};

std::string all_names() {
  std::string s = "identity, expression";
  for (const auto& i : kInfo) s += fmt::format(", {}", i.name);
  return s + ", sh_r0 .. sh_b8, sh0 .. sh8, lighting";
}

constexpr char kChannels[3] = {'r', 'g', 'b'};

// An SH name: channel 0-2 (-1 for a group name sh<k>) and basis function k; nullopt otherwise.
struct ShName {
  int channel = -1, k = 0;
};
std::optional<ShName> sh_name(std::string_view name) {
  if (name.size() == 3 && name.substr(0, 2) == "sh" && name[2] >= '0' && name[2] <= '8') {
    return ShName{-1, name[2] - '0'};
  }
  if (name.size() == 5 && name.substr(0, 3) == "sh_" && name[4] >= '0' && name[4] <= '8') {
    for (int c = 0; c < 3; ++c) {
      if (name[3] == kChannels[c]) return ShName{c, name[4] - '0'};
    }
  }
  return std::nullopt;
}

FactorRange sh_limits(int k) { return k == 0 ? FactorRange{0.0f, 6.0f} : FactorRange{-4.0f, 4.0f}; }

std::string sh_coefficient_name(int index) {
  return fmt::format("sh_{}{}", kChannels[index / kernels::kShBasis], index % kernels::kShBasis);
}

// The channels an SH name covers.
std::pair<int, int> sh_channels(const ShName& n) {
  return n.channel < 0 ? std::pair{0, 3} : std::pair{n.channel, n.channel + 1};
}

// Index in sh[] of the name's coefficient (the red one for a group name sh<k>).
int sh_index(const ShName& n) { return kernels::kShBasis * std::max(n.channel, 0) + n.k; }

const FactorInfo* find(std::string_view name) {
  for (const auto& i : kInfo) {
    if (i.name == name) return &i;
  }
  return nullptr;
}

const FactorInfo& info(std::string_view name) {
  const FactorInfo* i = find(name);
  DEEPER_CHECK(i != nullptr, "unknown factor '{}' (factors: {})", name, all_names());
  return *i;
}

double parse_number(std::string_view text, std::string_view setting) {
  double v = 0;
  const auto* end = text.data() + text.size();
  const auto r = std::from_chars(text.data(), end, v);
  DEEPER_CHECK(r.ec == std::errc() && r.ptr == end && !text.empty(), "factor setting '{}': '{}' is not a number",
               setting, text);
  return v;
}

}  // namespace

std::vector<std::string_view> factor_names() {
  std::vector<std::string_view> names = {"identity", "expression"};
  for (const auto& i : kInfo) names.push_back(i.name);
  return names;
}

std::vector<std::string> sh_factor_names() {
  std::vector<std::string> names;
  for (int i = 0; i < kernels::kShCoefficients; ++i) names.push_back(sh_coefficient_name(i));
  return names;
}

bool is_sh_factor(std::string_view name) { return sh_name(name).has_value(); }

std::string_view lighting_name(Lighting lighting) {
  switch (lighting) {
    case Lighting::lambert: return "lambert";
    case Lighting::sh9: return "sh9";
  }
  return "invalid";
}

Lighting parse_lighting(std::string_view name) {
  if (name == "lambert") return Lighting::lambert;
  if (name == "sh9") return Lighting::sh9;
  fail("unknown lighting model '{}' (models: lambert, sh9)", name);
}

FactorRange factor_limits(std::string_view name) {
  if (const auto n = sh_name(name)) return sh_limits(n->k);
  return info(name).limits;
}

FactorRange& factor_range(FactorSampling& sampling, std::string_view name) {
  if (const auto n = sh_name(name)) return sampling.sh[sh_index(*n)];
  return sampling.*(info(name).range);
}

const FactorRange& factor_range(const FactorSampling& sampling, std::string_view name) {
  if (const auto n = sh_name(name)) return sampling.sh[sh_index(*n)];
  return sampling.*(info(name).range);
}

FactorSampling default_sampling(std::uint64_t seed, std::int32_t identity_count) {
  DEEPER_CHECK(identity_count >= 1, "render factors: identity count {} must be at least 1", identity_count);
  FactorSampling s;
  s.seed = seed;
  s.identity_count = identity_count;
  return s;
}

namespace {
// Sets a continuous factor's range: every channel of an SH group name, else the one factor.
void set_range(FactorSampling& sampling, std::string_view name, FactorRange range) {
  if (const auto n = sh_name(name)) {
    const auto [c0, c1] = sh_channels(*n);
    for (int c = c0; c < c1; ++c) sampling.sh[kernels::kShBasis * c + n->k] = range;
    return;
  }
  sampling.*(info(name).range) = range;
}
}  // namespace

void fix_factor(FactorSampling& sampling, std::string_view name, double value) {
  if (name == "identity" || name == "expression") {
    const bool identity = name == "identity";
    const double upper = identity ? sampling.identity_count : kernels::kFaceExpressions;
    DEEPER_CHECK(std::isfinite(value) && value == std::floor(value) && value >= 0 && value < upper,
                 "factor {} = {} is outside the integers [0, {})", name, value, upper);
    (identity ? sampling.fixed_identity : sampling.fixed_expression) = static_cast<std::int32_t>(value);
    return;
  }
  const FactorRange limits = factor_limits(name);
  DEEPER_CHECK(std::isfinite(value) && value >= limits.lo && value <= limits.hi,
               "factor {} = {} is outside its valid range [{}, {}]", name, value, limits.lo, limits.hi);
  set_range(sampling, name, FactorRange{static_cast<float>(value), static_cast<float>(value)});
}

void apply_factor_setting(FactorSampling& sampling, std::string_view text) {
  const auto eq = text.find('=');
  DEEPER_CHECK(eq != std::string_view::npos && eq > 0, "factor setting '{}' is not NAME=VALUE or NAME=LO:HI", text);
  const std::string_view name = text.substr(0, eq), value = text.substr(eq + 1);
  if (name == "lighting") {
    try {
      sampling.lighting = parse_lighting(value);
    } catch (const Error& e) {
      fail("factor setting '{}': {}", text, e.what());
    }
    return;
  }
  if (name == "expression") {
    const auto& names = expression_names();
    for (int e = 0; e < kExpressions; ++e) {
      if (names[static_cast<std::size_t>(e)] == value) return fix_factor(sampling, name, e);
    }
  }
  const auto colon = value.find(':');
  if (colon == std::string_view::npos) return fix_factor(sampling, name, parse_number(value, text));
  DEEPER_CHECK(name != "identity" && name != "expression", "factor setting '{}': {} takes one index, not a range",
               text, name);
  const FactorRange limits = factor_limits(name);
  const double lo = parse_number(value.substr(0, colon), text), hi = parse_number(value.substr(colon + 1), text);
  DEEPER_CHECK(lo <= hi && lo >= limits.lo && hi <= limits.hi,
               "factor setting '{}': range [{}, {}] is empty or outside {}'s valid range [{}, {}]", text, lo, hi, name,
               limits.lo, limits.hi);
  set_range(sampling, name, FactorRange{static_cast<float>(lo), static_cast<float>(hi)});
}

void validate_sampling(const FactorSampling& s) {
  DEEPER_CHECK(s.identity_count >= 1, "render factors: identity count {} must be at least 1", s.identity_count);
  DEEPER_CHECK(s.fixed_identity >= -1 && s.fixed_identity < s.identity_count,
               "render factors: fixed identity {} is outside [0, {})", s.fixed_identity, s.identity_count);
  DEEPER_CHECK(s.fixed_expression >= -1 && s.fixed_expression < kernels::kFaceExpressions,
               "render factors: fixed expression {} is outside [0, {})", s.fixed_expression,
               kernels::kFaceExpressions);
  for (const auto& i : kInfo) {
    const FactorRange& r = s.*(i.range);
    DEEPER_CHECK(std::isfinite(r.lo) && std::isfinite(r.hi) && r.lo <= r.hi,
                 "render factors: {} range [{}, {}] is not finite or empty", i.name, r.lo, r.hi);
    DEEPER_CHECK(r.lo >= i.limits.lo && r.hi <= i.limits.hi,
                 "render factors: {} range [{}, {}] is outside the valid range [{}, {}]", i.name, r.lo, r.hi,
                 i.limits.lo, i.limits.hi);
  }
  DEEPER_CHECK(s.lighting == Lighting::lambert || s.lighting == Lighting::sh9,
               "render factors: lighting model {} is not lambert (0) or sh9 (1)", static_cast<int>(s.lighting));
  for (int i = 0; i < kernels::kShCoefficients; ++i) {
    const FactorRange& r = s.sh[i];
    const FactorRange limits = sh_limits(i % kernels::kShBasis);
    const std::string name = sh_coefficient_name(i);
    DEEPER_CHECK(std::isfinite(r.lo) && std::isfinite(r.hi) && r.lo <= r.hi,
                 "render factors: {} range [{}, {}] is not finite or empty", name, r.lo, r.hi);
    DEEPER_CHECK(r.lo >= limits.lo && r.hi <= limits.hi,
                 "render factors: {} range [{}, {}] is outside the valid range [{}, {}]", name, r.lo, r.hi, limits.lo,
                 limits.hi);
  }
}

void validate_factors(const ImageFactors& f, std::int32_t identity_count, std::string_view what) {
  DEEPER_CHECK(f.identity >= 0 && f.identity < identity_count, "{}: identity {} is outside [0, {})", what,
               f.identity, identity_count);
  DEEPER_CHECK(f.expression >= 0 && f.expression < kernels::kFaceExpressions, "{}: expression {} is outside [0, {})",
               what, f.expression, kernels::kFaceExpressions);
  for (const auto& i : kInfo) {
    const float v = f.*(i.value);
    DEEPER_CHECK(std::isfinite(v) && v >= i.limits.lo && v <= i.limits.hi,
                 "{}: {} = {} is outside its valid range [{}, {}]", what, i.name, v, i.limits.lo, i.limits.hi);
  }
  DEEPER_CHECK(f.lighting == Lighting::lambert || f.lighting == Lighting::sh9,
               "{}: lighting model {} is not lambert (0) or sh9 (1)", what, static_cast<int>(f.lighting));
  if (f.lighting != Lighting::sh9) return;
  for (int i = 0; i < kernels::kShCoefficients; ++i) {
    const FactorRange limits = sh_limits(i % kernels::kShBasis);
    DEEPER_CHECK(std::isfinite(f.sh[i]) && f.sh[i] >= limits.lo && f.sh[i] <= limits.hi,
                 "{}: {} = {} is outside its valid range [{}, {}]", what, sh_coefficient_name(i), f.sh[i], limits.lo,
                 limits.hi);
  }
}

double factor_value(const ImageFactors& f, std::string_view name) {
  if (name == "identity") return f.identity;
  if (name == "expression") return f.expression;
  if (const auto n = sh_name(name)) return f.sh[sh_index(*n)];
  return f.*(info(name).value);
}

void set_factor_value(ImageFactors& f, std::string_view name, double value) {
  if (name == "identity") {
    f.identity = static_cast<std::int32_t>(value);
  } else if (name == "expression") {
    f.expression = static_cast<std::int32_t>(value);
  } else if (const auto n = sh_name(name)) {
    const auto [c0, c1] = sh_channels(*n);
    for (int c = c0; c < c1; ++c) f.sh[kernels::kShBasis * c + n->k] = static_cast<float>(value);
  } else {
    f.*(info(name).value) = static_cast<float>(value);
  }
}

std::vector<ImageFactors> sample_factors(const FactorSampling& sampling, std::uint64_t first, std::int64_t count) {
  validate_sampling(sampling);
  DEEPER_CHECK(count >= 0, "render factors: negative count {}", count);
  std::vector<ImageFactors> out(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    out[static_cast<std::size_t>(i)] = kernels::sample_image_factors(sampling, first + static_cast<std::uint64_t>(i));
  }
  return out;
}

std::string factors_json(const ImageFactors& f, std::uint64_t index) {
  nlohmann::ordered_json j;
  j["index"] = index;
  j["identity"] = f.identity;
  j["expression"] = f.expression;
  j["expression_name"] = f.expression >= 0 && f.expression < kExpressions
                             ? std::string(expression_names()[static_cast<std::size_t>(f.expression)])
                             : std::string("invalid");
  for (const auto& i : kInfo) j[std::string(i.name)] = f.*(i.value);
  if (f.lighting != Lighting::lambert) {
    j["lighting"] = std::string(lighting_name(f.lighting));
    j["sh"] = std::vector<float>(std::begin(f.sh), std::end(f.sh));
  }
  return j.dump();
}

}  // namespace deeper::render
