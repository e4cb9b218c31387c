// The ResNet-10 (nn/resnet10.h) as a computation on a device: forward (BN in training or inference
// mode), softmax cross-entropy loss and accuracy, and the backward pass into the flat gradient
// buffer, built from the kernels of kernels/nn. One class template for float (every backend: cpu,
// emu, cuda, through the kernel dispatchers) and double (cpu only, through the templated CPU
// references: the gradient-check oracle).
//
// Memory: the parameters, gradients and BN running statistics are the ParameterStore's flat buffers
// (or any buffers with the layout's offsets, NetworkBuffersT); every activation, saved statistic,
// gradient of an activation and workspace is carved from one Arena at construction, sized for
// `max_batch` images, so a step allocates nothing (a smaller batch uses the front of each view).
//
// Forward, per image (NHWC; w0..w3 the widths; "lab layer" = resnet10.md's getActID index):
//   stem   a0 = conv7x7/2(x) [+ bias]; s1 = relu(bn(a0))                         lab layer 1
//          p  = maxpool3x3/2 'valid'(s1) (argmax kept)
//   stage  c1 = conv1(in) [+ b]; h = relu(bn1(c1))                                lab 2, 4, 6, 8
//          c2 = conv2(h) [+ b]; cp = proj(in) [+ b]; o = relu(bn2(c2) + proj_bn(cp)) (one fused pass)
//                                                                                 lab 3, 5, 7, 9
//   head   e = global average pool(o5) (N x w3)                                   lab 10
//          logits = e fc.weight^T + fc.bias                                       lab 11
// BN training mode normalises with the batch statistics and updates the running statistics
// (momentum 1 - model.bn_momentum in PyTorch's convention); inference mode uses the running
// statistics. The conv bias (model.conv_bias) never touches the conv output in memory: each conv
// feeds a BN, which takes the bias as its x_bias (kernels/nn/batchnorm.h). Training mode is blind to
// it (the batch mean moves with it), so the batch statistics are those of the conv output and only
// the running mean adds the bias, as it would in Keras and PyTorch; inference mode normalises conv
// output + bias with the running statistics. This saves a read and a write of every conv output.
//
// Backward (after forward in training mode and loss): dlogits = (softmax - onehot) / N; fc
// gradients; avg-pool backward; per stage the fused BN backward of the tail (relu mask, bn2 and
// proj_bn), conv2 wgrad + dgrad, bn1 backward (relu), conv1 and proj wgrad + dgrad (the proj dgrad
// accumulates into the stage input's gradient); max-pool backward; stem BN backward; stem wgrad.
// Every gradient in the buffer is overwritten (not accumulated); conv bias gradients are exactly
// zero (a training-mode BN follows every conv, and its input gradient's column sums are zero by
// construction), written as zeros rather than summed from rounding noise.
//
// Input gradient (input_gradient, after a forward in inference mode): d(Σ_b Σ_j d_logits[b, j] ·
// logits[b, j]) / d images, i.e. for one-hot rows the gradient of the logit of class c_b with
// respect to image b. Chain, with the running statistics as constants: fc dx only (dlogits · W),
// avg-pool backward, per stage (last first) relu mask + inference BN of the tail for both branches
// (kernels/nn/batchnorm_inference.h, one fused pass), conv2 dgrad, relu mask + bn1, conv1 dgrad and
// proj dgrad accumulated into the stage input's gradient; max-pool backward through the kept
// argmax; stem relu mask + BN; stem dgrad (7x7/2, 3 channels, not channel-padded) into the
// caller's d_images. No
// parameter gradient is computed (buffers.grads is not read or written), so it costs about one
// forward's FLOPs (the dgrads; the stem dgrad issues 4x its useful FLOPs, kernels/nn/conv2d.h).
// Workspace: the backward pass's scratch already carved in the arena at construction (the
// ping-pong stage gradients, the conv-output gradients, the bf16 gradient copy); nothing is
// allocated per call. wmma_bf16 math is supported: each conv's output gradient is converted to
// bf16 and multiplied with the bf16 weight copy (fp32 accumulation), as in backward().
//
// Conv math: simt_f32 (fp32 everywhere), or wmma_bf16 (float only): the conv inputs and output
// gradients are converted to bf16 (kernels/render to_bf16) and the weights are read from a bf16
// copy of the parameter buffer (the one the optimizer writes, NetworkBuffersT::params_bf16), fp32
// accumulation and fp32 outputs; BN, pooling, the head and the loss stay fp32.
//
// Stem channel padding (wmma_bf16, stem input channels C not a multiple of 8: RGB's 3): the stem's
// forward and wgrad run as a conv of C_pad = 8 input channels whose channels C..7 are zero, so the
// bf16 conv kernels get 16-byte vector operands (version 2, kernels/nn/conv2d.h) instead of version
// 1's element-wise loader. kernels/nn/channel_pad.h does the three conversions: the images go
// fp32 N x H x W x C -> bf16 N x H x W x 8 in one pass (instead of to_bf16); each forward pads the
// stem's weights from the bf16 copy, K x R x S x C -> K x R x S x 8 (the copy changes only at an
// optimizer step, and the pad is 25k values at the lab's shape, so redoing it per forward is cheaper
// than tracking when it changes; wgrad needs no weights); wgrad writes the padded fp32 scratch
// K x R x S x 8, whose first C channels are then copied into the gradient (set). The padded
// channels contribute exact zeros, so the outputs equal the C-channel conv's up to the order of the
// fp32 additions (on the emulator the forward is bit-identical). The arena holds the padded input
// (N x H x W x 8 bf16), the padded weights and the scratch. The stem dgrad (input_gradient only)
// keeps the C-channel conv on the unpadded weight copy. set_stem_channel_padding(false) turns it off.
//
// Cost per image: layout.forward_flops() forward, ~3x that per training step (nn/resnet10.h).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/nn/conv2d.h"
#include "kernels/runtime/arena.h"
#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"
#include "nn/resnet10.h"

namespace deeper {
class Stream;
}

namespace deeper::nn {

enum class BnMode { train, inference };

inline constexpr int kLabLayers = 11;  // lab layers 1..11 (resnet10.md section 2)

// The flat buffers a pass reads and writes (device memory, layout offsets of nn/resnet10.h).
template <typename T>
struct NetworkBuffersT {
  const T* params = nullptr;                   // param_buffer_elements
  T* grads = nullptr;                          // param_buffer_elements; backward only
  T* stats = nullptr;                          // stat_buffer_elements; updated by training forwards
  const std::uint16_t* params_bf16 = nullptr;  // bf16 copy of params; wmma_bf16 math only
};

// Mean loss and accuracy of the last forward's batch.
struct LossResult {
  double loss = 0.0;            // mean cross-entropy (natural log)
  std::int64_t correct = 0;     // images whose argmax is the label
  std::int64_t batch = 0;
  double accuracy() const { return batch > 0 ? static_cast<double>(correct) / static_cast<double>(batch) : 0.0; }
};

template <typename T>
class NetworkT {
 public:
  // Reserves the arena for `max_batch` images on `device`. Throws deeper::Error for max_batch < 1,
  // a batch whose smallest BN has fewer than 2 rows, T = double off the cpu, or wmma_bf16 with T =
  // double.
  NetworkT(Device device, NetworkLayout layout, std::int64_t max_batch,
           kernels::ConvMath math = kernels::ConvMath::simt_f32);
  ~NetworkT();
  NetworkT(const NetworkT&) = delete;
  NetworkT& operator=(const NetworkT&) = delete;

  const NetworkLayout& layout() const { return layout_; }
  Device device() const { return device_; }
  std::int64_t max_batch() const { return max_batch_; }
  kernels::ConvMath math() const { return math_; }
  std::size_t arena_bytes() const;  // the reservation (activations, saved statistics, workspaces)

  // Stem channel padding (wmma_bf16 with a stem whose input channels C are not a multiple of 8,
  // i.e. RGB's 3): see "Stem channel padding" above. On by default; set_stem_channel_padding(false)
  // runs the plain C-channel stem (version 1's element-wise loader), for tests and comparisons. A
  // change takes effect at the next forward (a backward follows its forward's choice).
  void set_stem_channel_padding(bool on) { pad_stem_ = on; }
  // The bf16 conv kernel (wmma_bf16 only; kernels/nn/conv2d.h, Conv2dParams::bf16_kernel): 0
  // automatic (the default), 1, 2, or 3 (sm_90a wgmma); versions 2 and 3 apply to the convs with
  // vector operands, the others keep the automatic choice. Throws deeper::Error outside 0..3.
  void set_bf16_conv_kernel(int version);
  int bf16_conv_kernel() const { return bf16_kernel_; }
  // BN statistics in the conv epilogue (training mode, wmma_bf16 on cuda or emu, the convs that run
  // bf16 kernel version 2 or 3): the forward conv writes per-row-tile Σy, Σy² into the BN workspace
  // (Conv2dParams::stat_partials) and batchnorm_stats_from_partials finishes them, instead of
  // batchnorm_stats reading y again. The other convs (version 1, the unpadded stem, the cpu) keep
  // batchnorm_stats. On by default; off runs batchnorm_stats everywhere (tests, comparisons).
  void set_epilogue_bn_stats(bool on) { epilogue_stats_ = on; }
  bool epilogue_bn_stats() const { return epilogue_stats_; }
  // How many of the 13 convs took their BN statistics from the epilogue in the last forward (0 for
  // an inference forward).
  int epilogue_stat_convs() const { return epilogue_stat_convs_; }
  bool stem_channels_padded() const;  // whether the next forward's stem runs padded

  // images: batch x S x S x 3 (device memory, S = model.input_size). Returns the logits (batch x
  // classes, in the arena, valid until the next forward). The input must stay unchanged until
  // backward has run. Training mode needs batch >= 2 (BN statistics).
  const T* forward(const NetworkBuffersT<T>& buffers, const T* images, std::int64_t batch, BnMode mode,
                   Stream* stream = nullptr);

  // Cross-entropy of the last forward's logits against labels (batch int32, device memory, each in
  // [0, classes); checked on the host first when check_labels). Synchronises to read the sums.
  LossResult loss(const std::int32_t* labels, bool check_labels = true, Stream* stream = nullptr);

  // Gradients of the mean loss of the last loss() call into buffers.grads (every trainable tensor
  // overwritten; padding untouched). Needs a training-mode forward and loss() before it.
  void backward(const NetworkBuffersT<T>& buffers, Stream* stream = nullptr);

  // Gradient of Σ_b Σ_j d_logits[b, j] · logits[b, j] with respect to the images of the last
  // forward (see "Input gradient" above). Precondition: the last forward ran in BnMode::inference
  // with these parameters and statistics (buffers.params, buffers.stats, and params_bf16 for
  // wmma_bf16) on the same images, which must be unchanged. d_logits: last_batch() x classes,
  // d_images: last_batch() x S x S x 3 (overwritten), both device memory. buffers.grads is not
  // used (may be null). The forward's activations stay valid. Throws deeper::Error without an
  // inference-mode forward, for null pointers, or wmma_bf16 without the bf16 weight copy.
  void input_gradient(const NetworkBuffersT<T>& buffers, const T* d_logits, T* d_images, Stream* stream = nullptr);

  // After a forward: activations of lab layer 1..11 (device memory, batch x H x W x C NHWC, layer 10
  // batch x w3, layer 11 the logits), the per-image shape, the predicted classes (after loss(), or
  // decisions()), and the per-image losses (after loss()).
  const T* activation(int lab_layer) const;
  std::array<std::int64_t, 3> activation_shape(int lab_layer) const;  // H, W, C (1, 1, C for 10 and 11)
  const std::int32_t* predicted() const { return predicted_; }
  const T* sample_loss() const { return sample_loss_; }
  // argmax of the last forward's logits into predicted() (device), without a loss.
  void decisions(Stream* stream = nullptr);
  std::int64_t last_batch() const { return batch_; }

 private:
  struct Conv;
  struct Stage;
  struct Plan;
  // stat_tiles (training forward, or null): set to the row tiles whose BN partials the conv wrote
  // into the BN workspace (its statistics epilogue), or 0 where it wrote none.
  void conv_forward(const Conv& c, const NetworkBuffersT<T>& b, const T* x, const std::uint16_t* x_bf16, T* y,
                    void* s, int* stat_tiles = nullptr);
  // dy_bf16: the bf16 copy of dy (wmma_bf16), written by the batch-norm backward that produced dy.
  void conv_backward(const Conv& c, const NetworkBuffersT<T>& b, const T* x, const std::uint16_t* x_bf16, T* dy,
                     const std::uint16_t* dy_bf16, T* dx, bool accumulate_dx, void* s);
  void conv_input_grad(const Conv& c, const NetworkBuffersT<T>& b, const T* dy, T* dx, bool accumulate, void* s);
  void to_bf16(const T* in, std::uint16_t* out, std::int64_t count, void* s);
  // The stem's bf16 input (padded to the stem's pad_channels when padded) from the fp32 images.
  void stem_input_to_bf16(const T* images, void* s);
  bool padded(const Conv& c) const;  // c runs channel-padded in the current forward/backward
  // The global-average-pool backward of the head (d embedding -> d last stage output) and the stem's
  // max-pool backward (the kept argmax), shared by backward() and input_gradient().
  void pool_backward_head(const T* de, T* dx, void* s);
  void pool_backward_stem(const T* dy, T* dx, void* s);

  Device device_;
  NetworkLayout layout_;
  std::int64_t max_batch_ = 0;
  kernels::ConvMath math_ = kernels::ConvMath::simt_f32;
  std::unique_ptr<Arena> arena_;
  std::unique_ptr<Plan> plan_;
  std::int64_t batch_ = 0;
  bool trained_forward_ = false, have_loss_ = false;
  bool inference_forward_ = false;  // the last forward ran in BnMode::inference (input_gradient)
  bool pad_stem_ = true;            // set_stem_channel_padding
  int bf16_kernel_ = 0;             // set_bf16_conv_kernel
  bool epilogue_stats_ = true;      // set_epilogue_bn_stats
  int epilogue_stat_convs_ = 0;     // epilogue_stat_convs
  bool pad_active_ = false;         // pad_stem_ as of the last forward
  const T* images_ = nullptr;
  T* sample_loss_ = nullptr;
  std::int32_t* predicted_ = nullptr;
};

using Network = NetworkT<float>;

// The buffers of a ParameterStore (and an optional bf16 copy) as a NetworkBuffersT<float>.
class ParameterStore;
NetworkBuffersT<float> store_buffers(const ParameterStore& store, const std::uint16_t* params_bf16 = nullptr);

// bf16 bits of n fp32 values (round to nearest even), on `device`: the bf16 weight copy before the
// first step and after loading parameters (the optimizer keeps it in step afterwards).
void params_to_bf16(const Device& device, const float* params, std::uint16_t* out, std::int64_t n,
                    Stream* stream = nullptr);

// The lab layer names of resnet10.md ("activation_1", ..., "flatten_1", "fcOut") and deeper's
// names for them ("stem.relu", "stage2.relu1", "stage2.out", ..., "embedding", "logits").
std::string lab_layer_name(int lab_layer);
std::string lab_layer_keras_name(int lab_layer);

}  // namespace deeper::nn
