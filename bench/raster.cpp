// Rasterizer benchmarks: rasterize and interpolate on the procedural ~9k-triangle test mesh
// (bench/raster_mesh.h: a displaced sphere cap filling ~80% of the frame, B posed copies).
//
//   bench_raster [--device=auto|cpu|cuda[:N]] [Google Benchmark flags]
//
// rasterize/B:../R:..     clear + raster + resolve of B images of R x R (back faces culled):
//                         images_per_s, ms_per_batch, Mtri_per_s (B·T triangles set up per second).
// interpolate/B:../R:..   3 per-image (B x V x 3) float attributes at every pixel of the rasterize
//                         output: images_per_s, ms_per_batch, GBps (16 B of rast + 12 B written per
//                         pixel, the floor of the traffic).
// Sizes: B = 16 on the CPU, 256 and 1024 on a GPU; R = 64, 112, 224. Indices are checked once
// before timing (check_indices off in the loop). GPU work is timed with CUDA events, CPU work with
// the host clock (manual time); one warm-up run first.
#include "bench/harness.h"
#include "bench/raster_mesh.h"
#include "kernels/raster/interpolate.h"
#include "kernels/raster/rasterize.h"
#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"
#include "kernels/runtime/stream.h"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <memory>
#include <utility>
#include <vector>

namespace {

using deeper::Device;
namespace dk = deeper::kernels;
namespace rb = deeper::raster_bench;

// The inputs and outputs of one (batch, resolution), on the device, made on first use.
struct Case {
  deeper::DeviceBuffer pos, tri, attr, keys, rast, out;
  dk::RasterizeParams raster;
  dk::InterpolateParams interp;
};

struct Globals {
  Device device;
  rb::TestMesh mesh;
  std::map<std::pair<std::int64_t, int>, std::unique_ptr<Case>> cases;
};
Globals g;

template <typename T>
deeper::DeviceBuffer upload(const std::vector<T>& host) {
  deeper::DeviceBuffer buffer(g.device, host.size() * sizeof(T));
  deeper::copy_bytes(buffer.data(), g.device, host.data(), Device::cpu(), buffer.bytes());
  return buffer;
}

Case& get_case(std::int64_t batch, int res) {
  if (const auto it = g.cases.find({batch, res}); it != g.cases.end()) return *it->second;
  g.cases.clear();  // one case at a time: the GPU sizes need ~2 GB
  auto c = std::make_unique<Case>();
  const std::int64_t pixels = batch * res * res;
  c->pos = upload(rb::posed_clip_positions(g.mesh, batch, res, res));
  c->tri = upload(g.mesh.tri);
  std::vector<float> attr(static_cast<std::size_t>(batch * g.mesh.vertices * 3));
  for (std::size_t i = 0; i < attr.size(); ++i) attr[i] = static_cast<float>(i % 97) / 97.0f;
  c->attr = upload(attr);
  c->keys = deeper::DeviceBuffer(g.device, static_cast<std::size_t>(pixels) * sizeof(unsigned long long));
  c->rast = deeper::DeviceBuffer(g.device, static_cast<std::size_t>(pixels) * 4 * sizeof(float));
  c->out = deeper::DeviceBuffer(g.device, static_cast<std::size_t>(pixels) * 3 * sizeof(float));
  auto& p = c->raster;
  p.pos = static_cast<const float*>(c->pos.data());
  p.tri = static_cast<const std::int32_t*>(c->tri.data());
  p.batch = batch;
  p.vertices = g.mesh.vertices;
  p.triangles = g.mesh.triangles();
  p.height = p.width = res;
  p.cull = dk::RasterCull::back;
  p.keys = static_cast<unsigned long long*>(c->keys.data());
  p.out = static_cast<float*>(c->rast.data());
  dk::check_triangle_indices(g.device, p.tri, p.triangles, p.vertices, "bench_raster");
  p.check_indices = false;
  auto& q = c->interp;
  q.attr = static_cast<const float*>(c->attr.data());
  q.rast = p.out;
  q.tri = p.tri;
  q.batch = batch;
  q.vertices = p.vertices;
  q.triangles = p.triangles;
  q.channels = 3;
  q.height = q.width = res;
  q.check_indices = false;
  q.out = static_cast<float*>(c->out.data());
  return *(g.cases[{batch, res}] = std::move(c));
}

template <typename F>
double timed_loop(benchmark::State& state, F&& f) {
  deeper::Stream stream(g.device);
  return deeper::bench::timed_loop(state, stream, [&] { f(stream); });
}

void report(benchmark::State& state, std::int64_t batch, double seconds) {
  const double iterations = static_cast<double>(state.iterations());
  state.counters["images_per_s"] = static_cast<double>(batch) * iterations / seconds;
  state.counters["ms_per_batch"] = seconds / iterations * 1e3;
}

void BM_rasterize(benchmark::State& state) {
  const std::int64_t batch = state.range(0);
  const int res = static_cast<int>(state.range(1));
  Case& c = get_case(batch, res);
  const double seconds =
      timed_loop(state, [&](deeper::Stream& s) { dk::rasterize(g.device, c.raster, s.native()); });
  report(state, batch, seconds);
  state.counters["Mtri_per_s"] =
      static_cast<double>(batch * g.mesh.triangles()) * static_cast<double>(state.iterations()) / seconds * 1e-6;
}

void BM_interpolate(benchmark::State& state) {
  const std::int64_t batch = state.range(0);
  const int res = static_cast<int>(state.range(1));
  Case& c = get_case(batch, res);
  {
    deeper::Stream s(g.device);
    dk::rasterize(g.device, c.raster, s.native());
    s.synchronize();
  }
  const double seconds =
      timed_loop(state, [&](deeper::Stream& s) { dk::interpolate(g.device, c.interp, s.native()); });
  report(state, batch, seconds);
  state.counters["GBps"] = static_cast<double>(batch * res * res) * 28.0 * static_cast<double>(state.iterations()) /
                           seconds * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  return deeper::bench::run(
      argc, argv, "bench_raster",
      "Rasterizer: rasterize (clear + raster + resolve) and interpolate (3 channels) on a 8,978-triangle\n"
      "displaced sphere cap, images/s and ms per batch, batch x resolution {64, 112, 224}.",
      [](const deeper::Device& device) {
        g.device = device;
        g.mesh = rb::sphere_cap_mesh();
        const bool gpu = device.backend == deeper::Backend::cuda;
        const std::vector<std::int64_t> batches = gpu ? std::vector<std::int64_t>{256, 1024} : std::vector<std::int64_t>{16};
        for (const auto& [name, fn] : {std::pair{"rasterize", &BM_rasterize}, std::pair{"interpolate", &BM_interpolate}}) {
          auto* b = benchmark::RegisterBenchmark(name, fn)->ArgNames({"B", "R"});
          for (const auto batch : batches) {
            for (const int res : {64, 112, 224}) b->Args({batch, res});
          }
          b->UseManualTime()->Unit(benchmark::kMillisecond);
        }
      });
}
