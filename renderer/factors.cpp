// Render factors on the host: names, limits, fixing, validation, sampling and JSON (factors.h).
#include "renderer/factors.h"

#include "core/error.h"
#include "renderer/face_model.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <string>

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
  return s;
}

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

FactorRange factor_limits(std::string_view name) { return info(name).limits; }

FactorRange& factor_range(FactorSampling& sampling, std::string_view name) { return sampling.*(info(name).range); }

const FactorRange& factor_range(const FactorSampling& sampling, std::string_view name) {
  return sampling.*(info(name).range);
}

FactorSampling default_sampling(std::uint64_t seed, std::int32_t identity_count) {
  DEEPER_CHECK(identity_count >= 1, "render factors: identity count {} must be at least 1", identity_count);
  FactorSampling s;
  s.seed = seed;
  s.identity_count = identity_count;
  return s;
}

void fix_factor(FactorSampling& sampling, std::string_view name, double value) {
  if (name == "identity" || name == "expression") {
    const bool identity = name == "identity";
    const double upper = identity ? sampling.identity_count : kernels::kFaceExpressions;
    DEEPER_CHECK(std::isfinite(value) && value == std::floor(value) && value >= 0 && value < upper,
                 "factor {} = {} is outside the integers [0, {})", name, value, upper);
    (identity ? sampling.fixed_identity : sampling.fixed_expression) = static_cast<std::int32_t>(value);
    return;
  }
  const FactorInfo& i = info(name);
  DEEPER_CHECK(std::isfinite(value) && value >= i.limits.lo && value <= i.limits.hi,
               "factor {} = {} is outside its valid range [{}, {}]", name, value, i.limits.lo, i.limits.hi);
  sampling.*(i.range) = FactorRange{static_cast<float>(value), static_cast<float>(value)};
}

void apply_factor_setting(FactorSampling& sampling, std::string_view text) {
  const auto eq = text.find('=');
  DEEPER_CHECK(eq != std::string_view::npos && eq > 0, "factor setting '{}' is not NAME=VALUE or NAME=LO:HI", text);
  const std::string_view name = text.substr(0, eq), value = text.substr(eq + 1);
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
  const FactorInfo& i = info(name);
  const double lo = parse_number(value.substr(0, colon), text), hi = parse_number(value.substr(colon + 1), text);
  DEEPER_CHECK(lo <= hi && lo >= i.limits.lo && hi <= i.limits.hi,
               "factor setting '{}': range [{}, {}] is empty or outside {}'s valid range [{}, {}]", text, lo, hi, name,
               i.limits.lo, i.limits.hi);
  sampling.*(i.range) = FactorRange{static_cast<float>(lo), static_cast<float>(hi)};
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
}

double factor_value(const ImageFactors& f, std::string_view name) {
  if (name == "identity") return f.identity;
  if (name == "expression") return f.expression;
  return f.*(info(name).value);
}

void set_factor_value(ImageFactors& f, std::string_view name, double value) {
  if (name == "identity") {
    f.identity = static_cast<std::int32_t>(value);
  } else if (name == "expression") {
    f.expression = static_cast<std::int32_t>(value);
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
  return j.dump();
}

}  // namespace deeper::render
