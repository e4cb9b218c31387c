// Stem channel padding of the wmma_bf16 network (nn/network.h "Stem channel padding"): the stem's
// forward and wgrad as a C = 8 conv whose channels 3..7 are zero give the same network as the plain
// C = 3 stem. On the emulator the forward is bit-identical (the padded channels add exact zero
// products in the same (r, s, c) order, version 2 on the padded operands against version 1's
// element-wise loader on the plain ones), so the logits, the loss, every activation and every
// gradient but the stem weight's are too; the stem weight gradient (automatic split-K may slice the
// two wgrads differently) matches within fp32 rounding. Also: the cpu backend, the input gradient
// after a padded forward, a backward following its forward's choice, and the arena.
// Also Network::set_bf16_conv_kernel: version 3 (wgmma) against version 2.
#include "net_test_util.h"

#include "core/error.h"
#include "kernels/emu/emulator.h"
#include "kernels/runtime/memory.h"
#include "nn/network.h"

#include <cstring>

namespace {

using namespace net_test;
using deeper::DeviceBuffer;
using deeper::nn::BnMode;
using deeper::nn::NetworkBuffersT;
using deeper::nn::NetworkT;
namespace dk = deeper::kernels;

// Stem 3 -> 8 channels (K a multiple of 8, so the padded stem has vector operands on both sides).
deeper::nn::ModelConfig stem_model() { return tiny_model({8, 8, 16, 8}, 20, 6); }

struct StemRun {
  std::vector<float> logits, grads, stats, act1, act9, d_images;
  double loss = 0;
  std::uint64_t forward_launches = 0;
};

// One training step (forward, loss, backward) of the wmma_bf16 network on `device`, the stem padded
// or not; with `switch_after_forward`, padding is toggled between the forward and the backward.
// With `input_gradient`, then an inference forward and the input gradient of the logits' sum.
// `kernel`: Network::set_bf16_conv_kernel.
StemRun run_step(const Device& device, bool pad, bool switch_after_forward = false, bool input_gradient = false,
                 int kernel = 0) {
  const auto m = stem_model();
  const auto layout = deeper::nn::resnet10_layout(m);
  const std::int64_t batch = 4;
  const auto p = random_params(layout, 5);
  DeviceBuffer params = upload(device, p);
  DeviceBuffer grads(device, p.size() * sizeof(float));
  deeper::fill_bytes(grads.data(), device, 0, grads.bytes());
  DeviceBuffer stats = upload(device, std::vector<float>(static_cast<std::size_t>(layout.stat_buffer_elements), 0.5f));
  DeviceBuffer bf16(device, p.size() * sizeof(std::uint16_t));
  deeper::nn::params_to_bf16(device, static_cast<const float*>(params.data()), static_cast<std::uint16_t*>(bf16.data()),
                             static_cast<std::int64_t>(p.size()));
  DeviceBuffer images = upload(device, random_images(batch, m.input_size, 11));
  DeviceBuffer labels = upload(device, random_labels(batch, m.classes, 13));
  NetworkT<float> net(device, layout, batch, dk::ConvMath::wmma_bf16);
  net.set_stem_channel_padding(pad);
  net.set_bf16_conv_kernel(kernel);
  EXPECT_EQ(net.stem_channels_padded(), pad);
  NetworkBuffersT<float> b{static_cast<float*>(params.data()), static_cast<float*>(grads.data()),
                           static_cast<float*>(stats.data()), static_cast<std::uint16_t*>(bf16.data())};
  StemRun out;
  const auto launches = deeper::emu::stats().launches;
  const float* logits = net.forward(b, static_cast<float*>(images.data()), batch, BnMode::train);
  out.forward_launches = deeper::emu::stats().launches - launches;
  if (switch_after_forward) net.set_stem_channel_padding(!pad);
  out.loss = net.loss(static_cast<std::int32_t*>(labels.data())).loss;
  net.backward(b);
  out.logits = download(device, logits, batch * m.classes);
  out.grads = download(device, static_cast<float*>(grads.data()), static_cast<std::int64_t>(p.size()));
  out.stats = download(device, static_cast<float*>(stats.data()), layout.stat_buffer_elements);
  const auto s1 = net.activation_shape(1), s9 = net.activation_shape(9);
  out.act1 = download(device, net.activation(1), batch * s1[0] * s1[1] * s1[2]);
  out.act9 = download(device, net.activation(9), batch * s9[0] * s9[1] * s9[2]);
  if (input_gradient) {
    net.set_stem_channel_padding(pad);
    net.forward(b, static_cast<float*>(images.data()), batch, BnMode::inference);
    DeviceBuffer dl = upload(device, std::vector<float>(static_cast<std::size_t>(batch * m.classes), 1.0f));
    DeviceBuffer dx(device, static_cast<std::size_t>(batch * m.input_size * m.input_size * 3) * sizeof(float));
    net.input_gradient(b, static_cast<float*>(dl.data()), static_cast<float*>(dx.data()));
    out.d_images = download(device, static_cast<float*>(dx.data()), batch * m.input_size * m.input_size * 3);
  }
  return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// Every gradient outside [first, first + count) bit-identical; inside within fp32 rounding.
void expect_grads(const StemRun& got, const StemRun& want, std::int64_t first, std::int64_t count, const std::string& what) {
  ASSERT_EQ(got.grads.size(), want.grads.size());
  std::size_t differ = 0;
  for (std::size_t i = 0; i < got.grads.size(); ++i) {
    const auto j = static_cast<std::int64_t>(i);
    if (j >= first && j < first + count) continue;
    if (std::memcmp(&got.grads[i], &want.grads[i], sizeof(float)) != 0 && ++differ <= 5) {
      ADD_FAILURE() << what << " gradient [" << i << "]: " << got.grads[i] << " vs " << want.grads[i];
    }
  }
  EXPECT_EQ(differ, 0u) << what;
  const std::vector<float> g(got.grads.begin() + first, got.grads.begin() + first + count),
      w(want.grads.begin() + first, want.grads.begin() + first + count);
  expect_close(g, w, 1e-6, 1e-4, what + " stem.conv.weight gradient");
  double norm = 0;
  for (float v : w) norm += std::abs(v);
  EXPECT_GT(norm, 1e-4) << what << ": the stem weight gradient must carry signal";
}

TEST(StemChannelPad, PaddedStemEqualsThePlainC3StemOnEmu) {
  const auto layout = deeper::nn::resnet10_layout(stem_model());
  const auto& w = layout.param("stem.conv.weight");
  const StemRun plain = run_step(Device::emu(), false);
  const StemRun padded = run_step(Device::emu(), true);
  // The padded forward is the plain one plus the weight pad (the image pad replaces to_bf16), less
  // the stem's batchnorm_stats partials pass (the padded stem runs version 2, whose epilogue writes
  // the BN partials: Network::set_epilogue_bn_stats).
  EXPECT_EQ(padded.forward_launches, plain.forward_launches + 1 - 1);
  EXPECT_TRUE(same_bits(padded.act1, plain.act1)) << "stem output (lab layer 1)";
  EXPECT_TRUE(same_bits(padded.act9, plain.act9)) << "lab layer 9";
  EXPECT_TRUE(same_bits(padded.logits, plain.logits)) << "logits";
  EXPECT_EQ(padded.loss, plain.loss);
  EXPECT_TRUE(same_bits(padded.stats, plain.stats)) << "running statistics";
  expect_grads(padded, plain, w.offset, w.numel, "emu padded vs plain");
}

TEST(StemChannelPad, BackwardFollowsItsForwardAndTheInputGradientIsUnchanged) {
  const auto layout = deeper::nn::resnet10_layout(stem_model());
  const auto& w = layout.param("stem.conv.weight");
  // Padded forward, padding switched off before the backward (and the reverse): each backward uses
  // its forward's input layout, so the gradients are those of a run that never switched.
  const StemRun plain = run_step(Device::emu(), false, false, true);
  const StemRun padded = run_step(Device::emu(), true, true, true);
  const StemRun plain_switched = run_step(Device::emu(), false, true);
  EXPECT_TRUE(same_bits(padded.logits, plain.logits));
  expect_grads(padded, plain, w.offset, w.numel, "padded forward, backward after switching off");
  expect_grads(plain_switched, plain, w.offset, w.numel, "plain forward, backward after switching on");
  EXPECT_TRUE(same_bits(plain_switched.grads, plain.grads)) << "a plain run's backward is the plain backward";
  // The stem dgrad keeps the C = 3 conv: the image gradient of a padded forward is the plain one.
  EXPECT_FALSE(padded.d_images.empty());
  EXPECT_TRUE(same_bits(padded.d_images, plain.d_images)) << "input gradient";
  double norm = 0;
  for (float v : plain.d_images) norm += std::abs(v);
  EXPECT_GT(norm, 0.0);
}

TEST(StemChannelPad, CpuBackendPaddedMatchesPlainAndEmu) {
  const StemRun plain = run_step(Device::cpu(), false);
  const StemRun padded = run_step(Device::cpu(), true);
  expect_close(padded.logits, plain.logits, 1e-5, 1e-5, "cpu logits");
  expect_close(padded.act1, plain.act1, 1e-5, 1e-5, "cpu layer 1");
  expect_close(padded.grads, plain.grads, 1e-5, 1e-4, "cpu gradients");
  const StemRun emu = run_step(Device::emu(), true);
  expect_close(emu.logits, padded.logits, 2e-3, 2e-3, "emu vs cpu logits (padded)");
  expect_close(emu.grads, padded.grads, 2e-3, 2e-2, "emu vs cpu gradients (padded)");
}

TEST(StemChannelPad, OnlyTheBf16NetworkPadsAndItsArenaHoldsThePaddedBuffers) {
  const auto m = stem_model();
  const auto layout = deeper::nn::resnet10_layout(m);
  NetworkT<float> f32(Device::cpu(), layout, 4, dk::ConvMath::simt_f32);
  EXPECT_FALSE(f32.stem_channels_padded());
  NetworkT<float> bf(Device::cpu(), layout, 4, dk::ConvMath::wmma_bf16);
  EXPECT_TRUE(bf.stem_channels_padded());
  bf.set_stem_channel_padding(false);
  EXPECT_FALSE(bf.stem_channels_padded());
  NetworkT<double> d(Device::cpu(), layout, 4);
  EXPECT_FALSE(d.stem_channels_padded());
  // The padded input, weights and weight-gradient scratch come from the arena: a padded step
  // allocates nothing, at the full and at a smaller batch.
  bf.set_stem_channel_padding(true);
  auto p = random_params(layout, 3);
  std::vector<float> g(p.size()), stats(static_cast<std::size_t>(layout.stat_buffer_elements), 1.0f);
  std::vector<std::uint16_t> p16(p.size());
  deeper::nn::params_to_bf16(Device::cpu(), p.data(), p16.data(), static_cast<std::int64_t>(p.size()));
  const auto images = random_images(4, m.input_size, 1);
  const auto labels = random_labels(4, m.classes, 2);
  NetworkBuffersT<float> b{p.data(), g.data(), stats.data(), p16.data()};
  const auto count = DeviceBuffer::allocation_count();
  for (std::int64_t batch : {4, 2}) {
    bf.forward(b, images.data(), batch, BnMode::train);
    bf.loss(labels.data());
    bf.backward(b);
  }
  EXPECT_EQ(DeviceBuffer::allocation_count(), count);
}

}  // namespace

TEST(NetworkConvKernel, Version3GivesVersion2sForwardBitForBitOnEmu) {
  // The emulator's wgmma and mma.sync add exact products in k order: the forward (split_k 1) is
  // bit-identical; the weight gradients (automatic split-K, sliced per kernel's tile) within fp32
  // rounding. The padded stem takes the chosen version too; the unpadded one keeps version 1.
  for (const bool pad : {true, false}) {
    const StemRun v2 = run_step(Device::emu(), pad, false, false, 2);
    const StemRun v3 = run_step(Device::emu(), pad, false, false, 3);
    EXPECT_TRUE(same_bits(v3.act1, v2.act1)) << "stem output, pad " << pad;
    EXPECT_TRUE(same_bits(v3.act9, v2.act9)) << "lab layer 9, pad " << pad;
    EXPECT_TRUE(same_bits(v3.logits, v2.logits)) << "logits, pad " << pad;
    EXPECT_EQ(v3.loss, v2.loss);
    expect_close(v3.grads, v2.grads, 1e-6, 1e-4, "version 3 vs 2 gradients");
  }
  const auto layout = deeper::nn::resnet10_layout(stem_model());
  NetworkT<float> net(Device::emu(), layout, 4, dk::ConvMath::wmma_bf16);
  EXPECT_THROW(net.set_bf16_conv_kernel(4), deeper::Error);
  EXPECT_THROW(net.set_bf16_conv_kernel(-1), deeper::Error);
  EXPECT_EQ(net.bf16_conv_kernel(), 0);
}
