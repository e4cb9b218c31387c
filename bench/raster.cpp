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
// The differentiable ops (kernels/raster: interpolate_grad, rasterize_grad, texture, shade,
// antialias), each as forward alone and forward + backward, on the rasterize output of the same
// batch (rasterized once before timing), images/s and ms per batch:
//   interpolate_fwd_bwd     interpolate + interpolate_grad (to attributes and barycentrics) +
//                           rasterize_grad (barycentrics to clip positions);
//   texture, texture_fwd_bwd   bilinear 256 x 256 x 3 texture (shared, clamp) at interpolated UVs;
//                           backward to texture (atomics) and UVs;
//   shade, shade_fwd_bwd    Lambert + ambient, per-image light; backward to normals, albedo, light;
//   antialias, antialias_fwd_bwd   silhouette antialiasing of a 3-channel image; backward to
//                           colours and clip positions (edge topology built once per mesh);
//   antialias_masked        antialias_edge_mask (B x T silhouette-edge masks) + antialias using them.
// Sizes: B = 16 on the CPU, 256 and 1024 on a GPU; R = 64, 112, 224. Indices are checked once
// before timing (check_indices off in the loop). GPU work is timed with CUDA events, CPU work with
// the host clock (manual time); one warm-up run first.
#include "bench/harness.h"
#include "bench/raster_mesh.h"
#include "kernels/raster/antialias.h"
#include "kernels/raster/interpolate.h"
#include "kernels/raster/interpolate_grad.h"
#include "kernels/raster/rasterize.h"
#include "kernels/raster/rasterize_grad.h"
#include "kernels/raster/shade.h"
#include "kernels/raster/texture.h"
#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"
#include "kernels/runtime/stream.h"

#include <benchmark/benchmark.h>

#include <algorithm>
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
  // The differentiable ops, made on first use (grad: ~5 GB at B = 1024, R = 224).
  bool grad_ready = false;
  deeper::DeviceBuffer grad_out, grad_attr, grad_rast, grad_pos, uv_attr, uv, grad_uv, tex, grad_tex, out2, grad_a,
      grad_b, light, grad_light, topology, edge_mask;
  dk::InterpolateGradParams interp_grad;
  dk::RasterizeGradParams raster_grad;
  dk::TextureParams texture;
  dk::ShadeParams shade;
  dk::AntialiasParams antialias;
  dk::AntialiasEdgeMaskParams edge_mask_params;
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

deeper::DeviceBuffer zeros(std::size_t floats) {
  return upload(std::vector<float>(floats, 0.0f));
}

// Rasterizes once and sets up the differentiable ops of a case.
Case& get_grad_case(std::int64_t batch, int res) {
  Case& c = get_case(batch, res);
  if (c.grad_ready) return c;
  const std::int64_t pixels = batch * res * res, V = g.mesh.vertices;
  const auto px = static_cast<std::size_t>(pixels);
  std::vector<float> pattern(px * 3);
  for (std::size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<float>(i % 89) / 89.0f - 0.5f;
  c.grad_out = upload(pattern);
  c.grad_attr = zeros(static_cast<std::size_t>(batch * V * 3));
  c.grad_rast = zeros(px * 4);
  c.grad_pos = zeros(static_cast<std::size_t>(batch * V * 4));
  std::vector<float> uv_attr(static_cast<std::size_t>(batch * V * 2));
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t v = 0; v < V; ++v) {  // the grid's own UVs
      const int n = 68;
      uv_attr[static_cast<std::size_t>(2 * (b * V + v))] = static_cast<float>(v % n) / (n - 1);
      uv_attr[static_cast<std::size_t>(2 * (b * V + v) + 1)] = static_cast<float>(v / n) / (n - 1);
    }
  }
  c.uv_attr = upload(uv_attr);
  c.uv = zeros(px * 2);
  c.grad_uv = zeros(px * 2);
  std::vector<float> tex(256 * 256 * 3);
  for (std::size_t i = 0; i < tex.size(); ++i) tex[i] = static_cast<float>((i * 2654435761u) % 1000) / 1000.0f;
  c.tex = upload(tex);
  c.grad_tex = zeros(tex.size());
  c.out2 = zeros(px * 3);
  c.grad_a = zeros(px * 3);
  c.grad_b = zeros(px * 3);
  std::vector<float> light(static_cast<std::size_t>(batch * 9));
  for (std::int64_t b = 0; b < batch; ++b) {
    const float l[9] = {0.3f, 0.4f, 1.0f, 0.2f, 0.2f, 0.25f, 0.8f, 0.75f, 0.7f};
    std::copy(l, l + 9, light.begin() + 9 * b);
  }
  c.light = upload(light);
  c.grad_light = zeros(light.size());
  c.topology = upload(dk::build_edge_topology(g.mesh.tri.data(), g.mesh.triangles(), V));
  {
    deeper::Stream s(g.device);
    dk::rasterize(g.device, c.raster, s.native());
    dk::interpolate(g.device, c.interp, s.native());  // c.out: the 3-channel image used below
    dk::InterpolateParams q = c.interp;
    q.attr = static_cast<const float*>(c.uv_attr.data());
    q.channels = 2;
    q.out = static_cast<float*>(c.uv.data());
    dk::interpolate(g.device, q, s.native());
    s.synchronize();
  }
  const auto* grad_out = static_cast<const float*>(c.grad_out.data());
  auto& ig = c.interp_grad;
  ig.attr = c.interp.attr;
  ig.rast = c.interp.rast;
  ig.tri = c.interp.tri;
  ig.batch = batch;
  ig.vertices = V;
  ig.triangles = c.interp.triangles;
  ig.channels = 3;
  ig.height = ig.width = res;
  ig.grad_out = grad_out;
  ig.grad_attr.grad = static_cast<float*>(c.grad_attr.data());
  ig.grad_rast = static_cast<float*>(c.grad_rast.data());
  ig.check_indices = false;
  auto& rg = c.raster_grad;
  rg.pos = c.raster.pos;
  rg.tri = c.raster.tri;
  rg.batch = batch;
  rg.vertices = V;
  rg.triangles = c.raster.triangles;
  rg.height = rg.width = res;
  rg.rast = c.raster.out;
  rg.grad_rast = ig.grad_rast;
  rg.grad_pos.grad = static_cast<float*>(c.grad_pos.data());
  rg.check_indices = false;
  auto& tp = c.texture;
  tp.tex = static_cast<const float*>(c.tex.data());
  tp.tex_height = tp.tex_width = 256;
  tp.channels = 3;
  tp.batch = batch;
  tp.height = tp.width = res;
  tp.uv = static_cast<const float*>(c.uv.data());
  tp.rast = c.raster.out;
  tp.out = static_cast<float*>(c.out2.data());
  tp.grad_out = grad_out;
  tp.grad_tex.grad = static_cast<float*>(c.grad_tex.data());
  tp.grad_uv = static_cast<float*>(c.grad_uv.data());
  auto& sp = c.shade;
  sp.batch = batch;
  sp.height = sp.width = res;
  sp.normal = c.interp.out;
  sp.albedo = c.interp.out;
  sp.light = static_cast<const float*>(c.light.data());
  sp.rast = c.raster.out;
  sp.out = static_cast<float*>(c.out2.data());
  sp.grad_out = grad_out;
  sp.grad_normal = static_cast<float*>(c.grad_a.data());
  sp.grad_albedo = static_cast<float*>(c.grad_b.data());
  sp.grad_light = static_cast<float*>(c.grad_light.data());
  auto& ap = c.antialias;
  ap.color = c.interp.out;
  ap.rast = c.raster.out;
  ap.pos = c.raster.pos;
  ap.tri = c.raster.tri;
  ap.topology = static_cast<const std::int32_t*>(c.topology.data());
  ap.batch = batch;
  ap.vertices = V;
  ap.triangles = c.raster.triangles;
  ap.channels = 3;
  ap.height = ap.width = res;
  ap.check_indices = false;
  ap.out = static_cast<float*>(c.out2.data());
  ap.grad_out = grad_out;
  ap.grad_color = static_cast<float*>(c.grad_a.data());
  ap.grad_pos.grad = static_cast<float*>(c.grad_pos.data());
  c.edge_mask = deeper::DeviceBuffer(g.device, std::max<std::size_t>(static_cast<std::size_t>(batch * ap.triangles), 16));
  auto& mp = c.edge_mask_params;
  mp.pos = ap.pos;
  mp.tri = ap.tri;
  mp.topology = ap.topology;
  mp.batch = batch;
  mp.vertices = V;
  mp.triangles = ap.triangles;
  mp.height = mp.width = res;
  mp.check_indices = false;
  mp.mask = static_cast<std::uint8_t*>(c.edge_mask.data());
  c.grad_ready = true;
  return c;
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

// A differentiable op: `fn(case, stream)` timed per batch.
template <typename Fn>
void run_grad_op(benchmark::State& state, Fn&& fn) {
  const std::int64_t batch = state.range(0);
  const int res = static_cast<int>(state.range(1));
  Case& c = get_grad_case(batch, res);
  const double seconds = timed_loop(state, [&](deeper::Stream& s) { fn(c, s.native()); });
  report(state, batch, seconds);
}

void BM_interpolate_fwd_bwd(benchmark::State& state) {
  run_grad_op(state, [](Case& c, void* s) {
    dk::interpolate(g.device, c.interp, s);
    dk::interpolate_grad(g.device, c.interp_grad, s);
    dk::rasterize_grad(g.device, c.raster_grad, s);
  });
}
void BM_texture(benchmark::State& state) {
  run_grad_op(state, [](Case& c, void* s) { dk::texture(g.device, c.texture, s); });
}
void BM_texture_fwd_bwd(benchmark::State& state) {
  run_grad_op(state, [](Case& c, void* s) {
    dk::texture(g.device, c.texture, s);
    dk::texture_grad(g.device, c.texture, s);
  });
}
void BM_shade(benchmark::State& state) {
  run_grad_op(state, [](Case& c, void* s) { dk::shade(g.device, c.shade, s); });
}
void BM_shade_fwd_bwd(benchmark::State& state) {
  run_grad_op(state, [](Case& c, void* s) {
    dk::shade(g.device, c.shade, s);
    dk::shade_grad(g.device, c.shade, s);
  });
}
void BM_antialias(benchmark::State& state) {
  run_grad_op(state, [](Case& c, void* s) { dk::antialias(g.device, c.antialias, s); });
}
void BM_antialias_fwd_bwd(benchmark::State& state) {
  run_grad_op(state, [](Case& c, void* s) {
    dk::antialias(g.device, c.antialias, s);
    dk::antialias_grad(g.device, c.antialias, s);
  });
}

// The mask pass and antialias using it (the render pipeline's order; compare with antialias).
void BM_antialias_masked(benchmark::State& state) {
  run_grad_op(state, [](Case& c, void* s) {
    dk::antialias_edge_mask(g.device, c.edge_mask_params, s);
    dk::AntialiasParams p = c.antialias;
    p.edge_mask = c.edge_mask_params.mask;
    dk::antialias(g.device, p, s);
  });
}

}  // namespace

int main(int argc, char** argv) {
  return deeper::bench::run(
      argc, argv, "bench_raster",
      "Rasterizer: rasterize (clear + raster + resolve), interpolate (3 channels) and the differentiable\n"
      "ops (interpolate/rasterize backward, texture, shade, antialias; forward and forward + backward) on a\n"
      "8,978-triangle displaced sphere cap, images/s and ms per batch, batch x resolution {64, 112, 224}.",
      [](const deeper::Device& device) {
        g.device = device;
        g.mesh = rb::sphere_cap_mesh();
        const bool gpu = device.backend == deeper::Backend::cuda;
        const std::vector<std::int64_t> batches = gpu ? std::vector<std::int64_t>{256, 1024} : std::vector<std::int64_t>{16};
        // One (batch, resolution) at a time, every op on it: a case (up to ~7 GB) is built once.
        for (const auto batch : batches) {
          for (const int res : {64, 112, 224}) {
            for (const auto& [name, fn] :
                 {std::pair{"rasterize", &BM_rasterize}, std::pair{"interpolate", &BM_interpolate},
                  std::pair{"interpolate_fwd_bwd", &BM_interpolate_fwd_bwd}, std::pair{"texture", &BM_texture},
                  std::pair{"texture_fwd_bwd", &BM_texture_fwd_bwd}, std::pair{"shade", &BM_shade},
                  std::pair{"shade_fwd_bwd", &BM_shade_fwd_bwd}, std::pair{"antialias", &BM_antialias},
                  std::pair{"antialias_masked", &BM_antialias_masked},
                  std::pair{"antialias_fwd_bwd", &BM_antialias_fwd_bwd}}) {
              benchmark::RegisterBenchmark(name, fn)
                  ->ArgNames({"B", "R"})
                  ->Args({batch, res})
                  ->UseManualTime()
                  ->Unit(benchmark::kMillisecond);
            }
          }
        }
      });
}
