// The inference API (nn/inference.h).
#include "nn/inference.h"

#include "core/error.h"
#include "kernels/runtime/nvtx.h"
#include "kernels/runtime/stream.h"
#include "nn/checkpoint.h"

#include <algorithm>
#include <charconv>

namespace deeper::nn {

struct InferenceModel::Owned {
  TrainConfig config;
  std::unique_ptr<ParameterStore> store;
};

InferenceModel::InferenceModel(const ParameterStore& store, std::int64_t max_batch, kernels::ConvMath math)
    : store_(&store), net_(std::make_unique<Network>(store.device(), store.layout(), max_batch, math)) {
  if (math == kernels::ConvMath::wmma_bf16) {
    bf16_ = DeviceBuffer(store.device(), static_cast<std::size_t>(store.param_buffer_elements()) * sizeof(std::uint16_t));
    refresh_weights();
  }
}

InferenceModel InferenceModel::from_checkpoint(const std::filesystem::path& path, Device device, std::int64_t max_batch,
                                               kernels::ConvMath math) {
  auto owned = std::make_unique<Owned>();
  owned->config = checkpoint_config(path);
  owned->store = std::make_unique<ParameterStore>(device, resnet10_layout(owned->config.model), owned->config.optimizer.kind);
  load_checkpoint(path, *owned->store, owned->config);
  InferenceModel model(*owned->store, max_batch, math);
  model.owned_ = std::move(owned);
  return model;
}

InferenceModel::~InferenceModel() = default;
InferenceModel::InferenceModel(InferenceModel&&) noexcept = default;

const NetworkLayout& InferenceModel::layout() const { return net_->layout(); }
Device InferenceModel::device() const { return net_->device(); }
std::int64_t InferenceModel::max_batch() const { return net_->max_batch(); }
std::int64_t InferenceModel::input_size() const { return net_->layout().model.input_size; }
std::int64_t InferenceModel::batch() const { return net_->last_batch(); }

void InferenceModel::refresh_weights(Stream* stream) {
  if (net_->math() != kernels::ConvMath::wmma_bf16) return;
  params_to_bf16(store_->device(), store_->params(), static_cast<std::uint16_t*>(bf16_.data()),
                 store_->param_buffer_elements(), stream);
}

void InferenceModel::run(const Tensor& images, Stream* stream) {
  DEEPER_NVTX_RANGE("inference.run");
  const std::int64_t S = input_size();
  DEEPER_CHECK(images.defined(), "InferenceModel::run: undefined image tensor");
  DEEPER_CHECK(images.dtype() == DType::f32, "InferenceModel::run: images must be f32, got {}", images.to_string());
  DEEPER_CHECK(images.device() == device(), "InferenceModel::run: images are on {}, the model on {}",
               images.device().name(), device().name());
  DEEPER_CHECK(images.rank() == 4 && images.dim(1) == S && images.dim(2) == S && images.dim(3) == 3,
               "InferenceModel::run: images must be B x {} x {} x 3, got {}", S, S, images.shape().to_string());
  const std::int64_t B = images.dim(0);
  DEEPER_CHECK(B >= 1 && B <= max_batch(), "InferenceModel::run: batch {} is not in [1, {}] (max_batch)", B,
               max_batch());
  NetworkBuffersT<float> b = store_buffers(*store_, static_cast<const std::uint16_t*>(bf16_.data()));
  b.grads = nullptr;
  net_->forward(b, images.data<float>(), B, BnMode::inference, stream);
  net_->decisions(stream);
  if (stream != nullptr) stream->synchronize();
}

void InferenceModel::input_gradient(const Tensor& images, std::span<const std::int32_t> target_classes,
                                    Tensor& d_images, Stream* stream) {
  DEEPER_NVTX_RANGE("inference.input_gradient");
  const std::int64_t S = input_size();
  DEEPER_CHECK(images.defined(), "InferenceModel::input_gradient: undefined image tensor");
  DEEPER_CHECK(images.dtype() == DType::f32, "InferenceModel::input_gradient: images must be f32, got {}",
               images.to_string());
  DEEPER_CHECK(images.device() == device(), "InferenceModel::input_gradient: images are on {}, the model on {}",
               images.device().name(), device().name());
  DEEPER_CHECK(images.rank() == 4 && images.dim(1) == S && images.dim(2) == S && images.dim(3) == 3,
               "InferenceModel::input_gradient: images must be B x {} x {} x 3, got {}", S, S,
               images.shape().to_string());
  const std::int64_t B = images.dim(0);
  DEEPER_CHECK(B >= 1 && B <= max_batch(), "InferenceModel::input_gradient: batch {} is not in [1, {}] (max_batch)",
               B, max_batch());
  DEEPER_CHECK(d_images.defined(), "InferenceModel::input_gradient: undefined d_images tensor");
  DEEPER_CHECK(d_images.dtype() == DType::f32, "InferenceModel::input_gradient: d_images must be f32, got {}",
               d_images.to_string());
  DEEPER_CHECK(d_images.device() == device(), "InferenceModel::input_gradient: d_images is on {}, the model on {}",
               d_images.device().name(), device().name());
  DEEPER_CHECK(d_images.shape() == images.shape(),
               "InferenceModel::input_gradient: d_images has shape {}, the images {}", d_images.shape().to_string(),
               images.shape().to_string());
  DEEPER_CHECK(static_cast<std::int64_t>(target_classes.size()) == B,
               "InferenceModel::input_gradient: {} target classes for a batch of {}", target_classes.size(), B);
  const std::int64_t classes = layout().model.classes;
  for (std::size_t b = 0; b < target_classes.size(); ++b) {
    DEEPER_CHECK(target_classes[b] >= 0 && target_classes[b] < classes,
                 "InferenceModel::input_gradient: target class {} of image {} is not in [0, {})", target_classes[b], b,
                 classes);
  }
  run(images, stream);
  if (d_logits_.bytes() == 0) {
    d_logits_ = DeviceBuffer(device(), static_cast<std::size_t>(max_batch() * classes) * sizeof(float));
    d_logits_host_.resize(static_cast<std::size_t>(max_batch() * classes));
  }
  std::fill(d_logits_host_.begin(), d_logits_host_.end(), 0.0f);
  for (std::size_t b = 0; b < target_classes.size(); ++b) {
    d_logits_host_[b * static_cast<std::size_t>(classes) + static_cast<std::size_t>(target_classes[b])] = 1.0f;
  }
  copy_bytes(d_logits_.data(), device(), d_logits_host_.data(), Device::cpu(),
             static_cast<std::size_t>(B * classes) * sizeof(float), stream);
  NetworkBuffersT<float> b = store_buffers(*store_, static_cast<const std::uint16_t*>(bf16_.data()));
  b.grads = nullptr;
  net_->input_gradient(b, static_cast<const float*>(d_logits_.data()), d_images.data<float>(), stream);
  if (stream != nullptr) stream->synchronize();
}

Tensor InferenceModel::logits() const { return activation(11); }

Tensor InferenceModel::decisions() const {
  DEEPER_CHECK(batch() > 0, "InferenceModel::decisions: no run yet");
  return Tensor::view(const_cast<std::int32_t*>(net_->predicted()), {batch()}, DType::i32, device());
}

Tensor InferenceModel::activation(int lab_layer) const {
  DEEPER_CHECK(lab_layer >= 1 && lab_layer <= kLabLayers, "InferenceModel::activation: lab layer {} is not in [1, 11]",
               lab_layer);
  DEEPER_CHECK(batch() > 0, "InferenceModel::activation: no run yet");
  const auto s = net_->activation_shape(lab_layer);
  void* data = const_cast<float*>(net_->activation(lab_layer));
  if (lab_layer >= 10) return Tensor::view(data, {batch(), s[2]}, DType::f32, device());
  return Tensor::view(data, {batch(), s[0], s[1], s[2]}, DType::f32, device(), Layout::nhwc);
}

std::int64_t InferenceModel::units(int lab_layer) const {
  const auto s = net_->activation_shape(lab_layer);
  return s[0] * s[1] * s[2];
}

std::vector<float> InferenceModel::activation_host(int lab_layer) const {
  const Tensor t = activation(lab_layer);
  std::vector<float> host(static_cast<std::size_t>(t.numel()));
  copy_bytes(host.data(), Device::cpu(), t.data_raw(), device(), t.nbytes());
  return host;
}

std::vector<std::int32_t> InferenceModel::decisions_host() const {
  const Tensor t = decisions();
  std::vector<std::int32_t> host(static_cast<std::size_t>(t.numel()));
  copy_bytes(host.data(), Device::cpu(), t.data_raw(), device(), t.nbytes());
  return host;
}

std::vector<int> parse_lab_layers(const std::string& text) {
  std::vector<int> out;
  auto number = [&](std::string_view part) {
    int v = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size() || v < 1 || v > kLabLayers) {
      fail("layers '{}': '{}' is not a lab layer 1-11", text, part);
    }
    return v;
  };
  std::string_view rest = text;
  if (rest.empty()) fail("layers '': expected a list such as 1-11 or 2,3,9");
  while (true) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    const std::size_t dash = item.find('-');
    if (dash == std::string_view::npos) {
      out.push_back(number(item));
    } else {
      const int a = number(item.substr(0, dash)), b = number(item.substr(dash + 1));
      if (b < a) fail("layers '{}': range {}-{} is backwards", text, a, b);
      for (int l = a; l <= b; ++l) out.push_back(l);
    }
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace deeper::nn
