// The face model: a linear generative model of 3D faces with the structure of the lab's Generative
// Model of 3D Faces (docs/renderer.md, ../shared/reference/paper.md section 2).
//
//   shape   (V x 3, mm)    = sum_p d_p(factors) shape_glm[p]   + sum_k s_k shape_basis[k]
//                            + intensity * sum_a w[expression, a] blendshapes[a]
//   texture (H x W x 3)    = sum_p d_p(factors) texture_glm[p] + sum_k t_k texture_basis[k]
//
// d(factors) is the GLM design vector over gender, ethnicity and age with their interactions
// (design_vector below); shape_basis and texture_basis rows are orthonormal; an identity's
// coefficients are s_k = z_k * shape_sd[k], t_k = z_k * texture_sd[k] with z ~ N(0, 1).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "renderer/mesh.h"

namespace deeper::render {

enum class Gender : std::int32_t { female = 0, male = 1 };
inline constexpr int kGenders = 2;

// The seven expression categories of the lab's model, in this order.
enum class Expression : std::int32_t { neutral = 0, happy, surprise, fear, disgust, anger, sad };
inline constexpr int kExpressions = 7;
std::string_view expression_name(Expression e);
const std::array<std::string_view, kExpressions>& expression_names();

// The factors of a category mean. ethnicity indexes FaceModel::ethnicities; age in years.
struct Factors {
  Gender gender = Gender::female;
  std::int32_t ethnicity = 0;
  float age = 40.0f;
};

struct FaceModel {
  Mesh mesh;
  int texture_height = 256;
  int texture_width = 256;

  std::vector<std::string> ethnicities;  // E >= 1 names
  float age_min = 20.0f;                 // the range identity sets draw ages from (years)
  float age_max = 70.0f;
  float age_center = 20.0f;  // design: age term = (age - age_center) / age_scale, 0 at 20, 1 at 70:
  float age_scale = 50.0f;   // ageing marks (wrinkles, folds) grow from none, never invert

  std::vector<float> shape_glm;    // P x V x 3 (mm), P = glm_term_count()
  std::vector<float> shape_basis;  // K_s x V x 3, orthonormal rows (unit vectors in R^{3V})
  std::vector<float> shape_sd;     // K_s (mm: the norm of the displacement field a z of 1 gives)

  std::vector<float> texture_glm;     // P x H x W x 3 (linear RGB-ish values, displayed clamped to [0, 1])
  std::vector<float> texture_basis;   // K_t x H x W x 3, orthonormal rows
  std::vector<float> texture_sd;      // K_t
  std::vector<std::int32_t> texture_band;  // K_t, spatial-frequency band of each component, 0 (lowest) .. 4

  std::vector<std::string> action_units;  // A names
  std::vector<float> blendshapes;         // A x V x 3 (mm at intensity 1)
  std::vector<float> expression_weights;  // kExpressions x A: each expression's action-unit amplitudes

  std::int64_t vertex_count() const { return mesh.vertex_count(); }
  std::int64_t shape_components() const { return static_cast<std::int64_t>(shape_sd.size()); }
  std::int64_t texture_components() const { return static_cast<std::int64_t>(texture_sd.size()); }
  std::int64_t texel_values() const { return std::int64_t{texture_height} * texture_width * 3; }
  int action_unit_count() const { return static_cast<int>(action_units.size()); }
  int ethnicity_count() const { return static_cast<int>(ethnicities.size()); }
  // P = 4 + 3E: intercept, gender, age, gender:age, then E ethnicity, E gender:ethnicity and
  // E age:ethnicity terms.
  int glm_term_count() const { return 4 + 3 * ethnicity_count(); }
};

// The GLM design vector d(factors) (P values): [1, g, a, g a, e_1..e_E, g e_1..g e_E, a e_1..a e_E]
// with g = -1 (female) / +1 (male), a = (age - age_center) / age_scale, e one-hot. Throws for an
// ethnicity outside [0, E) or a non-finite age.
std::vector<float> design_vector(const FaceModel& model, const Factors& factors);
// The term names, "intercept", "gender", "age", "gender:age", "ethnicity[NAME]", ...
std::vector<std::string> glm_term_names(const FaceModel& model);

// Options of the embedded procedural model.
struct ProceduralOptions {
  int grid = kDefaultGrid;       // vertices per side of the UV grid
  int shape_components = 50;     // K_s (at most 60)
  int texture_components = 50;   // K_t (a multiple of 5 is spread evenly over the 5 bands)
  int texture_size = 256;        // H = W
};

// Builds the embedded procedural model (deterministic; no data files). Takes about a second.
FaceModel make_procedural_model(const ProceduralOptions& options = {});

// Checks a model's internal consistency (sizes, index ranges, finite values, orthonormal bases
// within `tolerance`); throws a deeper::Error starting with `what`.
void validate_model(const FaceModel& model, std::string_view what, double tolerance = 1e-3);

}  // namespace deeper::render
