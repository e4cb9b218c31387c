// Render pipeline benchmark: the whole forward render of face images (renderer/pipeline.h) and each
// of its stages, on the embedded procedural face model (4,761 vertices, 9,248 triangles, 256 x 256
// identity textures).
//
//   bench_render [--device=auto|cpu|cuda[:N]] [Google Benchmark flags]
//
// forward/B:../R:../bf16:0|1   factors (Philox) -> synthesis -> pose and camera -> normals ->
//                         rasterize -> interpolate (UV, normals) -> texture + shade + background ->
//                         antialias (-> bf16) for B images of R x R from the sampling's default
//                         ranges; counters: images_per_s, ms_per_batch, and ms_<stage> (the mean
//                         time of each stage in the batch, from events recorded between stages).
//                         The bf16 output is written by antialias itself (no conversion pass: the
//                         convert stage reports ~0). This renderer saves the per-pixel UVs and
//                         normals for the backward (RenderOptions::save_for_backward, the default).
// forward_only/B:../R:../bf16:0|1   the same forward with save_for_backward = false (training data):
//                         compose interpolates UVs and normals per pixel itself (fused, the same
//                         images bit for bit), so ms_interpolate is ~0 and ms_shade includes the
//                         interpolation; the gain over forward/ is the UV + normal buffers' write and
//                         read (20 B per pixel each way) and two launches.
// forward_sh9/B:../R:..  the forward with spherical-harmonics lighting (27 coefficients per image).
// forward_backward/B:../R:..  the forward above plus renderer/pipeline_grad's backward (d images ->
//                         shape, texture, expression coefficients, pose and light per image, the
//                         gradients copied to the host): images_per_s, ms_per_batch.
// identity_cache/I:..     building the per-identity shapes and textures of I identities (one
//                         blend_rows each over the stacked GLM + basis): identities_per_s.
// Sizes: B = 16, R = 64, 112, 224 on the CPU (bf16 at 112 only; forward_backward 64, 112); B = 256, 1024 on a GPU. Identity set: 64 identities
// on the CPU, 512 on a GPU. GPU work is timed with CUDA events, CPU work with the host clock.
#include "bench/harness.h"
#include "kernels/runtime/device.h"
#include "kernels/runtime/stream.h"
#include "kernels/runtime/tensor.h"
#include "renderer/pipeline.h"
#include "renderer/pipeline_grad.h"

#include <benchmark/benchmark.h>

#include <array>
#include <cstdlib>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace {

using deeper::Device;
namespace dr = deeper::render;

struct Globals {
  Device device;
  dr::FaceModel model;
  dr::IdentitySet ids;
  std::unique_ptr<dr::RenderModel> render_model;
};
Globals g;

void bm_forward(benchmark::State& state, std::int64_t batch, int res, bool bf16, dr::Lighting lighting,
                bool forward_only = false) {
  deeper::Stream stream(g.device);
  dr::RenderOptions o;
  o.width = o.height = res;
  o.save_for_backward = !forward_only;
  dr::Renderer renderer(*g.render_model, o);
  dr::FactorSampling sampling = dr::default_sampling(1, static_cast<std::int32_t>(g.ids.identities.size()));
  sampling.lighting = lighting;
  deeper::Tensor out = deeper::Tensor::empty({batch, res, res, 3}, bf16 ? deeper::DType::bf16 : deeper::DType::f32,
                                             g.device, deeper::Layout::nhwc);
  std::vector<deeper::Event> events;
  for (int i = 0; i <= dr::kRenderStages; ++i) events.emplace_back(g.device);
  std::array<double, dr::kRenderStages> stage_ms{};
  std::int64_t staged = 0;
  bool record = false;
  renderer.on_stage = [&](dr::RenderStage s) {
    if (record) events[static_cast<std::size_t>(s) + 1].record(stream);
  };
  std::uint64_t first = 0;
  const double total = deeper::bench::timed_loop(state, stream, [&] {
    renderer.render(sampling, first, out, &stream);
    first += static_cast<std::uint64_t>(batch);
  });
  // Stage times: a few more batches with events between the stages (not part of the timed loop).
  record = true;
  for (int rep = 0; rep < 3; ++rep) {
    events[0].record(stream);
    renderer.render(sampling, first, out, &stream);
    first += static_cast<std::uint64_t>(batch);
    events.back().synchronize();
    for (int s = 0; s < dr::kRenderStages; ++s) {
      stage_ms[static_cast<std::size_t>(s)] += deeper::elapsed_ms(events[static_cast<std::size_t>(s)],
                                                                  events[static_cast<std::size_t>(s) + 1]);
    }
    ++staged;
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["images_per_s"] = benchmark::Counter(static_cast<double>(batch) * iters / total);
  state.counters["ms_per_batch"] = benchmark::Counter(1e3 * total / iters);
  for (int s = 0; s < dr::kRenderStages; ++s) {
    state.counters[std::string("ms_") + dr::render_stage_name(static_cast<dr::RenderStage>(s))] =
        benchmark::Counter(stage_ms[static_cast<std::size_t>(s)] / static_cast<double>(staged));
  }
}

void bm_forward_backward(benchmark::State& state, std::int64_t batch, int res) {
  deeper::Stream stream(g.device);
  dr::RenderOptions o;
  o.width = o.height = res;
  dr::Renderer renderer(*g.render_model, o);
  dr::RenderBackward backward(*g.render_model, g.model);
  const dr::FactorSampling sampling = dr::default_sampling(1, static_cast<std::int32_t>(g.ids.identities.size()));
  deeper::Tensor out = deeper::Tensor::empty({batch, res, res, 3}, deeper::DType::f32, g.device, deeper::Layout::nhwc);
  deeper::Tensor grad = deeper::Tensor::empty({batch, res, res, 3}, deeper::DType::f32, g.device, deeper::Layout::nhwc);
  deeper::fill_bytes(grad.data_raw(), g.device, 0x3c, static_cast<std::size_t>(grad.nbytes()));  // ~0.011 everywhere
  dr::RenderGradients grads;
  std::uint64_t first = 0;
  const double total = deeper::bench::timed_loop(state, stream, [&] {
    renderer.render(sampling, first, out, &stream);
    backward.backward(renderer, grad, grads, {}, &stream);
    first += static_cast<std::uint64_t>(batch);
  });
  const double iters = static_cast<double>(state.iterations());
  state.counters["images_per_s"] = benchmark::Counter(static_cast<double>(batch) * iters / total);
  state.counters["ms_per_batch"] = benchmark::Counter(1e3 * total / iters);
}

void bm_identity_cache(benchmark::State& state) {
  deeper::Stream stream(g.device);
  const double total = deeper::bench::timed_loop(state, stream, [&] {
    dr::RenderModel m(g.device, g.model, g.ids);
    benchmark::DoNotOptimize(m.identity_textures());
  });
  state.counters["identities_per_s"] =
      benchmark::Counter(static_cast<double>(g.ids.identities.size()) * static_cast<double>(state.iterations()) / total);
}

}  // namespace

int main(int argc, char** argv) {
  return deeper::bench::run(
      argc, argv, "bench_render", "The face render pipeline: whole forward and per-stage times (images/s).",
      [](const Device& device) {
        g.device = device;
        const bool gpu = device.backend == deeper::Backend::cuda;
        g.model = dr::make_procedural_model();
        g.ids = dr::make_identities(g.model, 1, gpu ? 512 : 64);
        g.render_model = std::make_unique<dr::RenderModel>(device, g.model, g.ids);
        // Free the device cache before the CUDA runtime unloads (handlers run in reverse order of
        // registration; the runtime registered its own when the device was selected).
        std::atexit([] { g.render_model.reset(); });
        const std::vector<std::int64_t> batches = gpu ? std::vector<std::int64_t>{256, 1024} : std::vector<std::int64_t>{16};
        for (const std::int64_t b : batches) {
          for (const int r : {64, 112, 224}) {
            for (const bool bf16 : {false, true}) {
              if (bf16 && !gpu && r != 112) continue;
              for (const bool only : {false, true}) {
                const std::string name = std::string(only ? "forward_only" : "forward") + "/B:" + std::to_string(b) +
                                         "/R:" + std::to_string(r) + "/bf16:" + std::to_string(bf16);
                benchmark::RegisterBenchmark(name.c_str(),
                                             [b, r, bf16, only](benchmark::State& st) {
                                               bm_forward(st, b, r, bf16, dr::Lighting::lambert, only);
                                             })
                    ->UseManualTime()
                    ->Unit(benchmark::kMillisecond)
                    ->Iterations(gpu ? 20 : 3);
              }
            }
          }
          // spherical-harmonics lighting at the training size (the shade stage's cost of SH vs Lambert)
          const int r = gpu ? 112 : 64;
          benchmark::RegisterBenchmark(("forward_sh9/B:" + std::to_string(b) + "/R:" + std::to_string(r)).c_str(),
                                       [b, r](benchmark::State& st) { bm_forward(st, b, r, false, dr::Lighting::sh9); })
              ->UseManualTime()
              ->Unit(benchmark::kMillisecond)
              ->Iterations(gpu ? 20 : 3);
        }
        for (const std::int64_t b : batches) {
          for (const int r : gpu ? std::vector<int>{64, 112, 224} : std::vector<int>{64, 112}) {
            benchmark::RegisterBenchmark(("forward_backward/B:" + std::to_string(b) + "/R:" + std::to_string(r)).c_str(),
                                         [b, r](benchmark::State& st) { bm_forward_backward(st, b, r); })
                ->UseManualTime()
                ->Unit(benchmark::kMillisecond)
                ->Iterations(gpu ? 10 : 2);
          }
        }
        benchmark::RegisterBenchmark(("identity_cache/I:" + std::to_string(g.ids.identities.size())).c_str(),
                                     bm_identity_cache)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond)
            ->Iterations(gpu ? 5 : 1);
      });
}
