// Bad inputs get a clear deeper::Error naming the problem, on every host backend, before anything
// runs: sizes out of range, null or misaligned buffers, bad flags, vertex indices outside [0, V).
#include "raster_test_util.h"

#include "core/error.h"
#include "kernels/raster/camera.h"

#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <string>

namespace {

using namespace raster_test;

void expect_error(const std::function<void()>& f, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning '" << fragment << "'";
  } catch (const deeper::Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

struct Fixture {
  std::vector<float> pos = std::vector<float>(4 * 6, 1.0f);
  std::vector<std::int32_t> tri = {0, 1, 2, 3, 4, 5};
  std::vector<unsigned long long> keys = std::vector<unsigned long long>(2 * 32 * 32);
  std::vector<float> out = std::vector<float>(4 * 2 * 32 * 32 + 4);
  dk::RasterizeParams params() {
    dk::RasterizeParams p;
    p.pos = pos.data();
    p.tri = tri.data();
    p.batch = 1;
    p.vertices = 6;
    p.triangles = 2;
    p.height = p.width = 32;
    p.keys = keys.data();
    p.out = out.data();
    return p;
  }
};

TEST(RasterBadInput, RasterizeRejectsUnusableParameters) {
  for (const Device& device : {kCpu, kEmu}) {
    Fixture f;
    const auto with = [&](auto change) {
      auto p = f.params();
      change(p);
      return [device, p] { dk::rasterize(device, p); };
    };
    expect_error(with([](auto& p) { p.height = 0; }), "image size 0 x 32");
    expect_error(with([](auto& p) { p.width = dk::kRasterMaxSize + 1; }), "outside [1, 8192]");
    expect_error(with([](auto& p) { p.vertices = 0; }), "0 vertices");
    expect_error(with([](auto& p) { p.triangles = -1; }), "-1 triangles");
    expect_error(with([](auto& p) { p.batch = -2; }), "negative batch");
    expect_error(with([](auto& p) { p.pos = nullptr; }), "null vertex positions");
    expect_error(with([](auto& p) { p.keys = nullptr; }), "key workspace");
    expect_error(with([](auto& p) { p.tri = nullptr; }), "null triangles");
    expect_error(with([&](auto& p) { p.out = f.out.data() + 1; }), "16-byte aligned");
    expect_error(with([](auto& p) { p.cull = static_cast<dk::RasterCull>(7); }), "unknown cull flag 7");
    expect_error(with([](auto& p) { p.min_w = std::numeric_limits<float>::quiet_NaN(); }), "min_w");
    expect_error(with([](auto& p) { p.min_w = -1.0f; }), "min_w");
    f.tri[4] = 6;
    expect_error(with([](auto&) {}), "triangle 1 has vertex index 6 (corner 1), outside [0, 6)");
    f.tri[4] = -1;
    expect_error(with([](auto&) {}), "triangle 1 has vertex index -1");
    // Nothing was written by the rejected calls.
    for (const float x : f.out) ASSERT_EQ(x, 0.0f);
    // An empty batch is a no-op, with or without buffers.
    auto p = f.params();
    p.batch = 0;
    p.pos = nullptr;
    p.out = nullptr;
    p.keys = nullptr;
    EXPECT_NO_THROW(dk::rasterize(device, p));
  }
}

TEST(RasterBadInput, InterpolateRejectsUnusableParameters) {
  for (const Device& device : {kCpu, kEmu}) {
    Fixture f;
    std::vector<float> attr(6 * 2), out(32 * 32 * 2);
    const auto with = [&](auto change) {
      dk::InterpolateParams p;
      p.attr = attr.data();
      p.rast = f.out.data();
      p.tri = f.tri.data();
      p.batch = 1;
      p.vertices = 6;
      p.triangles = 2;
      p.channels = 2;
      p.height = p.width = 32;
      p.out = out.data();
      change(p);
      return [device, p] { dk::interpolate(device, p); };
    };
    expect_error(with([](auto& p) { p.channels = 0; }), "0 channels");
    expect_error(with([](auto& p) { p.height = 9000; }), "image size 9000 x 32");
    expect_error(with([](auto& p) { p.attr = nullptr; }), "null attributes");
    expect_error(with([](auto& p) { p.vertices = -3; }), "-3 vertices");
    f.tri[0] = 100;
    expect_error(with([](auto&) {}), "interpolate: triangle 0 has vertex index 100");
  }
}

TEST(RasterBadInput, CameraRejectsUnusableSettings) {
  expect_error([] { dk::PerspectiveCamera::from_fov_y(180.0, 64, 64, 1, 10); }, "field of view");
  expect_error([] { dk::PerspectiveCamera::from_focal(50.0, 64, 64, 0.0, 10); }, "0 < near < far");
  expect_error([] { dk::PerspectiveCamera::from_focal(50.0, 64, 64, 5.0, 2.0); }, "0 < near < far");
  expect_error([] { dk::PerspectiveCamera::from_focal(-1.0, 64, 64, 1.0, 2.0); }, "focal lengths");
  expect_error([] { dk::PerspectiveCamera::from_focal(50.0, 0, 64, 1.0, 2.0); }, "image size");
  const auto cam = dk::PerspectiveCamera::from_focal(50.0, 64, 64, 1.0, 2.0);
  expect_error([&] { dk::project_to_pixel(cam, 0, 0, 1.0); }, "not in front of the camera");
}

}  // namespace
