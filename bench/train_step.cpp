// bench_train_step: the whole training step of deeper-train (nn::Trainer::step: render a batch of
// faces on the device, forward, loss, backward, optimizer), in images/s, achieved TFLOP/s and
// MFU, and the render share of the step.
//
// Cases: on a GPU the lab's ResNet-10 (widths 64/128/256/512, 2,000 identities, SGD + momentum,
// batch 256) at 112 and 224 px with wmma_bf16 convolutions, and at 112 px with simt_f32; on the
// CPU the `tiny` preset (64 px, widths 16-128, 16 identities, batch 32). Each case also times the
// render alone (render/<case>). In an sm_90a build the wmma_bf16 cases run again with conv kernel
// version 3 (wgmma; the `_v3` rows).
//
// The render and the step: step/<case> is deeper-train's step, which on a GPU renders the next
// batch on a second stream during the backward pass (nn/data.h, prefetch). On a GPU,
// step_serial/<case> is the same trainer rendering each batch inside its step, on the network's
// stream. Counters: render_share = render alone / serial step (the render's cost as a share of a
// step, issue 3's "< 10%" measure); render_exposed = (step - (serial step - render)) / step, the
// share of the prefetched step that the render still adds (0 when it hides completely).
//
// FLOPs per image: layout.train_flops() = 3 x the forward pass (nn/resnet10.h; 5.36 GFLOP at 224,
// 1.42 at 112). MFU divides the achieved rate by a nominal dense bf16 peak of 989 TFLOP/s (H100 and
// H200 SXM; the spec sheet's figure, not a measurement): a lower bound of the fraction of the
// tensor cores' peak the step uses. Timing: events on the device around each step (the step
// synchronises once to read the loss), one warm-up step, manual time.
#include "bench/harness.h"

#include "nn/config.h"
#include "nn/trainer.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace deeper;

constexpr double kPeakBf16Tflops = 989.0;

struct Case {
  std::string name;
  nn::TrainConfig config;
  kernels::ConvMath math;
  int bf16_kernel = 0;  // nn::TrainerOptions::bf16_conv_kernel
};

std::vector<Case> cases(const Device& device) {
  std::vector<Case> out;
  if (device.backend == Backend::cuda) {
    for (int size : {112, 224}) {
      nn::TrainConfig c = nn::load_preset("paper");
      c.model.input_size = size;
      c.train.batch = 256;
      c.train.steps = 1000000;
      out.push_back({"paper_" + std::to_string(size) + "px_b256_wmma_bf16", c, kernels::ConvMath::wmma_bf16});
#if DEEPER_CUDA_SM90A
      // the same with conv kernel version 3 (sm_90a wgmma) on every conv with vector operands
      out.push_back({"paper_" + std::to_string(size) + "px_b256_wmma_bf16_v3", c, kernels::ConvMath::wmma_bf16, 3});
#endif
    }
    nn::TrainConfig c = nn::load_preset("paper");
    c.model.input_size = 112;
    c.train.batch = 256;
    c.train.steps = 1000000;
    out.push_back({"paper_112px_b256_simt_f32", c, kernels::ConvMath::simt_f32});
  } else {
    nn::TrainConfig c = nn::load_preset("tiny");
    c.train.steps = 1000000;
    out.push_back({"tiny_64px_b32_simt_f32", c, kernels::ConvMath::simt_f32});
  }
  for (auto& k : out) {
    k.config.output.dir = (std::filesystem::temp_directory_path() / ("deeper_bench_train_step_" + k.name)).string();
  }
  return out;
}

struct Bench {
  std::unique_ptr<nn::Trainer> trainer;
  double step_s = 0, serial_s = 0, render_s = 0;
};

// Times `trainer.step()` with the given prefetch mode; returns seconds per step and sets the rate
// counters.
double time_steps(benchmark::State& state, const Device& device, nn::Trainer& trainer, nn::RenderPrefetch mode,
                  double flops, std::int64_t batch) {
  trainer.set_prefetch(mode);
  trainer.step();  // the first step of a mode prefetches for the timed ones
  Stream stream(device);
  const double s = bench::timed_loop(state, stream, [&] { trainer.step(); });
  const double images = static_cast<double>(batch) * static_cast<double>(state.iterations());
  state.counters["images_per_s"] = images / s;
  state.counters["TFLOP_per_s"] = images * flops / s / 1e12;
  if (device.backend == Backend::cuda) state.counters["MFU"] = images * flops / s / 1e12 / kPeakBf16Tflops;
  return s / static_cast<double>(state.iterations());
}

}  // namespace

int main(int argc, char** argv) {
  static std::vector<std::unique_ptr<Bench>> benches;  // alive until the runs are done
  static std::unique_ptr<render::FaceModel> model;
  return bench::run(argc, argv, "bench_train_step",
                    "The whole training step (render + forward + backward + optimizer) of the ResNet-10: images/s,\n"
                    "TFLOP/s, MFU against a nominal 989 TFLOP/s bf16 peak, and the render share of the step.",
                    [](const Device& device) {
                      model = std::make_unique<render::FaceModel>(render::make_procedural_model());
                      for (const Case& k : cases(device)) {
                        std::filesystem::remove_all(k.config.output.dir);
                        auto b = std::make_unique<Bench>();
                        nn::TrainerOptions o;
                        o.device = device;
                        o.math = k.math;
                        o.bf16_conv_kernel = k.bf16_kernel;
                        o.face_model = model.get();
                        b->trainer = std::make_unique<nn::Trainer>(k.config, o);
                        Bench* raw = b.get();
                        benches.push_back(std::move(b));
                        const double flops = nn::resnet10_layout(k.config.model).train_flops();
                        const std::int64_t batch = k.config.train.batch;
                        benchmark::RegisterBenchmark(("render/" + k.name).c_str(),
                                                     [raw, batch, device](benchmark::State& state) {
                                                       Stream stream(device);
                                                       nn::FaceData& data = raw->trainer->data();
                                                       std::uint64_t first = 0;
                                                       const double s = bench::timed_loop(state, stream, [&] {
                                                         data.render(data.train_sampling(), first, batch);
                                                         first += static_cast<std::uint64_t>(batch);
                                                       });
                                                       raw->render_s = s / static_cast<double>(state.iterations());
                                                       state.counters["images_per_s"] =
                                                           static_cast<double>(batch) * static_cast<double>(state.iterations()) / s;
                                                     })
                            ->UseManualTime()
                            ->Unit(benchmark::kMillisecond)
                            ->Iterations(device.backend == Backend::cuda ? 10 : 3);
                        if (device.backend == Backend::cuda) {
                          benchmark::RegisterBenchmark(("step_serial/" + k.name).c_str(),
                                                       [raw, flops, batch, device](benchmark::State& state) {
                                                         raw->serial_s = time_steps(state, device, *raw->trainer,
                                                                                    nn::RenderPrefetch::off, flops, batch);
                                                         if (raw->render_s > 0) state.counters["render_share"] = raw->render_s / raw->serial_s;
                                                       })
                              ->UseManualTime()
                              ->Unit(benchmark::kMillisecond)
                              ->Iterations(10);
                        }
                        benchmark::RegisterBenchmark(("step/" + k.name).c_str(),
                                                     [raw, flops, batch, device](benchmark::State& state) {
                                                       raw->step_s = time_steps(state, device, *raw->trainer,
                                                                                nn::RenderPrefetch::automatic, flops, batch);
                                                       if (raw->render_s > 0 && raw->serial_s > 0) {
                                                         state.counters["render_share"] = raw->render_s / raw->serial_s;
                                                         state.counters["render_exposed"] =
                                                             (raw->step_s - (raw->serial_s - raw->render_s)) / raw->step_s;
                                                       } else if (raw->render_s > 0) {
                                                         state.counters["render_share"] = raw->render_s / raw->step_s;
                                                       }
                                                     })
                            ->UseManualTime()
                            ->Unit(benchmark::kMillisecond)
                            ->Iterations(device.backend == Backend::cuda ? 10 : 3);
                      }
                    });
}
