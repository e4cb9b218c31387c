// rasterize and interpolate on a real GPU against the CPU reference: B = 64 posed copies of the
// 8,978-triangle test mesh (bench/raster_mesh.h) at 224 x 224, every cull flag; ids, keys, culled
// and fragment counts must be identical, and barycentrics, depth and interpolated values too (the
// kernels use only correctly rounded operations, rng::exact), with a 1e-6 tolerance reported
// separately so that a last-bit difference is told apart from a wrong result. Also a batch whose
// B·H·W·4 floats pass 2^31 (64-bit indexing). Every test skips without a usable GPU.
#include "bench/raster_mesh.h"
#include "kernels/raster/interpolate.h"
#include "kernels/raster/rasterize.h"
#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"

#include <gtest/gtest.h>

#include "tests/support/gpu_test_util.h"

#include <cmath>
#include <cstring>
#include <vector>

#if DEEPER_HAVE_CUDA_KERNELS
namespace {

namespace dk = deeper::kernels;
namespace rb = deeper::raster_bench;
using deeper::Device;
using deeper::test::to_gpu;
using deeper::test::to_host;

const Device kGpu = Device::cuda(0);

struct Outputs {
  std::vector<float> rast;
  std::vector<unsigned long long> keys;
  std::vector<std::uint32_t> culled, fragments;
};

dk::RasterizeParams params(std::int64_t batch, std::int64_t vertices, std::int64_t triangles, int res,
                           dk::RasterCull cull) {
  dk::RasterizeParams p;
  p.batch = batch;
  p.vertices = vertices;
  p.triangles = triangles;
  p.height = p.width = res;
  p.cull = cull;
  return p;
}

// Counts of values that differ in any bit, and that differ by more than tol.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, double tol, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  std::size_t bit_differences = 0, far = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::memcmp(&got[i], &want[i], 4) != 0 && !(std::isnan(got[i]) && std::isnan(want[i]))) {
      ++bit_differences;
      far += !(std::abs(got[i] - want[i]) <= tol);
    }
  }
  EXPECT_EQ(far, 0u) << what << ": values further apart than " << tol;
  EXPECT_EQ(bit_differences, 0u) << what << ": values that differ in the last bits (within " << tol << ")";
}

TEST(GpuRaster, MatchesTheCpuOnPosedMeshesAt224) {
  DEEPER_REQUIRE_CUDA();
  const std::int64_t batch = 64;
  const int res = 224;
  const rb::TestMesh mesh = rb::sphere_cap_mesh();
  const auto pos = rb::posed_clip_positions(mesh, batch, res, res);
  const auto pixels = static_cast<std::size_t>(batch * res * res);
  const auto pos_gpu = to_gpu(pos);
  const auto tri_gpu = to_gpu(mesh.tri);
  deeper::DeviceBuffer keys(kGpu, pixels * 8), rast(kGpu, pixels * 16), culled(kGpu, batch * 4),
      fragments(kGpu, pixels * 4), interp(kGpu, pixels * 3 * 4);
  std::vector<float> attr(static_cast<std::size_t>(batch * mesh.vertices * 3));
  for (std::size_t i = 0; i < attr.size(); ++i) attr[i] = std::sin(0.37f * static_cast<float>(i));
  const auto attr_gpu = to_gpu(attr);
  for (const auto cull : {dk::RasterCull::none, dk::RasterCull::back, dk::RasterCull::front}) {
    auto p = params(batch, mesh.vertices, mesh.triangles(), res, cull);
    Outputs want{std::vector<float>(pixels * 4), std::vector<unsigned long long>(pixels),
                 std::vector<std::uint32_t>(static_cast<std::size_t>(batch)), std::vector<std::uint32_t>(pixels)};
    p.pos = pos.data();
    p.tri = mesh.tri.data();
    p.keys = want.keys.data();
    p.out = want.rast.data();
    p.culled = want.culled.data();
    p.fragments = want.fragments.data();
    dk::rasterize(Device::cpu(), p);
    p.pos = static_cast<const float*>(pos_gpu.data());
    p.tri = static_cast<const std::int32_t*>(tri_gpu.data());
    p.keys = static_cast<unsigned long long*>(keys.data());
    p.out = static_cast<float*>(rast.data());
    p.culled = static_cast<std::uint32_t*>(culled.data());
    p.fragments = static_cast<std::uint32_t*>(fragments.data());
    dk::rasterize(kGpu, p);
    EXPECT_EQ(to_host<unsigned long long>(keys), want.keys);
    EXPECT_EQ(to_host<std::uint32_t>(culled), want.culled);
    EXPECT_EQ(to_host<std::uint32_t>(fragments), want.fragments);
    const auto got = to_host<float>(rast);
    std::size_t id_differences = 0, covered = 0;
    for (std::size_t i = 0; i < pixels; ++i) {
      id_differences += dk::raster_pixel_id(&got[4 * i]) != dk::raster_pixel_id(&want.rast[4 * i]);
      covered += dk::raster_pixel_id(&want.rast[4 * i]) >= 0;
    }
    EXPECT_EQ(id_differences, 0u);
    if (cull != dk::RasterCull::front) {
      EXPECT_GT(covered, pixels / 4);  // the cap fills about half of the frame
    }
    expect_close(got, want.rast, 1e-6, "rasterize");
    // interpolate from the CPU's rast on both sides
    dk::InterpolateParams q;
    q.attr = attr.data();
    q.rast = want.rast.data();
    q.tri = mesh.tri.data();
    q.batch = batch;
    q.vertices = mesh.vertices;
    q.triangles = mesh.triangles();
    q.channels = 3;
    q.height = q.width = res;
    std::vector<float> want_interp(pixels * 3);
    q.out = want_interp.data();
    dk::interpolate(Device::cpu(), q);
    const auto rast_cpu_on_gpu = to_gpu(want.rast);
    q.attr = static_cast<const float*>(attr_gpu.data());
    q.rast = static_cast<const float*>(rast_cpu_on_gpu.data());
    q.tri = static_cast<const std::int32_t*>(tri_gpu.data());
    q.out = static_cast<float*>(interp.data());
    dk::interpolate(kGpu, q);
    expect_close(to_host<float>(interp), want_interp, 1e-6, "interpolate");
  }
}

TEST(GpuRaster, BatchesPast2To31FloatsUse64BitIndices) {
  DEEPER_REQUIRE_CUDA();
  // 2,700 images of 448 x 448: 2.17e9 floats of output (8.7 GB, past 2^31 = 2.15e9), keys 4.3 GB;
  // the last image is compared with the CPU. (2,600 images, 2.09e9 floats, fell short: found on an H200.)
  const std::int64_t batch = 2700;
  const int res = 448;
  const rb::TestMesh mesh = rb::sphere_cap_mesh(24);
  const auto pos = rb::posed_clip_positions(mesh, batch, res, res);
  const auto pixels = static_cast<std::size_t>(batch * res * res);
  ASSERT_GT(pixels * 4, std::size_t{1} << 31);
  const auto pos_gpu = to_gpu(pos);
  const auto tri_gpu = to_gpu(mesh.tri);
  deeper::DeviceBuffer keys(kGpu, pixels * 8), rast(kGpu, pixels * 16);
  auto p = params(batch, mesh.vertices, mesh.triangles(), res, dk::RasterCull::back);
  p.pos = static_cast<const float*>(pos_gpu.data());
  p.tri = static_cast<const std::int32_t*>(tri_gpu.data());
  p.keys = static_cast<unsigned long long*>(keys.data());
  p.out = static_cast<float*>(rast.data());
  dk::rasterize(kGpu, p);
  const std::size_t plane = static_cast<std::size_t>(res) * res;
  const auto last = to_host<float>(rast, 4 * plane, 4 * (pixels - plane));
  std::vector<float> want(4 * plane);
  std::vector<unsigned long long> want_keys(plane);
  auto c = params(1, mesh.vertices, mesh.triangles(), res, dk::RasterCull::back);
  c.pos = pos.data() + (batch - 1) * mesh.vertices * 4;
  c.tri = mesh.tri.data();
  c.keys = want_keys.data();
  c.out = want.data();
  dk::rasterize(Device::cpu(), c);
  EXPECT_EQ(std::memcmp(last.data(), want.data(), want.size() * 4), 0);
}

}  // namespace
#else
TEST(GpuRaster, NeedsTheCudaPass) { GTEST_SKIP() << "this build has no CUDA kernels (DEEPER_WITH_CUDA=OFF)"; }
#endif
