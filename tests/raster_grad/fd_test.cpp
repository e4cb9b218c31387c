// Central differences in double on the CPU references: interpolate_grad and rasterize_grad chained
// (attributes and clip positions through perspective-correct barycentrics and depth), texture (to
// texels and UVs, clamp and wrap, shared and per-image textures), shade (Lambert and SH9, to
// normals, albedo and light), antialias (to colours, and the silhouette gradient to clip positions
// with re-rasterization at every step), and the smoothness of the antialiased loss as a vertex
// sweeps across pixel centres.
#include "raster_grad_util.h"

#include "kernels/raster/interpolate_grad.h"
#include "kernels/raster/rasterize_grad.h"
#include "kernels/raster/shade.h"
#include "kernels/raster/texture.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>

namespace {

using namespace raster_grad_test;

// The checks below call the CPU references thousands of times on tiny inputs: one OpenMP thread
// avoids the fork/join cost (large on a shared, oversubscribed machine) without changing a result.
class SingleThread : public ::testing::Environment {
 public:
  void SetUp() override { omp_set_num_threads(1); }
};
const auto* const kSingleThread = ::testing::AddGlobalTestEnvironment(new SingleThread);

// Max over i of |analytic - numeric| / (abs_tol + rel_tol |numeric|) must stay <= 1.
void expect_close(const std::vector<double>& analytic, const std::vector<double>& numeric, double rel_tol,
                  double abs_tol, const char* what) {
  ASSERT_EQ(analytic.size(), numeric.size());
  double worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < analytic.size(); ++i) {
    const double e = std::abs(analytic[i] - numeric[i]) / (abs_tol + rel_tol * std::abs(numeric[i]));
    if (!(e <= worst)) {
      worst = e;
      at = i;
    }
  }
  EXPECT_LE(worst, 1.0) << what << ": element " << at << " analytic " << analytic[at] << " numeric " << numeric[at];
}

// Central difference of f along every element of x (restored afterwards).
std::vector<double> numeric_gradient(std::vector<double>& x, double eps, const std::function<double()>& f) {
  std::vector<double> g(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double keep = x[i];
    x[i] = keep + eps;
    const double up = f();
    x[i] = keep - eps;
    const double down = f();
    x[i] = keep;
    g[i] = (up - down) / (2 * eps);
  }
  return g;
}

std::size_t count_nonzero(const std::vector<double>& v) {
  return static_cast<std::size_t>(std::count_if(v.begin(), v.end(), [](double x) { return x != 0.0; }));
}

TEST(RasterGradFd, InterpolateAndRasterizeGradMatchCentralDifferences) {
  Mesh m = two_grids(2, 11);
  const int H = 20, W = 24, C = 3;
  const Raster r = rasterize(kCpu, m.pos_float(), m, H, W);
  const std::int64_t pixels = m.batch * H * W;
  std::vector<double> attr = random_vector(static_cast<std::size_t>(m.batch * m.vertices * C), 1);
  const std::vector<double> g_out = random_vector(static_cast<std::size_t>(pixels * C), 2);
  const std::vector<double> g_depth = random_vector(static_cast<std::size_t>(pixels), 3);

  // The loss with the visibility of r: sum G (interpolated attributes) + G_depth depth, in double.
  auto loss = [&]() {
    double l = 0;
    for (std::int64_t px = 0; px < pixels; ++px) {
      const std::int32_t id = id_at(r, px);
      if (id < 0) continue;
      const std::int64_t b = px / (H * W), rem = px % (H * W);
      const int j = static_cast<int>(rem / W), i = static_cast<int>(rem % W);
      double c[3][4];
      std::int64_t v[3];
      for (int k = 0; k < 3; ++k) {
        v[k] = b * m.vertices + m.tri[3 * id + k];
        for (int e = 0; e < 4; ++e) c[k][e] = m.pos[4 * v[k] + e];
      }
      double s[3];
      dk::bary_forward(c, dk::pixel_centre_ndc_x<double>(i, W), dk::pixel_centre_ndc_y<double>(j, H), s);
      const double bw[3] = {s[0], s[1], 1 - s[0] - s[1]};
      for (int ch = 0; ch < C; ++ch) {
        double a = 0;
        for (int k = 0; k < 3; ++k) a += bw[k] * attr[v[k] * C + ch];
        l += g_out[px * C + ch] * a;
      }
      l += g_depth[px] * s[2];
    }
    return l;
  };

  // The double forward agrees with rasterize's float output.
  int covered = 0;
  for (std::int64_t px = 0; px < pixels; ++px) {
    const std::int32_t id = id_at(r, px);
    if (id < 0) continue;
    ++covered;
    const std::int64_t b = px / (H * W), rem = px % (H * W);
    double c[3][4];
    for (int k = 0; k < 3; ++k) {
      for (int e = 0; e < 4; ++e) c[k][e] = m.pos[4 * (b * m.vertices + m.tri[3 * id + k]) + e];
    }
    double s[3];
    dk::bary_forward(c, dk::pixel_centre_ndc_x<double>(static_cast<int>(rem % W), W),
                     dk::pixel_centre_ndc_y<double>(static_cast<int>(rem / W), H), s);
    for (int k = 0; k < 3; ++k) ASSERT_NEAR(s[k], r.out[4 * px + k], 2e-5) << "pixel " << px;
  }
  ASSERT_GT(covered, pixels / 3);

  std::vector<double> grad_attr(attr.size(), 0.0), grad_rast(static_cast<std::size_t>(4 * pixels), 0.0),
      grad_pos(m.pos.size(), 0.0);
  dk::InterpolateGradParamsT<double> ip;
  ip.attr = attr.data();
  ip.rast = r.out.data();
  ip.tri = m.tri.data();
  ip.batch = m.batch;
  ip.vertices = m.vertices;
  ip.triangles = m.triangles();
  ip.channels = C;
  ip.height = H;
  ip.width = W;
  ip.grad_out = g_out.data();
  ip.grad_attr.grad = grad_attr.data();
  ip.grad_rast = grad_rast.data();
  dk::cpu_impl::interpolate_grad(ip);
  for (std::int64_t px = 0; px < pixels; ++px) grad_rast[4 * px + 2] = g_depth[px];
  dk::RasterizeGradParamsT<double> rp;
  rp.pos = m.pos.data();
  rp.tri = m.tri.data();
  rp.batch = m.batch;
  rp.vertices = m.vertices;
  rp.triangles = m.triangles();
  rp.height = H;
  rp.width = W;
  rp.rast = r.out.data();
  rp.grad_rast = grad_rast.data();
  rp.grad_pos.grad = grad_pos.data();
  dk::cpu_impl::rasterize_grad(rp);

  // grad_attr uses rasterize's float barycentrics: agreement to ~1e-6.
  expect_close(grad_attr, numeric_gradient(attr, 1e-3, loss), 2e-5, 2e-5, "d loss / d attr");
  const std::vector<double> numeric_pos = numeric_gradient(m.pos, 1e-6, loss);
  expect_close(grad_pos, numeric_pos, 1e-5, 1e-6, "d loss / d clip positions");
  EXPECT_GT(count_nonzero(grad_pos), grad_pos.size() / 2);
}

// Background / foreground mask for texture and shade: ids 0 except every 7th pixel -1.
std::vector<float> mask_rast(std::int64_t pixels) {
  std::vector<float> r(static_cast<std::size_t>(4 * pixels), 0.0f);
  for (std::int64_t px = 0; px < pixels; ++px) {
    const std::int32_t id = px % 7 == 3 ? -1 : 0;
    std::memcpy(&r[4 * px + 3], &id, 4);
  }
  return r;
}

TEST(RasterGradFd, TextureMatchesCentralDifferences) {
  for (const dk::TextureWrap wrap : {dk::TextureWrap::clamp, dk::TextureWrap::wrap}) {
    for (const bool batched : {false, true}) {
      const std::int64_t B = 2, C = 3;
      const int H = 5, W = 6, TH = 7, TW = 9;
      const std::int64_t pixels = B * H * W;
      std::vector<double> tex = random_vector(static_cast<std::size_t>((batched ? B : 1) * TH * TW * C), 21);
      std::vector<double> uv = random_vector(static_cast<std::size_t>(2 * pixels), 22, -0.3, 1.3);
      const std::vector<double> g = random_vector(static_cast<std::size_t>(pixels * C), 23);
      const std::vector<float> rast = mask_rast(pixels);
      std::vector<double> out(static_cast<std::size_t>(pixels * C));
      dk::TextureParamsT<double> p;
      p.tex = tex.data();
      p.tex_batched = batched;
      p.tex_height = TH;
      p.tex_width = TW;
      p.channels = C;
      p.wrap = wrap;
      p.batch = B;
      p.height = H;
      p.width = W;
      p.uv = uv.data();
      p.rast = rast.data();
      p.out = out.data();
      auto loss = [&]() {
        dk::cpu_impl::texture(p);
        return dot(out, g);
      };
      std::vector<double> grad_tex(tex.size(), 0.0), grad_uv(uv.size(), 0.0);
      p.grad_out = g.data();
      p.grad_tex.grad = grad_tex.data();
      p.grad_uv = grad_uv.data();
      dk::cpu_impl::texture_grad(p);
      SCOPED_TRACE(std::string(wrap == dk::TextureWrap::wrap ? "wrap" : "clamp") + (batched ? " batched" : " shared"));
      expect_close(grad_tex, numeric_gradient(tex, 1e-3, loss), 1e-8, 1e-9, "d loss / d texture");
      expect_close(grad_uv, numeric_gradient(uv, 1e-7, loss), 1e-5, 1e-5, "d loss / d uv");
      EXPECT_GT(count_nonzero(grad_uv), grad_uv.size() / 3);
      // Background pixels: output 0, no gradient.
      loss();
      for (std::int64_t px = 3; px < pixels; px += 7) {
        EXPECT_EQ(out[px * C], 0.0);
        EXPECT_EQ(grad_uv[2 * px], 0.0);
      }
    }
  }
}

TEST(RasterGradFd, TextureAddressing) {
  // A 2 x 2 texture, one channel: texel centres at 0.25 and 0.75.
  std::vector<double> tex = {1.0, 2.0, 3.0, 4.0};
  std::vector<double> uv = {0.25, 0.25, 0.5, 0.25, 0.0, 0.75, 1.25, 0.25, -0.75, 0.25};
  std::vector<double> out(5);
  dk::TextureParamsT<double> p;
  p.tex = tex.data();
  p.tex_height = 2;
  p.tex_width = 2;
  p.channels = 1;
  p.batch = 1;
  p.height = 1;
  p.width = 5;
  p.uv = uv.data();
  p.out = out.data();
  dk::cpu_impl::texture(p);
  EXPECT_EQ(out[0], 1.0);   // a texel centre
  EXPECT_EQ(out[1], 1.5);   // half way between texels 0 and 1
  EXPECT_EQ(out[2], 3.0);   // clamp: left of the first centre, row 1
  EXPECT_EQ(out[3], 2.0);   // clamp: beyond the last centre
  EXPECT_EQ(out[4], 1.0);
  p.wrap = dk::TextureWrap::wrap;
  dk::cpu_impl::texture(p);
  EXPECT_EQ(out[0], 1.0);
  EXPECT_EQ(out[2], 3.5);   // wrap: u = 0 is half way between the last and the first texel
  EXPECT_EQ(out[3], 1.0);   // u = 1.25 wraps to 0.25
  EXPECT_EQ(out[4], 1.0);   // u = -0.75 wraps to 0.25
}

TEST(RasterGradFd, ShadeMatchesCentralDifferences) {
  for (const dk::ShadeModel model : {dk::ShadeModel::lambert, dk::ShadeModel::sh9}) {
    const std::int64_t B = 2;
    const int H = 4, W = 5, P = dk::shade_light_params(model);
    const std::int64_t pixels = B * H * W;
    std::vector<double> normal = random_vector(static_cast<std::size_t>(3 * pixels), 31);
    std::vector<double> albedo = random_vector(static_cast<std::size_t>(3 * pixels), 32, 0.1, 1.0);
    std::vector<double> light = random_vector(static_cast<std::size_t>(B * P), 33, -1.0, 1.0);
    if (model == dk::ShadeModel::lambert) {
      for (std::int64_t b = 0; b < B; ++b) {
        for (int k = 3; k < 9; ++k) light[b * P + k] = 0.2 + 0.5 * std::abs(light[b * P + k]);
      }
    }
    const std::vector<double> g = random_vector(static_cast<std::size_t>(3 * pixels), 34);
    const std::vector<float> rast = mask_rast(pixels);
    std::vector<double> out(static_cast<std::size_t>(3 * pixels));
    dk::ShadeParamsT<double> p;
    p.model = model;
    p.batch = B;
    p.height = H;
    p.width = W;
    p.normal = normal.data();
    p.albedo = albedo.data();
    p.light = light.data();
    p.rast = rast.data();
    p.out = out.data();
    auto loss = [&]() {
      dk::cpu_impl::shade(p);
      return dot(out, g);
    };
    std::vector<double> gn(normal.size(), 0.0), ga(albedo.size(), 0.0), gl(light.size(), 0.0);
    p.grad_out = g.data();
    p.grad_normal = gn.data();
    p.grad_albedo = ga.data();
    p.grad_light = gl.data();
    dk::cpu_impl::shade_grad(p);
    SCOPED_TRACE(model == dk::ShadeModel::lambert ? "lambert" : "sh9");
    expect_close(gn, numeric_gradient(normal, 1e-6, loss), 1e-6, 1e-7, "d loss / d normal");
    expect_close(ga, numeric_gradient(albedo, 1e-6, loss), 1e-6, 1e-7, "d loss / d albedo");
    expect_close(gl, numeric_gradient(light, 1e-6, loss), 1e-6, 1e-7, "d loss / d light");
    EXPECT_GT(count_nonzero(gn), gn.size() / 4);
    EXPECT_EQ(count_nonzero(gl), gl.size());
  }
}

TEST(RasterGradFd, ShadeKnownValues) {
  // A normal along +z of length 2, light from +z: Lambert gives albedo (ambient + diffuse).
  std::vector<double> normal = {0, 0, 2}, albedo = {0.5, 1.0, 0.25};
  std::vector<double> light = {0, 0, 3, 0.1, 0.2, 0.3, 1.0, 0.5, 0.25}, out(3);
  dk::ShadeParamsT<double> p;
  p.batch = 1;
  p.height = 1;
  p.width = 1;
  p.normal = normal.data();
  p.albedo = albedo.data();
  p.light = light.data();
  p.out = out.data();
  dk::cpu_impl::shade(p);
  EXPECT_NEAR(out[0], 0.5 * 1.1, 1e-15);
  EXPECT_NEAR(out[1], 1.0 * 0.7, 1e-15);
  EXPECT_NEAR(out[2], 0.25 * 0.55, 1e-15);
  light[2] = -3;  // light from behind: ambient only
  dk::cpu_impl::shade(p);
  EXPECT_NEAR(out[0], 0.05, 1e-15);
  // SH9 with only the constant term c: out = albedo c 0.282095.
  std::vector<double> sh(27, 0.0);
  sh[0] = sh[9] = sh[18] = 2.0;
  p.model = dk::ShadeModel::sh9;
  p.light = sh.data();
  dk::cpu_impl::shade(p);
  EXPECT_NEAR(out[1], 2.0 * 0.282095, 1e-12);
}

// Antialias on the two-grid mesh with per-triangle colours: the loss after re-rasterizing at every
// perturbed position (coordinates whose perturbation changes a triangle id are skipped: a kink).
struct AaScene {
  Mesh m;
  int H = 0, W = 0;
  std::int64_t C = 3;
  std::vector<std::int32_t> topology;
  std::vector<double> tri_color, background, g;

  std::vector<double> colours(const Raster& r) const {
    const std::int64_t pixels = m.batch * H * W;
    std::vector<double> c(static_cast<std::size_t>(pixels * C));
    for (std::int64_t px = 0; px < pixels; ++px) {
      const std::int32_t id = id_at(r, px);
      for (std::int64_t ch = 0; ch < C; ++ch) c[px * C + ch] = id < 0 ? background[ch] : tri_color[id * C + ch];
    }
    return c;
  }
  dk::AntialiasParamsT<double> params(const Raster& r, const std::vector<double>& color, std::vector<double>& out) const {
    dk::AntialiasParamsT<double> p;
    p.color = color.data();
    p.rast = r.out.data();
    p.pos = m.pos.data();
    p.tri = m.tri.data();
    p.topology = topology.data();
    p.batch = m.batch;
    p.vertices = m.vertices;
    p.triangles = m.triangles();
    p.channels = C;
    p.height = H;
    p.width = W;
    p.out = out.data();
    return p;
  }
  double loss(const Raster& r, bool aa = true) const {
    const std::vector<double> color = colours(r);
    if (!aa) return dot(color, g);
    std::vector<double> out(color.size());
    dk::cpu_impl::antialias(params(r, color, out));
    return dot(out, g);
  }
};

AaScene make_scene(Mesh m, int H, int W, unsigned seed) {
  AaScene s;
  s.m = std::move(m);
  s.H = H;
  s.W = W;
  s.topology = dk::build_edge_topology(s.m.tri.data(), s.m.triangles(), s.m.vertices);
  s.tri_color = random_vector(static_cast<std::size_t>(s.m.triangles() * s.C), seed, 0.0, 1.0);
  s.background = {0.9, 0.1, 0.4};
  s.g = random_vector(static_cast<std::size_t>(s.m.batch * H * W * s.C), seed + 1);
  return s;
}

TEST(RasterGradFd, AntialiasMatchesCentralDifferences) {
  AaScene s = make_scene(two_grids(2, 41), 20, 24, 42);
  const Raster r = rasterize(kCpu, s.m.pos_float(), s.m, s.H, s.W);
  std::vector<double> color = s.colours(r), out(color.size());
  std::vector<double> grad_color(color.size(), 0.0), grad_pos(s.m.pos.size(), 0.0);
  dk::AntialiasParamsT<double> p = s.params(r, color, out);
  p.grad_out = s.g.data();
  p.grad_color = grad_color.data();
  p.grad_pos.grad = grad_pos.data();
  dk::cpu_impl::antialias_grad(p);

  // Colours (visibility fixed): the output is linear in them.
  auto loss_color = [&]() {
    dk::cpu_impl::antialias(p);
    return dot(out, s.g);
  };
  expect_close(grad_color, numeric_gradient(color, 0.5, loss_color), 1e-9, 1e-10, "d loss / d colour");

  // Positions, re-rasterizing each time.
  const double eps = 1e-5;
  std::vector<double> analytic, numeric;
  int skipped = 0;
  for (std::size_t k = 0; k < s.m.pos.size(); ++k) {
    const double keep = s.m.pos[k];
    double l[2];
    bool same = true;
    for (int side = 0; side < 2; ++side) {
      s.m.pos[k] = keep + (side ? -eps : eps);
      const Raster rr = rasterize(kCpu, s.m.pos_float(), s.m, s.H, s.W);
      for (std::int64_t px = 0; px < s.m.batch * s.H * s.W; ++px) same = same && id_at(rr, px) == id_at(r, px);
      l[side] = s.loss(rr);
    }
    s.m.pos[k] = keep;
    if (!same) {
      ++skipped;
      continue;
    }
    analytic.push_back(grad_pos[k]);
    numeric.push_back((l[0] - l[1]) / (2 * eps));
  }
  EXPECT_LT(skipped, 10);
  expect_close(analytic, numeric, 1e-5, 1e-6, "d loss / d clip positions (silhouettes)");
  EXPECT_GE(count_nonzero(analytic), 40u) << "silhouette gradients reach the boundary vertices";
  // z never moves a silhouette.
  for (std::size_t k = 2; k < grad_pos.size(); k += 4) EXPECT_EQ(grad_pos[k], 0.0);
}

TEST(RasterGradFd, AntialiasedLossIsSmoothAcrossPixelCentres) {
  // A quad (two triangles sharing the diagonal 0-2) over the background. Vertex 1 lies right of the
  // image and sweeps 3 px upwards: its two silhouette edges cross many pixel centres while no
  // vertex crosses a pixel row or column inside the image (a corner event, where the 1-D coverage
  // model jumps, as nvdiffrast's) and no edge turns past 45 degrees (the pair orientation switch).
  Mesh m;
  m.batch = 1;
  m.vertices = 4;
  m.pos = {-0.6, -0.5, 0.0, 1.0, 1.6, -0.3, 0.0, 1.0, 0.55, 0.6, 0.0, 1.0, -0.5, 0.5, 0.0, 1.0};
  m.tri = {0, 1, 2, 0, 2, 3};
  AaScene s = make_scene(m, 16, 16, 51);
  const double step = 0.01 * 2.0 / s.H;  // 0.01 px in NDC
  const int steps = 300;
  std::vector<double> l_aa, l_raw, grad;
  std::vector<std::vector<std::int32_t>> ids;
  for (int n = 0; n <= steps; ++n) {
    s.m.pos[5] = -0.3 + n * step;
    const Raster r = rasterize(kCpu, s.m.pos_float(), s.m, s.H, s.W);
    l_aa.push_back(s.loss(r));
    l_raw.push_back(s.loss(r, false));
    std::vector<double> color = s.colours(r), out(color.size()), gp(s.m.pos.size(), 0.0);
    dk::AntialiasParamsT<double> p = s.params(r, color, out);
    p.grad_out = s.g.data();
    p.grad_pos.grad = gp.data();
    dk::cpu_impl::antialias_grad(p);
    grad.push_back(gp[5]);
    std::vector<std::int32_t> id(static_cast<std::size_t>(s.H * s.W));
    for (std::int64_t px = 0; px < s.H * s.W; ++px) id[static_cast<std::size_t>(px)] = id_at(r, px);
    ids.push_back(std::move(id));
  }
  double raw_jump = 0, aa_jump_at_crossings = 0, max_grad = 0;
  int crossings = 0, checked = 0;
  for (int n = 0; n < steps; ++n) max_grad = std::max(max_grad, std::abs(grad[n]));
  for (int n = 0; n < steps; ++n) {
    if (ids[n] != ids[n + 1]) {
      ++crossings;
      raw_jump = std::max(raw_jump, std::abs(l_raw[n + 1] - l_raw[n]));
      aa_jump_at_crossings = std::max(aa_jump_at_crossings, std::abs(l_aa[n + 1] - l_aa[n]));
    } else {
      // Between crossings the loss is smooth up to kinks (a blend weight |tt - 1/2| turning at 0):
      // its secant slope over the step lies between the analytic gradients at the two ends.
      const double slope = (l_aa[n + 1] - l_aa[n]) / step;
      const double lo = std::min(grad[n], grad[n + 1]), hi = std::max(grad[n], grad[n + 1]);
      EXPECT_GE(slope, lo - 1e-3 * max_grad) << "step " << n;
      EXPECT_LE(slope, hi + 1e-3 * max_grad) << "step " << n;
      if (std::abs(grad[n + 1] - grad[n]) < 1e-2 * max_grad) {
        EXPECT_NEAR(slope, 0.5 * (grad[n] + grad[n + 1]), 5e-3 * max_grad) << "step " << n;
      }
      ++checked;
    }
  }
  EXPECT_GE(crossings, 10);
  EXPECT_GT(checked, steps / 2);
  EXPECT_GT(raw_jump, 0.05) << "without antialiasing the loss jumps at each pixel-centre crossing";
  // With antialiasing a crossing changes the loss by no more than a few steps' worth of slope.
  EXPECT_LT(aa_jump_at_crossings, 3 * step * max_grad) << "raw jump " << raw_jump;
  EXPECT_LT(aa_jump_at_crossings, 0.05 * raw_jump);
}

TEST(RasterGradTopology, OppositeVerticesBoundariesAndNonManifoldEdges) {
  // Quad 0-1-2-3 split along 0-2, plus a third triangle on edge 0-2 (non-manifold) in a copy.
  const std::vector<std::int32_t> quad = {0, 1, 2, 0, 2, 3};
  const auto t = dk::build_edge_topology(quad.data(), 2, 4);
  // Triangle 0: edges 0-1 (boundary), 1-2 (boundary), 2-0 (shared; opposite vertex 3).
  EXPECT_EQ(t, (std::vector<std::int32_t>{-1, -1, 3, 1, -1, -1}));
  const std::vector<std::int32_t> fin = {0, 1, 2, 0, 2, 3, 2, 0, 4};
  const auto u = dk::build_edge_topology(fin.data(), 3, 5);
  EXPECT_EQ(u[2], -1);
  EXPECT_EQ(u[3], -1);
  EXPECT_EQ(u[6], -1);
  const std::vector<std::int32_t> bad = {0, 1, 5};
  EXPECT_THROW(dk::build_edge_topology(bad.data(), 1, 5), deeper::Error);
}

}  // namespace
