// Convolution benchmarks: conv2d forward, dgrad and wgrad (kernels/nn/conv2d.h) on the 13 conv layers
// of the lab's ResNet-10 (kernels/nn/conv_shape.h).
//
//   bench_conv [--device=auto|cpu|cuda[:N]] [Google Benchmark flags]
//
// conv/<op>/<math>/<layer>/B:../R:..   one call of the op; counters TFLOPs (2*N*P*Q*K*R*S*C per
//                                      second, the useful FLOPs for every op), ms, and the layer's
//                                      shape (N, H, C, K, R, stride).
// Sizes: batch 256 at input resolution 112 and 224 px on a GPU (math simt_f32 and wmma_bf16, the
// latter also as wmma_bf16_v1: kernel version 1 forced, and wmma_bf16_narrow: version 2 on version
// 1's tiles, without the 64 x 64 warp tiles, to isolate what they and the tile rule change),
// batch 2 at 112 px on the CPU: simt_f32 is the cpu backend (im2col + OpenBLAS sgemm,
// kernels/nn/conv2d_cpu_gemm.h) and cpu_ref the reference loops it replaced (conv2d_*_ref<float>), side
// by side in the same run. wmma_bf16 writes fp32
// outputs (forward and dgrad, like wgrad); automatic split-K. Operands hold small multiples of 1/8
// (exact in bf16). GPU work is timed with CUDA events, CPU work with the host clock; one warm-up
// call first.
#include "bench/harness.h"
#include "kernels/nn/conv2d.h"
#include "kernels/nn/conv_shape.h"
#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"
#include "kernels/runtime/stream.h"

#include <benchmark/benchmark.h>

#include <cuda_bf16.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace {

using deeper::Device;
namespace dk = deeper::kernels;

// One set of operand buffers per (batch, resolution), sized for its largest layer.
struct Buffers {
  std::int64_t batch = 0;
  int res = 0;
  deeper::DeviceBuffer x, w, dy, x16, w16, dy16, out;
};

struct Globals {
  Device device;
  Buffers buffers;
};
// Never destroyed: device buffers freed by a static destructor would run after the CUDA runtime has
// shut down (cudaErrorCudartUnloading warnings); the process exit releases them.
Globals& g = *new Globals;

Buffers& buffers_for(std::int64_t batch, int res) {
  if (g.buffers.batch == batch && g.buffers.res == res) return g.buffers;
  g.buffers = Buffers{};
  std::int64_t xn = 1, wn = 1, yn = 1;
  for (const auto& l : dk::resnet10_conv_shapes(batch, res)) {
    xn = std::max(xn, l.shape.x_elements());
    wn = std::max(wn, l.shape.w_elements());
    yn = std::max(yn, l.shape.y_elements());
  }
  std::vector<float> host(static_cast<std::size_t>(std::max({xn, wn, yn})));
  for (std::size_t i = 0; i < host.size(); ++i) host[i] = static_cast<float>(static_cast<int>((i * 7919u) % 17u) - 8) * 0.125f;
  std::vector<__nv_bfloat16> host16(host.size());
  for (std::size_t i = 0; i < host.size(); ++i) host16[i] = __float2bfloat16_rn(host[i]);
  auto make = [&](std::int64_t count, bool bf16) {
    const std::size_t bytes = static_cast<std::size_t>(count) * (bf16 ? 2 : 4);
    deeper::DeviceBuffer b(g.device, bytes);
    deeper::copy_bytes(b.data(), g.device, bf16 ? static_cast<const void*>(host16.data()) : host.data(), Device::cpu(),
                       bytes);
    return b;
  };
  Buffers& b = g.buffers;
  b.batch = batch;
  b.res = res;
  b.x = make(xn, false);
  b.w = make(wn, false);
  b.dy = make(yn, false);
  const bool gpu = g.device.backend == deeper::Backend::cuda;
  if (gpu) {
    b.x16 = make(xn, true);
    b.w16 = make(wn, true);
    b.dy16 = make(yn, true);
  }
  b.out = deeper::DeviceBuffer(g.device, static_cast<std::size_t>(std::max({xn, wn, yn})) * 4);
  return b;
}

void BM_conv(benchmark::State& state, dk::ConvOp op, dk::ConvMath math, int bf16_kernel, dk::ConvTile tile,
             bool reference, const dk::NamedConvShape& layer, int res) {
  const auto& s = layer.shape;
  Buffers& b = buffers_for(s.batch, res);
  dk::Conv2dParams p;
  p.shape = s;
  p.math = math;
  p.bf16_kernel = bf16_kernel;
  p.mma_tile = tile;
  p.x = static_cast<const float*>(b.x.data());
  p.w = static_cast<const float*>(b.w.data());
  p.dy = static_cast<const float*>(b.dy.data());
  p.x_bf16 = static_cast<const __nv_bfloat16*>(b.x16.data());
  p.w_bf16 = static_cast<const __nv_bfloat16*>(b.w16.data());
  p.dy_bf16 = static_cast<const __nv_bfloat16*>(b.dy16.data());
  p.y = p.dx = p.dw = static_cast<float*>(b.out.data());
  deeper::Stream stream(g.device);
  namespace ci = dk::cpu_impl;
  const double seconds = deeper::bench::timed_loop(state, stream, [&] {
    if (reference) {  // the cpu's reference loops
      if (op == dk::ConvOp::forward) ci::conv2d_forward_ref<float>(s, p.x, p.w, p.y);
      if (op == dk::ConvOp::dgrad) ci::conv2d_dgrad_ref<float>(s, p.dy, p.w, p.dx);
      if (op == dk::ConvOp::wgrad) ci::conv2d_wgrad_ref<float>(s, p.x, p.dy, p.dw);
      return;
    }
    if (op == dk::ConvOp::forward) dk::conv2d_forward(g.device, p, stream.native());
    if (op == dk::ConvOp::dgrad) dk::conv2d_dgrad(g.device, p, stream.native());
    if (op == dk::ConvOp::wgrad) dk::conv2d_wgrad(g.device, p, stream.native());
  });
  const double iterations = static_cast<double>(state.iterations());
  state.counters["TFLOPs"] = s.flops() * iterations / seconds * 1e-12;
  state.counters["ms"] = seconds / iterations * 1e3;
  state.counters["N"] = static_cast<double>(s.batch);
  state.counters["H"] = s.height;
  state.counters["C"] = s.in_channels;
  state.counters["K"] = s.out_channels;
  state.counters["R"] = s.kernel_h;
  state.counters["stride"] = s.stride_h;
}

}  // namespace

int main(int argc, char** argv) {
  return deeper::bench::run(
      argc, argv, "bench_conv",
      "conv2d forward, dgrad and wgrad on the 13 ResNet-10 conv layers: TFLOP/s and ms per call,\n"
      "batch 256 at 112 and 224 px on a GPU (simt_f32 and wmma_bf16), batch 2 at 112 px on the CPU.",
      [](const Device& device) {
        g.device = device;
        const bool gpu = device.backend == deeper::Backend::cuda;
        const std::int64_t batch = gpu ? 256 : 2;
        const std::vector<int> resolutions = gpu ? std::vector<int>{112, 224} : std::vector<int>{112};
        // (math, bf16 kernel version, version 2's tile, name): wmma_bf16 is the automatic choice
        // (version 2 where the operands allow, its tile per layer), wmma_bf16_v1 forces version 1
        // and wmma_bf16_narrow version 2 on version 1's tiles (no stem row: C = 3 runs version 1)
        struct Variant {
          dk::ConvMath math;
          int bf16_kernel;
          dk::ConvTile tile;
          const char* name;
          bool reference = false;  // the cpu's reference loops instead of the backend
        };
        constexpr auto kAuto = dk::ConvTile::automatic;
        std::vector<Variant> variants =
            gpu ? std::vector<Variant>{{dk::ConvMath::wmma_bf16, 0, kAuto, "wmma_bf16"},
                                       {dk::ConvMath::wmma_bf16, 1, kAuto, "wmma_bf16_v1"},
                                       {dk::ConvMath::wmma_bf16, 0, dk::ConvTile::narrow, "wmma_bf16_narrow"},
                                       {dk::ConvMath::simt_f32, 0, kAuto, "simt_f32"}}
                : std::vector<Variant>{{dk::ConvMath::simt_f32, 0, kAuto, "simt_f32"},
                                       {dk::ConvMath::simt_f32, 0, kAuto, "cpu_ref", true}};
#if DEEPER_CUDA_SM90A
        // version 3 (sm_90a wgmma): the layers with vector operands (no stem row)
        if (gpu) variants.insert(variants.begin() + 1, {dk::ConvMath::wmma_bf16, 3, kAuto, "wmma_bf16_v3"});
#endif
        for (const auto& v : variants) {
          for (const int res : resolutions) {
            for (const auto& layer : dk::resnet10_conv_shapes(batch, res)) {
              for (const auto op : {dk::ConvOp::forward, dk::ConvOp::dgrad, dk::ConvOp::wgrad}) {
                const std::string name = std::string("conv/") +
                                         (op == dk::ConvOp::forward ? "forward"
                                          : op == dk::ConvOp::dgrad ? "dgrad"
                                                                    : "wgrad") +
                                         "/" + v.name + "/" + layer.name + "/B:" + std::to_string(batch) +
                                         "/R:" + std::to_string(res);
                const dk::ConvMath math = v.math;
                const int kernel = v.bf16_kernel;
                const dk::ConvTile tile = v.tile;
                const bool reference = v.reference;
                // the stem (C = 3) takes version 1, where a version-2 tile is an error
                // and version 3 needs vector operands too
                if ((tile != kAuto || kernel == 3) &&
                    (layer.shape.in_channels % 8 != 0 || layer.shape.out_channels % 8 != 0)) {
                  continue;
                }
                benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) {
                  BM_conv(st, op, math, kernel, tile, reference, layer, res);
                })
                    ->UseManualTime()
                    ->Unit(benchmark::kMillisecond);
              }
            }
          }
        }
      });
}
