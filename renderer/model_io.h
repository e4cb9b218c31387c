// Face model files: the whole model as one safetensors file (docs/renderer.md, "Model files").
//
// Tensors (all little-endian, C order; V vertices, T triangles, H x W texture, P = 4 + 3E GLM
// terms, K_s / K_t components, A action units):
//   mesh.triangles          I32 [T, 3]        counter-clockwise seen from +z, indices < V
//   mesh.uv                 F32 [V, 2]        in [0, 1], v down (row 0 of the texture at v = 0)
//   shape.glm               F32 [P, V, 3]     mm; term order as glm_term_names()
//   shape.basis             F32 [K_s, V, 3]   orthonormal rows
//   shape.sd                F32 [K_s]         mm
//   texture.glm             F32 [P, H, W, 3]
//   texture.basis           F32 [K_t, H, W, 3] orthonormal rows
//   texture.sd              F32 [K_t]
//   texture.band            I32 [K_t]         0 .. 4
//   expression.blendshapes  F32 [A, V, 3]     mm at intensity 1
//   expression.weights      F32 [7, A]        neutral, happy, surprise, fear, disgust, anger, sad
// __metadata__: format "deeper-face-model", format_version "1", units "mm", vertices, triangles,
// texture_height, texture_width, shape_components, texture_components, action_units (a JSON list
// of names), ethnicities (a JSON list), genders, expressions, glm_terms (JSON lists), age_min,
// age_max, age_center, age_scale, coordinates.
#pragma once

#include <filesystem>

#include "renderer/face_model.h"

namespace deeper::render {

inline constexpr const char* kFaceModelFormat = "deeper-face-model";
inline constexpr int kFaceModelFormatVersion = 1;

void save_face_model(const FaceModel& model, const std::filesystem::path& path);

// Loads and validates a model file: every tensor present with its dtype and a shape consistent with
// the others, triangle indices in [0, V), finite values, orthonormal bases (within `tolerance`),
// the metadata's names and counts. Errors are deeper::Errors naming the file and the tensor.
FaceModel load_face_model(const std::filesystem::path& path, double tolerance = 1e-3);

}  // namespace deeper::render
