// Bad inputs of the differentiable rasterizer ops: each is rejected with deeper::Error naming the op
// and the problem, before anything is written.
#include "raster_grad_util.h"

#include "kernels/raster/interpolate_grad.h"
#include "kernels/raster/rasterize_grad.h"
#include "kernels/raster/shade.h"
#include "kernels/raster/texture.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace {

using namespace raster_grad_test;

// Expects `call` to throw deeper::Error whose message contains `op` and `fragment`.
void expect_error(const std::function<void()>& call, const std::string& op, const std::string& fragment) {
  try {
    call();
    ADD_FAILURE() << "no error; expected '" << fragment << "'";
  } catch (const deeper::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(op), std::string::npos) << what;
    EXPECT_NE(what.find(fragment), std::string::npos) << what;
  }
}

struct Fixture {
  Mesh m = two_grids(1, 3);
  std::vector<float> pos = m.pos_float();
  Raster r = rasterize(kCpu, pos, m, 8, 8);
  std::vector<float> attr = std::vector<float>(static_cast<std::size_t>(m.vertices * 2), 1.0f);
  std::vector<float> img = std::vector<float>(8 * 8 * 4, 1.0f);
  std::vector<float> grad = std::vector<float>(8 * 8 * 4, 1.0f);
  std::vector<float> gpos = std::vector<float>(pos.size(), 7.0f);
  std::vector<std::int32_t> topo = dk::build_edge_topology(m.tri.data(), m.triangles(), m.vertices);
};

TEST(RasterGradBadInput, InterpolateGrad) {
  Fixture f;
  std::vector<float> ga(f.attr.size(), 7.0f);
  auto make = [&] {
    dk::InterpolateGradParams p;
    p.attr = f.attr.data();
    p.rast = f.r.out.data();
    p.tri = f.m.tri.data();
    p.batch = 1;
    p.vertices = f.m.vertices;
    p.triangles = f.m.triangles();
    p.channels = 2;
    p.height = 8;
    p.width = 8;
    p.grad_out = f.img.data();
    p.grad_attr.grad = ga.data();
    return p;
  };
  for (const Device& d : {kCpu, kEmu}) {
    auto p = make();
    p.grad_out = nullptr;
    expect_error([&] { dk::interpolate_grad(d, p); }, "interpolate_grad", "null");
    p = make();
    p.channels = 0;
    expect_error([&] { dk::interpolate_grad(d, p); }, "interpolate_grad", "0 channels");
    p = make();
    p.width = 0;
    expect_error([&] { dk::interpolate_grad(d, p); }, "interpolate_grad", "image size");
    p = make();
    p.vertices = 0;
    expect_error([&] { dk::interpolate_grad(d, p); }, "interpolate_grad", "0 vertices");
    p = make();
    std::vector<long long> fixed(ga.size());
    p.grad_attr.fixed = fixed.data();
    p.grad_attr.bits = 61;
    expect_error([&] { dk::interpolate_grad(d, p); }, "interpolate_grad", "bits 61");
    p = make();
    p.grad_attr.grad = nullptr;
    p.grad_attr.fixed = fixed.data();
    expect_error([&] { dk::interpolate_grad(d, p); }, "interpolate_grad", "workspace without");
    p = make();
    std::vector<std::int32_t> tri = f.m.tri;
    tri[4] = static_cast<std::int32_t>(f.m.vertices);
    p.tri = tri.data();
    expect_error([&] { dk::interpolate_grad(d, p); }, "interpolate_grad", "triangle 1");
  }
  for (float v : ga) ASSERT_EQ(v, 7.0f);
}

TEST(RasterGradBadInput, RasterizeGrad) {
  Fixture f;
  auto make = [&] {
    dk::RasterizeGradParams p;
    p.pos = f.pos.data();
    p.tri = f.m.tri.data();
    p.batch = 1;
    p.vertices = f.m.vertices;
    p.triangles = f.m.triangles();
    p.height = 8;
    p.width = 8;
    p.rast = f.r.out.data();
    p.grad_rast = f.grad.data();
    p.grad_pos.grad = f.gpos.data();
    return p;
  };
  for (const Device& d : {kCpu, kEmu}) {
    auto p = make();
    p.rast = nullptr;
    expect_error([&] { dk::rasterize_grad(d, p); }, "rasterize_grad", "null");
    p = make();
    p.batch = -1;
    expect_error([&] { dk::rasterize_grad(d, p); }, "rasterize_grad", "negative batch");
    p = make();
    p.height = 9000;
    expect_error([&] { dk::rasterize_grad(d, p); }, "rasterize_grad", "image size");
    p = make();
    std::vector<std::int32_t> tri = f.m.tri;
    tri[0] = -1;
    p.tri = tri.data();
    expect_error([&] { dk::rasterize_grad(d, p); }, "rasterize_grad", "triangle 0");
  }
  for (float v : f.gpos) ASSERT_EQ(v, 7.0f);
}

TEST(RasterGradBadInput, Texture) {
  Fixture f;
  std::vector<float> tex(4 * 4 * 2, 1.0f), uv(8 * 8 * 2, 0.5f), out(8 * 8 * 2, 7.0f);
  auto make = [&] {
    dk::TextureParams p;
    p.tex = tex.data();
    p.tex_height = 4;
    p.tex_width = 4;
    p.channels = 2;
    p.batch = 1;
    p.height = 8;
    p.width = 8;
    p.uv = uv.data();
    p.out = out.data();
    p.grad_out = f.img.data();
    return p;
  };
  for (const Device& d : {kCpu, kEmu}) {
    auto p = make();
    p.uv = nullptr;
    expect_error([&] { dk::texture(d, p); }, "texture", "null texture or uv");
    p = make();
    p.out = nullptr;
    expect_error([&] { dk::texture(d, p); }, "texture", "null output");
    p = make();
    p.grad_out = nullptr;
    expect_error([&] { dk::texture_grad(d, p); }, "texture_grad", "null output gradient");
    p = make();
    p.tex_width = 0;
    expect_error([&] { dk::texture(d, p); }, "texture", "texture size");
    p = make();
    p.channels = 2000;
    expect_error([&] { dk::texture(d, p); }, "texture", "2000 channels");
    p = make();
    p.wrap = static_cast<dk::TextureWrap>(7);
    expect_error([&] { dk::texture(d, p); }, "texture", "unknown wrap mode 7");
    p = make();
    std::vector<long long> fixed(tex.size());
    p.grad_tex.fixed = fixed.data();
    expect_error([&] { dk::texture_grad(d, p); }, "texture_grad", "workspace without grad_tex");
  }
  for (float v : out) ASSERT_EQ(v, 7.0f);
}

TEST(RasterGradBadInput, Shade) {
  Fixture f;
  std::vector<float> n(8 * 8 * 3, 1.0f), light(27, 0.5f), out(8 * 8 * 3, 7.0f);
  auto make = [&] {
    dk::ShadeParams p;
    p.batch = 1;
    p.height = 8;
    p.width = 8;
    p.normal = n.data();
    p.albedo = n.data();
    p.light = light.data();
    p.out = out.data();
    p.grad_out = n.data();
    return p;
  };
  for (const Device& d : {kCpu, kEmu}) {
    auto p = make();
    p.light = nullptr;
    expect_error([&] { dk::shade(d, p); }, "shade", "null normals, albedo or light");
    p = make();
    p.model = static_cast<dk::ShadeModel>(5);
    expect_error([&] { dk::shade(d, p); }, "shade", "unknown shading model 5");
    p = make();
    p.grad_out = nullptr;
    expect_error([&] { dk::shade_grad(d, p); }, "shade_grad", "null output gradient");
    p = make();
    p.width = -3;
    expect_error([&] { dk::shade(d, p); }, "shade", "image size");
  }
  for (float v : out) ASSERT_EQ(v, 7.0f);
}

TEST(RasterGradBadInput, Antialias) {
  Fixture f;
  std::vector<float> out(8 * 8 * 4, 7.0f);
  auto make = [&] {
    dk::AntialiasParams p;
    p.color = f.img.data();
    p.rast = f.r.out.data();
    p.pos = f.pos.data();
    p.tri = f.m.tri.data();
    p.topology = f.topo.data();
    p.batch = 1;
    p.vertices = f.m.vertices;
    p.triangles = f.m.triangles();
    p.channels = 4;
    p.height = 8;
    p.width = 8;
    p.out = out.data();
    p.grad_out = f.grad.data();
    p.grad_pos.grad = f.gpos.data();
    return p;
  };
  for (const Device& d : {kCpu, kEmu}) {
    auto p = make();
    p.topology = nullptr;
    expect_error([&] { dk::antialias(d, p); }, "antialias", "null triangles or edge topology");
    p = make();
    p.pos = nullptr;
    expect_error([&] { dk::antialias(d, p); }, "antialias", "null colour");
    p = make();
    p.channels = 0;
    expect_error([&] { dk::antialias(d, p); }, "antialias", "0 channels");
    p = make();
    p.grad_out = nullptr;
    expect_error([&] { dk::antialias_grad(d, p); }, "antialias_grad", "null output gradient");
    p = make();
    std::vector<std::int32_t> tri = f.m.tri;
    tri[5] = 1 << 20;
    p.tri = tri.data();
    expect_error([&] { dk::antialias_grad(d, p); }, "antialias_grad", "triangle 1");
  }
  for (float v : out) ASSERT_EQ(v, 7.0f);
  for (float v : f.gpos) ASSERT_EQ(v, 7.0f);
  expect_error([&] { dk::build_edge_topology(nullptr, 3, 4); }, "build_edge_topology", "null triangles");
  expect_error([&] { dk::build_edge_topology(f.m.tri.data(), 1, 0); }, "build_edge_topology", "0 vertices");
}

TEST(RasterGradBadInput, AntialiasEdgeMask) {
  Fixture f;
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(f.m.triangles()), 0xAB);
  auto make = [&] {
    dk::AntialiasEdgeMaskParams p;
    p.pos = f.pos.data();
    p.tri = f.m.tri.data();
    p.topology = f.topo.data();
    p.batch = 1;
    p.vertices = f.m.vertices;
    p.triangles = f.m.triangles();
    p.height = 8;
    p.width = 8;
    p.mask = mask.data();
    return p;
  };
  for (const Device& d : {kCpu, kEmu}) {
    auto p = make();
    p.mask = nullptr;
    expect_error([&] { dk::antialias_edge_mask(d, p); }, "antialias_edge_mask", "null mask");
    p = make();
    p.pos = nullptr;
    expect_error([&] { dk::antialias_edge_mask(d, p); }, "antialias_edge_mask", "null positions");
    p = make();
    p.topology = nullptr;
    expect_error([&] { dk::antialias_edge_mask(d, p); }, "antialias_edge_mask", "null triangles or edge topology");
    p = make();
    p.batch = -1;
    expect_error([&] { dk::antialias_edge_mask(d, p); }, "antialias_edge_mask", "negative batch -1");
    p = make();
    p.vertices = 0;
    expect_error([&] { dk::antialias_edge_mask(d, p); }, "antialias_edge_mask", "0 vertices");
    p = make();
    p.height = 0;
    expect_error([&] { dk::antialias_edge_mask(d, p); }, "antialias_edge_mask", "image size");
    p = make();
    std::vector<std::int32_t> tri = f.m.tri;
    tri[4] = -2;
    p.tri = tri.data();
    expect_error([&] { dk::antialias_edge_mask(d, p); }, "antialias_edge_mask", "triangle 1");
  }
  for (std::uint8_t v : mask) ASSERT_EQ(v, 0xAB);
}

}  // namespace
