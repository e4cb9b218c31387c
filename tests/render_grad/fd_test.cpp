// Central differences in double on the CPU references of the render backward ops
// (kernels/render/render_grad.h), and the T-forward helpers against the float kernels.
#include "kernels/raster/rasterize.h"
#include "kernels/render/compose.h"
#include "kernels/render/render_grad.h"
#include "kernels/render/synthesis.h"
#include "render_grad_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace {

namespace dk = deeper::kernels;
using namespace render_grad_test;

TEST(RenderGradFd, ComposeUvNormalTextureLight) {
  const std::int64_t batch = 2;
  const int h = 5, w = 6, th = 4, tw = 5, tex_count = 3;
  const std::int64_t pixels = batch * h * w;
  const std::vector<float> rast = fake_rast(pixels, 7);
  // UVs inside the texture, some beyond the outer texel centres (clamped: zero uv gradient there).
  std::vector<double> uv = random_vector(2 * pixels, 1, -0.05, 1.05);
  std::vector<double> normal = random_vector(3 * pixels, 2, -1.0, 1.0);
  for (std::int64_t i = 0; i < pixels; ++i) normal[3 * i + 2] = 1.0 + 0.5 * std::fabs(normal[3 * i + 2]);
  // Texels in [-0.1, 1.1]: some albedos clamp.
  std::vector<double> tex = random_vector(static_cast<std::size_t>(tex_count * th * tw * 3), 3, -0.1, 1.1);
  std::vector<double> light = {0.3, 0.4, 0.9, 0.3, 0.35, 0.4, 0.5, 0.45, 0.4,
                               -0.2, 0.5, 0.8, 0.45, 0.4, 0.35, 0.6, 0.5, 0.55};
  const std::int32_t tex_index[2] = {2, 0};
  const std::vector<double> g = random_vector(3 * pixels, 4);
  const auto loss = [&]() {
    double s = 0;
    for (std::int64_t px = 0; px < pixels; ++px) {
      if (dk::raster_pixel_id(&rast[4 * px]) == -1) continue;
      const std::int64_t b = px / (h * w);
      double out[3] = {0.0, 0.0, 0.0};
      EXPECT_TRUE(dk::compose_pixel_ref(tex.data() + tex_index[b] * th * tw * 3, th, tw, uv.data() + 2 * px,
                                        normal.data() + 3 * px, light.data() + 9 * b, out));
      for (int c = 0; c < 3; ++c) s += g[3 * px + c] * out[c];
    }
    return s;
  };
  std::vector<double> g_uv(uv.size(), 0.0), g_n(normal.size(), 0.0), g_light(light.size(), 0.0);
  std::vector<double> g_tex(static_cast<std::size_t>(batch * th * tw * 3), 0.0);
  dk::ComposeGradParamsT<double> p;
  p.batch = batch;
  p.height = h;
  p.width = w;
  p.rast = rast.data();
  p.uv = uv.data();
  p.normal = normal.data();
  p.textures = tex.data();
  p.tex_count = tex_count;
  p.tex_height = th;
  p.tex_width = tw;
  p.tex_index = tex_index;
  p.light = light.data();
  p.grad_out = g.data();
  p.grad_uv = g_uv.data();
  p.grad_normal = g_n.data();
  p.grad_tex.grad = g_tex.data();
  p.grad_light = g_light.data();
  dk::cpu_impl::compose_grad(p);
  EXPECT_GT(max_abs(g_uv), 0.1);
  EXPECT_GT(max_abs(g_tex), 0.1);
  expect_gradient(uv, g_uv, 1e-7, 1e-5, 1e-3, loss, "uv");
  expect_gradient(normal, g_n, 1e-7, 1e-5, 1e-3, loss, "normal");
  expect_gradient(light, g_light, 1e-7, 1e-5, 1e-3, loss, "light");
  // The per-image texture gradient against perturbing each image's own texture.
  std::vector<double> per_image(tex.size(), 0.0);
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t i = 0; i < th * tw * 3; ++i) per_image[tex_index[b] * th * tw * 3 + i] += g_tex[b * th * tw * 3 + i];
  }
  expect_gradient(tex, per_image, 1e-7, 1e-5, 1e-3, loss, "texture");
}

TEST(RenderGradFd, ComposeRefMatchesKernel) {
  // compose_pixel_ref<float> is the float kernel's formula.
  const int th = 4, tw = 5;
  const std::int64_t pixels = 30;
  const std::vector<float> rast = fake_rast(pixels, 1000);
  const auto uv = to_float(random_vector(2 * pixels, 5, 0.0, 1.0));
  const auto normal = to_float(random_vector(3 * pixels, 6, 0.2, 1.0));
  const auto tex = to_float(random_vector(static_cast<std::size_t>(th * tw * 3), 7, 0.0, 1.0));
  dk::RenderSetup setup{};
  const float light[9] = {0.2f, 0.3f, 0.9f, 0.4f, 0.4f, 0.4f, 0.5f, 0.5f, 0.5f};
  for (int i = 0; i < 9; ++i) setup.light[i] = light[i];
  std::vector<float> out(3 * pixels);
  dk::ComposeParams cp;
  cp.batch = 1;
  cp.height = 5;
  cp.width = 6;
  cp.rast = rast.data();
  cp.uv = uv.data();
  cp.normal = normal.data();
  cp.textures = tex.data();
  cp.tex_count = 1;
  cp.tex_height = th;
  cp.tex_width = tw;
  cp.setup = &setup;
  cp.out = out.data();
  dk::cpu_impl::compose_faces(cp);
  int face = 0;
  for (std::int64_t px = 0; px < pixels; ++px) {
    if (dk::raster_pixel_id(&rast[4 * px]) == -1) {
      EXPECT_EQ(out[3 * px], 0.5f);  // the background
      continue;
    }
    ++face;
    float ref[3];
    ASSERT_TRUE(dk::compose_pixel_ref(tex.data(), th, tw, &uv[2 * px], &normal[3 * px], light, ref));
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(ref[c], out[3 * px + c], 1e-6) << px;
  }
  EXPECT_EQ(face, pixels - 1);
}

struct PoseCase {
  std::int64_t batch = 2, vertices = 7;
  std::vector<double> pos, pose;
  double pivot[3] = {0.5, -2.0, -45.0};
  double distance = 900.0;
  double m[16] = {4.7, 0.0, 0.0, 0.0, 0.0, 4.7, 0.0, 0.0, 0.0, 0.0, -1.6, -720.0, 0.0, 0.0, -1.0, 0.0};
  PoseCase() {
    pos = random_vector(static_cast<std::size_t>(3 * batch * vertices), 11, -80.0, 80.0);
    pose.resize(static_cast<std::size_t>(12 * batch));
    for (std::int64_t b = 0; b < batch; ++b) {
      dk::rotation_ref(20.0 - 35.0 * b, -10.0 + 5.0 * b, 4.0, -1, &pose[12 * b]);
      pose[12 * b + 9] = 1.1 - 0.2 * b;
      pose[12 * b + 10] = 0.05;
      pose[12 * b + 11] = -0.08 + 0.1 * b;
    }
  }
};

TEST(RenderGradFd, PoseProject) {
  PoseCase pc;
  const std::vector<double> gc = random_vector(static_cast<std::size_t>(4 * pc.batch * pc.vertices), 12);
  const std::vector<double> gcam = random_vector(static_cast<std::size_t>(3 * pc.batch * pc.vertices), 13);
  const auto loss = [&]() {
    double s = 0;
    for (std::int64_t b = 0; b < pc.batch; ++b) {
      for (std::int64_t v = 0; v < pc.vertices; ++v) {
        const std::int64_t row = b * pc.vertices + v;
        double cam[3], clip[4];
        const double piv[3] = {pc.pivot[0], pc.pivot[1], pc.pivot[2]};
        double m[16];
        for (int i = 0; i < 16; ++i) m[i] = pc.m[i];
        dk::pose_project_ref(&pc.pos[3 * row], &pc.pose[12 * b], piv, pc.distance, m, cam, clip);
        for (int i = 0; i < 4; ++i) s += gc[4 * row + i] * clip[i];
        for (int i = 0; i < 3; ++i) s += gcam[3 * row + i] * cam[i];
      }
    }
    return s;
  };
  std::vector<double> g_pos(pc.pos.size(), 0.0), g_pose(pc.pose.size(), 0.0);
  dk::PoseProjectGradParamsT<double> p;
  p.batch = pc.batch;
  p.vertices = pc.vertices;
  p.positions = pc.pos.data();
  p.pose = pc.pose.data();
  for (int i = 0; i < 3; ++i) p.pivot[i] = pc.pivot[i];
  p.distance = pc.distance;
  for (int i = 0; i < 16; ++i) p.projection[i] = pc.m[i];
  p.grad_clip = gc.data();
  p.grad_camera = gcam.data();
  p.grad_positions = g_pos.data();
  p.grad_pose = g_pose.data();
  dk::cpu_impl::pose_project_grad(p);
  expect_gradient(pc.pos, g_pos, 1e-4, 1e-6, 1e-3, loss, "positions");
  expect_gradient(pc.pose, g_pose, 1e-4, 1e-6, 1e-3, loss, "pose");
}

TEST(RenderGradFd, PoseProjectRefMatchesKernel) {
  PoseCase pc;
  const auto pos = to_float(pc.pos);
  std::vector<dk::RenderSetup> setup(2);
  std::vector<float> clip(static_cast<std::size_t>(4 * pc.batch * pc.vertices)), cam(3 * pc.batch * pc.vertices);
  for (std::int64_t b = 0; b < pc.batch; ++b) {
    for (int i = 0; i < 9; ++i) setup[b].rotation[i] = static_cast<float>(pc.pose[12 * b + i]);
    setup[b].scale = static_cast<float>(pc.pose[12 * b + 9]);
    setup[b].tx = static_cast<float>(pc.pose[12 * b + 10]);
    setup[b].ty = static_cast<float>(pc.pose[12 * b + 11]);
  }
  dk::PoseProjectParams p;
  p.batch = pc.batch;
  p.vertices = pc.vertices;
  p.positions = pos.data();
  p.setup = setup.data();
  for (int i = 0; i < 3; ++i) p.pivot[i] = static_cast<float>(pc.pivot[i]);
  p.distance = static_cast<float>(pc.distance);
  for (int i = 0; i < 16; ++i) p.projection[i] = static_cast<float>(pc.m[i]);
  p.camera = cam.data();
  p.clip = clip.data();
  dk::cpu_impl::pose_project(p);
  for (std::int64_t b = 0; b < pc.batch; ++b) {
    double pose[12];
    for (int i = 0; i < 12; ++i) pose[i] = static_cast<double>(static_cast<float>(pc.pose[12 * b + i]));
    for (std::int64_t v = 0; v < pc.vertices; ++v) {
      const std::int64_t row = b * pc.vertices + v;
      const double x[3] = {pos[3 * row], pos[3 * row + 1], pos[3 * row + 2]};
      const double piv[3] = {static_cast<float>(pc.pivot[0]), static_cast<float>(pc.pivot[1]), static_cast<float>(pc.pivot[2])};
      double m[16];
      for (int i = 0; i < 16; ++i) m[i] = static_cast<float>(pc.m[i]);
      double c[3], q[4];
      dk::pose_project_ref(x, pose, piv, static_cast<double>(static_cast<float>(pc.distance)), m, c, q);
      for (int i = 0; i < 4; ++i) EXPECT_NEAR(q[i], clip[4 * row + i], 1e-6 * (std::fabs(q[i]) + 1.0)) << row;
      for (int i = 0; i < 3; ++i) EXPECT_NEAR(c[i], cam[3 * row + i], 1e-6 * (std::fabs(c[i]) + 1.0)) << row;
    }
  }
}

// A 4 x 4 grid with bumpy depth, two triangles per cell, plus a degenerate triangle.
struct NormalMesh {
  std::int64_t batch = 2, vertices = 16;
  std::vector<std::int32_t> tri, offsets, adjacency;
  std::vector<double> pos;
  NormalMesh() {
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) {
        const int a = 4 * r + c;
        tri.insert(tri.end(), {a, a + 1, a + 5, a, a + 5, a + 4});
      }
    }
    tri.insert(tri.end(), {0, 1, 1});  // degenerate: a vertex listed twice
    const auto t = static_cast<std::int64_t>(tri.size() / 3);
    offsets.assign(static_cast<std::size_t>(vertices + 1), 0);
    for (std::int64_t i = 0; i < t; ++i) {
      for (int k = 0; k < 3; ++k) {
        if (k > 0 && tri[3 * i + k] == tri[3 * i + k - 1]) continue;
        ++offsets[static_cast<std::size_t>(tri[3 * i + k]) + 1];
      }
    }
    for (std::int64_t v = 0; v < vertices; ++v) offsets[v + 1] += offsets[v];
    adjacency.assign(static_cast<std::size_t>(offsets[vertices]), 0);
    std::vector<std::int32_t> fill(offsets.begin(), offsets.end() - 1);
    for (std::int64_t i = 0; i < t; ++i) {
      for (int k = 0; k < 3; ++k) {
        if (k > 0 && tri[3 * i + k] == tri[3 * i + k - 1]) continue;
        adjacency[static_cast<std::size_t>(fill[tri[3 * i + k]]++)] = static_cast<std::int32_t>(i);
      }
    }
    const auto jitter = random_vector(static_cast<std::size_t>(3 * batch * vertices), 21, -0.3, 0.3);
    for (std::int64_t b = 0; b < batch; ++b) {
      for (int v = 0; v < 16; ++v) {
        const std::size_t i = static_cast<std::size_t>(3 * (b * vertices + v));
        pos.insert(pos.end(), {v % 4 + jitter[i], v / 4 + jitter[i + 1], std::sin(v + b) + jitter[i + 2]});
      }
    }
  }
};

TEST(RenderGradFd, VertexNormals) {
  NormalMesh m;
  const std::vector<double> g = random_vector(m.pos.size(), 22);
  const auto loss = [&]() {
    double s = 0;
    for (std::int64_t b = 0; b < m.batch; ++b) {
      for (std::int64_t v = 0; v < m.vertices; ++v) {
        double r[3];
        dk::vertex_normal_raw(m.pos.data() + 3 * b * m.vertices, m.tri.data(), m.offsets.data(), m.adjacency.data(), v, r);
        const double len = std::sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
        for (int k = 0; k < 3; ++k) s += g[3 * (b * m.vertices + v) + k] * r[k] / len;
      }
    }
    return s;
  };
  std::vector<double> ws(m.pos.size()), gp(m.pos.size(), 0.0);
  dk::VertexNormalsGradParamsT<double> p;
  p.batch = m.batch;
  p.vertices = m.vertices;
  p.triangles = static_cast<std::int64_t>(m.tri.size() / 3);
  p.positions = m.pos.data();
  p.tri = m.tri.data();
  p.adjacency_offsets = m.offsets.data();
  p.adjacency = m.adjacency.data();
  p.grad_normal = g.data();
  p.workspace = ws.data();
  p.grad_positions = gp.data();
  dk::cpu_impl::vertex_normals_grad(p);
  EXPECT_GT(max_abs(gp), 0.01);
  expect_gradient(m.pos, gp, 1e-7, 1e-6, 1e-4, loss, "positions");
}

TEST(RenderGradFd, ProjectRowsIsTheTransposedProduct) {
  const std::int64_t rows = 3, cols = 37, k = 5;
  const auto basis = random_vector(static_cast<std::size_t>(k * cols), 31);
  const auto g = random_vector(static_cast<std::size_t>(rows * (cols + 2)), 32);
  std::vector<double> out(static_cast<std::size_t>(rows * (k + 1)), 0.5);
  dk::ProjectRowsParamsT<double> p;
  p.basis = basis.data();
  p.g = g.data();
  p.g_stride = cols + 2;
  p.rows = rows;
  p.cols = cols;
  p.k = k;
  p.out = out.data();
  p.out_stride = k + 1;
  dk::cpu_impl::project_rows(p);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t j = 0; j < k; ++j) {
      double s = 0.5;
      for (std::int64_t c = 0; c < cols; ++c) s += basis[j * cols + c] * g[r * (cols + 2) + c];
      EXPECT_NEAR(out[r * (k + 1) + j], s, 1e-12);
    }
    EXPECT_EQ(out[r * (k + 1) + k], 0.5);  // the stride's padding untouched
  }
}

TEST(RenderGradFd, FactorGrad) {
  const int au = 4;
  std::vector<float> weights(static_cast<std::size_t>(dk::kFaceExpressions * au));
  for (std::size_t i = 0; i < weights.size(); ++i) weights[i] = 0.1f * static_cast<float>(i % 9) - 0.3f;
  dk::ImageFactors f;
  f.expression = 3;
  f.intensity = 0.7f;
  f.yaw = 23.0f;
  f.pitch = -11.0f;
  f.roll = 6.0f;
  f.scale = 1.1f;
  f.light_azimuth = 30.0f;
  f.light_elevation = -20.0f;
  const auto gp = random_vector(12, 41), gl = random_vector(9, 42), ge = random_vector(au, 43);
  // x = (intensity, yaw, pitch, roll, scale, tx, ty, azimuth, elevation, ambient, diffuse)
  std::vector<double> x = {f.intensity, f.yaw, f.pitch, f.roll, f.scale, 0.02, -0.03, f.light_azimuth,
                           f.light_elevation, 0.5, 0.45};
  const auto loss = [&]() {
    double pose[12];
    dk::rotation_ref(x[1], x[2], x[3], -1, pose);
    pose[9] = x[4];
    pose[10] = x[5];
    pose[11] = x[6];
    double l[3], da[3], de[3];
    dk::light_direction_ref(x[7], x[8], l, da, de);
    const double light[9] = {l[0], l[1], l[2], x[9], x[9], x[9], x[10], x[10], x[10]};
    double s = 0;
    for (int i = 0; i < 12; ++i) s += gp[i] * pose[i];
    for (int i = 0; i < 9; ++i) s += gl[i] * light[i];
    for (int a = 0; a < au; ++a) s += ge[a] * x[0] * weights[f.expression * au + a];
    return s;
  };
  dk::FactorGradsT<double> out{};
  dk::FactorGradParamsT<double> p;
  p.batch = 1;
  p.factors = &f;
  p.grad_pose = gp.data();
  p.grad_light = gl.data();
  p.grad_expression = ge.data();
  p.expression_weights = weights.data();
  p.action_units = au;
  p.out = &out;
  dk::cpu_impl::factor_grad(p);
  const std::vector<double> analytic = {out.intensity, out.yaw, out.pitch, out.roll, out.scale, out.tx,
                                        out.ty, out.light_azimuth, out.light_elevation, out.ambient, out.diffuse};
  expect_gradient(x, analytic, 1e-6, 1e-6, 1e-4, loss, "factors");
}

TEST(RenderGradFd, RotationAndLightMatchTheSetup) {
  dk::ImageFactors f;
  f.yaw = 31.0f;
  f.pitch = -17.0f;
  f.roll = 8.5f;
  f.light_azimuth = -40.0f;
  f.light_elevation = 25.0f;
  const dk::RenderSetup s = dk::make_render_setup(f);
  double r[9];
  dk::rotation_ref<double>(f.yaw, f.pitch, f.roll, -1, r);
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(r[i], s.rotation[i], 1e-6) << i;
  double l[3], da[3], de[3];
  dk::light_direction_ref<double>(f.light_azimuth, f.light_elevation, l, da, de);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(l[i], s.light[i], 1e-6) << i;
}

}  // namespace
