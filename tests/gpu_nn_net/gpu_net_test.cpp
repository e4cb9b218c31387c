// The ResNet-10 (nn/network.h, nn/inference.h, nn/trainer.h) on CUDA against the CPU reference.
#include "core/error.h"
#include "kernels/nn/channel_pad.h"
#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"
#include "nn/config.h"
#include "nn/data.h"
#include "nn/inference.h"
#include "nn/network.h"
#include "nn/parameters.h"
#include "nn/trainer.h"
#include "renderer/face_model.h"
#include "tests/nn_net/net_test_util.h"
#include "tests/support/gpu_test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#if DEEPER_HAVE_CUDA_KERNELS
namespace {

namespace dk = deeper::kernels;
using deeper::Device;
using deeper::DeviceBuffer;
using deeper::nn::BnMode;
using deeper::nn::NetworkBuffersT;
using deeper::nn::ParamKind;

struct NetRun {
  std::vector<float> logits, grads, stats;
  double loss = 0;
};

// epilogue_stats: Network::set_epilogue_bn_stats; epilogue_convs (optional): epilogue_stat_convs().
NetRun run(const Device& device, dk::ConvMath math, const deeper::nn::ModelConfig& m, std::int64_t batch,
           bool pad_stem = true, bool epilogue_stats = true, int* epilogue_convs = nullptr) {
  const auto layout = deeper::nn::resnet10_layout(m);
  const auto p = net_test::random_params(layout, 5);
  DeviceBuffer params = net_test::upload(device, p);
  DeviceBuffer grads(device, p.size() * sizeof(float));
  deeper::fill_bytes(grads.data(), device, 0, grads.bytes());
  DeviceBuffer stats = net_test::upload(device, std::vector<float>(static_cast<std::size_t>(layout.stat_buffer_elements), 0.5f));
  DeviceBuffer bf16(device, p.size() * sizeof(std::uint16_t));
  deeper::nn::params_to_bf16(device, static_cast<const float*>(params.data()), static_cast<std::uint16_t*>(bf16.data()),
                             static_cast<std::int64_t>(p.size()));
  DeviceBuffer images = net_test::upload(device, net_test::random_images(batch, m.input_size, 11));
  DeviceBuffer labels = net_test::upload(device, net_test::random_labels(batch, m.classes, 13));
  deeper::nn::Network net(device, layout, batch, math);
  net.set_stem_channel_padding(pad_stem);
  net.set_epilogue_bn_stats(epilogue_stats);
  NetworkBuffersT<float> b{static_cast<float*>(params.data()), static_cast<float*>(grads.data()),
                           static_cast<float*>(stats.data()), static_cast<std::uint16_t*>(bf16.data())};
  const float* logits = net.forward(b, static_cast<float*>(images.data()), batch, BnMode::train);
  if (epilogue_convs != nullptr) *epilogue_convs = net.epilogue_stat_convs();
  const auto r = net.loss(static_cast<std::int32_t*>(labels.data()));
  net.backward(b);
  NetRun out;
  out.logits = net_test::download(device, logits, batch * m.classes);
  out.loss = r.loss;
  out.grads = net_test::download(device, static_cast<float*>(grads.data()), static_cast<std::int64_t>(p.size()));
  out.stats = net_test::download(device, static_cast<float*>(stats.data()), layout.stat_buffer_elements);
  return out;
}

// Relative L2 error per trainable tensor (conv biases, whose gradients are rounding noise, by atol).
void expect_grads_close(const deeper::nn::NetworkLayout& layout, const NetRun& got, const NetRun& want, double rel,
                        const std::string& what) {
  for (const auto& v : layout.params) {
    double d = 0, n = 0, worst = 0;
    for (std::int64_t i = 0; i < v.numel; ++i) {
      const double g = got.grads[static_cast<std::size_t>(v.offset + i)], w = want.grads[static_cast<std::size_t>(v.offset + i)];
      d += (g - w) * (g - w);
      n += w * w;
      worst = std::max(worst, std::abs(g - w));
    }
    if (v.kind == ParamKind::conv_bias) {
      EXPECT_LT(worst, 1e-4) << what << " " << v.name;
    } else {
      EXPECT_LE(std::sqrt(d), rel * std::sqrt(n) + 1e-7) << what << " " << v.name;
    }
  }
}

const deeper::nn::ModelConfig kModel = net_test::tiny_model({16, 32, 64, 128}, 64, 20);

TEST(GpuNetwork, SimtF32MatchesTheCpu) {
  DEEPER_REQUIRE_CUDA();
  const auto layout = deeper::nn::resnet10_layout(kModel);
  const NetRun cpu = run(Device::cpu(), dk::ConvMath::simt_f32, kModel, 8);
  const NetRun gpu = run(Device::cuda(0), dk::ConvMath::simt_f32, kModel, 8);
  net_test::expect_close(gpu.logits, cpu.logits, 1e-3, 1e-3, "simt logits");
  EXPECT_NEAR(gpu.loss, cpu.loss, 1e-4 * (1 + cpu.loss));
  net_test::expect_close(gpu.stats, cpu.stats, 1e-4, 1e-3, "running statistics");
  expect_grads_close(layout, gpu, cpu, 2e-3, "simt");
}

TEST(GpuNetwork, WmmaBf16MatchesTheCpuBf16Path) {
  DEEPER_REQUIRE_CUDA();
  const auto layout = deeper::nn::resnet10_layout(kModel);
  const NetRun cpu = run(Device::cpu(), dk::ConvMath::wmma_bf16, kModel, 8);
  const NetRun gpu = run(Device::cuda(0), dk::ConvMath::wmma_bf16, kModel, 8);
  net_test::expect_close(gpu.logits, cpu.logits, 1e-2, 1e-2, "wmma logits");
  EXPECT_NEAR(gpu.loss, cpu.loss, 1e-2 * (1 + cpu.loss));
  expect_grads_close(layout, gpu, cpu, 5e-2, "wmma");
}

// The wmma_bf16 stem padded to 8 input channels (version 2 on vector operands) against the plain
// C = 3 stem (version 1's element-wise loader) on the GPU, and against the cpu's padded run.
TEST(GpuNetwork, PaddedBf16StemMatchesThePlainStemAndTheCpu) {
  DEEPER_REQUIRE_CUDA();
  const auto layout = deeper::nn::resnet10_layout(kModel);
  const NetRun plain = run(Device::cuda(0), dk::ConvMath::wmma_bf16, kModel, 8, false);
  const NetRun padded = run(Device::cuda(0), dk::ConvMath::wmma_bf16, kModel, 8, true);
  const NetRun cpu = run(Device::cpu(), dk::ConvMath::wmma_bf16, kModel, 8, true);
  net_test::expect_close(padded.logits, plain.logits, 1e-3, 1e-3, "padded vs plain logits");
  EXPECT_NEAR(padded.loss, plain.loss, 1e-4 * (1 + plain.loss));
  expect_grads_close(layout, padded, plain, 1e-2, "padded vs plain");
  net_test::expect_close(padded.logits, cpu.logits, 1e-2, 1e-2, "padded gpu vs cpu logits");
  expect_grads_close(layout, padded, cpu, 5e-2, "padded gpu vs cpu");
}

// BN statistics from the conv epilogue (version 2's stat_partials, all 13 convs with the padded
// stem) against batchnorm_stats on the GPU: the same training step up to the order of the fp64
// sums (logits, loss, running statistics, every gradient).
TEST(GpuNetwork, EpilogueBnStatisticsMatchBatchnormStats) {
  DEEPER_REQUIRE_CUDA();
  const auto layout = deeper::nn::resnet10_layout(kModel);
  int with = -1, without = -1;
  const NetRun epi = run(Device::cuda(0), dk::ConvMath::wmma_bf16, kModel, 8, true, true, &with);
  const NetRun old = run(Device::cuda(0), dk::ConvMath::wmma_bf16, kModel, 8, true, false, &without);
  EXPECT_EQ(with, 13);
  EXPECT_EQ(without, 0);
  net_test::expect_close(epi.logits, old.logits, 1e-4, 1e-4, "epilogue vs batchnorm_stats logits");
  EXPECT_NEAR(epi.loss, old.loss, 1e-5 * (1 + old.loss));
  net_test::expect_close(epi.stats, old.stats, 1e-5, 1e-5, "epilogue vs batchnorm_stats running statistics");
  expect_grads_close(layout, epi, old, 1e-3, "epilogue vs batchnorm_stats");
}

// The three channel-pad kernels at the lab's stem shapes (batch 8 at 112 px: 8 x 112 x 112 x 3
// images, 64 x 7 x 7 x 3 weights), bit for bit against the cpu, both store paths.
TEST(GpuChannelPad, StemShapesMatchTheCpuBitForBit) {
  DEEPER_REQUIRE_CUDA();
  using deeper::test::to_gpu;
  using deeper::test::to_host;
  const Device gpu = Device::cuda(0);
  const std::int64_t pixels = 8 * 112 * 112, wrows = 64 * 49;
  const auto images = net_test::random_images(8, 112, 21);
  for (int offset : {0, 1}) {  // 16-byte aligned output (vector stores), one element off (per value)
    std::vector<std::uint16_t> want(static_cast<std::size_t>(pixels * 8 + 1), 0xFFFF);
    dk::PadChannelsToBf16Params p;
    p.in = images.data();
    p.out = want.data() + offset;
    p.rows = pixels;
    p.channels = 3;
    p.padded_channels = 8;
    dk::pad_channels_to_bf16(Device::cpu(), p);
    DeviceBuffer in = to_gpu(images);
    DeviceBuffer out = to_gpu(std::vector<std::uint16_t>(want.size(), 0xFFFF));
    p.in = static_cast<const float*>(in.data());
    p.out = static_cast<std::uint16_t*>(out.data()) + offset;
    dk::pad_channels_to_bf16(gpu, p);
    EXPECT_EQ(to_host<std::uint16_t>(out, want.size()), want) << "images, offset " << offset;
  }
  std::vector<std::uint16_t> w16(static_cast<std::size_t>(wrows * 3));
  for (std::size_t i = 0; i < w16.size(); ++i) w16[i] = static_cast<std::uint16_t>((i * 2654435761u) >> 16);
  std::vector<std::uint16_t> wpad(static_cast<std::size_t>(wrows * 8), 0xFFFF);
  dk::PadChannelsBf16Params wp;
  wp.in = w16.data();
  wp.out = wpad.data();
  wp.rows = wrows;
  wp.channels = 3;
  wp.padded_channels = 8;
  dk::pad_channels_bf16(Device::cpu(), wp);
  DeviceBuffer gw = to_gpu(w16), gwpad = to_gpu(std::vector<std::uint16_t>(wpad.size(), 0xFFFF));
  wp.in = static_cast<const std::uint16_t*>(gw.data());
  wp.out = static_cast<std::uint16_t*>(gwpad.data());
  dk::pad_channels_bf16(gpu, wp);
  EXPECT_EQ(to_host<std::uint16_t>(gwpad, wpad.size()), wpad) << "weights";
  const auto dw = net_test::random_images(1, 112, 5);  // 37,632 >= 64 x 49 x 8 values
  for (bool accumulate : {false, true}) {
    std::vector<float> want(static_cast<std::size_t>(wrows * 3), 0.25f);
    dk::UnpadChannelsParams u;
    u.in = dw.data();
    u.out = want.data();
    u.rows = wrows;
    u.channels = 3;
    u.padded_channels = 8;
    u.accumulate = accumulate;
    dk::unpad_channels(Device::cpu(), u);
    DeviceBuffer gin = to_gpu(dw), gout = to_gpu(std::vector<float>(want.size(), 0.25f));
    u.in = static_cast<const float*>(gin.data());
    u.out = static_cast<float*>(gout.data());
    dk::unpad_channels(gpu, u);
    const auto got = to_host<float>(gout, want.size());
    EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)), 0) << "accumulate " << accumulate;
  }
}

TEST(GpuNetwork, InferenceMatchesTheCpu) {
  DEEPER_REQUIRE_CUDA();
  const auto layout = deeper::nn::resnet10_layout(kModel);
  const auto p = net_test::random_params(layout, 2);
  const std::vector<float> s(static_cast<std::size_t>(layout.stat_buffer_elements), 0.8f);
  deeper::nn::ParameterStore cs(Device::cpu(), layout, deeper::nn::OptimizerKind::sgd),
      gs(Device::cuda(0), layout, deeper::nn::OptimizerKind::sgd);
  cs.upload_params(p);
  gs.upload_params(p);
  cs.upload_stats(s);
  gs.upload_stats(s);
  deeper::nn::InferenceModel a(cs, 8), b(gs, 8);
  const auto host = net_test::random_images(8, 64, 3);
  deeper::Tensor ci = deeper::Tensor::empty({8, 64, 64, 3}, deeper::DType::f32, Device::cpu());
  deeper::copy_bytes(ci.data_raw(), Device::cpu(), host.data(), Device::cpu(), ci.nbytes());
  a.run(ci);
  b.run(ci.to(Device::cuda(0)));
  for (int l = 1; l <= 11; ++l) {
    net_test::expect_close(b.activation_host(l), a.activation_host(l), 1e-3, 1e-3, "layer " + std::to_string(l));
  }
}

// The tiny preset (its narrow factor ranges, 64 px, widths 16-128) on 8 identities, batch 64, for
// `steps` steps in a fresh folder `name` under the temp directory, and wmma_bf16 trainer options on
// the GPU.
std::pair<deeper::nn::TrainConfig, deeper::nn::TrainerOptions> gpu_tiny_run(const std::string& name, std::int64_t steps) {
  const auto dir = std::filesystem::temp_directory_path() / name;
  std::filesystem::remove_all(dir);
  deeper::nn::TrainConfig c = deeper::nn::load_preset("tiny");
  c.model.classes = 8;
  c.train.batch = 64;
  c.train.steps = steps;
  c.eval.images = 0;
  c.checkpoint.every = 0;
  c.output.dir = dir.string();
  deeper::nn::TrainerOptions o;
  o.device = Device::cuda(0);
  o.math = dk::ConvMath::wmma_bf16;
  o.progress.mode = deeper::ProgressMode::lines;
  return {c, o};
}

TEST(GpuTrainer, AFewStepsOnRenderedFacesLowerTheLoss) {
  DEEPER_REQUIRE_CUDA();
  auto [c, o] = gpu_tiny_run("deeper_gpu_nn_net_train", 30);
  c.model.bn_momentum = 0.9;  // running statistics settle within 30 steps
  c.train.log_every = 10;
  c.schedule.kind = deeper::nn::ScheduleKind::constant;
  c.schedule.lr = 0.05;
  c.eval.images = 128;
  c.eval.every = 1000;
  deeper::nn::Trainer t(c, o);
  const deeper::nn::LossResult first = t.step();
  const auto s = t.run();
  EXPECT_EQ(s.end_step, 30);
  EXPECT_TRUE(std::isfinite(s.last_loss));
  EXPECT_LT(s.last_loss, first.loss);
  ASSERT_TRUE(s.last_eval.has_value());
  EXPECT_GT(s.last_eval->accuracy, 1.0 / 8.0);
  std::filesystem::remove_all(c.output.dir);
}

std::vector<float> images_of(const deeper::nn::FaceData& d, std::int64_t batch) {
  const auto& t = d.images();
  std::vector<float> out(static_cast<std::size_t>(batch * t.dim(1) * t.dim(2) * 3));
  deeper::copy_bytes(out.data(), Device::cpu(), t.data_raw(), t.device(), out.size() * sizeof(float));
  return out;
}

// The double-buffered feed on a real second stream: the network's stream (here a synchronous copy
// on the default stream) sees the prefetched batch complete, and the current batch untouched while
// the next one renders.
TEST(GpuFaceData, PrefetchOnTheRenderStreamGivesTheRenderedBatch) {
  DEEPER_REQUIRE_CUDA();
  deeper::nn::TrainConfig c = deeper::nn::load_preset("tiny");
  c.model.classes = 8;
  c.model.input_size = 112;
  const std::int64_t B = 128;
  const auto model = deeper::render::make_procedural_model();
  deeper::nn::FaceData reference(Device::cuda(0), c, model, B);
  reference.render(reference.train_sampling(), 0, B);
  const auto b0 = images_of(reference, B);
  reference.render(reference.train_sampling(), B, B);
  const auto b1 = images_of(reference, B);
  deeper::nn::FaceData d(Device::cuda(0), c, model, B);
  EXPECT_FALSE(d.acquire(0, B));
  d.prefetch(B, B);
  EXPECT_EQ(images_of(d, B), b0);  // read while batch 1 renders into the other buffer
  d.release();
  EXPECT_TRUE(d.acquire(B, B));
  EXPECT_EQ(images_of(d, B), b1);  // the default stream waited for the render stream
  d.prefetch(2 * B, B);             // into batch 0's buffer, after its release
  EXPECT_EQ(images_of(d, B), b1);
}

// The trainer with the render prefetched on a second stream follows the serial run: the same first
// loss and weights that agree closely after a few steps.
TEST(GpuTrainer, PrefetchedStepsFollowTheSerialSteps) {
  DEEPER_REQUIRE_CUDA();
  std::vector<std::vector<float>> params;
  std::vector<std::vector<double>> losses;
  for (const auto mode : {deeper::nn::RenderPrefetch::off, deeper::nn::RenderPrefetch::on}) {
    auto [c, o] = gpu_tiny_run(std::string("deeper_gpu_nn_net_prefetch_") + deeper::nn::render_prefetch_name(mode), 6);
    o.prefetch = mode;
    deeper::nn::Trainer t(c, o);
    losses.emplace_back();
    for (int i = 0; i < 6; ++i) losses.back().push_back(t.step().loss);
    EXPECT_EQ(t.data().prefetch_hits(), mode == deeper::nn::RenderPrefetch::on ? 5 : 0);
    params.push_back(t.store().download_params());
    std::filesystem::remove_all(c.output.dir);
  }
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(losses[1][i], losses[0][i], 1e-3 * std::abs(losses[0][i])) << "step " << i + 1;
  net_test::expect_close(params[1], params[0], 1e-3, 1e-3, "weights after 6 steps");
}

}  // namespace
#else
TEST(GpuNnNet, NeedsTheCudaPass) { GTEST_SKIP() << "this build has no CUDA kernels (DEEPER_WITH_CUDA=OFF)"; }
#endif
