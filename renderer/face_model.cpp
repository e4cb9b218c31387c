// The face model's GLM design, names, the assembly of the embedded procedural model, and model
// validation (face_model.h).
#include "renderer/face_model.h"

#include <cmath>

#include "core/error.h"
#include "renderer/procedural.h"

namespace deeper::render {

const std::array<std::string_view, kExpressions>& expression_names() {
  static const std::array<std::string_view, kExpressions> names{"neutral", "happy", "surprise", "fear",
                                                                "disgust", "anger", "sad"};
  return names;
}

std::string_view expression_name(Expression e) {
  const int i = static_cast<int>(e);
  if (i < 0 || i >= kExpressions) fail("face model: expression {} is not one of the {}", i, kExpressions);
  return expression_names()[static_cast<std::size_t>(i)];
}

std::vector<float> design_vector(const FaceModel& model, const Factors& f) {
  const int e_count = model.ethnicity_count();
  if (f.ethnicity < 0 || f.ethnicity >= e_count)
    fail("face model: ethnicity {} is outside [0, {})", f.ethnicity, e_count);
  if (f.gender != Gender::female && f.gender != Gender::male)
    fail("face model: gender {} is neither 0 (female) nor 1 (male)", static_cast<int>(f.gender));
  if (!std::isfinite(f.age)) fail("face model: the age is not finite");
  const float g = f.gender == Gender::male ? 1.0f : -1.0f;
  const float a = (f.age - model.age_center) / model.age_scale;
  std::vector<float> d(static_cast<std::size_t>(model.glm_term_count()), 0.0f);
  d[0] = 1.0f;
  d[1] = g;
  d[2] = a;
  d[3] = g * a;
  d[static_cast<std::size_t>(4 + f.ethnicity)] = 1.0f;
  d[static_cast<std::size_t>(4 + e_count + f.ethnicity)] = g;
  d[static_cast<std::size_t>(4 + 2 * e_count + f.ethnicity)] = a;
  return d;
}

std::vector<std::string> glm_term_names(const FaceModel& model) {
  std::vector<std::string> names{"intercept", "gender", "age", "gender:age"};
  for (const char* prefix : {"ethnicity", "gender:ethnicity", "age:ethnicity"})
    for (const std::string& e : model.ethnicities) names.push_back(fmt::format("{}[{}]", prefix, e));
  return names;
}

FaceModel make_procedural_model(const ProceduralOptions& options) {
  if (options.texture_size < 16 || options.texture_size > 4096)
    fail("face model: texture size {} is outside [16, 4096]", options.texture_size);
  if (options.texture_components < 0 || options.texture_components % 5 != 0)
    fail("face model: texture components must be a multiple of 5 (one share per band), got {}",
         options.texture_components);
  FaceModel m;
  m.mesh = make_face_grid(options.grid);
  m.texture_height = m.texture_width = options.texture_size;
  m.ethnicities = procedural::ethnicity_names();
  const std::vector<FacePoint> vertices = procedural::vertex_points(m.mesh);
  const std::vector<FacePoint> texels = procedural::texel_points(options.texture_size);
  m.shape_glm = procedural::shape_glm(vertices);
  m.texture_glm = procedural::texture_glm(texels, options.texture_size);
  std::vector<int> band;
  procedural::orthonormalize(procedural::shape_raw_components(vertices), options.shape_components, m.shape_basis,
                             m.shape_sd, band);
  procedural::orthonormalize(procedural::texture_raw_components(texels, options.texture_components / 5),
                             options.texture_components, m.texture_basis, m.texture_sd, band);
  m.texture_band.assign(band.begin(), band.end());
  procedural::ActionUnits au = procedural::action_units(vertices);
  m.action_units = std::move(au.names);
  m.blendshapes = std::move(au.blendshapes);
  m.expression_weights = std::move(au.expression_weights);
  return m;
}

namespace {

void check_size(std::string_view what, std::string_view name, std::size_t have, std::int64_t want) {
  if (static_cast<std::int64_t>(have) != want) fail("{}: '{}' has {} values, expected {}", what, name, have, want);
}

void check_finite(std::string_view what, std::string_view name, const std::vector<float>& v) {
  for (std::size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) fail("{}: '{}' has a non-finite value at element {}", what, name, i);
}

void check_orthonormal(std::string_view what, std::string_view name, const std::vector<float>& basis,
                       std::int64_t rows, std::int64_t dim, double tolerance) {
  for (std::int64_t a = 0; a < rows; ++a) {
    const float* pa = &basis[static_cast<std::size_t>(a * dim)];
    for (std::int64_t b = 0; b <= a; ++b) {
      const float* pb = &basis[static_cast<std::size_t>(b * dim)];
      double d = 0;
      for (std::int64_t i = 0; i < dim; ++i) d += static_cast<double>(pa[i]) * pb[i];
      const double want = a == b ? 1.0 : 0.0;
      if (std::abs(d - want) > tolerance)
        fail("{}: '{}' is not orthonormal: rows {} and {} have dot product {:.6g} (tolerance {:g})", what, name, a,
             b, d, tolerance);
    }
  }
}

}  // namespace

void validate_model(const FaceModel& m, std::string_view what, double tolerance) {
  validate_topology(m.mesh, fmt::format("{}: 'mesh.triangles'", what));
  for (std::size_t i = 0; i < m.mesh.uv.size(); ++i)
    if (!(m.mesh.uv[i] >= 0.0f && m.mesh.uv[i] <= 1.0f))
      fail("{}: 'mesh.uv' value {} at vertex {} is outside [0, 1]", what, m.mesh.uv[i], i / 2);
  const std::int64_t v3 = m.vertex_count() * 3, texels = m.texel_values();
  if (m.ethnicities.empty()) fail("{}: the model names no ethnicity", what);
  if (!(m.age_scale > 0) || !(m.age_min <= m.age_max) || !std::isfinite(m.age_center))
    fail("{}: bad age range (min {}, max {}, centre {}, scale {})", what, m.age_min, m.age_max, m.age_center,
         m.age_scale);
  const std::int64_t p = m.glm_term_count(), ks = m.shape_components(), kt = m.texture_components();
  check_size(what, "shape.glm", m.shape_glm.size(), p * v3);
  check_size(what, "shape.basis", m.shape_basis.size(), ks * v3);
  check_size(what, "texture.glm", m.texture_glm.size(), p * texels);
  check_size(what, "texture.basis", m.texture_basis.size(), kt * texels);
  check_size(what, "texture.band", m.texture_band.size(), kt);
  check_size(what, "expression.blendshapes", m.blendshapes.size(), m.action_unit_count() * v3);
  check_size(what, "expression.weights", m.expression_weights.size(), std::int64_t{kExpressions} * m.action_unit_count());
  for (const auto& [name, values] :
       {std::pair<std::string_view, const std::vector<float>*>{"shape.glm", &m.shape_glm},
        {"shape.basis", &m.shape_basis}, {"shape.sd", &m.shape_sd}, {"texture.glm", &m.texture_glm},
        {"texture.basis", &m.texture_basis}, {"texture.sd", &m.texture_sd},
        {"expression.blendshapes", &m.blendshapes}, {"expression.weights", &m.expression_weights}})
    check_finite(what, name, *values);
  for (std::size_t k = 0; k < m.shape_sd.size(); ++k)
    if (!(m.shape_sd[k] >= 0)) fail("{}: 'shape.sd' element {} is negative", what, k);
  for (std::size_t k = 0; k < m.texture_sd.size(); ++k)
    if (!(m.texture_sd[k] >= 0)) fail("{}: 'texture.sd' element {} is negative", what, k);
  for (std::size_t k = 0; k < m.texture_band.size(); ++k)
    if (m.texture_band[k] < 0 || m.texture_band[k] > 4)
      fail("{}: 'texture.band' element {} is {}, outside [0, 4]", what, k, m.texture_band[k]);
  check_orthonormal(what, "shape.basis", m.shape_basis, ks, v3, tolerance);
  check_orthonormal(what, "texture.basis", m.texture_basis, kt, texels, tolerance);
}

}  // namespace deeper::render
