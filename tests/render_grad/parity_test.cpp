// The render backward kernels under the emulator against the CPU reference (float, gradients
// accumulated onto non-zero values), deterministic texture accumulation, and bad inputs.
#include "core/error.h"
#include "kernels/emu/emulator.h"
#include "kernels/render/render_grad.h"
#include "render_grad_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

namespace {

namespace dk = deeper::kernels;
using deeper::Device;
using namespace render_grad_test;

std::vector<float> rnd(std::size_t n, unsigned seed, double lo = -1.0, double hi = 1.0) {
  return to_float(random_vector(n, seed, lo, hi));
}

void expect_close(const std::vector<float>& a, const std::vector<float>& b, double tol, const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  int bad = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!(std::fabs(a[i] - b[i]) <= tol * (1.0 + std::fabs(a[i])))) {
      if (++bad <= 5) ADD_FAILURE() << what << "[" << i << "]: cpu " << a[i] << ", emu " << b[i];
    }
  }
}

struct ComposeCase {
  std::int64_t batch = 3;
  int h = 9, w = 11, th = 6, tw = 7;
  std::int64_t tex_count = 2;
  std::vector<float> rast, uv, normal, tex, light, g;
  std::vector<std::int32_t> tex_index = {1, 0, 1};
  ComposeCase() {
    const std::int64_t px = batch * h * w;
    rast = fake_rast(px, 6);
    uv = rnd(2 * px, 51, -0.05, 1.05);
    normal = rnd(3 * px, 52, -0.5, 1.0);
    tex = rnd(static_cast<std::size_t>(tex_count * th * tw * 3), 53, -0.1, 1.1);
    light = rnd(static_cast<std::size_t>(9 * batch), 54, 0.1, 0.6);
    g = rnd(3 * px, 55);
  }
  struct Out {
    std::vector<float> uv, normal, tex, light;
  };
  Out run(const Device& d, bool deterministic) const {
    const std::int64_t px = batch * h * w;
    Out o{rnd(2 * px, 61), rnd(3 * px, 62), rnd(static_cast<std::size_t>(batch * th * tw * 3), 63), rnd(9 * batch, 64)};
    std::vector<long long> fixed(o.tex.size());
    dk::ComposeGradParams p;
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
    p.tex_index = tex_index.data();
    p.light = light.data();
    p.grad_out = g.data();
    p.grad_uv = o.uv.data();
    p.grad_normal = o.normal.data();
    p.grad_tex.grad = o.tex.data();
    if (deterministic) p.grad_tex.fixed = fixed.data();
    p.grad_light = o.light.data();
    dk::compose_grad(d, p);
    return o;
  }
};

TEST(RenderGradParity, ComposeEmuMatchesCpu) {
  const ComposeCase c;
  const auto cpu = c.run(Device::cpu(), false);
  const auto emu = c.run(Device::emu(), false);
  expect_close(cpu.uv, emu.uv, 1e-5, "uv");
  expect_close(cpu.normal, emu.normal, 1e-5, "normal");
  expect_close(cpu.tex, emu.tex, 1e-5, "texture");
  expect_close(cpu.light, emu.light, 1e-5, "light");
}

TEST(RenderGradParity, ComposeDeterministicTextureIsExact) {
  const ComposeCase c;
  const auto cpu = c.run(Device::cpu(), true);
  deeper::emu::set_seed(4);
  const auto a = c.run(Device::emu(), true);
  deeper::emu::set_seed(9);
  const auto b = c.run(Device::emu(), true);
  EXPECT_EQ(0, std::memcmp(a.tex.data(), b.tex.data(), a.tex.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(a.tex.data(), cpu.tex.data(), a.tex.size() * sizeof(float)));  // integer sums
  EXPECT_EQ(0, std::memcmp(a.light.data(), b.light.data(), a.light.size() * sizeof(float)));  // fixed-order tree
}

TEST(RenderGradParity, PoseProjectEmuMatchesCpu) {
  const std::int64_t batch = 3, v = 150;
  const auto pos = rnd(static_cast<std::size_t>(3 * batch * v), 71, -80.0, 80.0);
  std::vector<float> pose(static_cast<std::size_t>(23 * batch));  // RenderSetup-like stride
  for (std::int64_t b = 0; b < batch; ++b) {
    dk::rotation_ref<float>(10.0f * b - 12.0f, 7.0f, -3.0f * b, -1, &pose[23 * b]);
    pose[23 * b + 9] = 0.9f + 0.1f * b;
    pose[23 * b + 10] = 0.03f;
    pose[23 * b + 11] = -0.05f;
  }
  const auto gc = rnd(static_cast<std::size_t>(4 * batch * v), 72), gcam = rnd(static_cast<std::size_t>(3 * batch * v), 73);
  const auto run = [&](const Device& d, std::vector<float>& gx, std::vector<float>& gp) {
    gx = rnd(static_cast<std::size_t>(3 * batch * v), 74);
    gp = rnd(static_cast<std::size_t>(12 * batch), 75);
    dk::PoseProjectGradParams p;
    p.batch = batch;
    p.vertices = v;
    p.positions = pos.data();
    p.pose = pose.data();
    p.pose_stride = 23;
    p.pivot[1] = -2.0f;
    p.pivot[2] = -45.0f;
    p.distance = 900.0f;
    const float m[16] = {4.7f, 0, 0, 0, 0, 4.7f, 0, 0, 0, 0, -1.6f, -720.0f, 0, 0, -1.0f, 0};
    for (int i = 0; i < 16; ++i) p.projection[i] = m[i];
    p.grad_clip = gc.data();
    p.grad_camera = gcam.data();
    p.grad_positions = gx.data();
    p.grad_pose = gp.data();
    dk::pose_project_grad(d, p);
  };
  std::vector<float> cx, cp, ex, ep;
  run(Device::cpu(), cx, cp);
  run(Device::emu(), ex, ep);
  EXPECT_EQ(0, std::memcmp(cx.data(), ex.data(), cx.size() * sizeof(float)));  // per-vertex: same formula
  expect_close(cp, ep, 1e-5, "pose");
}

TEST(RenderGradParity, VertexNormalsAndProjectRowsEmuMatchCpu) {
  // A 6 x 6 grid, two images.
  const int n = 6;
  const std::int64_t batch = 2, v = n * n;
  std::vector<std::int32_t> tri;
  for (int r = 0; r + 1 < n; ++r) {
    for (int c = 0; c + 1 < n; ++c) {
      const int a = n * r + c;
      tri.insert(tri.end(), {a, a + 1, a + n + 1, a, a + n + 1, a + n});
    }
  }
  const auto t = static_cast<std::int64_t>(tri.size() / 3);
  std::vector<std::int32_t> offsets(static_cast<std::size_t>(v + 1), 0), adjacency;
  for (std::int64_t vv = 0; vv < v; ++vv) {
    for (std::int64_t i = 0; i < t; ++i) {
      if (tri[3 * i] == vv || tri[3 * i + 1] == vv || tri[3 * i + 2] == vv) adjacency.push_back(static_cast<std::int32_t>(i));
    }
    offsets[static_cast<std::size_t>(vv + 1)] = static_cast<std::int32_t>(adjacency.size());
  }
  auto pos = rnd(static_cast<std::size_t>(3 * batch * v), 81, -0.2, 0.2);
  for (std::int64_t b = 0; b < batch; ++b) {
    for (int i = 0; i < v; ++i) {
      pos[3 * (b * v + i)] += static_cast<float>(i % n);
      pos[3 * (b * v + i) + 1] += static_cast<float>(i / n);
    }
  }
  const auto g = rnd(pos.size(), 82);
  const auto run = [&](const Device& d) {
    std::vector<float> ws(pos.size()), out = rnd(pos.size(), 83);
    dk::VertexNormalsGradParams p;
    p.batch = batch;
    p.vertices = v;
    p.triangles = t;
    p.positions = pos.data();
    p.tri = tri.data();
    p.adjacency_offsets = offsets.data();
    p.adjacency = adjacency.data();
    p.grad_normal = g.data();
    p.workspace = ws.data();
    p.grad_positions = out.data();
    dk::vertex_normals_grad(d, p);
    return out;
  };
  const auto a = run(Device::cpu()), b = run(Device::emu());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));  // a gather in a fixed order

  // Several column chunks (the last partial) and row tiles (the last partial).
  const std::int64_t rows = 11, cols = 2 * dk::kProjectRowsChunk + 300, k = 3;
  const auto basis = rnd(static_cast<std::size_t>(k * cols), 84), gr = rnd(static_cast<std::size_t>(rows * cols), 85);
  const auto rows_run = [&](const Device& d) {
    std::vector<float> out = rnd(static_cast<std::size_t>(rows * k), 86);
    dk::ProjectRowsParams p;
    p.basis = basis.data();
    p.g = gr.data();
    p.g_stride = cols;
    p.rows = rows;
    p.cols = cols;
    p.k = k;
    p.out = out.data();
    p.out_stride = k;
    std::vector<float> ws(static_cast<std::size_t>(dk::project_rows_workspace(rows, cols, k)));
    p.workspace = ws.data();
    dk::project_rows(d, p);
    return out;
  };
  expect_close(rows_run(Device::cpu()), rows_run(Device::emu()), 1e-5, "project_rows");
}

TEST(RenderGradParity, FactorGradEmuMatchesCpu) {
  const int au = 3;
  std::vector<dk::ImageFactors> f(4);
  for (int b = 0; b < 4; ++b) {
    f[b].expression = b;
    f[b].yaw = 10.0f * b - 15.0f;
    f[b].pitch = 4.0f;
    f[b].roll = -2.0f * b;
    f[b].light_azimuth = 20.0f * b;
    f[b].light_elevation = -10.0f;
  }
  f[3].expression = 9;  // unknown: no intensity gradient
  const auto weights = rnd(static_cast<std::size_t>(dk::kFaceExpressions * au), 91);
  const auto gp = rnd(48, 92), gl = rnd(36, 93), ge = rnd(12, 94);
  const auto run = [&](const Device& d) {
    std::vector<dk::FactorGrads> out(4);
    dk::FactorGradParams p;
    p.batch = 4;
    p.factors = f.data();
    p.grad_pose = gp.data();
    p.grad_light = gl.data();
    p.grad_expression = ge.data();
    p.expression_weights = weights.data();
    p.action_units = au;
    p.out = out.data();
    dk::factor_grad(d, p);
    return out;
  };
  const auto a = run(Device::cpu()), b = run(Device::emu());
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(a[i].yaw, b[i].yaw, 1e-5);
    EXPECT_NEAR(a[i].light_elevation, b[i].light_elevation, 1e-5);
    EXPECT_NEAR(a[i].intensity, b[i].intensity, 1e-5);
    EXPECT_EQ(a[i].scale, gp[12 * i + 9]);
  }
  EXPECT_EQ(a[3].intensity, 0.0f);
}

TEST(RenderGradBadInput, ClearErrors) {
  const auto expect_error = [](auto&& call, const char* fragment) {
    try {
      call();
      ADD_FAILURE() << "no error; expected one containing '" << fragment << "'";
    } catch (const deeper::Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  const Device cpu = Device::cpu();
  ComposeCase c;
  dk::ComposeGradParams p;
  p.batch = 1;
  p.height = 2;
  p.width = 2;
  p.tex_count = 1;
  p.tex_height = 2;
  p.tex_width = 2;
  p.shared_texture = true;
  expect_error([&] { dk::compose_grad(cpu, p); }, "compose_grad: null rast");
  p.tex_height = 0;
  expect_error([&] { dk::compose_grad(cpu, p); }, "compose_grad: texture size 0 x 2");
  p.tex_height = 2;
  p.light_stride = 4;
  expect_error([&] { dk::compose_grad(cpu, p); }, "light stride 4");
  p.light_stride = 9;
  p.height = 0;
  expect_error([&] { dk::compose_grad(cpu, p); }, "image size 0 x 2");

  dk::PoseProjectGradParams pp;
  pp.batch = 1;
  pp.vertices = 3;
  pp.distance = 900.0f;
  expect_error([&] { dk::pose_project_grad(cpu, pp); }, "pose_project_grad: null positions");
  pp.distance = -1.0f;
  expect_error([&] { dk::pose_project_grad(cpu, pp); }, "camera distance -1");
  pp.distance = 900.0f;
  pp.projection[5] = NAN;
  expect_error([&] { dk::pose_project_grad(cpu, pp); }, "projection matrix entry 5");

  dk::VertexNormalsGradParams np;
  np.batch = 1;
  np.vertices = 4;
  np.triangles = 2;
  expect_error([&] { dk::vertex_normals_grad(cpu, np); }, "vertex_normals_grad: null");
  np.vertices = -1;
  expect_error([&] { dk::vertex_normals_grad(cpu, np); }, "vertices -1");

  dk::ProjectRowsParams rp;
  rp.rows = 2;
  rp.cols = 10;
  rp.k = 3;
  rp.g_stride = 5;
  rp.out_stride = 3;
  expect_error([&] { dk::project_rows(cpu, rp); }, "g stride 5 < cols 10");
  rp.g_stride = 10;
  expect_error([&] { dk::project_rows(Device::emu(), rp); }, "project_rows: null basis");
  std::vector<float> basis(30), gg(20), out(6);
  rp.basis = basis.data();
  rp.g = gg.data();
  rp.out = out.data();
  expect_error([&] { dk::project_rows(Device::emu(), rp); }, "project_rows: null workspace");
  dk::project_rows(cpu, rp);  // the CPU needs none
  EXPECT_EQ(out[0], 0.0f);

  dk::FactorGradParams fp;
  fp.batch = 2;
  expect_error([&] { dk::factor_grad(cpu, fp); }, "factor_grad: null factors");
}

}  // namespace
