// Inference API: a trained ResNet-10 on a device, run in inference mode (BN running statistics)
// on batches of images, giving the decisions (argmax), the logits and the activations of any of
// the lab's layers 1-11 (../shared/reference/resnet10.md section 2; nn/network.h names them). The
// analysis programs (issue 6) stream these activations into the GCMI engine batch by batch.
//
//   auto model = nn::InferenceModel::from_checkpoint("runs/tiny/checkpoint.safetensors", device, 256);
//   for (each batch) {
//     model.run(images);                      // B x S x S x 3 f32 on the model's device
//     Tensor l5 = model.activation(5);        // B x 28 x 28 x 128 f32 view (nhwc), device memory
//     Tensor d = model.decisions();           // B int32
//   }
//
// Views returned by activation(), logits() and decisions() point into the network's arena: they
// are valid until the next run(). Nothing is allocated per batch.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kernels/nn/conv2d.h"
#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"
#include "kernels/runtime/tensor.h"
#include "nn/config.h"
#include "nn/network.h"
#include "nn/parameters.h"

namespace deeper::nn {

class InferenceModel {
 public:
  // Uses the parameters and BN running statistics of `store` (not copied: later updates of the
  // store show in later runs; with wmma_bf16 call refresh_weights() after changing them).
  InferenceModel(const ParameterStore& store, std::int64_t max_batch,
                 kernels::ConvMath math = kernels::ConvMath::simt_f32);
  // Loads a deeper-train checkpoint (its own config decides the shapes) onto `device`.
  static InferenceModel from_checkpoint(const std::filesystem::path& path, Device device, std::int64_t max_batch,
                                        kernels::ConvMath math = kernels::ConvMath::simt_f32);
  ~InferenceModel();
  InferenceModel(InferenceModel&&) noexcept;
  InferenceModel& operator=(InferenceModel&&) = delete;
  InferenceModel(const InferenceModel&) = delete;

  const NetworkLayout& layout() const;
  Device device() const;
  std::int64_t max_batch() const;
  std::int64_t input_size() const;

  // images: B x S x S x 3 f32 on the model's device (B in [1, max_batch], S = input_size). Throws
  // deeper::Error naming the problem for a wrong shape, dtype or device.
  void run(const Tensor& images, Stream* stream = nullptr);

  std::int64_t batch() const;          // of the last run
  Tensor logits() const;               // B x classes f32
  Tensor decisions() const;            // B int32, argmax of the logits (first maximum)
  Tensor activation(int lab_layer) const;  // B x H x W x C (nhwc) for layers 1-9, B x C for 10 and 11
  std::int64_t units(int lab_layer) const; // H·W·C per image
  // Host copies (for tests and small tools).
  std::vector<float> activation_host(int lab_layer) const;
  std::vector<std::int32_t> decisions_host() const;

  // Runs the inference forward on `images` (as run(): logits(), decisions() and activation()
  // describe this batch afterwards) and writes d logit[b, target_classes[b]] / d image_b into
  // d_images (same shape, f32, same device as images; overwritten): the input gradient of
  // nn/network.h, about one forward's FLOPs more, no parameter gradients. Throws deeper::Error
  // naming the problem for a count of classes other than B, a class outside [0, classes), or a
  // wrong shape, dtype or device of either tensor. The one-hot logit gradient lives in a device
  // buffer of max_batch x classes floats made on the first call. Synchronises `stream`.
  void input_gradient(const Tensor& images, std::span<const std::int32_t> target_classes, Tensor& d_images,
                      Stream* stream = nullptr);

  // Re-derives the bf16 weight copy from the store (wmma_bf16 only; a no-op otherwise).
  void refresh_weights(Stream* stream = nullptr);

 private:
  struct Owned;
  std::unique_ptr<Owned> owned_;  // the store and config when loaded from a checkpoint
  const ParameterStore* store_ = nullptr;
  std::unique_ptr<Network> net_;
  DeviceBuffer bf16_;
  DeviceBuffer d_logits_;              // input_gradient's one-hot rows (max_batch x classes), lazily made
  std::vector<float> d_logits_host_;   // their host staging copy
};

// Parses a layer list such as "1-11", "2,3,9" or "1-3,10" into sorted unique lab layers; throws
// deeper::Error naming the text for anything outside 1-11.
std::vector<int> parse_lab_layers(const std::string& text);

}  // namespace deeper::nn
