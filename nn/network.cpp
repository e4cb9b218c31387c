// The ResNet-10 forward and backward passes (nn/network.h) on the kernels of kernels/nn.
#include "nn/network.h"

#include "core/error.h"
#include "kernels/nn/activation.h"
#include "kernels/nn/batchnorm.h"
#include "kernels/nn/batchnorm_inference.h"
#include "kernels/nn/channel_pad.h"
#include "kernels/nn/cross_entropy.h"
#include "kernels/nn/linear.h"
#include "kernels/nn/pooling.h"
#include "kernels/render/compose.h"
#include "kernels/runtime/nvtx.h"
#include "kernels/runtime/stream.h"
#include "nn/parameters.h"

#include <algorithm>
#include <array>
#include <cuda_bf16.h>
#include <type_traits>

namespace deeper::nn {

namespace dk = deeper::kernels;

// ---------------------------------------------------------------------------------------------
// One overload per op and element type: float goes through the device dispatchers, double through
// the templated CPU references (the network of doubles runs on the cpu only).
namespace {

void* native(Stream* s) { return s != nullptr ? s->native() : nullptr; }

// conv2d (fp32 operands; the bf16 operands are set by the caller for wmma_bf16). `version`: the
// network's bf16 kernel version (set_bf16_conv_kernel), applied where it can run: versions 2 and 3
// need vector operands (C, K multiples of 8), so the others (an unpadded stem) keep the automatic one.
dk::Conv2dParams with_kernel(dk::Conv2dParams p, dk::ConvOp op, int version) {
  if (p.math != dk::ConvMath::wmma_bf16 || version == 0) return p;
  if (version == 1 || dk::conv2d_vector_operands(p, op)) {
    p.bf16_kernel = version;
  }
  return p;
}
void conv_dgrad(const Device& d, const dk::Conv2dParams& p, int version, void* s) {
  dk::conv2d_dgrad(d, with_kernel(p, dk::ConvOp::dgrad, version), s);
}
void conv_wgrad(const Device& d, const dk::Conv2dParams& p, int version, void* s) {
  dk::conv2d_wgrad(d, with_kernel(p, dk::ConvOp::wgrad, version), s);
}

void bn_stats(const Device& d, const dk::BatchNormStatsParamsT<float>& p, void* s) { dk::batchnorm_stats(d, p, s); }
void bn_stats(const Device&, const dk::BatchNormStatsParamsT<double>& p, void*) { dk::cpu_impl::batchnorm_stats(p); }
void bn_apply(const Device& d, const dk::BatchNormApplyParamsT<float>& p, void* s) { dk::batchnorm_apply(d, p, s); }
void bn_apply(const Device&, const dk::BatchNormApplyParamsT<double>& p, void*) { dk::cpu_impl::batchnorm_apply(p); }
void bn_backward(const Device& d, const dk::BatchNormBackwardParamsT<float>& p, void* s) {
  dk::batchnorm_backward(d, p, s);
}
void bn_backward(const Device&, const dk::BatchNormBackwardParamsT<double>& p, void*) {
  dk::cpu_impl::batchnorm_backward(p);
}
void bn_inference_bwd(const Device& d, const dk::BatchNormInferenceBackwardParamsT<float>& p, void* s) {
  dk::batchnorm_inference_backward(d, p, s);
}
void bn_inference_bwd(const Device&, const dk::BatchNormInferenceBackwardParamsT<double>& p, void*) {
  dk::cpu_impl::batchnorm_inference_backward(p);
}
void maxpool_fwd(const Device& d, const dk::MaxPoolParamsT<float>& p, void* s) { dk::maxpool_forward(d, p, s); }
void maxpool_fwd(const Device&, const dk::MaxPoolParamsT<double>& p, void*) { dk::cpu_impl::maxpool_forward(p); }
void maxpool_bwd(const Device& d, const dk::MaxPoolBackwardParamsT<float>& p, void* s) { dk::maxpool_backward(d, p, s); }
void maxpool_bwd(const Device&, const dk::MaxPoolBackwardParamsT<double>& p, void*) {
  dk::cpu_impl::maxpool_backward(p);
}
void avgpool_fwd(const Device& d, const dk::GlobalAvgPoolParamsT<float>& p, void* s) {
  dk::global_avgpool_forward(d, p, s);
}
void avgpool_fwd(const Device&, const dk::GlobalAvgPoolParamsT<double>& p, void*) {
  dk::cpu_impl::global_avgpool_forward(p);
}
void avgpool_bwd(const Device& d, const dk::GlobalAvgPoolBackwardParamsT<float>& p, void* s) {
  dk::global_avgpool_backward(d, p, s);
}
void avgpool_bwd(const Device&, const dk::GlobalAvgPoolBackwardParamsT<double>& p, void*) {
  dk::cpu_impl::global_avgpool_backward(p);
}
void linear_fwd(const Device& d, const dk::LinearParamsT<float>& p, void* s) { dk::linear_forward(d, p, s); }
void linear_fwd(const Device&, const dk::LinearParamsT<double>& p, void*) { dk::cpu_impl::linear_forward(p); }
void linear_bwd(const Device& d, const dk::LinearBackwardParamsT<float>& p, void* s) { dk::linear_backward(d, p, s); }
void linear_bwd(const Device&, const dk::LinearBackwardParamsT<double>& p, void*) { dk::cpu_impl::linear_backward(p); }
void ce_fwd(const Device& d, const dk::CrossEntropyParamsT<float>& p, void* s) { dk::cross_entropy_forward(d, p, s); }
void ce_fwd(const Device&, const dk::CrossEntropyParamsT<double>& p, void*) { dk::cpu_impl::cross_entropy_forward(p); }
void ce_bwd(const Device& d, const dk::CrossEntropyParamsT<float>& p, void* s) { dk::cross_entropy_backward(d, p, s); }
void ce_bwd(const Device&, const dk::CrossEntropyParamsT<double>& p, void*) { dk::cpu_impl::cross_entropy_backward(p); }

// Sizes are carved twice: once to count the bytes, once from the arena.
class Carver {
 public:
  explicit Carver(Arena* arena) : arena_(arena) {}
  template <typename U>
  U* take(std::int64_t count, const char* name) {
    const std::size_t bytes = static_cast<std::size_t>(std::max<std::int64_t>(count, 1)) * sizeof(U);
    if (arena_ == nullptr) {
      total_ += (bytes + 255) / 256 * 256;
      return nullptr;
    }
    return static_cast<U*>(arena_->allocate(bytes, name));
  }
  std::size_t total() const { return total_; }

 private:
  Arena* arena_;
  std::size_t total_ = 0;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

template <typename T>
struct NetworkT<T>::Conv {
  std::string name, bn;
  dk::Conv2dShape shape;  // batch = max_batch; set per call
  std::int64_t weight = 0, bias = -1, gamma = 0, beta = 0, running_mean = 0, running_var = 0;  // offsets
  T* out = nullptr;                 // conv output (BN input), max_batch x P x Q x K
  T* save_mean = nullptr;
  T* save_invstd = nullptr;
  // Input channels padded with zeros to pad_channels (the stem under wmma_bf16, C % 8 != 0; 0: not
  // padded): the forward and wgrad then run as a pad_channels-channel conv on the padded input,
  // the padded weights w_pad (K x R x S x pad_channels bf16, written by each forward from the bf16
  // weight copy) and the padded fp32 weight-gradient scratch dw_pad (narrowed into the gradient).
  int pad_channels = 0;
  std::uint16_t* w_pad = nullptr;
  T* dw_pad = nullptr;
  std::int64_t per_image() const { return static_cast<std::int64_t>(shape.out_height()) * shape.out_width() * shape.out_channels; }
  std::int64_t in_per_image() const { return static_cast<std::int64_t>(shape.height) * shape.width * shape.in_channels; }
  std::int64_t pixels_per_image() const { return static_cast<std::int64_t>(shape.height) * shape.width; }
  std::int64_t weight_rows() const { return static_cast<std::int64_t>(shape.out_channels) * shape.kernel_h * shape.kernel_w; }
};

template <typename T>
struct NetworkT<T>::Stage {
  Conv conv1, conv2, proj;
  T* h = nullptr;  // relu(bn1(c1)), lab layer 2k-2
  T* o = nullptr;  // block output, lab layer 2k-1
  std::uint16_t* h_bf16 = nullptr;
  std::uint16_t* o_bf16 = nullptr;  // the next stage's input in bf16 (stages 2-4)
};

template <typename T>
struct NetworkT<T>::Plan {
  Conv stem;
  T* s1 = nullptr;  // lab layer 1
  T* p = nullptr;   // max-pooled
  std::int32_t* argmax = nullptr;
  std::int64_t pool_h = 0, pool_w = 0;
  std::uint16_t* x_bf16 = nullptr;
  std::uint16_t* p_bf16 = nullptr;
  Stage stage[4];
  T* e = nullptr;       // embedding, lab layer 10
  T* logits = nullptr;  // lab layer 11
  std::int32_t* correct = nullptr;
  std::int32_t* num_correct = nullptr;
  T* loss = nullptr;
  const std::int32_t* labels = nullptr;
  // Backward scratch (sized for the largest map): ping-pong gradients of stage outputs, conv
  // output gradients, and the bf16 copies of the conv output gradients the batch-norm backward
  // writes with them: dy_bf16 holds dc2's, then dc1's (and the input gradient's conversions),
  // dr_bf16 the projection's dcp (alive together with dc2's and dc1's).
  T* g[2] = {nullptr, nullptr};
  T* dc1 = nullptr;
  T* dc2 = nullptr;
  T* dcp = nullptr;
  T* dh = nullptr;
  std::uint16_t* dy_bf16 = nullptr;
  std::uint16_t* dr_bf16 = nullptr;
  T* dlogits = nullptr;
  T* de = nullptr;
  void* workspace = nullptr;
  std::size_t workspace_bytes = 0;

  // Every conv: the stem, then conv1, conv2 and the projection of each stage.
  std::array<Conv*, 13> convs() {
    std::array<Conv*, 13> out{&stem};
    for (int k = 0; k < 4; ++k) {
      out[1 + 3 * k] = &stage[k].conv1;
      out[2 + 3 * k] = &stage[k].conv2;
      out[3 + 3 * k] = &stage[k].proj;
    }
    return out;
  }
};

template <typename T>
NetworkT<T>::NetworkT(Device device, NetworkLayout layout, std::int64_t max_batch, dk::ConvMath math)
    : device_(device), layout_(std::move(layout)), max_batch_(max_batch), math_(math) {
  DEEPER_CHECK(max_batch >= 1, "Network: max_batch {} must be at least 1", max_batch);
  if constexpr (std::is_same_v<T, double>) {
    DEEPER_CHECK(device.backend == Backend::cpu, "Network<double>: runs on the cpu only, not {}", device.name());
    DEEPER_CHECK(math == dk::ConvMath::simt_f32, "Network<double>: wmma_bf16 math needs float");
  }
  const bool bf16 = math_ == dk::ConvMath::wmma_bf16;
  const ModelConfig& m = layout_.model;
  const bool device_ws = device_.backend != Backend::cpu;

  auto conv_of = [&](const std::string& name) {
    const auto it = std::find_if(layout_.layers.begin(), layout_.layers.end(),
                                 [&](const LayerInfo& L) { return L.name == name; });
    DEEPER_CHECK(it != layout_.layers.end(), "Network: the layout has no layer '{}'", name);
    Conv c;
    c.name = name;
    c.bn = it->bn;
    dk::Conv2dShape& s = c.shape;
    s.batch = max_batch_;
    s.height = static_cast<int>(it->in[0]);
    s.width = static_cast<int>(it->in[1]);
    s.in_channels = static_cast<int>(it->in[2]);
    s.out_channels = static_cast<int>(it->out[2]);
    s.kernel_h = s.kernel_w = static_cast<int>(it->kernel);
    s.stride_h = s.stride_w = static_cast<int>(it->stride);
    s.pad_top = static_cast<int>(it->pad_top);
    s.pad_left = static_cast<int>(it->pad_left);
    s.pad_bottom = static_cast<int>(it->pad_bottom);
    s.pad_right = static_cast<int>(it->pad_right);
    c.weight = layout_.param(name + ".weight").offset;
    if (m.conv_bias) c.bias = layout_.param(name + ".bias").offset;
    c.gamma = layout_.param(c.bn + ".gamma").offset;
    c.beta = layout_.param(c.bn + ".beta").offset;
    c.running_mean = layout_.param(c.bn + ".running_mean").offset;
    c.running_var = layout_.param(c.bn + ".running_var").offset;
    return c;
  };

  auto plan = std::make_unique<Plan>();
  Plan& P = *plan;
  P.stem = conv_of("stem.conv");
  // The bf16 stem runs padded to a multiple of 8 input channels (16-byte vector operands).
  if (bf16 && P.stem.shape.in_channels % 8 != 0) P.stem.pad_channels = dk::padded_channel_count(P.stem.shape.in_channels);
  for (int k = 0; k < 4; ++k) {
    const std::string s = "stage" + std::to_string(k + 2);
    P.stage[k].conv1 = conv_of(s + ".conv1");
    P.stage[k].conv2 = conv_of(s + ".conv2");
    P.stage[k].proj = conv_of(s + ".proj");
  }
  P.pool_h = P.stage[0].conv1.shape.height;
  P.pool_w = P.stage[0].conv1.shape.width;

  // The largest map (per image) among conv outputs and the pooled map, and the widest channel count.
  std::int64_t max_map = P.pool_h * P.pool_w * P.stem.shape.out_channels;
  std::size_t ws = 0;
  for (const Conv* c : P.convs()) {
    max_map = std::max(max_map, c->per_image());
    if (device_ws) {
      const std::int64_t rows = max_batch_ * c->shape.out_height() * c->shape.out_width();
      ws = std::max(ws, dk::batchnorm_workspace_bytes(rows, c->shape.out_channels));
      // The conv's statistics epilogue (wmma_bf16): 2 partials per row tile and channel, for any
      // tile and any batch up to max_batch (fewer rows never need more tiles).
      if (bf16) {
        const auto tiles = static_cast<std::size_t>(dk::conv2d_stat_row_tiles_bound(rows));
        ws = std::max(ws, tiles * 2 * static_cast<std::size_t>(c->shape.out_channels) * sizeof(double));
      }
    }
  }
  const std::int64_t N = max_batch_, classes = m.classes, w3 = m.widths[3];

  auto carve = [&](Carver& cv) {
    for (Conv* c : {&P.stem}) {
      c->out = cv.take<T>(N * c->per_image(), "stem.conv.out");
      c->save_mean = cv.take<T>(c->shape.out_channels, "stem.bn.mean");
      c->save_invstd = cv.take<T>(c->shape.out_channels, "stem.bn.invstd");
    }
    P.s1 = cv.template take<T>(N * P.stem.per_image(), "stem.relu");
    P.p = cv.template take<T>(N * P.pool_h * P.pool_w * P.stem.shape.out_channels, "stem.pool");
    P.argmax = cv.template take<std::int32_t>(N * P.pool_h * P.pool_w * P.stem.shape.out_channels, "stem.pool.argmax");
    if (bf16) {
      // The stem's bf16 input: N x H x W x C, or N x H x W x pad_channels when padded (room for both).
      const std::int64_t in_channels = std::max<std::int64_t>(P.stem.shape.in_channels, P.stem.pad_channels);
      P.x_bf16 = cv.template take<std::uint16_t>(N * P.stem.pixels_per_image() * in_channels, "input.bf16");
      if (P.stem.pad_channels > 0) {
        P.stem.w_pad = cv.template take<std::uint16_t>(P.stem.weight_rows() * P.stem.pad_channels, "stem.weight.pad.bf16");
        P.stem.dw_pad = cv.template take<T>(P.stem.weight_rows() * P.stem.pad_channels, "stem.weight.pad.grad");
      }
      P.p_bf16 = cv.template take<std::uint16_t>(N * P.pool_h * P.pool_w * P.stem.shape.out_channels, "stem.pool.bf16");
    }
    for (int k = 0; k < 4; ++k) {
      Stage& st = P.stage[k];
      for (Conv* c : {&st.conv1, &st.conv2, &st.proj}) {
        c->out = cv.template take<T>(N * c->per_image(), "conv.out");
        c->save_mean = cv.template take<T>(c->shape.out_channels, "bn.mean");
        c->save_invstd = cv.template take<T>(c->shape.out_channels, "bn.invstd");
      }
      st.h = cv.template take<T>(N * st.conv1.per_image(), "stage.relu1");
      st.o = cv.template take<T>(N * st.conv2.per_image(), "stage.out");
      if (bf16) {
        st.h_bf16 = cv.template take<std::uint16_t>(N * st.conv1.per_image(), "stage.relu1.bf16");
        if (k < 3) st.o_bf16 = cv.template take<std::uint16_t>(N * st.conv2.per_image(), "stage.out.bf16");
      }
    }
    P.e = cv.template take<T>(N * w3, "embedding");
    P.logits = cv.template take<T>(N * classes, "logits");
    sample_loss_ = cv.template take<T>(N, "sample_loss");
    predicted_ = cv.template take<std::int32_t>(N, "predicted");
    P.correct = cv.template take<std::int32_t>(N, "correct");
    P.num_correct = cv.template take<std::int32_t>(1, "num_correct");
    P.loss = cv.template take<T>(1, "loss");
    P.g[0] = cv.template take<T>(N * max_map, "grad.a");
    P.g[1] = cv.template take<T>(N * max_map, "grad.b");
    P.dc1 = cv.template take<T>(N * max_map, "grad.conv1");
    P.dc2 = cv.template take<T>(N * max_map, "grad.conv2");
    P.dcp = cv.template take<T>(N * max_map, "grad.proj");
    P.dh = cv.template take<T>(N * max_map, "grad.relu1");
    if (bf16) {
      P.dy_bf16 = cv.template take<std::uint16_t>(N * max_map, "grad.bf16");
      P.dr_bf16 = cv.template take<std::uint16_t>(N * max_map, "grad.proj.bf16");
    }
    P.dlogits = cv.template take<T>(N * classes, "grad.logits");
    P.de = cv.template take<T>(N * w3, "grad.embedding");
    if (device_ws) P.workspace = cv.template take<unsigned char>(static_cast<std::int64_t>(ws), "bn.workspace");
    P.workspace_bytes = ws;
  };
  Carver counter(nullptr);
  carve(counter);
  arena_ = std::make_unique<Arena>(device_, counter.total());
  Carver alloc(arena_.get());
  carve(alloc);
  plan_ = std::move(plan);
}

template <typename T>
NetworkT<T>::~NetworkT() = default;

template <typename T>
std::size_t NetworkT<T>::arena_bytes() const {
  return arena_->capacity();
}

template <typename T>
void NetworkT<T>::to_bf16(const T* in, std::uint16_t* out, std::int64_t count, void* s) {
  if constexpr (std::is_same_v<T, float>) {
    dk::ToBf16Params p;
    p.in = in;
    p.out = out;
    p.count = count;
    dk::to_bf16(device_, p, s);
  } else {
    (void)in, (void)out, (void)count, (void)s;
    fail("Network<double>: no bf16 path");
  }
}

template <typename T>
bool NetworkT<T>::padded(const Conv& c) const {
  return c.pad_channels > 0 && pad_active_;
}

template <typename T>
bool NetworkT<T>::stem_channels_padded() const {
  return plan_->stem.pad_channels > 0 && pad_stem_;
}

template <typename T>
void NetworkT<T>::set_bf16_conv_kernel(int version) {
  DEEPER_CHECK(version >= 0 && version <= 3, "Network: bf16 conv kernel {} does not exist (0 automatic, 1, 2, 3)",
               version);
  bf16_kernel_ = version;
}

template <typename T>
void NetworkT<T>::stem_input_to_bf16(const T* images, void* s) {
  const Conv& stem = plan_->stem;
  if (!padded(stem)) return to_bf16(images, plan_->x_bf16, batch_ * stem.in_per_image(), s);
  if constexpr (std::is_same_v<T, float>) {
    // One pass either way: fp32 N x H x W x C -> bf16 N x H x W x pad_channels.
    dk::PadChannelsToBf16Params p;
    p.in = images;
    p.out = plan_->x_bf16;
    p.rows = batch_ * stem.pixels_per_image();
    p.channels = stem.shape.in_channels;
    p.padded_channels = stem.pad_channels;
    dk::pad_channels_to_bf16(device_, p, s);
  } else {
    (void)s;
    fail("Network<double>: no bf16 path");
  }
}

template <typename T>
void NetworkT<T>::conv_forward(const Conv& c, const NetworkBuffersT<T>& b, const T* x, const std::uint16_t* x_bf16,
                               T* y, void* s, int* stat_tiles) {
  dk::Conv2dShape shape = c.shape;
  shape.batch = batch_;
  if (stat_tiles != nullptr) *stat_tiles = 0;
  if constexpr (std::is_same_v<T, float>) {
    dk::Conv2dParams p;
    p.shape = shape;
    p.math = math_;
    p.y = y;
    p.split_k = 1;
    if (math_ == dk::ConvMath::wmma_bf16) {
      p.x_bf16 = reinterpret_cast<const __nv_bfloat16*>(x_bf16);
      p.w_bf16 = reinterpret_cast<const __nv_bfloat16*>(b.params_bf16 + c.weight);
      if (padded(c)) {  // x_bf16 is padded (stem_input_to_bf16); pad the weights to match
        dk::PadChannelsBf16Params w;
        w.in = b.params_bf16 + c.weight;
        w.out = c.w_pad;
        w.rows = c.weight_rows();
        w.channels = c.shape.in_channels;
        w.padded_channels = c.pad_channels;
        dk::pad_channels_bf16(device_, w, s);
        p.shape.in_channels = c.pad_channels;
        p.w_bf16 = reinterpret_cast<const __nv_bfloat16*>(c.w_pad);
      }
    } else {
      p.x = x;
      p.w = b.params + c.weight;
    }
    p = with_kernel(p, dk::ConvOp::forward, bf16_kernel_);
    if (stat_tiles != nullptr && epilogue_stats_ && plan_->workspace != nullptr) {
      const int tiles = dk::conv2d_stat_row_tiles(device_, p);  // 0: this conv has no statistics epilogue
      if (tiles > 0) {
        DEEPER_CHECK(static_cast<std::size_t>(tiles) * 2 * static_cast<std::size_t>(shape.out_channels) *
                             sizeof(double) <=
                         plan_->workspace_bytes,
                     "Network: BN workspace too small for the {} row tiles of {}", tiles, c.name);
        p.stat_partials = static_cast<double*>(plan_->workspace);
        *stat_tiles = tiles;
      }
    }
    dk::conv2d_forward(device_, p, s);
  } else {
    (void)x_bf16, (void)s;
    dk::check_conv2d_shape(shape, "Network<double> conv forward");
    dk::cpu_impl::conv2d_forward_ref<double>(shape, x, b.params + c.weight, y);
  }
  // The conv bias is not added here: every conv feeds a BN, which takes it as x_bias (forward()).
}

template <typename T>
void NetworkT<T>::conv_backward(const Conv& c, const NetworkBuffersT<T>& b, const T* x, const std::uint16_t* x_bf16,
                                T* dy, const std::uint16_t* dy_bf16, T* dx, bool accumulate_dx, void* s) {
  dk::Conv2dShape shape = c.shape;
  shape.batch = batch_;
  if constexpr (std::is_same_v<T, float>) {
    dk::Conv2dParams p;
    p.shape = shape;
    p.math = math_;
    p.split_k = 0;
    const bool pad = padded(c);
    if (math_ == dk::ConvMath::wmma_bf16) {
      DEEPER_CHECK(dy_bf16 != nullptr, "Network: {} backward without the bf16 copy of its output gradient", c.name);
      p.x_bf16 = reinterpret_cast<const __nv_bfloat16*>(x_bf16);
      p.w_bf16 = reinterpret_cast<const __nv_bfloat16*>(pad ? c.w_pad : b.params_bf16 + c.weight);
      p.dy_bf16 = reinterpret_cast<const __nv_bfloat16*>(dy_bf16);
    } else {
      p.x = x;
      p.w = b.params + c.weight;
      p.dy = dy;
    }
    p.dw = b.grads + c.weight;
    if (pad) {  // wgrad of the padded conv into the scratch, then its first C channels into the gradient
      DEEPER_CHECK(dx == nullptr, "Network: {} runs channel-padded and has no input gradient in backward", c.name);
      p.shape.in_channels = c.pad_channels;
      p.dw = c.dw_pad;
    }
    conv_wgrad(device_, p, bf16_kernel_, s);
    if (pad) {
      dk::UnpadChannelsParams u;
      u.in = c.dw_pad;
      u.out = b.grads + c.weight;
      u.rows = c.weight_rows();
      u.channels = c.shape.in_channels;
      u.padded_channels = c.pad_channels;
      dk::unpad_channels(device_, u, s);  // set, as every gradient of the buffer
    }
    if (dx != nullptr) {
      p.dw = nullptr;
      p.dx = dx;
      p.accumulate = accumulate_dx;
      conv_dgrad(device_, p, bf16_kernel_, s);
    }
  } else {
    (void)x_bf16, (void)dy_bf16, (void)s;
    dk::cpu_impl::conv2d_wgrad_ref<double>(shape, x, dy, b.grads + c.weight);
    if (dx != nullptr) dk::cpu_impl::conv2d_dgrad_ref<double>(shape, dy, b.params + c.weight, dx, accumulate_dx);
  }
}

template <typename T>
const T* NetworkT<T>::forward(const NetworkBuffersT<T>& b, const T* images, std::int64_t batch, BnMode mode,
                              Stream* stream) {
  DEEPER_NVTX_RANGE("network.forward");
  DEEPER_CHECK(batch >= 1 && batch <= max_batch_, "Network::forward: batch {} is not in [1, {}] (max_batch)", batch,
               max_batch_);
  DEEPER_CHECK(images != nullptr, "Network::forward: null images");
  DEEPER_CHECK(b.params != nullptr, "Network::forward: null parameter buffer");
  DEEPER_CHECK(b.stats != nullptr, "Network::forward: null statistics buffer");
  const bool bf16 = math_ == dk::ConvMath::wmma_bf16;
  DEEPER_CHECK(!bf16 || b.params_bf16 != nullptr, "Network::forward: wmma_bf16 math needs the bf16 weight copy (null)");
  Plan& P = *plan_;
  const bool train = mode == BnMode::train;
  if (train) {
    const Stage& last = P.stage[3];
    const std::int64_t rows = batch * last.conv2.shape.out_height() * last.conv2.shape.out_width();
    DEEPER_CHECK(rows >= 2,
                 "Network::forward: training-mode batch norm needs at least 2 values per channel; batch {} gives {} "
                 "in stage 5 ({}x{} maps)",
                 batch, rows, last.conv2.shape.out_height(), last.conv2.shape.out_width());
  }
  batch_ = batch;
  images_ = images;
  pad_active_ = pad_stem_;
  trained_forward_ = false;
  inference_forward_ = false;
  have_loss_ = false;
  epilogue_stat_convs_ = 0;
  void* s = native(stream);
  const ModelConfig& m = layout_.model;
  const T eps = static_cast<T>(m.bn_epsilon), momentum = static_cast<T>(1.0 - m.bn_momentum);

  // BN of conv c: y = act(bn(c.out) [+ residual]).
  auto bn_chan = [&](const Conv& c) {
    dk::BatchNormChannelsT<T> ch;
    ch.gamma = b.params + c.gamma;
    ch.beta = b.params + c.beta;
    ch.eps = eps;
    if (train) {
      ch.mean = c.save_mean;  // of the conv output without its bias: training BN is blind to the bias
      ch.invstd = c.save_invstd;
    } else {
      ch.mean = b.stats + c.running_mean;  // of conv output + bias
      ch.var = b.stats + c.running_var;
      if (c.bias >= 0) ch.x_bias = b.params + c.bias;
    }
    return ch;
  };
  // The BN statistics of c.out: from the partials c's conv epilogue left in the workspace (tiles > 0,
  // so nothing may run in between that uses the workspace), else by batchnorm_stats.
  auto stats = [&](const Conv& c, int tiles) {
    if (!train) return;
    dk::BatchNormStatsParamsT<T> st;
    st.x = c.out;
    st.rows = batch_ * c.shape.out_height() * c.shape.out_width();
    st.channels = c.shape.out_channels;
    st.eps = eps;
    st.momentum = momentum;
    st.running_mean = b.stats + c.running_mean;
    st.running_var = b.stats + c.running_var;
    if (c.bias >= 0) st.x_bias = b.params + c.bias;  // the running mean is that of conv output + bias
    st.save_mean = c.save_mean;
    st.save_invstd = c.save_invstd;
    if constexpr (std::is_same_v<T, float>) {
      if (tiles > 0) {
        ++epilogue_stat_convs_;
        return dk::batchnorm_stats_from_partials(device_, st, static_cast<const double*>(P.workspace), tiles, s);
      }
    } else {
      (void)tiles;  // the network of doubles runs on the cpu: no statistics epilogue
    }
    if (P.workspace != nullptr) {
      DEEPER_CHECK(dk::batchnorm_workspace_bytes(st.rows, st.channels) <= P.workspace_bytes,
                   "Network: BN workspace too small for {} rows", st.rows);
      st.workspace = P.workspace;
    }
    bn_stats(device_, st, s);
  };
  int tiles = 0;
  int* const want_tiles = train ? &tiles : nullptr;  // the statistics epilogue in training mode only
  // y = relu(bn(c.out) [+ bn(residual.out)]), and its bf16 copy y_bf16 (the next conv's operand) when
  // not null, in one pass.
  auto apply = [&](const Conv& c, T* y, const Conv* residual, std::uint16_t* y_bf16) {
    dk::BatchNormApplyParamsT<T> a;
    a.rows = batch_ * c.shape.out_height() * c.shape.out_width();
    a.channels = c.shape.out_channels;
    a.x = c.out;
    a.bn = bn_chan(c);
    a.relu = true;
    if (residual != nullptr) {
      a.residual = dk::BnResidual::batchnorm;
      a.r = residual->out;
      a.r_bn = bn_chan(*residual);
    }
    a.y = y;
    a.y_bf16 = y_bf16;
    bn_apply(device_, a, s);
  };

  // Stem.
  if (bf16) stem_input_to_bf16(images, s);
  conv_forward(P.stem, b, images, P.x_bf16, P.stem.out, s, want_tiles);
  stats(P.stem, tiles);
  apply(P.stem, P.s1, nullptr, nullptr);
  dk::MaxPoolParamsT<T> mp;
  mp.batch = batch;
  mp.height = P.stem.shape.out_height();
  mp.width = P.stem.shape.out_width();
  mp.channels = P.stem.shape.out_channels;
  mp.kernel = 3;
  mp.stride = 2;
  mp.pad = 0;
  mp.x = P.s1;
  mp.y = P.p;
  mp.argmax = P.argmax;
  mp.y_bf16 = bf16 ? P.p_bf16 : nullptr;  // stage 2's bf16 input, in the same pass
  maxpool_fwd(device_, mp, s);

  // Stages.
  const T* in = P.p;
  const std::uint16_t* in_bf16 = P.p_bf16;
  for (int k = 0; k < 4; ++k) {
    Stage& st = P.stage[k];
    conv_forward(st.conv1, b, in, in_bf16, st.conv1.out, s, want_tiles);
    stats(st.conv1, tiles);
    apply(st.conv1, st.h, nullptr, bf16 ? st.h_bf16 : nullptr);
    // Each conv's statistics right after it: the partials of its epilogue share one workspace.
    conv_forward(st.conv2, b, st.h, st.h_bf16, st.conv2.out, s, want_tiles);
    stats(st.conv2, tiles);
    conv_forward(st.proj, b, in, in_bf16, st.proj.out, s, want_tiles);
    stats(st.proj, tiles);
    apply(st.conv2, st.o, &st.proj, bf16 && k < 3 ? st.o_bf16 : nullptr);
    in = st.o;
    in_bf16 = st.o_bf16;
  }

  // Head.
  const Conv& last = P.stage[3].conv2;
  dk::GlobalAvgPoolParamsT<T> gp;
  gp.batch = batch;
  gp.height = last.shape.out_height();
  gp.width = last.shape.out_width();
  gp.channels = last.shape.out_channels;
  gp.x = in;
  gp.y = P.e;
  avgpool_fwd(device_, gp, s);
  dk::LinearParamsT<T> lp;
  lp.rows = batch;
  lp.in_features = m.widths[3];
  lp.out_features = m.classes;
  lp.x = P.e;
  lp.weight = b.params + layout_.param("fc.weight").offset;
  lp.bias = b.params + layout_.param("fc.bias").offset;
  lp.y = P.logits;
  linear_fwd(device_, lp, s);
  trained_forward_ = train;
  inference_forward_ = !train;
  return P.logits;
}

template <typename T>
LossResult NetworkT<T>::loss(const std::int32_t* labels, bool check_labels, Stream* stream) {
  DEEPER_NVTX_RANGE("network.loss");
  DEEPER_CHECK(batch_ > 0, "Network::loss: no forward pass yet");
  DEEPER_CHECK(labels != nullptr, "Network::loss: null labels");
  const ModelConfig& m = layout_.model;
  if (check_labels) dk::check_labels(device_, labels, batch_, m.classes, "Network::loss");
  Plan& P = *plan_;
  dk::CrossEntropyParamsT<T> p;
  p.rows = batch_;
  p.classes = m.classes;
  p.logits = P.logits;
  p.labels = labels;
  p.sample_loss = sample_loss_;
  p.predicted = predicted_;
  p.correct = P.correct;
  p.loss = P.loss;
  p.num_correct = P.num_correct;
  ce_fwd(device_, p, native(stream));
  T loss = 0;
  std::int32_t correct = 0;
  copy_bytes(&loss, Device::cpu(), P.loss, device_, sizeof(T), stream);
  copy_bytes(&correct, Device::cpu(), P.num_correct, device_, sizeof correct, stream);
  if (stream != nullptr) stream->synchronize();
  P.labels = labels;
  have_loss_ = true;
  return LossResult{static_cast<double>(loss), correct, batch_};
}

template <typename T>
void NetworkT<T>::decisions(Stream* stream) {
  DEEPER_CHECK(batch_ > 0, "Network::decisions: no forward pass yet");
  Plan& P = *plan_;
  // The loss kernel's argmax, against dummy labels 0 (the loss values are not used).
  fill_bytes(P.correct, device_, 0, static_cast<std::size_t>(batch_) * sizeof(std::int32_t), stream);
  dk::CrossEntropyParamsT<T> p;
  p.rows = batch_;
  p.classes = layout_.model.classes;
  p.logits = P.logits;
  p.labels = P.correct;  // zeros
  p.sample_loss = sample_loss_;
  p.predicted = predicted_;
  ce_fwd(device_, p, native(stream));
  have_loss_ = false;
}

template <typename T>
void NetworkT<T>::backward(const NetworkBuffersT<T>& b, Stream* stream) {
  DEEPER_NVTX_RANGE("network.backward");
  DEEPER_CHECK(trained_forward_, "Network::backward: needs a training-mode forward pass first");
  DEEPER_CHECK(have_loss_, "Network::backward: needs loss() after the forward pass");
  DEEPER_CHECK(b.params != nullptr && b.grads != nullptr, "Network::backward: null parameter or gradient buffer");
  const bool bf16 = math_ == dk::ConvMath::wmma_bf16;
  DEEPER_CHECK(!bf16 || b.params_bf16 != nullptr, "Network::backward: wmma_bf16 math needs the bf16 weight copy (null)");
  Plan& P = *plan_;
  void* s = native(stream);
  const ModelConfig& m = layout_.model;
  const std::int64_t N = batch_;

  // Conv biases: each conv feeds a training-mode BN, which is blind to a per-channel shift of its
  // input, so d loss / d bias is exactly 0 (the column sums of the BN's input gradient, which sum to
  // zero by construction). Written as zeros instead of summing a map of rounding noise.
  for (const Conv* c : P.convs()) {
    if (c->bias >= 0) {
      fill_bytes(b.grads + c->bias, device_, 0, static_cast<std::size_t>(c->shape.out_channels) * sizeof(T), stream);
    }
  }

  // Loss -> logits -> embedding.
  dk::CrossEntropyParamsT<T> ce;
  ce.rows = N;
  ce.classes = m.classes;
  ce.logits = P.logits;
  ce.labels = P.labels;
  ce.sample_loss = sample_loss_;
  ce.dlogits = P.dlogits;
  ce_bwd(device_, ce, s);
  dk::LinearBackwardParamsT<T> lb;
  lb.rows = N;
  lb.in_features = m.widths[3];
  lb.out_features = m.classes;
  lb.x = P.e;
  lb.weight = b.params + layout_.param("fc.weight").offset;
  lb.dy = P.dlogits;
  lb.dx = P.de;
  lb.dweight = b.grads + layout_.param("fc.weight").offset;
  lb.dbias = b.grads + layout_.param("fc.bias").offset;
  linear_bwd(device_, lb, s);
  pool_backward_head(P.de, P.g[0], s);

  auto chan = [&](const Conv& c) {
    dk::BatchNormChannelsT<T> ch;
    ch.gamma = b.params + c.gamma;
    ch.mean = c.save_mean;
    ch.invstd = c.save_invstd;
    ch.eps = static_cast<T>(m.bn_epsilon);
    return ch;
  };
  // The backward of relu(bn(c.out) [+ residual]) = y: dy -> dx, and c's dgamma, dbeta; the caller
  // adds the residual's fields.
  // With wmma_bf16 the bf16 copy of dx (the conv's output gradient) is written in the same pass, into
  // P.dy_bf16 (the tail's dr copy into P.dr_bf16).
  auto bn_relu_backward = [&](const Conv& c, const T* dy, const T* y, T* dx) {
    dk::BatchNormBackwardParamsT<T> bp;
    bp.rows = N * c.shape.out_height() * c.shape.out_width();
    bp.channels = c.shape.out_channels;
    bp.dy = dy;
    bp.y = y;
    bp.x = c.out;
    bp.bn = chan(c);
    bp.relu = true;
    bp.dx = dx;
    bp.dgamma = b.grads + c.gamma;
    bp.dbeta = b.grads + c.beta;
    if (bf16) bp.dx_bf16 = P.dy_bf16;
    if (P.workspace != nullptr) {
      DEEPER_CHECK(dk::batchnorm_workspace_bytes(bp.rows, bp.channels) <= P.workspace_bytes,
                   "Network: BN workspace too small for {} rows", bp.rows);
      bp.workspace = P.workspace;
    }
    return bp;
  };

  int cur = 0;  // P.g[cur] holds d(stage output)
  for (int k = 3; k >= 0; --k) {
    Stage& st = P.stage[k];
    const T* in = k == 0 ? P.p : P.stage[k - 1].o;
    const std::uint16_t* in_bf16 = k == 0 ? P.p_bf16 : P.stage[k - 1].o_bf16;
    T* din = P.g[1 - cur];
    // Tail: o = relu(bn2(c2) + proj_bn(cp)).
    dk::BatchNormBackwardParamsT<T> tb = bn_relu_backward(st.conv2, P.g[cur], st.o, P.dc2);
    tb.residual = dk::BnResidual::batchnorm;
    tb.r = st.proj.out;
    tb.r_bn = chan(st.proj);
    tb.dr = P.dcp;
    tb.dr_gamma = b.grads + st.proj.gamma;
    tb.dr_beta = b.grads + st.proj.beta;
    if (bf16) tb.dr_bf16 = P.dr_bf16;
    bn_backward(device_, tb, s);
    conv_backward(st.conv2, b, st.h, st.h_bf16, P.dc2, P.dy_bf16, P.dh, false, s);
    // bn1 + relu (its bf16 copy of dc1 replaces dc2's, consumed above).
    bn_backward(device_, bn_relu_backward(st.conv1, P.dh, st.h, P.dc1), s);
    conv_backward(st.conv1, b, in, in_bf16, P.dc1, P.dy_bf16, din, false, s);
    conv_backward(st.proj, b, in, in_bf16, P.dcp, P.dr_bf16, din, true, s);
    cur = 1 - cur;
  }

  // Max-pool, stem BN + relu, stem conv (no input gradient).
  pool_backward_stem(P.g[cur], P.dh, s);
  bn_backward(device_, bn_relu_backward(P.stem, P.dh, P.s1, P.dc1), s);
  conv_backward(P.stem, b, images_, P.x_bf16, P.dc1, P.dy_bf16, nullptr, false, s);
}

template <typename T>
void NetworkT<T>::pool_backward_head(const T* de, T* dx, void* s) {
  const Conv& last = plan_->stage[3].conv2;
  dk::GlobalAvgPoolBackwardParamsT<T> gb;
  gb.batch = batch_;
  gb.height = last.shape.out_height();
  gb.width = last.shape.out_width();
  gb.channels = last.shape.out_channels;
  gb.dy = de;
  gb.dx = dx;
  avgpool_bwd(device_, gb, s);
}

template <typename T>
void NetworkT<T>::pool_backward_stem(const T* dy, T* dx, void* s) {
  const Conv& stem = plan_->stem;
  dk::MaxPoolBackwardParamsT<T> mb;
  mb.batch = batch_;
  mb.height = stem.shape.out_height();
  mb.width = stem.shape.out_width();
  mb.channels = stem.shape.out_channels;
  mb.kernel = 3;
  mb.stride = 2;
  mb.pad = 0;
  mb.dy = dy;
  mb.argmax = plan_->argmax;
  mb.dx = dx;
  maxpool_bwd(device_, mb, s);
}

template <typename T>
void NetworkT<T>::conv_input_grad(const Conv& c, const NetworkBuffersT<T>& b, const T* dy, T* dx, bool accumulate,
                                  void* s) {
  dk::Conv2dShape shape = c.shape;
  shape.batch = batch_;
  if constexpr (std::is_same_v<T, float>) {
    dk::Conv2dParams p;
    p.shape = shape;
    p.math = math_;
    p.split_k = 0;
    if (math_ == dk::ConvMath::wmma_bf16) {
      to_bf16(dy, plan_->dy_bf16, shape.y_elements(), s);
      p.w_bf16 = reinterpret_cast<const __nv_bfloat16*>(b.params_bf16 + c.weight);
      p.dy_bf16 = reinterpret_cast<const __nv_bfloat16*>(plan_->dy_bf16);
    } else {
      p.w = b.params + c.weight;
      p.dy = dy;
    }
    p.dx = dx;
    p.accumulate = accumulate;
    conv_dgrad(device_, p, bf16_kernel_, s);
  } else {
    (void)s;
    dk::check_conv2d_shape(shape, "Network<double> conv dgrad");
    dk::cpu_impl::conv2d_dgrad_ref<double>(shape, dy, b.params + c.weight, dx, accumulate);
  }
}

template <typename T>
void NetworkT<T>::input_gradient(const NetworkBuffersT<T>& b, const T* d_logits, T* d_images, Stream* stream) {
  DEEPER_NVTX_RANGE("network.input_gradient");
  DEEPER_CHECK(batch_ > 0, "Network::input_gradient: no forward pass yet");
  DEEPER_CHECK(inference_forward_,
               "Network::input_gradient: the last forward ran in training mode; needs BnMode::inference");
  DEEPER_CHECK(d_logits != nullptr, "Network::input_gradient: null d_logits");
  DEEPER_CHECK(d_images != nullptr, "Network::input_gradient: null d_images");
  DEEPER_CHECK(b.params != nullptr, "Network::input_gradient: null parameter buffer");
  DEEPER_CHECK(b.stats != nullptr, "Network::input_gradient: null statistics buffer");
  DEEPER_CHECK(math_ != dk::ConvMath::wmma_bf16 || b.params_bf16 != nullptr,
               "Network::input_gradient: wmma_bf16 math needs the bf16 weight copy (null)");
  Plan& P = *plan_;
  void* s = native(stream);
  const ModelConfig& m = layout_.model;
  const std::int64_t N = batch_;

  // Logits -> embedding (dx only) -> last stage output.
  dk::LinearBackwardParamsT<T> lb;
  lb.rows = N;
  lb.in_features = m.widths[3];
  lb.out_features = m.classes;
  lb.weight = b.params + layout_.param("fc.weight").offset;
  lb.dy = d_logits;
  lb.dx = P.de;
  linear_bwd(device_, lb, s);
  pool_backward_head(P.de, P.g[0], s);

  // Inference BN of conv c (running statistics as constants).
  auto chan = [&](const Conv& c) {
    dk::BatchNormChannelsT<T> ch;
    ch.gamma = b.params + c.gamma;
    ch.var = b.stats + c.running_var;
    ch.eps = static_cast<T>(m.bn_epsilon);
    return ch;
  };
  // The input gradient of relu(bn(c.out) [+ residual]) = y: dy -> dx.
  // With wmma_bf16 the bf16 copy of dx (the conv's output gradient) is written in the same pass, into
  // P.dy_bf16 (the tail's dr copy into P.dr_bf16).
  auto bn_relu_backward = [&](const Conv& c, const T* dy, const T* y, T* dx) {
    dk::BatchNormInferenceBackwardParamsT<T> bp;
    bp.rows = N * c.shape.out_height() * c.shape.out_width();
    bp.channels = c.shape.out_channels;
    bp.dy = dy;
    bp.y = y;
    bp.bn = chan(c);
    bp.relu = true;
    bp.dx = dx;
    return bp;
  };

  int cur = 0;  // P.g[cur] holds d(stage output)
  for (int k = 3; k >= 0; --k) {
    Stage& st = P.stage[k];
    T* din = P.g[1 - cur];
    // Tail: o = relu(bn2(c2) + proj_bn(cp)), both branches in one pass.
    dk::BatchNormInferenceBackwardParamsT<T> tb = bn_relu_backward(st.conv2, P.g[cur], st.o, P.dc2);
    tb.residual = dk::BnResidual::batchnorm;
    tb.r_bn = chan(st.proj);
    tb.dr = P.dcp;
    bn_inference_bwd(device_, tb, s);
    conv_input_grad(st.conv2, b, P.dc2, P.dh, false, s);
    bn_inference_bwd(device_, bn_relu_backward(st.conv1, P.dh, st.h, P.dc1), s);
    conv_input_grad(st.conv1, b, P.dc1, din, false, s);
    conv_input_grad(st.proj, b, P.dcp, din, true, s);
    cur = 1 - cur;
  }

  // Max-pool (the kept argmax), stem BN + relu, stem dgrad into the images' gradient.
  pool_backward_stem(P.g[cur], P.dh, s);
  bn_inference_bwd(device_, bn_relu_backward(P.stem, P.dh, P.s1, P.dc1), s);
  conv_input_grad(P.stem, b, P.dc1, d_images, false, s);
}

template <typename T>
const T* NetworkT<T>::activation(int lab_layer) const {
  DEEPER_CHECK(lab_layer >= 1 && lab_layer <= kLabLayers, "Network::activation: lab layer {} is not in [1, 11]",
               lab_layer);
  DEEPER_CHECK(batch_ > 0, "Network::activation: no forward pass yet");
  const Plan& P = *plan_;
  if (lab_layer == 1) return P.s1;
  if (lab_layer == 10) return P.e;
  if (lab_layer == 11) return P.logits;
  const Stage& st = P.stage[(lab_layer - 2) / 2];
  return lab_layer % 2 == 0 ? st.h : st.o;
}

template <typename T>
std::array<std::int64_t, 3> NetworkT<T>::activation_shape(int lab_layer) const {
  DEEPER_CHECK(lab_layer >= 1 && lab_layer <= kLabLayers, "Network::activation_shape: lab layer {} is not in [1, 11]",
               lab_layer);
  const Plan& P = *plan_;
  auto of = [](const Conv& c) {
    return std::array<std::int64_t, 3>{c.shape.out_height(), c.shape.out_width(), c.shape.out_channels};
  };
  if (lab_layer == 1) return of(P.stem);
  if (lab_layer == 10) return {1, 1, layout_.model.widths[3]};
  if (lab_layer == 11) return {1, 1, layout_.model.classes};
  const Stage& st = P.stage[(lab_layer - 2) / 2];
  return lab_layer % 2 == 0 ? of(st.conv1) : of(st.conv2);
}

template class NetworkT<float>;
template class NetworkT<double>;

NetworkBuffersT<float> store_buffers(const ParameterStore& store, const std::uint16_t* params_bf16) {
  NetworkBuffersT<float> b;
  b.params = store.params();
  b.grads = store.grads();
  b.stats = store.stats();
  b.params_bf16 = params_bf16;
  return b;
}

void params_to_bf16(const Device& device, const float* params, std::uint16_t* out, std::int64_t n, Stream* stream) {
  dk::ToBf16Params p;
  p.in = params;
  p.out = out;
  p.count = n;
  dk::to_bf16(device, p, native(stream));
}

std::string lab_layer_name(int lab_layer) {
  DEEPER_CHECK(lab_layer >= 1 && lab_layer <= kLabLayers, "lab layer {} is not in [1, 11]", lab_layer);
  if (lab_layer == 1) return "stem.relu";
  if (lab_layer == 10) return "embedding";
  if (lab_layer == 11) return "logits";
  const int stage = (lab_layer - 2) / 2 + 2;
  return "stage" + std::to_string(stage) + (lab_layer % 2 == 0 ? ".relu1" : ".out");
}

std::string lab_layer_keras_name(int lab_layer) {
  DEEPER_CHECK(lab_layer >= 1 && lab_layer <= kLabLayers, "lab layer {} is not in [1, 11]", lab_layer);
  if (lab_layer == 10) return "flatten_1";
  if (lab_layer == 11) return "fcOut";
  return "activation_" + std::to_string(lab_layer);
}

}  // namespace deeper::nn
