// Evaluating the face model on the CPU: category means, an identity's vertices under an
// expression, its texture map, and vertex normals.
//
//   vertices = shape_glm^T d(factors) + shape_basis^T s + intensity * blendshapes^T w[expression]
//   texture  = texture_glm^T d(factors) + texture_basis^T t
//
// Each is one dense matrix-vector product per call (accumulated in float, component by component).
#pragma once

#include <span>
#include <vector>

#include "renderer/face_model.h"
#include "renderer/identities.h"

namespace deeper::render {

// The category mean shape (V x 3, mm) and texture (H x W x 3) of `factors`.
std::vector<float> mean_shape(const FaceModel& model, const Factors& factors);
std::vector<float> mean_texture(const FaceModel& model, const Factors& factors);

// An identity's vertices (V x 3, mm) with an expression at intensity in [0, 1].
std::vector<float> vertices(const FaceModel& model, const Identity& identity,
                            Expression expression = Expression::neutral, float intensity = 0.0f);
// An identity's texture map (H x W x 3; values are not clamped).
std::vector<float> texture(const FaceModel& model, const Identity& identity);

// The expression's displacement field (V x 3, mm) at an intensity in [0, 1].
std::vector<float> expression_displacement(const FaceModel& model, Expression expression, float intensity);

// Area-weighted vertex normals (V x 3, unit length) of a mesh at `positions` (V x 3).
std::vector<float> vertex_normals(const Mesh& mesh, std::span<const float> positions);

}  // namespace deeper::render
