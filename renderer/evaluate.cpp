// CPU evaluation of the face model (evaluate.h).
#include "renderer/evaluate.h"

#include <cmath>

#include "core/error.h"
#include "renderer/vec.h"

namespace deeper::render {
namespace {

// out += sum_k w[k] * rows[k], rows of length out.size().
void accumulate(std::vector<float>& out, const std::vector<float>& rows, std::span<const float> w) {
  const std::size_t n = out.size();
  for (std::size_t k = 0; k < w.size(); ++k) {
    const float wk = w[k];
    if (wk == 0.0f) continue;
    const float* row = &rows[k * n];
    for (std::size_t i = 0; i < n; ++i) out[i] += wk * row[i];
  }
}

void check_identity(const FaceModel& model, const Identity& id) {
  if (id.shape.size() != model.shape_sd.size())
    fail("face model: the identity has {} shape coefficients, the model {}", id.shape.size(), model.shape_sd.size());
  if (id.texture.size() != model.texture_sd.size())
    fail("face model: the identity has {} texture coefficients, the model {}", id.texture.size(),
         model.texture_sd.size());
}

}  // namespace

std::vector<float> mean_shape(const FaceModel& model, const Factors& factors) {
  std::vector<float> out(static_cast<std::size_t>(model.vertex_count() * 3), 0.0f);
  accumulate(out, model.shape_glm, design_vector(model, factors));
  return out;
}

std::vector<float> mean_texture(const FaceModel& model, const Factors& factors) {
  std::vector<float> out(static_cast<std::size_t>(model.texel_values()), 0.0f);
  accumulate(out, model.texture_glm, design_vector(model, factors));
  return out;
}

std::vector<float> expression_displacement(const FaceModel& model, Expression expression, float intensity) {
  const int e = static_cast<int>(expression);
  if (e < 0 || e >= kExpressions) fail("face model: expression {} is not one of the {}", e, kExpressions);
  if (!(intensity >= 0.0f && intensity <= 1.0f)) fail("face model: expression intensity {} is outside [0, 1]", intensity);
  std::vector<float> out(static_cast<std::size_t>(model.vertex_count() * 3), 0.0f);
  const std::size_t a = static_cast<std::size_t>(model.action_unit_count());
  std::vector<float> w(model.expression_weights.begin() + static_cast<std::ptrdiff_t>(e * a),
                       model.expression_weights.begin() + static_cast<std::ptrdiff_t>((e + 1) * a));
  for (float& x : w) x *= intensity;
  accumulate(out, model.blendshapes, w);
  return out;
}

std::vector<float> vertices(const FaceModel& model, const Identity& identity, Expression expression, float intensity) {
  check_identity(model, identity);
  std::vector<float> out = mean_shape(model, identity.factors);
  accumulate(out, model.shape_basis, identity.shape);
  if (intensity != 0.0f || expression != Expression::neutral) {
    const std::vector<float> d = expression_displacement(model, expression, intensity);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] += d[i];
  }
  return out;
}

std::vector<float> texture(const FaceModel& model, const Identity& identity) {
  check_identity(model, identity);
  std::vector<float> out = mean_texture(model, identity.factors);
  accumulate(out, model.texture_basis, identity.texture);
  return out;
}

std::vector<float> vertex_normals(const Mesh& mesh, std::span<const float> positions) {
  const std::size_t nv = static_cast<std::size_t>(mesh.vertex_count());
  if (positions.size() != nv * 3) fail("vertex_normals: {} position values for {} vertices", positions.size(), nv);
  std::vector<Vec3> acc(nv);
  auto p = [&](std::int32_t i) { return Vec3{positions[3 * i], positions[3 * i + 1], positions[3 * i + 2]}; };
  for (std::size_t t = 0; t < mesh.triangles.size(); t += 3) {
    const std::int32_t a = mesh.triangles[t], b = mesh.triangles[t + 1], c = mesh.triangles[t + 2];
    const Vec3 n = cross(p(b) - p(a), p(c) - p(a));  // twice the area times the unit normal
    for (std::int32_t v : {a, b, c}) acc[static_cast<std::size_t>(v)] = acc[static_cast<std::size_t>(v)] + n;
  }
  std::vector<float> out(nv * 3);
  for (std::size_t v = 0; v < nv; ++v) {
    const Vec3 n = normalized(acc[v]);
    out[3 * v] = n.x;
    out[3 * v + 1] = n.y;
    out[3 * v + 2] = n.z;
  }
  return out;
}

}  // namespace deeper::render
