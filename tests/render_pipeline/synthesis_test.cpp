// Synthesis kernels: blend_rows, pose_project and vertex_normals under the emulator equal the CPU
// reference bit for bit (poisoned outputs, odd sizes); the device identity cache equals the CPU
// evaluation of the model; known points project where the camera model says.
#include "kernels/raster/camera.h"
#include "kernels/render/synthesis.h"
#include "renderer/evaluate.h"
#include "renderer/pipeline.h"
#include "render_test_util.h"

#include "core/error.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace deeper::render {
namespace {

namespace dk = deeper::kernels;
using test::max_abs_diff;
using test::same_bits;
using test::small_model;

std::vector<float> random_vector(std::size_t n, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(gen);
  return v;
}

TEST(RenderSynthesis, BlendRowsEmuEqualsCpu) {
  const std::int64_t rows = 11, cols = 301, k = 7, base_rows = 5;
  const auto basis = random_vector(k * cols, 1), coef = random_vector(rows * 9, 2), base = random_vector(base_rows * cols, 3);
  std::vector<std::int32_t> index(rows * 2);
  for (std::int64_t r = 0; r < rows; ++r) index[2 * r] = static_cast<std::int32_t>((r * 3) % base_rows);
  index[2 * 4] = base_rows;  // out of range: NaN row
  for (int mode = 0; mode < 3; ++mode) {
    std::vector<float> out[2];
    for (int d = 0; d < 2; ++d) {
      out[d].assign(rows * cols, 12345.0f);
      dk::BlendRowsParams p;
      p.basis = basis.data();
      p.coef = coef.data();
      p.coef_stride = 9;
      p.rows = rows;
      p.cols = cols;
      p.k = k;
      if (mode >= 1) {
        p.base = base.data();
        p.base_rows = mode == 1 ? base_rows : base_rows;
        if (mode == 2) {
          p.base_index = index.data();
          p.base_index_stride = 2;
        }
      }
      if (mode == 1) p.rows = base_rows;  // base row r for row r
      p.out = out[d].data();
      dk::blend_rows(d == 0 ? Device::cpu() : Device::emu(), p);
      if (mode == 1) {
        out[d].resize(base_rows * cols);
      }
      // Against the definition in double.
      for (std::int64_t r = 0; r < p.rows; ++r) {
        for (std::int64_t j = 0; j < cols; ++j) {
          const float got = out[d][r * cols + j];
          if (mode == 2 && r == 4) {
            EXPECT_TRUE(std::isnan(got));
            continue;
          }
          double want = 0;
          if (mode == 1) want = base[r * cols + j];
          if (mode == 2) want = base[index[2 * r] * cols + j];
          for (std::int64_t q = 0; q < k; ++q) want += double(coef[r * 9 + q]) * basis[q * cols + j];
          ASSERT_NEAR(got, want, 1e-5) << mode << " " << r << " " << j;
        }
      }
    }
    EXPECT_TRUE(same_bits(out[0], out[1])) << "mode " << mode;
  }
  dk::BlendRowsParams bad;
  bad.rows = 2;
  bad.cols = 3;
  bad.k = 4;
  bad.coef_stride = 3;
  EXPECT_THROW(dk::blend_rows(Device::cpu(), bad), Error);
}

TEST(RenderSynthesis, IdentityCacheMatchesCpuEvaluation) {
  const FaceModel& model = small_model();
  const IdentitySet ids = make_identities(model, 5, 4);
  const RenderModel device_model(Device::emu(), model, ids);
  const std::int64_t v3 = 3 * model.vertex_count();
  for (int i = 0; i < 4; ++i) {
    const auto want = vertices(model, ids.identities[i]);
    const std::vector<float> got(device_model.identity_shapes() + i * v3, device_model.identity_shapes() + (i + 1) * v3);
    EXPECT_LT(max_abs_diff(got, want), 2e-3) << i;  // mm, different summation order
    const auto tw = texture(model, ids.identities[i]);
    const std::int64_t t = model.texel_values();
    const std::vector<float> gt(device_model.identity_textures() + i * t, device_model.identity_textures() + (i + 1) * t);
    EXPECT_LT(max_abs_diff(gt, tw), 1e-5) << i;
  }
  const RenderModel cpu_model(Device::cpu(), model, ids);
  const std::vector<float> a(cpu_model.identity_shapes(), cpu_model.identity_shapes() + 4 * v3);
  const std::vector<float> b(device_model.identity_shapes(), device_model.identity_shapes() + 4 * v3);
  EXPECT_TRUE(same_bits(a, b));
  EXPECT_THROW(RenderModel(Device::cpu(), model, IdentitySet{}), Error);
}

// A point at the pivot lands on the image centre (shifted by tx, ty frames); a point 10 mm to the
// side lands where the pinhole model puts it.
TEST(RenderSynthesis, ProjectionOfKnownPoints) {
  const int w = 64, h = 48;
  const float distance = 1000.0f;
  const auto camera = dk::PerspectiveCamera::from_fov_y(12.0, w, h, 250.0, 4000.0);
  const auto m = dk::projection_matrix(camera);
  const float pivot[3] = {0.0f, -2.0f, -45.0f};
  const std::vector<float> pts = {0.0f, -2.0f, -45.0f, 10.0f, -2.0f, -45.0f, 0.0f, 18.0f, -45.0f, 0.0f, -2.0f, -25.0f};
  const std::int64_t nv = 4;
  for (int variant = 0; variant < 3; ++variant) {
    ImageFactors f;
    if (variant == 1) {
      f.tx = 0.1f;
      f.ty = -0.05f;
      f.scale = 1.2f;
    }
    if (variant == 2) f.yaw = 90.0f;
    const dk::RenderSetup setup = dk::make_render_setup(f);
    std::vector<float> clip[2], cam[2];
    for (int d = 0; d < 2; ++d) {
      clip[d].assign(nv * 4, NAN);
      cam[d].assign(nv * 3, NAN);
      dk::PoseProjectParams p;
      p.batch = 1;
      p.vertices = nv;
      p.positions = pts.data();
      p.setup = &setup;
      std::copy(pivot, pivot + 3, p.pivot);
      p.distance = distance;
      std::copy(m.begin(), m.end(), p.projection);
      p.camera = cam[d].data();
      p.clip = clip[d].data();
      dk::pose_project(d == 0 ? Device::cpu() : Device::emu(), p);
    }
    EXPECT_TRUE(same_bits(clip[0], clip[1]));
    EXPECT_TRUE(same_bits(cam[0], cam[1]));
    auto pixel = [&](int i) {
      const float* c = clip[0].data() + 4 * i;
      return std::array<double, 2>{(c[0] / c[3] + 1.0) * 0.5 * w, (1.0 - c[1] / c[3]) * 0.5 * h};
    };
    const double s = f.scale;
    const double shift_x = f.tx * w, shift_y = -f.ty * h;
    // The pivot: image centre plus the shift.
    EXPECT_NEAR(pixel(0)[0], w / 2.0 + shift_x, 1e-3);
    EXPECT_NEAR(pixel(0)[1], h / 2.0 + shift_y, 1e-3);
    EXPECT_NEAR(cam[0][2], -distance, 1e-3);
    if (variant < 2) {
      const auto want1 = dk::project_to_pixel(camera, 10.0 * s, 0.0, -distance);
      EXPECT_NEAR(pixel(1)[0], want1[0] + shift_x, 1e-3);
      EXPECT_NEAR(pixel(1)[1], want1[1] + shift_y, 1e-3);
      const auto want2 = dk::project_to_pixel(camera, 0.0, 20.0 * s, -distance);
      EXPECT_NEAR(pixel(2)[1], want2[1] + shift_y, 1e-3);  // up in space: up in the image
      EXPECT_LT(pixel(2)[1], pixel(0)[1]);
      EXPECT_NEAR(cam[0][3 * 3 + 2], -distance + 20.0f * s, 1e-3);  // nearer the camera
    } else {
      // yaw 90: the point in front of the pivot (+z) swings to +x.
      EXPECT_NEAR(cam[0][3 * 3 + 0], 20.0f, 1e-4);
      EXPECT_NEAR(cam[0][3 * 3 + 2], -distance, 1e-3);
    }
  }
}

TEST(RenderSynthesis, VertexNormalsEmuEqualsCpuAndEvaluate) {
  const FaceModel& model = small_model();
  const IdentitySet ids = make_identities(model, 2, 1);
  const auto pos = vertices(model, ids.identities[0]);
  const std::int64_t nv = model.vertex_count();
  std::vector<std::int32_t> offsets, adjacency;
  build_vertex_adjacency(model.mesh.triangles, nv, offsets, adjacency);
  std::vector<float> batch(pos);
  batch.insert(batch.end(), pos.begin(), pos.end());  // B = 2, identical images
  std::vector<float> out[2];
  for (int d = 0; d < 2; ++d) {
    out[d].assign(2 * nv * 3, NAN);
    dk::VertexNormalsParams p;
    p.batch = 2;
    p.vertices = nv;
    p.triangles = model.mesh.triangle_count();
    p.positions = batch.data();
    p.tri = model.mesh.triangles.data();
    p.adjacency_offsets = offsets.data();
    p.adjacency = adjacency.data();
    p.out = out[d].data();
    dk::vertex_normals(d == 0 ? Device::cpu() : Device::emu(), p);
  }
  EXPECT_TRUE(same_bits(out[0], out[1]));
  const auto want = vertex_normals(model.mesh, pos);
  const std::vector<float> first(out[0].begin(), out[0].begin() + nv * 3);
  EXPECT_LT(max_abs_diff(first, want), 1e-4);
  const std::vector<float> second(out[0].begin() + nv * 3, out[0].end());
  EXPECT_TRUE(same_bits(first, second));
  std::vector<std::int32_t> bad_tri = {0, 1, static_cast<std::int32_t>(nv)};
  EXPECT_THROW(build_vertex_adjacency(bad_tri, nv, offsets, adjacency), Error);
}

}  // namespace
}  // namespace deeper::render
