// Saving and loading face models as safetensors (model_io.h).
#include "renderer/model_io.h"

#include <cmath>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/safetensors.h"

namespace deeper::render {
namespace {

using deeper::DType;
using Shape = std::vector<std::int64_t>;

std::string json_list(const std::vector<std::string>& names) { return nlohmann::json(names).dump(); }

// The loader's view of one file: typed lookups that name the file and the tensor in every error.
class Reader {
 public:
  Reader(const std::filesystem::path& path) : name_(path.string()), file_(io::read_safetensors(path)) {}

  const std::string& name() const { return name_; }

  const std::string& meta(const std::string& key) const {
    auto it = file_.metadata.find(key);
    if (it == file_.metadata.end()) fail("face model '{}': the metadata has no '{}'", name_, key);
    return it->second;
  }
  std::int64_t meta_int(const std::string& key) const {
    const std::string& s = meta(key);
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size() || v < 0) fail("face model '{}': metadata '{}' = '{}' is not a non-negative integer", name_, key, s);
    return v;
  }
  float meta_float(const std::string& key) const {
    const std::string& s = meta(key);
    std::size_t used = 0;
    float v = 0;
    try {
      v = std::stof(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size() || !std::isfinite(v)) fail("face model '{}': metadata '{}' = '{}' is not a number", name_, key, s);
    return v;
  }
  std::vector<std::string> meta_list(const std::string& key) const {
    const nlohmann::json j = nlohmann::json::parse(meta(key), nullptr, false);
    if (!j.is_array()) fail("face model '{}': metadata '{}' is not a JSON list", name_, key);
    std::vector<std::string> out;
    for (const auto& e : j) {
      if (!e.is_string()) fail("face model '{}': metadata '{}' holds a non-string", name_, key);
      out.push_back(e.get<std::string>());
    }
    return out;
  }

  template <typename T>
  std::vector<T> tensor(const std::string& tensor_name, const Shape& want) const {
    const io::SafetensorsTensor* t = file_.find(tensor_name);
    if (!t) fail("face model '{}': tensor '{}' is missing", name_, tensor_name);
    const DType dtype = deeper::dtype_of<T>();
    if (t->array.dtype != dtype)
      fail("face model '{}': tensor '{}' is {}, expected {}", name_, tensor_name,
           io::safetensors_dtype_name(t->array.dtype), io::safetensors_dtype_name(dtype));
    if (t->array.shape != want)
      fail("face model '{}': tensor '{}' has shape {}, expected {}", name_, tensor_name, fmt::join(t->array.shape, "x"),
           fmt::join(want, "x"));
    std::vector<T> v = t->array.to_vector<T>();
    if constexpr (std::is_floating_point_v<T>) {
      for (std::size_t i = 0; i < v.size(); ++i)
        if (!std::isfinite(v[i])) fail("face model '{}': tensor '{}' has a non-finite value at element {}", name_, tensor_name, i);
    }
    return v;
  }

 private:
  std::string name_;
  io::SafetensorsFile file_;
};

}  // namespace

void save_face_model(const FaceModel& m, const std::filesystem::path& path) {
  validate_model(m, fmt::format("face model '{}'", path.string()));
  const std::int64_t v = m.vertex_count(), t = m.mesh.triangle_count(), p = m.glm_term_count();
  const std::int64_t h = m.texture_height, w = m.texture_width, ks = m.shape_components(), kt = m.texture_components();
  const std::int64_t a = m.action_unit_count();
  const std::vector<Shape> shapes{{t, 3}, {v, 2}, {p, v, 3}, {ks, v, 3}, {ks}, {p, h, w, 3}, {kt, h, w, 3},
                                  {kt}, {kt}, {a, v, 3}, {kExpressions, a}};
  const std::vector<io::SafetensorsView> views{
      {"mesh.triangles", DType::i32, shapes[0], m.mesh.triangles.data()},
      {"mesh.uv", DType::f32, shapes[1], m.mesh.uv.data()},
      {"shape.glm", DType::f32, shapes[2], m.shape_glm.data()},
      {"shape.basis", DType::f32, shapes[3], m.shape_basis.data()},
      {"shape.sd", DType::f32, shapes[4], m.shape_sd.data()},
      {"texture.glm", DType::f32, shapes[5], m.texture_glm.data()},
      {"texture.basis", DType::f32, shapes[6], m.texture_basis.data()},
      {"texture.sd", DType::f32, shapes[7], m.texture_sd.data()},
      {"texture.band", DType::i32, shapes[8], m.texture_band.data()},
      {"expression.blendshapes", DType::f32, shapes[9], m.blendshapes.data()},
      {"expression.weights", DType::f32, shapes[10], m.expression_weights.data()},
  };
  std::vector<std::string> expressions(expression_names().begin(), expression_names().end());
  const io::SafetensorsMetadata meta{
      {"format", kFaceModelFormat},
      {"format_version", std::to_string(kFaceModelFormatVersion)},
      {"units", "mm"},
      {"coordinates", "x right, y up, z toward the camera; triangles counter-clockwise seen from +z"},
      {"vertices", std::to_string(v)},
      {"triangles", std::to_string(t)},
      {"texture_height", std::to_string(h)},
      {"texture_width", std::to_string(w)},
      {"shape_components", std::to_string(ks)},
      {"texture_components", std::to_string(kt)},
      {"action_units", json_list(m.action_units)},
      {"ethnicities", json_list(m.ethnicities)},
      {"genders", json_list({"female", "male"})},
      {"expressions", json_list(expressions)},
      {"glm_terms", json_list(glm_term_names(m))},
      {"age_min", fmt::format("{}", m.age_min)},
      {"age_max", fmt::format("{}", m.age_max)},
      {"age_center", fmt::format("{}", m.age_center)},
      {"age_scale", fmt::format("{}", m.age_scale)},
  };
  io::write_safetensors(path, views, meta);
}

FaceModel load_face_model(const std::filesystem::path& path, double tolerance) {
  const Reader r(path);
  const std::string& n = r.name();
  if (r.meta("format") != kFaceModelFormat)
    fail("face model '{}': metadata 'format' is '{}', expected '{}'", n, r.meta("format"), kFaceModelFormat);
  if (r.meta("format_version") != std::to_string(kFaceModelFormatVersion))
    fail("face model '{}': format_version '{}' is not supported (this build reads {})", n, r.meta("format_version"),
         kFaceModelFormatVersion);
  if (r.meta("units") != "mm") fail("face model '{}': units '{}' (expected mm)", n, r.meta("units"));
  FaceModel m;
  const std::int64_t v = r.meta_int("vertices"), t = r.meta_int("triangles");
  const std::int64_t h = r.meta_int("texture_height"), w = r.meta_int("texture_width");
  const std::int64_t ks = r.meta_int("shape_components"), kt = r.meta_int("texture_components");
  if (v < 3 || t < 1 || h < 1 || w < 1 || h > 16384 || w > 16384)
    fail("face model '{}': bad counts (vertices {}, triangles {}, texture {} x {})", n, v, t, h, w);
  m.texture_height = static_cast<int>(h);
  m.texture_width = static_cast<int>(w);
  m.ethnicities = r.meta_list("ethnicities");
  if (m.ethnicities.empty()) fail("face model '{}': metadata 'ethnicities' is empty", n);
  m.action_units = r.meta_list("action_units");
  if (r.meta_list("expressions") != std::vector<std::string>(expression_names().begin(), expression_names().end()))
    fail("face model '{}': metadata 'expressions' must list {}", n, fmt::join(expression_names(), ", "));
  m.age_min = r.meta_float("age_min");
  m.age_max = r.meta_float("age_max");
  m.age_center = r.meta_float("age_center");
  m.age_scale = r.meta_float("age_scale");
  const std::int64_t p = m.glm_term_count(), a = m.action_unit_count();
  if (r.meta_list("glm_terms") != glm_term_names(m))
    fail("face model '{}': metadata 'glm_terms' must be {}", n, fmt::join(glm_term_names(m), ", "));
  m.mesh.triangles = r.tensor<std::int32_t>("mesh.triangles", {t, 3});
  for (std::size_t i = 0; i < m.mesh.triangles.size(); ++i)
    if (m.mesh.triangles[i] < 0 || m.mesh.triangles[i] >= v)
      fail("face model '{}': tensor 'mesh.triangles' has index {} (triangle {}) outside [0, {})", n,
           m.mesh.triangles[i], i / 3, v);
  m.mesh.uv = r.tensor<float>("mesh.uv", {v, 2});
  m.shape_glm = r.tensor<float>("shape.glm", {p, v, 3});
  m.shape_basis = r.tensor<float>("shape.basis", {ks, v, 3});
  m.shape_sd = r.tensor<float>("shape.sd", {ks});
  m.texture_glm = r.tensor<float>("texture.glm", {p, h, w, 3});
  m.texture_basis = r.tensor<float>("texture.basis", {kt, h, w, 3});
  m.texture_sd = r.tensor<float>("texture.sd", {kt});
  m.texture_band = r.tensor<std::int32_t>("texture.band", {kt});
  m.blendshapes = r.tensor<float>("expression.blendshapes", {a, v, 3});
  m.expression_weights = r.tensor<float>("expression.weights", {kExpressions, a});
  validate_model(m, fmt::format("face model '{}'", n), tolerance);
  return m;
}

}  // namespace deeper::render
