// kernels/nn layer benchmarks: the memory-bound passes of a ResNet-10 training step, in GB/s against
// the copy ceiling measured in the same run.
//
//   bench_nn_layers [--device=auto|cpu|cuda[:N]] [Google Benchmark flags]
//
// Shapes: on a GPU the stem's output at batch 256, 112 px input (256 x 56 x 56 x 64 fp32, 205 MB per
// tensor, 4x the H100's L2) and the full 5,944,848-parameter buffer; on the CPU batch 4 (12,544 x 64)
// and the same buffer. Bytes counted per call (n = N·H·W·C values of 4 bytes, C channels ignored):
//   bn/forward_train        stats (read x) + apply with ReLU (read x, write y)            12 n
//   bn/backward             partials (read dy, y, x) + apply (read dy, y, x, write dx)     28 n
//   bn_add_relu/forward     stats of x and r, then y = relu(bn(x) + bn_r(r))               20 n
//   bn_add_relu/backward    partials (dy, y, x, r) + apply (dy, y, x, r, write dx, dr)     40 n
//   bn_add_relu/unfused_forward  the same tail unfused: 2 stats, 2 BN applies, add, ReLU   44 n
//   maxpool/forward         3x3/2 'valid' 56 -> 27: read x once, write y and argmax        4 n + 8 out
//   maxpool/backward        read dy and argmax, write dx                                   8 out + 4 n
//   sgd/step                Nesterov momentum + decay + bf16 copy: w, g, buf in, w, buf out 22 per value
//   adamw/step              w, g, m, v in; w, m, v out; bf16 copy                          30 per value
// copy/engine is cudaMemcpyAsync device-to-device (memcpy on the CPU), read + write, the ceiling.
// Each reports GBps and of_ceiling; GPU work is timed with CUDA events (manual time). Inputs are
// random (kernels/common/random_fill), never zeros.
#include "bench/harness.h"
#include "kernels/common/random_fill.h"
#include "kernels/nn/activation.h"
#include "kernels/nn/batchnorm.h"
#include "kernels/nn/optimizer.h"
#include "kernels/nn/pooling.h"
#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"
#include "kernels/runtime/stream.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace {

namespace dk = deeper::kernels;
using deeper::Device;
using deeper::DeviceBuffer;
using deeper::bench::time_once;
using deeper::bench::timed_loop;

struct Setup {
  Device device;
  std::int64_t batch = 0, height = 56, width = 56, channels = 64;
  std::int64_t params = 5944848;
  double ceiling_gbps = 0;
  std::int64_t n() const { return batch * height * width * channels; }
  std::int64_t rows() const { return batch * height * width; }
};
Setup g_setup;

// A buffer of `count` floats, uniform in [lo, hi).
DeviceBuffer random_floats(std::int64_t count, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  DeviceBuffer buffer(g_setup.device, static_cast<std::size_t>(count) * sizeof(float));
  dk::RandomFillParams p;
  p.out = buffer.data();
  p.count = count;
  p.seed = seed;
  p.dist = dk::RandomDistribution::uniform_f32;
  p.scale = hi - lo;
  p.shift = lo;
  dk::random_fill(g_setup.device, p);
  return buffer;
}

float* f(const DeviceBuffer& b) { return static_cast<float*>(b.data()); }

void report(benchmark::State& state, double bytes_per_iteration, double seconds) {
  const double gbps = bytes_per_iteration * static_cast<double>(state.iterations()) / seconds * 1e-9;
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes_per_iteration * static_cast<double>(state.iterations())));
  state.counters["GBps"] = gbps;
  state.counters["of_ceiling"] = gbps / g_setup.ceiling_gbps;
}

// Everything a BN benchmark touches: x, r, y, dy, dx, dr (rows x C) and the per-channel vectors.
struct BnBuffers {
  DeviceBuffer x, r, y, dy, dx, dr, gamma, beta, r_gamma, r_beta, run_mean, run_var, mean, invstd, r_mean, r_invstd,
      dgamma, dbeta, dr_gamma, dr_beta, workspace;
  BnBuffers() {
    const std::int64_t n = g_setup.n(), C = g_setup.channels;
    x = random_floats(n, 1, -2.0, 3.0);
    r = random_floats(n, 2);
    dy = random_floats(n, 3);
    y = DeviceBuffer(g_setup.device, n * sizeof(float));
    dx = DeviceBuffer(g_setup.device, n * sizeof(float));
    dr = DeviceBuffer(g_setup.device, n * sizeof(float));
    gamma = random_floats(C, 4, 0.5, 1.5);
    beta = random_floats(C, 5);
    r_gamma = random_floats(C, 6, 0.5, 1.5);
    r_beta = random_floats(C, 7);
    run_mean = random_floats(C, 8);
    run_var = random_floats(C, 9, 0.5, 1.5);
    for (DeviceBuffer* b : {&mean, &invstd, &r_mean, &r_invstd, &dgamma, &dbeta, &dr_gamma, &dr_beta}) {
      *b = DeviceBuffer(g_setup.device, C * sizeof(float));
    }
    workspace = DeviceBuffer(g_setup.device, dk::batchnorm_workspace_bytes(g_setup.rows(), C));
  }
  dk::BatchNormStatsParams stats(bool residual) const {
    dk::BatchNormStatsParams s;
    s.x = f(residual ? r : x);
    s.rows = g_setup.rows();
    s.channels = g_setup.channels;
    s.eps = 1e-3f;
    s.momentum = 0.01f;
    s.running_mean = residual ? nullptr : f(run_mean);
    s.running_var = residual ? nullptr : f(run_var);
    s.save_mean = f(residual ? r_mean : mean);
    s.save_invstd = f(residual ? r_invstd : invstd);
    s.workspace = workspace.data();
    return s;
  }
  dk::BatchNormApplyParams apply(dk::BnResidual residual) const {
    dk::BatchNormApplyParams a;
    a.rows = g_setup.rows();
    a.channels = g_setup.channels;
    a.x = f(x);
    a.bn = {f(gamma), f(beta), f(mean), f(invstd), nullptr, 0};
    a.residual = residual;
    a.r = f(r);
    a.r_bn = {f(r_gamma), f(r_beta), f(r_mean), f(r_invstd), nullptr, 0};
    a.relu = true;
    a.y = f(y);
    return a;
  }
  dk::BatchNormBackwardParams backward(dk::BnResidual residual) const {
    dk::BatchNormBackwardParams b;
    b.rows = g_setup.rows();
    b.channels = g_setup.channels;
    b.dy = f(dy);
    b.y = f(y);
    b.x = f(x);
    b.bn = {f(gamma), nullptr, f(mean), f(invstd), nullptr, 0};
    b.residual = residual;
    b.r = f(r);
    b.r_bn = {f(r_gamma), nullptr, f(r_mean), f(r_invstd), nullptr, 0};
    b.relu = true;
    b.dx = f(dx);
    b.dgamma = f(dgamma);
    b.dbeta = f(dbeta);
    b.dr = residual == dk::BnResidual::none ? nullptr : f(dr);
    b.dr_gamma = f(dr_gamma);
    b.dr_beta = f(dr_beta);
    b.workspace = workspace.data();
    return b;
  }
};

void BM_bn_forward_train(benchmark::State& state) {
  deeper::Stream stream(g_setup.device);
  BnBuffers b;
  const auto s = b.stats(false);
  const auto a = b.apply(dk::BnResidual::none);
  const double seconds = timed_loop(state, stream, [&] { dk::batchnorm_forward_train(g_setup.device, s, a, stream.native()); });
  report(state, 12.0 * static_cast<double>(g_setup.n()), seconds);
}

void BM_bn_backward(benchmark::State& state) {
  deeper::Stream stream(g_setup.device);
  BnBuffers b;
  dk::batchnorm_forward_train(g_setup.device, b.stats(false), b.apply(dk::BnResidual::none), stream.native());
  const auto p = b.backward(dk::BnResidual::none);
  const double seconds = timed_loop(state, stream, [&] { dk::batchnorm_backward(g_setup.device, p, stream.native()); });
  report(state, 28.0 * static_cast<double>(g_setup.n()), seconds);
}

void BM_bn_add_relu_forward(benchmark::State& state) {
  deeper::Stream stream(g_setup.device);
  BnBuffers b;
  const auto s = b.stats(false), rs = b.stats(true);
  const auto a = b.apply(dk::BnResidual::batchnorm);
  const double seconds = timed_loop(state, stream, [&] {
    dk::batchnorm_stats(g_setup.device, rs, stream.native());
    dk::batchnorm_forward_train(g_setup.device, s, a, stream.native());
  });
  report(state, 20.0 * static_cast<double>(g_setup.n()), seconds);
}

// The same tail without fusion: stats of both, two BN applies (r's written in place to dr),
// an add and a ReLU; counts the bytes it really moves (44 n: 4 + 4 + 8 + 8 + 12 + 8), so its time
// against bn_add_relu/forward's is what fusion saves.
void BM_bn_add_relu_unfused(benchmark::State& state) {
  deeper::Stream stream(g_setup.device);
  BnBuffers b;
  const auto s = b.stats(false), rs = b.stats(true);
  auto a = b.apply(dk::BnResidual::none);
  a.relu = false;
  auto ar = a;
  ar.x = f(b.r);
  ar.bn = {f(b.r_gamma), f(b.r_beta), f(b.r_mean), f(b.r_invstd), nullptr, 0};
  ar.y = f(b.dr);
  const std::int64_t n = g_setup.n();
  const double seconds = timed_loop(state, stream, [&] {
    dk::batchnorm_stats(g_setup.device, rs, stream.native());
    dk::batchnorm_forward_train(g_setup.device, s, a, stream.native());
    dk::batchnorm_apply(g_setup.device, ar, stream.native());
    dk::add(g_setup.device, {n, f(b.y), f(b.dr), f(b.y)}, stream.native());
    dk::relu_forward(g_setup.device, {n, f(b.y), f(b.y)}, stream.native());
  });
  report(state, 44.0 * static_cast<double>(n), seconds);
}

void BM_bn_add_relu_backward(benchmark::State& state) {
  deeper::Stream stream(g_setup.device);
  BnBuffers b;
  dk::batchnorm_stats(g_setup.device, b.stats(true), stream.native());
  dk::batchnorm_forward_train(g_setup.device, b.stats(false), b.apply(dk::BnResidual::batchnorm), stream.native());
  const auto p = b.backward(dk::BnResidual::batchnorm);
  const double seconds = timed_loop(state, stream, [&] { dk::batchnorm_backward(g_setup.device, p, stream.native()); });
  report(state, 40.0 * static_cast<double>(g_setup.n()), seconds);
}

void BM_maxpool(benchmark::State& state, bool backward) {
  deeper::Stream stream(g_setup.device);
  const std::int64_t n = g_setup.n();
  const std::int64_t Ho = dk::pool_output_size(g_setup.height, 3, 2, 0), Wo = dk::pool_output_size(g_setup.width, 3, 2, 0);
  const std::int64_t out = g_setup.batch * Ho * Wo * g_setup.channels;
  auto x = random_floats(n, 11), dy = random_floats(out, 12);
  DeviceBuffer y(g_setup.device, out * sizeof(float)), argmax(g_setup.device, out * sizeof(std::int32_t)),
      dx(g_setup.device, n * sizeof(float));
  const dk::MaxPoolParams fp{g_setup.batch, g_setup.height, g_setup.width, g_setup.channels, 3, 2, 0, f(x), f(y),
                             static_cast<std::int32_t*>(argmax.data())};
  const dk::MaxPoolBackwardParams bp{g_setup.batch, g_setup.height, g_setup.width, g_setup.channels, 3, 2, 0, f(dy),
                                     static_cast<const std::int32_t*>(argmax.data()), f(dx)};
  dk::maxpool_forward(g_setup.device, fp, stream.native());
  const double seconds = timed_loop(state, stream, [&] {
    if (backward) {
      dk::maxpool_backward(g_setup.device, bp, stream.native());
    } else {
      dk::maxpool_forward(g_setup.device, fp, stream.native());
    }
  });
  report(state, 4.0 * static_cast<double>(n) + 8.0 * static_cast<double>(out), seconds);
}

dk::ParamSegments resnet10_segments() {
  dk::ParamSegments s;  // conv weights and biases (decay), BN parameters (no decay), dense (decay)
  s.size = 3;
  s.segment[0] = {0, 4907072, true};
  s.segment[1] = {4907072, 11776, false};
  s.segment[2] = {4918848, g_setup.params - 4918848, true};
  return s;
}

void BM_sgd(benchmark::State& state) {
  deeper::Stream stream(g_setup.device);
  const std::int64_t n = g_setup.params;
  auto w = random_floats(n, 21), g = random_floats(n, 22, -1e-3, 1e-3), buf = random_floats(n, 23, -1e-3, 1e-3);
  DeviceBuffer bf(g_setup.device, n * sizeof(std::uint16_t));
  dk::SgdParams p;
  p.n = n;
  p.weights = f(w);
  p.grads = f(g);
  p.momentum_buffer = f(buf);
  p.weights_bf16 = static_cast<std::uint16_t*>(bf.data());
  p.lr = 0.01;
  p.momentum = 0.9;
  p.nesterov = true;
  p.weight_decay = 5e-4;
  p.step = 2;
  p.segments = resnet10_segments();
  const double seconds = timed_loop(state, stream, [&] { dk::sgd_step(g_setup.device, p, stream.native()); });
  report(state, 22.0 * static_cast<double>(n), seconds);
}

void BM_adamw(benchmark::State& state) {
  deeper::Stream stream(g_setup.device);
  const std::int64_t n = g_setup.params;
  auto w = random_floats(n, 31), g = random_floats(n, 32, -1e-3, 1e-3), m = random_floats(n, 33, -1e-3, 1e-3),
       v = random_floats(n, 34, 0.0, 1e-6);
  DeviceBuffer bf(g_setup.device, n * sizeof(std::uint16_t));
  dk::AdamWParams p;
  p.n = n;
  p.weights = f(w);
  p.grads = f(g);
  p.exp_avg = f(m);
  p.exp_avg_sq = f(v);
  p.weights_bf16 = static_cast<std::uint16_t*>(bf.data());
  p.step = 10;
  p.segments = resnet10_segments();
  const double seconds = timed_loop(state, stream, [&] { dk::adamw_step(g_setup.device, p, stream.native()); });
  report(state, 30.0 * static_cast<double>(n), seconds);
}

void engine_copy(const DeviceBuffer& src, DeviceBuffer& dst, deeper::Stream& stream) {
  deeper::copy_bytes(dst.data(), g_setup.device, src.data(), g_setup.device, src.bytes(), &stream);
}

void BM_copy_engine(benchmark::State& state) {
  deeper::Stream stream(g_setup.device);
  auto src = random_floats(g_setup.n(), 41);
  DeviceBuffer dst(g_setup.device, src.bytes());
  const double seconds = timed_loop(state, stream, [&] { engine_copy(src, dst, stream); });
  report(state, 2.0 * static_cast<double>(src.bytes()), seconds);
}

// Median GB/s of 10 engine copies of one activation tensor, before any benchmark runs.
double measure_ceiling() {
  deeper::Stream stream(g_setup.device);
  auto src = random_floats(g_setup.n(), 42);
  DeviceBuffer dst(g_setup.device, src.bytes());
  engine_copy(src, dst, stream);
  std::vector<double> rates;
  for (int i = 0; i < 10; ++i) {
    const double s = time_once(stream, [&] { engine_copy(src, dst, stream); });
    rates.push_back(2.0 * static_cast<double>(src.bytes()) / s * 1e-9);
  }
  std::nth_element(rates.begin(), rates.begin() + 5, rates.end());
  return rates[5];
}

}  // namespace

int main(int argc, char** argv) {
  return deeper::bench::run(
      argc, argv, "bench_nn_layers",
      "BatchNorm forward/backward, the fused BN + add + ReLU block tail (and unfused), max-pool and the SGD / AdamW "
      "updates on ResNet-10 shapes, in GB/s and as a fraction of the copy ceiling.",
      [](const Device& device) {
        g_setup.device = device;
        g_setup.batch = device.backend == deeper::Backend::cuda ? 256 : 4;
        g_setup.ceiling_gbps = measure_ceiling();
        std::fprintf(stderr,
                     "bench_nn_layers: copy ceiling %.1f GB/s (read + write); activations %lld x %lld x %lld x %lld "
                     "(%.0f MB per tensor), %lld parameters\n",
                     g_setup.ceiling_gbps, static_cast<long long>(g_setup.batch), static_cast<long long>(g_setup.height),
                     static_cast<long long>(g_setup.width), static_cast<long long>(g_setup.channels),
                     4e-6 * static_cast<double>(g_setup.n()), static_cast<long long>(g_setup.params));
        const auto reg = [](const char* name, auto fn) {
          benchmark::RegisterBenchmark(name, fn)->UseManualTime()->Unit(benchmark::kMillisecond);
        };
        reg("copy/engine", BM_copy_engine);
        reg("bn/forward_train", BM_bn_forward_train);
        reg("bn/backward", BM_bn_backward);
        reg("bn_add_relu/forward", BM_bn_add_relu_forward);
        reg("bn_add_relu/unfused_forward", BM_bn_add_relu_unfused);
        reg("bn_add_relu/backward", BM_bn_add_relu_backward);
        reg("maxpool/forward", [](benchmark::State& s) { BM_maxpool(s, false); });
        reg("maxpool/backward", [](benchmark::State& s) { BM_maxpool(s, true); });
        reg("sgd/step", BM_sgd);
        reg("adamw/step", BM_adamw);
      });
}
