// The face mesh: size, UVs, topology (connected, manifold, consistent winding), no degenerate
// triangles on the mean face, normals toward +z, and the validator's own failures.
#include <gtest/gtest.h>

#include "core/error.h"
#include "renderer/evaluate.h"
#include "renderer/mesh.h"
#include "test_model.h"

namespace deeper::render {
namespace {

TEST(RendererMesh, DefaultGridHasTheLabsDensity) {
  const Mesh mesh = make_face_grid();
  EXPECT_EQ(mesh.vertex_count(), 69 * 69);
  EXPECT_EQ(mesh.triangle_count(), 68 * 68 * 2);
  for (float uv : mesh.uv) {
    EXPECT_GE(uv, 0.0f);
    EXPECT_LE(uv, 1.0f);
  }
  EXPECT_NO_THROW(validate_topology(mesh, "grid"));
}

TEST(RendererMesh, FacePlaneSpansAFace) {
  float xmin = 1e9f, xmax = -1e9f, ymin = 1e9f, ymax = -1e9f;
  for (int i = 0; i <= 100; ++i)
    for (int j = 0; j <= 100; ++j) {
      const FacePoint p = face_plane(i / 100.0f, j / 100.0f);
      xmin = std::min(xmin, p.x), xmax = std::max(xmax, p.x), ymin = std::min(ymin, p.y), ymax = std::max(ymax, p.y);
    }
  EXPECT_NEAR(ymax - ymin, 156.0f, 1.0f);   // ~150 mm tall
  EXPECT_NEAR(xmax - xmin, 132.0f, 2.0f);   // ~130 mm wide
  EXPECT_GT(face_plane(0.5f, 0.0f).y, face_plane(0.5f, 1.0f).y);  // v = 0 is the top
  EXPECT_LT(face_plane(0.0f, 0.5f).x, face_plane(1.0f, 0.5f).x);  // u = 0 is the left
}

TEST(RendererMesh, MeanFaceIsValidAndFacesTheCamera) {
  const FaceModel& model = test_model();
  for (int e = 0; e < model.ethnicity_count(); ++e)
    for (Gender g : {Gender::female, Gender::male}) {
      const std::vector<float> v = mean_shape(model, {g, e, 45.0f});
      EXPECT_NO_THROW(validate_geometry(model.mesh, v, "mean face", 0.01f));
      const std::vector<float> n = vertex_normals(model.mesh, v);
      int toward = 0;
      double sum_z = 0;
      for (std::size_t i = 0; i < n.size(); i += 3) {
        toward += n[i + 2] > 0.0f;
        sum_z += n[i + 2];
      }
      EXPECT_GT(toward, static_cast<int>(n.size() / 3 * 0.97)) << "normals must face +z";
      EXPECT_GT(sum_z / (n.size() / 3), 0.6);
    }
}

TEST(RendererMesh, ValidatorRejectsBrokenMeshes) {
  const Mesh good = make_face_grid(5);
  auto expect_error = [](const Mesh& m, const char* needle) {
    try {
      validate_topology(m, "test mesh");
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("test mesh"), std::string::npos) << e.what();
    }
  };
  Mesh m = good;
  m.triangles[4] = 25;
  expect_error(m, "outside [0, 25)");
  m = good;
  m.triangles[1] = m.triangles[0];
  expect_error(m, "repeats a vertex");
  m = good;
  std::swap(m.triangles[1], m.triangles[2]);  // one flipped triangle
  expect_error(m, "same direction");
  m = good;
  m.uv.push_back(0.5f), m.uv.push_back(0.5f);  // an unused vertex
  expect_error(m, "belongs to no triangle");
  m = good;
  m.triangles.resize(m.triangles.size() - 3 * 8);  // drop the last row of quads... keeps a manifold
  m.triangles.erase(m.triangles.begin() + 3 * 6, m.triangles.begin() + 3 * 10);  // bow-tie / split
  EXPECT_THROW(validate_topology(m, "test mesh"), Error);
}

TEST(RendererMesh, ValidatorRejectsDegenerateTriangles) {
  const Mesh mesh = make_face_grid(3);
  std::vector<float> flat(static_cast<std::size_t>(mesh.vertex_count()) * 3, 0.0f);
  for (std::size_t i = 0; i < flat.size() / 3; ++i) flat[3 * i] = static_cast<float>(i);  // all on a line
  EXPECT_THROW(validate_geometry(mesh, flat, "flat"), Error);
}

}  // namespace
}  // namespace deeper::render
