// The differentiable rasterizer ops on a real GPU against the CPU reference: B = 64 posed copies of
// the 8,978-triangle test mesh (bench/raster_mesh.h) at 112 x 112, rasterized once on the CPU and
// shared by both sides. Forward outputs and per-pixel gradients agree to float rounding; gradients
// summed by atomics agree to a tolerance scaled by their RMS (the order of the float additions
// differs); the deterministic mode gives the same bits in two GPU runs, and for interpolate_grad the
// same bits as the CPU (identical contributions, integer sums). Every test skips without a GPU.
#include "bench/raster_mesh.h"
#include "kernels/raster/antialias.h"
#include "kernels/raster/interpolate_grad.h"
#include "kernels/raster/rasterize.h"
#include "kernels/raster/rasterize_grad.h"
#include "kernels/raster/shade.h"
#include "kernels/raster/texture.h"
#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"

#include <gtest/gtest.h>

#include "tests/support/gpu_test_util.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#if DEEPER_HAVE_CUDA_KERNELS
namespace {

namespace dk = deeper::kernels;
namespace rb = deeper::raster_bench;
using deeper::Device;
using deeper::DeviceBuffer;
using deeper::test::to_gpu;
using deeper::test::to_host;

const Device kGpu = Device::cuda(0);
const Device kCpu = Device::cpu();
constexpr std::int64_t kBatch = 64;
constexpr int kRes = 112;

std::vector<float> random_floats(std::size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> uni(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = uni(gen);
  return v;
}

// |got - want| <= rel (|want| + rms(want)) for all but a few elements: at most 1e-4 of them (and 4)
// may differ further. nvcc contracts products into fused multiply-adds where the host compiler does
// not, so a value within an ulp of a kink (a texel centre for grad_uv, n·l = 0 for Lambert, a
// blend-range or silhouette decision of antialias) may fall on the other side; those are the
// exceptions, counted and reported.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, double rel, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  double ss = 0;
  for (float w : want) ss += static_cast<double>(w) * w;
  const double rms = std::sqrt(ss / static_cast<double>(want.size() ? want.size() : 1));
  std::size_t bad = 0, worst_at = 0;
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double e = std::abs(static_cast<double>(got[i]) - want[i]) / (std::abs(want[i]) + rms + 1e-30);
    if (!(e <= rel)) ++bad;
    if (!(e <= worst)) {
      worst = e;
      worst_at = i;
    }
  }
  const std::size_t allowed = std::max<std::size_t>(4, got.size() / 10000);
  EXPECT_LE(bad, allowed) << what << ": worst at " << worst_at << " got " << got[worst_at] << " want " << want[worst_at]
                     << " (rms " << rms << ", " << bad << " of " << got.size() << " beyond " << rel << ")";
  if (bad > 0) std::printf("%s: %zu of %zu values beyond %g (allowed %zu)\n", what, bad, got.size(), rel, allowed);
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

template <typename T>
T* ptr(DeviceBuffer& b) {
  return static_cast<T*>(b.data());
}
template <typename T>
const T* cptr(const DeviceBuffer& b) {
  return static_cast<const T*>(b.data());
}

struct Scene {
  rb::TestMesh mesh = rb::sphere_cap_mesh();
  std::vector<float> pos = rb::posed_clip_positions(mesh, kBatch, kRes, kRes);
  std::vector<float> rast;
  std::int64_t pixels = kBatch * kRes * kRes;
  Scene() {
    rast.resize(static_cast<std::size_t>(4 * pixels));
    std::vector<unsigned long long> keys(static_cast<std::size_t>(pixels));
    dk::RasterizeParams p;
    p.pos = pos.data();
    p.tri = mesh.tri.data();
    p.batch = kBatch;
    p.vertices = mesh.vertices;
    p.triangles = mesh.triangles();
    p.height = p.width = kRes;
    p.cull = dk::RasterCull::back;
    p.keys = keys.data();
    p.out = rast.data();
    dk::rasterize(kCpu, p);
  }
};

const Scene& scene() {
  static const Scene s;
  return s;
}

TEST(GpuRasterGrad, InterpolateGradMatchesTheCpu) {
  DEEPER_REQUIRE_CUDA();
  const Scene& s = scene();
  const std::int64_t C = 3;
  for (const bool batched : {true, false}) {
    SCOPED_TRACE(batched ? "batched" : "shared");
    const std::vector<float> attr = random_floats(static_cast<std::size_t>((batched ? kBatch : 1) * s.mesh.vertices * C), 1);
    const std::vector<float> g = random_floats(static_cast<std::size_t>(s.pixels * C), 2);
    const std::vector<float> ga0(attr.size(), 0.0f), gr0(static_cast<std::size_t>(4 * s.pixels), 0.0f);
    auto run = [&](const Device& d, bool det, std::vector<float>& grad_attr, std::vector<float>& grad_rast) {
      dk::InterpolateGradParams p;
      p.attr_batched = batched;
      p.batch = kBatch;
      p.vertices = s.mesh.vertices;
      p.triangles = s.mesh.triangles();
      p.channels = C;
      p.height = p.width = kRes;
      if (d.backend == deeper::Backend::cpu) {
        std::vector<long long> fixed(attr.size());
        grad_attr = ga0;
        grad_rast = gr0;
        p.attr = attr.data();
        p.rast = s.rast.data();
        p.tri = s.mesh.tri.data();
        p.grad_out = g.data();
        p.grad_attr.grad = grad_attr.data();
        p.grad_attr.fixed = det ? fixed.data() : nullptr;
        p.grad_rast = grad_rast.data();
        dk::interpolate_grad(d, p);
        return;
      }
      const auto a = to_gpu(attr), r = to_gpu(s.rast), t = to_gpu(s.mesh.tri), gg = to_gpu(g);
      auto ga = to_gpu(ga0), gr = to_gpu(gr0);
      DeviceBuffer fixed(kGpu, attr.size() * 8);
      p.attr = cptr<float>(a);
      p.rast = cptr<float>(r);
      p.tri = cptr<std::int32_t>(t);
      p.grad_out = cptr<float>(gg);
      p.grad_attr.grad = ptr<float>(ga);
      p.grad_attr.fixed = det ? ptr<long long>(fixed) : nullptr;
      p.grad_rast = ptr<float>(gr);
      dk::interpolate_grad(d, p);
      grad_attr = to_host<float>(ga);
      grad_rast = to_host<float>(gr);
    };
    std::vector<float> ca, cr, ga, gr;
    run(kCpu, false, ca, cr);
    run(kGpu, false, ga, gr);
    expect_close(ga, ca, 1e-4, "grad_attr");
    expect_close(gr, cr, 1e-5, "grad_rast");
    std::vector<float> d1, d2, dc, unused;
    run(kGpu, true, d1, unused);
    run(kGpu, true, d2, unused);
    run(kCpu, true, dc, unused);
    EXPECT_TRUE(same_bits(d1, d2)) << "deterministic mode: two GPU runs";
    EXPECT_TRUE(same_bits(d1, dc)) << "deterministic mode: GPU and CPU";
  }
}

TEST(GpuRasterGrad, RasterizeGradMatchesTheCpu) {
  DEEPER_REQUIRE_CUDA();
  const Scene& s = scene();
  const std::vector<float> g = random_floats(static_cast<std::size_t>(4 * s.pixels), 3);
  auto run_gpu = [&](bool det) {
    const auto pos = to_gpu(s.pos), r = to_gpu(s.rast), t = to_gpu(s.mesh.tri), gg = to_gpu(g);
    auto gp = to_gpu(std::vector<float>(s.pos.size(), 0.0f));
    DeviceBuffer fixed(kGpu, s.pos.size() * 8);
    dk::RasterizeGradParams p;
    p.pos = cptr<float>(pos);
    p.tri = cptr<std::int32_t>(t);
    p.batch = kBatch;
    p.vertices = s.mesh.vertices;
    p.triangles = s.mesh.triangles();
    p.height = p.width = kRes;
    p.rast = cptr<float>(r);
    p.grad_rast = cptr<float>(gg);
    p.grad_pos.grad = ptr<float>(gp);
    p.grad_pos.fixed = det ? ptr<long long>(fixed) : nullptr;
    dk::rasterize_grad(kGpu, p);
    return to_host<float>(gp);
  };
  std::vector<float> want(s.pos.size(), 0.0f);
  dk::RasterizeGradParams p;
  p.pos = s.pos.data();
  p.tri = s.mesh.tri.data();
  p.batch = kBatch;
  p.vertices = s.mesh.vertices;
  p.triangles = s.mesh.triangles();
  p.height = p.width = kRes;
  p.rast = s.rast.data();
  p.grad_rast = g.data();
  p.grad_pos.grad = want.data();
  dk::rasterize_grad(kCpu, p);
  expect_close(run_gpu(false), want, 1e-3, "grad_pos");
  const auto d1 = run_gpu(true);
  EXPECT_TRUE(same_bits(d1, run_gpu(true)));
  expect_close(d1, want, 1e-3, "deterministic grad_pos");
}

TEST(GpuRasterGrad, TextureMatchesTheCpu) {
  DEEPER_REQUIRE_CUDA();
  const Scene& s = scene();
  const int TH = 256, TW = 256;
  const std::int64_t C = 3;
  const std::vector<float> tex = random_floats(static_cast<std::size_t>(TH * TW * C), 4, 0.0f, 1.0f);
  const std::vector<float> uv = random_floats(static_cast<std::size_t>(2 * s.pixels), 5, -0.1f, 1.1f);
  const std::vector<float> g = random_floats(static_cast<std::size_t>(C * s.pixels), 6);
  for (const auto wrap : {dk::TextureWrap::clamp, dk::TextureWrap::wrap}) {
    dk::TextureParams p;
    p.tex_height = TH;
    p.tex_width = TW;
    p.channels = C;
    p.wrap = wrap;
    p.batch = kBatch;
    p.height = p.width = kRes;
    std::vector<float> out(static_cast<std::size_t>(C * s.pixels)), gt(tex.size(), 0.0f), gu(uv.size(), 0.0f);
    p.tex = tex.data();
    p.uv = uv.data();
    p.rast = s.rast.data();
    p.out = out.data();
    p.grad_out = g.data();
    p.grad_tex.grad = gt.data();
    p.grad_uv = gu.data();
    dk::texture(kCpu, p);
    dk::texture_grad(kCpu, p);
    auto run_gpu = [&](bool det) {
      const auto tx = to_gpu(tex), u = to_gpu(uv), r = to_gpu(s.rast), gg = to_gpu(g);
      auto o = to_gpu(std::vector<float>(out.size(), -1.0f)), dt = to_gpu(std::vector<float>(tex.size(), 0.0f)),
           du = to_gpu(std::vector<float>(uv.size(), 0.0f));
      DeviceBuffer fixed(kGpu, tex.size() * 8);
      dk::TextureParams q = p;
      q.tex = cptr<float>(tx);
      q.uv = cptr<float>(u);
      q.rast = cptr<float>(r);
      q.out = ptr<float>(o);
      q.grad_out = cptr<float>(gg);
      q.grad_tex.grad = ptr<float>(dt);
      q.grad_tex.fixed = det ? ptr<long long>(fixed) : nullptr;
      q.grad_uv = ptr<float>(du);
      dk::texture(kGpu, q);
      dk::texture_grad(kGpu, q);
      return std::vector<std::vector<float>>{to_host<float>(o), to_host<float>(dt), to_host<float>(du)};
    };
    const auto got = run_gpu(false);
    expect_close(got[0], out, 1e-5, "texture out");
    expect_close(got[1], gt, 1e-4, "grad_tex");
    expect_close(got[2], gu, 1e-4, "grad_uv");
    const auto d1 = run_gpu(true);
    EXPECT_TRUE(same_bits(d1[1], run_gpu(true)[1]));
    expect_close(d1[1], gt, 1e-4, "deterministic grad_tex");
  }
}

TEST(GpuRasterGrad, ShadeMatchesTheCpu) {
  DEEPER_REQUIRE_CUDA();
  const Scene& s = scene();
  const std::vector<float> normal = random_floats(static_cast<std::size_t>(3 * s.pixels), 7);
  const std::vector<float> albedo = random_floats(static_cast<std::size_t>(3 * s.pixels), 8, 0.0f, 1.0f);
  const std::vector<float> g = random_floats(static_cast<std::size_t>(3 * s.pixels), 9);
  for (const auto model : {dk::ShadeModel::lambert, dk::ShadeModel::sh9}) {
    SCOPED_TRACE(model == dk::ShadeModel::lambert ? "lambert" : "sh9");
    const std::vector<float> light =
        random_floats(static_cast<std::size_t>(kBatch * dk::shade_light_params(model)), 10, 0.1f, 1.0f);
    dk::ShadeParams p;
    p.model = model;
    p.batch = kBatch;
    p.height = p.width = kRes;
    std::vector<float> out(normal.size()), gn(normal.size(), 0.0f), ga(normal.size(), 0.0f), gl(light.size(), 0.0f);
    p.normal = normal.data();
    p.albedo = albedo.data();
    p.light = light.data();
    p.rast = s.rast.data();
    p.out = out.data();
    p.grad_out = g.data();
    p.grad_normal = gn.data();
    p.grad_albedo = ga.data();
    p.grad_light = gl.data();
    dk::shade(kCpu, p);
    dk::shade_grad(kCpu, p);
    const auto n = to_gpu(normal), a = to_gpu(albedo), l = to_gpu(light), r = to_gpu(s.rast), gg = to_gpu(g);
    auto o = to_gpu(std::vector<float>(out.size(), -1.0f)), dn = to_gpu(std::vector<float>(gn.size(), 0.0f)),
         da = to_gpu(std::vector<float>(ga.size(), 0.0f)), dl = to_gpu(std::vector<float>(gl.size(), 0.0f));
    p.normal = cptr<float>(n);
    p.albedo = cptr<float>(a);
    p.light = cptr<float>(l);
    p.rast = cptr<float>(r);
    p.out = ptr<float>(o);
    p.grad_out = cptr<float>(gg);
    p.grad_normal = ptr<float>(dn);
    p.grad_albedo = ptr<float>(da);
    p.grad_light = ptr<float>(dl);
    dk::shade(kGpu, p);
    dk::shade_grad(kGpu, p);
    expect_close(to_host<float>(o), out, 1e-5, "shade out");
    expect_close(to_host<float>(dn), gn, 1e-4, "grad_normal");
    expect_close(to_host<float>(da), ga, 1e-5, "grad_albedo");
    const auto first = to_host<float>(dl);
    expect_close(first, gl, 1e-4, "grad_light");
    dk::shade_grad(kGpu, p);  // adds the same again: the fixed-order reduction gives exactly twice
    const auto twice = to_host<float>(dl);
    for (std::size_t i = 0; i < first.size(); ++i) ASSERT_EQ(twice[i], 2 * first[i]) << i;
  }
}

TEST(GpuRasterGrad, AntialiasMatchesTheCpu) {
  DEEPER_REQUIRE_CUDA();
  const Scene& s = scene();
  const std::int64_t C = 3;
  const auto topo = dk::build_edge_topology(s.mesh.tri.data(), s.mesh.triangles(), s.mesh.vertices);
  const std::vector<float> color = random_floats(static_cast<std::size_t>(C * s.pixels), 11, 0.0f, 1.0f);
  const std::vector<float> g = random_floats(static_cast<std::size_t>(C * s.pixels), 12);
  dk::AntialiasParams p;
  p.batch = kBatch;
  p.vertices = s.mesh.vertices;
  p.triangles = s.mesh.triangles();
  p.channels = C;
  p.height = p.width = kRes;
  std::vector<float> out(color.size()), gc(color.size(), 0.0f), gp(s.pos.size(), 0.0f);
  p.color = color.data();
  p.rast = s.rast.data();
  p.pos = s.pos.data();
  p.tri = s.mesh.tri.data();
  p.topology = topo.data();
  p.out = out.data();
  p.grad_out = g.data();
  p.grad_color = gc.data();
  p.grad_pos.grad = gp.data();
  dk::antialias(kCpu, p);
  dk::antialias_grad(kCpu, p);
  std::size_t blended = 0;
  for (std::size_t i = 0; i < out.size(); ++i) blended += out[i] != color[i];
  EXPECT_GT(blended, static_cast<std::size_t>(kBatch * 100)) << "the silhouette is blended";
  auto run_gpu = [&](bool det) {
    const auto c = to_gpu(color), r = to_gpu(s.rast), ps = to_gpu(s.pos), t = to_gpu(s.mesh.tri), tp = to_gpu(topo),
               gg = to_gpu(g);
    auto o = to_gpu(std::vector<float>(out.size(), -1.0f)), dc = to_gpu(std::vector<float>(gc.size(), 0.0f)),
         dp = to_gpu(std::vector<float>(gp.size(), 0.0f));
    DeviceBuffer fixed(kGpu, gp.size() * 8);
    dk::AntialiasParams q = p;
    q.color = cptr<float>(c);
    q.rast = cptr<float>(r);
    q.pos = cptr<float>(ps);
    q.tri = cptr<std::int32_t>(t);
    q.topology = cptr<std::int32_t>(tp);
    q.out = ptr<float>(o);
    q.grad_out = cptr<float>(gg);
    q.grad_color = ptr<float>(dc);
    q.grad_pos.grad = ptr<float>(dp);
    q.grad_pos.fixed = det ? ptr<long long>(fixed) : nullptr;
    dk::antialias(kGpu, q);
    dk::antialias_grad(kGpu, q);
    return std::vector<std::vector<float>>{to_host<float>(o), to_host<float>(dc), to_host<float>(dp)};
  };
  const auto got = run_gpu(false);
  expect_close(got[0], out, 1e-5, "antialias out");
  expect_close(got[1], gc, 1e-5, "grad_color");
  expect_close(got[2], gp, 1e-3, "grad_pos");
  const auto d1 = run_gpu(true);
  EXPECT_TRUE(same_bits(d1[2], run_gpu(true)[2]));
}

// antialias_edge_mask on the GPU gives the CPU's bytes (its decisions use only correctly rounded
// operations that nvcc does not fuse), and antialias / antialias_grad with the mask give the
// results without it (deterministic position gradient; at most a handful of values may differ, if
// nvcc fused the shared arithmetic differently in the two paths, counted and reported).
TEST(GpuRasterGrad, AntialiasEdgeMaskMatchesTheCpuAndChangesNothing) {
  DEEPER_REQUIRE_CUDA();
  const Scene& s = scene();
  const std::int64_t C = 3, T = s.mesh.triangles();
  const auto topo = dk::build_edge_topology(s.mesh.tri.data(), T, s.mesh.vertices);
  dk::AntialiasEdgeMaskParams mp;
  mp.pos = s.pos.data();
  mp.tri = s.mesh.tri.data();
  mp.topology = topo.data();
  mp.batch = kBatch;
  mp.vertices = s.mesh.vertices;
  mp.triangles = T;
  mp.height = mp.width = kRes;
  std::vector<std::uint8_t> want(static_cast<std::size_t>(kBatch * T), 0xCD);
  mp.mask = want.data();
  dk::antialias_edge_mask(kCpu, mp);
  std::size_t interior = 0, edges = 0;
  for (std::uint8_t m : want) {
    interior += m == 0;
    edges += (m & dk::kAaMaskEdges) != 0 && (m & dk::kAaMaskUnusable) == 0;
  }
  EXPECT_GT(interior, want.size() / 2) << "most triangles have no silhouette edge";
  EXPECT_GT(edges, static_cast<std::size_t>(kBatch * 20)) << "the silhouette";
  const auto ps = to_gpu(s.pos), t = to_gpu(s.mesh.tri), tp = to_gpu(topo), r = to_gpu(s.rast);
  auto mask = to_gpu(std::vector<std::uint8_t>(want.size(), 0xCD));
  dk::AntialiasEdgeMaskParams q = mp;
  q.pos = cptr<float>(ps);
  q.tri = cptr<std::int32_t>(t);
  q.topology = cptr<std::int32_t>(tp);
  q.mask = ptr<std::uint8_t>(mask);
  dk::antialias_edge_mask(kGpu, q);
  const auto got = to_host<std::uint8_t>(mask);
  std::size_t differ = 0;
  for (std::size_t i = 0; i < got.size(); ++i) differ += got[i] != want[i];
  EXPECT_EQ(differ, 0u) << "mask bytes differing from the CPU's";

  const std::vector<float> color = random_floats(static_cast<std::size_t>(C * s.pixels), 21, 0.0f, 1.0f);
  const std::vector<float> g = random_floats(static_cast<std::size_t>(C * s.pixels), 22);
  const auto c = to_gpu(color), gg = to_gpu(g);
  auto run = [&](const std::uint8_t* edge_mask) {
    auto o = to_gpu(std::vector<float>(color.size(), -1.0f)), dc = to_gpu(std::vector<float>(color.size(), 0.0f)),
         dp = to_gpu(std::vector<float>(s.pos.size(), 0.0f));
    DeviceBuffer fixed(kGpu, s.pos.size() * 8);
    dk::AntialiasParams p;
    p.batch = kBatch;
    p.vertices = s.mesh.vertices;
    p.triangles = T;
    p.channels = C;
    p.height = p.width = kRes;
    p.color = cptr<float>(c);
    p.rast = cptr<float>(r);
    p.pos = cptr<float>(ps);
    p.tri = cptr<std::int32_t>(t);
    p.topology = cptr<std::int32_t>(tp);
    p.edge_mask = edge_mask;
    p.out = ptr<float>(o);
    p.grad_out = cptr<float>(gg);
    p.grad_color = ptr<float>(dc);
    p.grad_pos.grad = ptr<float>(dp);
    p.grad_pos.fixed = ptr<long long>(fixed);
    dk::antialias(kGpu, p);
    dk::antialias_grad(kGpu, p);
    return std::vector<std::vector<float>>{to_host<float>(o), to_host<float>(dc), to_host<float>(dp)};
  };
  const auto plain = run(nullptr);
  const auto masked = run(ptr<std::uint8_t>(mask));
  std::size_t blended = 0;
  for (std::size_t i = 0; i < color.size(); ++i) blended += plain[0][i] != color[i];
  EXPECT_GT(blended, static_cast<std::size_t>(kBatch * 100)) << "the silhouette is blended";
  expect_close(masked[0], plain[0], 0.0, "masked antialias out");
  expect_close(masked[1], plain[1], 0.0, "masked grad_color");
  expect_close(masked[2], plain[2], 0.0, "masked grad_pos");
}

}  // namespace
#else
TEST(GpuRasterGrad, NeedsTheNvccPass) { GTEST_SKIP() << "built without the CUDA kernels (DEEPER_WITH_CUDA=OFF)"; }
#endif
