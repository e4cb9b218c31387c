// The ResNet-10 layout: parameter counts against the hand count of the reference, spatial sizes and
// Keras 'same' padding, FLOPs against the reference table, and the flat-buffer views.
#include "nn/resnet10.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "core/error.h"

namespace {

using namespace deeper::nn;

ModelConfig model(std::int64_t input, std::int64_t classes, std::vector<std::int64_t> widths = {64, 128, 256, 512}) {
  ModelConfig m;
  m.input_size = input;
  m.classes = classes;
  m.widths = std::move(widths);
  return m;
}

TEST(ResNet10, PaperParameterCountMatchesTheHandCount) {
  const NetworkLayout l = resnet10_layout(model(224, 2000));
  // ../shared/reference/resnet10.md: conv kernels + biases 4,907,072; BN gamma, beta 5,888 (and as
  // many running statistics); dense 1,026,000; trainable 5,938,960; with statistics 5,944,848.
  // The conv count by hand: each conv k x k x cin x cout + cout.
  const auto conv = [](std::int64_t k, std::int64_t cin, std::int64_t cout) { return k * k * cin * cout + cout; };
  const std::int64_t convs = conv(7, 3, 64) + 2 * conv(3, 64, 64) + conv(1, 64, 64) +                     // stem, stage 2
                             conv(3, 64, 128) + conv(3, 128, 128) + conv(1, 64, 128) +                  // stage 3
                             conv(3, 128, 256) + conv(3, 256, 256) + conv(1, 128, 256) +                // stage 4
                             conv(3, 256, 512) + conv(3, 512, 512) + conv(1, 256, 512);                 // stage 5
  EXPECT_EQ(convs, 4'907'072);
  const std::int64_t bn = 2 * (64 + 3 * 64 + 3 * 128 + 3 * 256 + 3 * 512);
  EXPECT_EQ(bn, 5'888);
  EXPECT_EQ(l.param_count, convs + bn + 512 * 2000 + 2000);
  EXPECT_EQ(l.param_count, 5'938'960);
  EXPECT_EQ(l.stat_count, 5'888);
  EXPECT_EQ(l.param_count + l.stat_count, 5'944'848);
  // 2,004 classes (Daube et al. 2021): 5,946,900 in all.
  const NetworkLayout d = resnet10_layout(model(224, 2004));
  EXPECT_EQ(d.param_count + d.stat_count, 5'946'900);
  // Without conv biases: 4,800 fewer (one per conv output channel: 64 + 3 (64 + 128 + 256 + 512)).
  ModelConfig nb = model(224, 2000);
  nb.conv_bias = false;
  EXPECT_EQ(resnet10_layout(nb).param_count, 5'938'960 - (64 + 3 * (64 + 128 + 256 + 512)));
  // Per-layer parameters add up.
  std::int64_t sum = 0;
  for (const auto& layer : l.layers) sum += layer.params;
  EXPECT_EQ(sum, l.param_count);
}

TEST(ResNet10, SpatialSizesAndKerasPadding) {
  const auto sizes = [](std::int64_t input) {
    const NetworkLayout l = resnet10_layout(model(input, 10));
    std::vector<std::int64_t> s;
    for (const char* name : {"stem.conv", "stem.pool", "stage2.conv2", "stage3.conv2", "stage4.conv2", "stage5.conv2"}) {
      const auto it = std::find_if(l.layers.begin(), l.layers.end(), [&](const LayerInfo& x) { return x.name == name; });
      EXPECT_NE(it, l.layers.end()) << name;
      EXPECT_EQ(it->out[0], it->out[1]);
      s.push_back(it->out[0]);
    }
    return s;
  };
  EXPECT_EQ(sizes(224), (std::vector<std::int64_t>{112, 55, 55, 28, 14, 7}));
  EXPECT_EQ(sizes(112), (std::vector<std::int64_t>{56, 27, 27, 14, 7, 4}));
  EXPECT_EQ(sizes(64), (std::vector<std::int64_t>{32, 15, 15, 8, 4, 2}));
  EXPECT_EQ(sizes(16), (std::vector<std::int64_t>{8, 3, 3, 2, 1, 1}));
  // 'same' with stride 2: (1, 1) on 55 -> 28, (0, 1) on 28 -> 14 and 14 -> 7; stride 1 3x3: (1, 1).
  EXPECT_EQ(same_padding(55, 3, 2), (std::array<std::int64_t, 2>{1, 1}));
  EXPECT_EQ(same_padding(28, 3, 2), (std::array<std::int64_t, 2>{0, 1}));
  EXPECT_EQ(same_padding(14, 3, 2), (std::array<std::int64_t, 2>{0, 1}));
  EXPECT_EQ(same_padding(55, 3, 1), (std::array<std::int64_t, 2>{1, 1}));
  EXPECT_EQ(same_padding(7, 1, 2), (std::array<std::int64_t, 2>{0, 0}));
  const NetworkLayout l = resnet10_layout(model(224, 2000));
  const auto& s4 = *std::find_if(l.layers.begin(), l.layers.end(), [](const LayerInfo& x) { return x.name == "stage4.conv1"; });
  EXPECT_EQ(s4.pad_top, 0);
  EXPECT_EQ(s4.pad_bottom, 1);
  EXPECT_EQ(s4.pad_left, 0);
  EXPECT_EQ(s4.pad_right, 1);
  EXPECT_EQ(s4.stride, 2);
  const auto& stem = l.layers.front();
  EXPECT_EQ(stem.pad_top, 3);
  EXPECT_EQ(stem.kernel, 7);
  EXPECT_EQ(stem.bn, "stem.bn");
  const auto& proj = *std::find_if(l.layers.begin(), l.layers.end(), [](const LayerInfo& x) { return x.name == "stage5.proj"; });
  EXPECT_EQ(proj.pad_top + proj.pad_bottom, 0);  // 1x1/2 'valid'
  EXPECT_EQ(proj.in[0], 14);
  EXPECT_EQ(proj.out[0], 7);
}

TEST(ResNet10, ForwardMacsMatchTheReferenceTable) {
  // GMACs forward of the lab ResNet-10 with 2,000 classes: 0.0722 (64 px), 0.2359 (112), 0.8939 (224).
  for (const auto& [input, gmacs] : std::vector<std::pair<std::int64_t, double>>{{64, 0.0722}, {112, 0.2359}, {224, 0.8939}}) {
    const NetworkLayout l = resnet10_layout(model(input, 2000));
    double flops = 0.0;
    for (const auto& layer : l.layers) {
      if (layer.kind == LayerKind::conv || layer.kind == LayerKind::linear) flops += layer.flops;
    }
    EXPECT_NEAR(flops / 2e9, gmacs, 0.00051) << input;
    EXPECT_GT(l.forward_flops(), flops);  // pools add a little
    EXPECT_DOUBLE_EQ(l.train_flops(), 3.0 * l.forward_flops());
  }
  // The stem by hand: 112 * 112 * 64 outputs of 7 * 7 * 3 MACs.
  const NetworkLayout l = resnet10_layout(model(224, 2000));
  EXPECT_DOUBLE_EQ(l.layers.front().flops, 2.0 * 112 * 112 * 64 * 147);
}

TEST(ResNet10, ViewsAreAlignedDisjointAndNamed) {
  const NetworkLayout l = resnet10_layout(model(64, 16, {16, 32, 64, 128}));
  std::set<std::string> names;
  for (const auto* list : {&l.params, &l.stats}) {
    std::int64_t end = 0;
    for (const auto& v : *list) {
      EXPECT_TRUE(names.insert(v.name).second) << v.name;
      EXPECT_EQ(v.offset % kParamAlignment, 0) << v.name;
      EXPECT_GE(v.offset, end) << v.name;
      std::int64_t n = 1;
      for (auto d : v.shape) n *= d;
      EXPECT_EQ(n, v.numel);
      end = v.offset + v.numel;
    }
    EXPECT_LE(end, list == &l.params ? l.param_buffer_elements : l.stat_buffer_elements);
  }
  EXPECT_EQ(l.param("stem.conv.weight").shape, (std::vector<std::int64_t>{16, 7, 7, 3}));
  EXPECT_EQ(l.param("stem.conv.weight").fan_in, 147);
  EXPECT_EQ(l.param("stage3.conv1.weight").shape, (std::vector<std::int64_t>{32, 3, 3, 16}));
  EXPECT_EQ(l.param("stage5.proj.weight").shape, (std::vector<std::int64_t>{128, 1, 1, 64}));
  EXPECT_EQ(l.param("stage5.proj_bn.running_var").shape, (std::vector<std::int64_t>{128}));
  EXPECT_EQ(l.param("fc.weight").shape, (std::vector<std::int64_t>{16, 128}));
  EXPECT_EQ(l.param("fc.weight").fan_out, 16);
  EXPECT_EQ(l.param("fc.bias").kind, ParamKind::linear_bias);
  try {
    (void)l.param("stage3.conv1.wieght");
    FAIL() << "no error";
  } catch (const deeper::Error& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'stage3.conv1.weight'"), std::string::npos) << e.what();
  }
  // The table names every layer and the totals.
  const std::string table = layer_table(l);
  for (const auto& layer : l.layers) EXPECT_NE(table.find(layer.name), std::string::npos) << layer.name;
  EXPECT_NE(table.find(std::to_string(l.param_count)), std::string::npos);
}

TEST(ResNet10, BadModelsAreErrors) {
  EXPECT_THROW(resnet10_layout(model(224, 10, {64, 128, 256})), deeper::Error);
  EXPECT_THROW(resnet10_layout(model(224, 10, {64, 0, 256, 512})), deeper::Error);
  EXPECT_THROW(resnet10_layout(model(8, 10)), deeper::Error);
  EXPECT_THROW(resnet10_layout(model(224, 1)), deeper::Error);
  EXPECT_THROW(same_padding(0, 3, 1), deeper::Error);
}

}  // namespace
