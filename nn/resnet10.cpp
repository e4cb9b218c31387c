// The ResNet-10 layout (nn/resnet10.h).
#include "nn/resnet10.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/error.h"

namespace deeper::nn {

namespace {

std::int64_t align_up(std::int64_t n) { return (n + kParamAlignment - 1) / kParamAlignment * kParamAlignment; }

class Builder {
 public:
  explicit Builder(NetworkLayout& l) : l_(l) {}

  ParamView& add_param(std::string name, std::vector<std::int64_t> shape, ParamKind kind, std::int64_t fan_in = 0,
                       std::int64_t fan_out = 0) {
    ParamView v;
    v.name = std::move(name);
    v.numel = 1;
    for (auto d : shape) v.numel *= d;
    v.shape = std::move(shape);
    v.kind = kind;
    v.fan_in = fan_in;
    v.fan_out = fan_out;
    const bool stat = kind == ParamKind::bn_running_mean || kind == ParamKind::bn_running_var;
    std::int64_t& end = stat ? l_.stat_buffer_elements : l_.param_buffer_elements;
    v.offset = end;
    end = align_up(end + v.numel);
    (stat ? l_.stat_count : l_.param_count) += v.numel;
    auto& list = stat ? l_.stats : l_.params;
    list.push_back(std::move(v));
    return list.back();
  }

  // conv + its BN; returns the output shape.
  std::array<std::int64_t, 3> conv(const std::string& name, const std::string& bn, std::array<std::int64_t, 3> in,
                                   std::int64_t k, std::int64_t stride, std::int64_t cout, bool same,
                                   std::int64_t explicit_pad = 0) {
    LayerInfo L;
    L.name = name;
    L.kind = LayerKind::conv;
    L.in = in;
    L.kernel = k;
    L.stride = stride;
    L.bn = bn;
    std::array<std::int64_t, 2> ph{explicit_pad, explicit_pad}, pw{explicit_pad, explicit_pad};
    if (same) {
      ph = same_padding(in[0], k, stride);
      pw = same_padding(in[1], k, stride);
    }
    L.pad_top = ph[0];
    L.pad_bottom = ph[1];
    L.pad_left = pw[0];
    L.pad_right = pw[1];
    L.out = {(in[0] + ph[0] + ph[1] - k) / stride + 1, (in[1] + pw[0] + pw[1] - k) / stride + 1, cout};
    L.op = fmt::format("conv {}x{}/{} pad ({},{},{},{})", k, k, stride, ph[0], pw[0], ph[1], pw[1]);
    const std::int64_t cin = in[2];
    const std::int64_t macs = L.out[0] * L.out[1] * cout * k * k * cin;
    L.flops = 2.0 * static_cast<double>(macs);
    const std::int64_t before = l_.param_count;
    add_param(name + ".weight", {cout, k, k, cin}, ParamKind::conv_weight, k * k * cin, k * k * cout);
    if (l_.model.conv_bias) add_param(name + ".bias", {cout}, ParamKind::conv_bias);
    add_param(bn + ".gamma", {cout}, ParamKind::bn_gamma);
    add_param(bn + ".beta", {cout}, ParamKind::bn_beta);
    add_param(bn + ".running_mean", {cout}, ParamKind::bn_running_mean);
    add_param(bn + ".running_var", {cout}, ParamKind::bn_running_var);
    L.params = l_.param_count - before;
    l_.layers.push_back(L);
    return L.out;
  }

 private:
  NetworkLayout& l_;
};

}  // namespace

std::string_view to_string(ParamKind kind) {
  switch (kind) {
    case ParamKind::conv_weight: return "conv weight";
    case ParamKind::conv_bias: return "conv bias";
    case ParamKind::bn_gamma: return "bn gamma";
    case ParamKind::bn_beta: return "bn beta";
    case ParamKind::bn_running_mean: return "bn running mean";
    case ParamKind::bn_running_var: return "bn running var";
    case ParamKind::linear_weight: return "linear weight";
    case ParamKind::linear_bias: return "linear bias";
  }
  return "?";
}

std::array<std::int64_t, 2> same_padding(std::int64_t n, std::int64_t k, std::int64_t s) {
  DEEPER_CHECK(n >= 1 && k >= 1 && s >= 1, "same_padding: size {}, kernel {} and stride {} must be positive", n, k, s);
  const std::int64_t out = (n + s - 1) / s;
  const std::int64_t total = std::max<std::int64_t>((out - 1) * s + k - n, 0);
  return {total / 2, total - total / 2};
}

NetworkLayout resnet10_layout(const ModelConfig& model) {
  if (model.widths.size() != 4) fail("resnet10_layout: expected 4 widths (stages 2-5), got {}", model.widths.size());
  for (auto w : model.widths) {
    if (w < 1) fail("resnet10_layout: width {} must be positive", w);
  }
  if (model.input_size < 16) fail("resnet10_layout: input size {} must be at least 16 pixels", model.input_size);
  if (model.classes < 2) fail("resnet10_layout: {} classes; at least 2 are needed", model.classes);

  NetworkLayout l;
  l.model = model;
  Builder b(l);
  std::array<std::int64_t, 3> x{model.input_size, model.input_size, 3};
  x = b.conv("stem.conv", "stem.bn", x, 7, 2, model.widths[0], false, 3);

  LayerInfo pool;
  pool.name = "stem.pool";
  pool.kind = LayerKind::maxpool;
  pool.op = "maxpool 3x3/2 valid";
  pool.in = x;
  pool.kernel = 3;
  pool.stride = 2;
  pool.out = {(x[0] - 3) / 2 + 1, (x[1] - 3) / 2 + 1, x[2]};
  pool.flops = 9.0 * static_cast<double>(pool.out[0] * pool.out[1] * pool.out[2]);
  l.layers.push_back(pool);
  x = pool.out;

  for (int stage = 2; stage <= 5; ++stage) {
    const std::string p = fmt::format("stage{}", stage);
    const std::int64_t cout = model.widths[static_cast<std::size_t>(stage - 2)];
    const std::int64_t stride = stage == 2 ? 1 : 2;
    const auto in = x;
    const auto mid = b.conv(p + ".conv1", p + ".bn1", in, 3, stride, cout, true);
    const auto out = b.conv(p + ".conv2", p + ".bn2", mid, 3, 1, cout, true);
    const auto proj = b.conv(p + ".proj", p + ".proj_bn", in, 1, stride, cout, false);
    DEEPER_CHECK(proj == out, "resnet10_layout: {} shortcut {}x{} does not match the main path {}x{}", p, proj[0],
                 proj[1], out[0], out[1]);
    x = out;
  }

  LayerInfo gap;
  gap.name = "pool";
  gap.kind = LayerKind::global_avgpool;
  gap.op = "global average pool";
  gap.in = x;
  gap.out = {1, 1, x[2]};
  gap.kernel = x[0];
  gap.flops = static_cast<double>(x[0] * x[1] * x[2]);
  l.layers.push_back(gap);

  LayerInfo fc;
  fc.name = "fc";
  fc.kind = LayerKind::linear;
  fc.op = "linear";
  fc.in = gap.out;
  fc.out = {1, 1, model.classes};
  fc.flops = 2.0 * static_cast<double>(x[2] * model.classes);
  const std::int64_t before = l.param_count;
  b.add_param("fc.weight", {model.classes, x[2]}, ParamKind::linear_weight, x[2], model.classes);
  b.add_param("fc.bias", {model.classes}, ParamKind::linear_bias);
  fc.params = l.param_count - before;
  l.layers.push_back(fc);
  return l;
}

const ParamView& NetworkLayout::param(std::string_view name) const {
  for (const auto* list : {&params, &stats}) {
    for (const auto& v : *list) {
      if (v.name == name) return v;
    }
  }
  std::vector<std::string> names;
  for (const auto* list : {&params, &stats}) {
    for (const auto& v : *list) names.push_back(v.name);
  }
  const std::string hint = closest_key(name, names);
  fail("no parameter named '{}' in the ResNet-10{}", name, hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint));
}

double NetworkLayout::forward_flops() const {
  double total = 0.0;
  for (const auto& layer : layers) total += layer.flops;
  return total;
}

std::string layer_table(const NetworkLayout& l) {
  std::string out = fmt::format("{:<14} {:<28} {:>16} {:>12} {:>14}\n", "layer", "op", "output (HxWxC)", "params",
                                "MFLOP/image");
  for (const auto& L : l.layers) {
    out += fmt::format("{:<14} {:<28} {:>16} {:>12} {:>14.3f}\n", L.name, L.op,
                       fmt::format("{}x{}x{}", L.out[0], L.out[1], L.out[2]), L.params, L.flops / 1e6);
  }
  out += fmt::format("{:<14} {:<28} {:>16} {:>12} {:>14.3f}\n", "total", "forward", "", l.param_count,
                     l.forward_flops() / 1e6);
  out += fmt::format("trainable parameters {}, BN running statistics {}, total {}; training step ~{:.3f} GFLOP/image\n",
                     l.param_count, l.stat_count, l.param_count + l.stat_count, l.train_flops() / 1e9);
  return out;
}

}  // namespace deeper::nn
