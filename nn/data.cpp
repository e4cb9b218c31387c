// Training and evaluation renders (nn/data.h).
#include "nn/data.h"

#include "core/error.h"
#include "core/log.h"
#include "kernels/common/random.h"
#include "kernels/common/random_streams.h"
#include "kernels/runtime/nvtx.h"

#include <algorithm>

namespace deeper::nn {

std::uint64_t eval_seed(std::uint64_t train_seed) { return train_seed ^ 0x45564C5345454431ull; }  // "EVLSEED1"

namespace {

render::FactorRange range(const Range& r) { return {static_cast<float>(r.lo), static_cast<float>(r.hi)}; }

std::vector<std::int32_t> expression_indices(const TrainConfig& c) {
  const auto& names = render::expression_names();
  std::vector<std::int32_t> out;
  for (const auto& e : c.render.expressions) {
    const auto it = std::find(names.begin(), names.end(), e);
    if (it == names.end()) fail("render.expressions: '{}' is not an expression of the renderer", e);
    out.push_back(static_cast<std::int32_t>(it - names.begin()));
  }
  if (out.empty()) fail("render.expressions: the list is empty");
  return out;
}

bool all_expressions_in_order(const std::vector<std::int32_t>& e) {
  if (e.size() != static_cast<std::size_t>(render::kExpressions)) return false;
  for (std::size_t i = 0; i < e.size(); ++i) {
    if (e[i] != static_cast<std::int32_t>(i)) return false;
  }
  return true;
}

}  // namespace

render::FactorSampling render_sampling(const TrainConfig& c, std::uint64_t seed) {
  render::FactorSampling s;
  s.seed = seed;
  s.identity_count = static_cast<std::int32_t>(c.model.classes);
  const auto& r = c.render;
  s.intensity = range(r.expression_intensity);
  s.yaw = range(r.yaw_deg);
  s.pitch = range(r.pitch_deg);
  s.roll = range(r.roll_deg);
  s.scale = range(r.scale);
  s.tx = range(r.translate_x);
  s.ty = range(r.translate_y);
  s.light_azimuth = range(r.light_yaw_deg);
  s.light_elevation = range(r.light_pitch_deg);
  s.ambient = range(r.ambient);
  s.diffuse = range(r.diffuse);
  s.lighting = render::parse_lighting(r.lighting);
  const auto e = expression_indices(c);
  if (e.size() == 1) s.fixed_expression = e[0];
  render::validate_sampling(s);
  return s;
}

std::vector<render::ImageFactors> draw_factors(const TrainConfig& c, const render::FactorSampling& s,
                                               std::uint64_t first, std::int64_t count) {
  std::vector<render::ImageFactors> f = render::sample_factors(s, first, count);
  const auto e = expression_indices(c);
  if (e.size() > 1 && !all_expressions_in_order(e)) {
    for (std::int64_t i = 0; i < count; ++i) {
      rng::RandomSequence seq(s.seed, rng::streams::render_factors, first + static_cast<std::uint64_t>(i));
      std::uint32_t w = 0;
      for (int k = 0; k <= kernels::kFactorWords; ++k) w = seq.next_u32();  // the 14th word
      f[static_cast<std::size_t>(i)].expression =
          e[static_cast<std::size_t>(kernels::factor_choice(w, static_cast<std::uint32_t>(e.size())))];
    }
  }
  return f;
}

RenderPrefetch parse_render_prefetch(std::string_view name) {
  if (name == "auto") return RenderPrefetch::automatic;
  if (name == "on") return RenderPrefetch::on;
  if (name == "off") return RenderPrefetch::off;
  fail("render prefetch '{}' is not one of auto, on, off", name);
}

const char* render_prefetch_name(RenderPrefetch mode) {
  switch (mode) {
    case RenderPrefetch::automatic: return "auto";
    case RenderPrefetch::on: return "on";
    case RenderPrefetch::off: return "off";
  }
  return "?";
}

FaceData::FaceData(const Device& device, const TrainConfig& config, const render::FaceModel& model,
                   std::int64_t max_batch)
    : device_(device), config_(config), max_batch_(max_batch) {
  DEEPER_CHECK(max_batch >= 1, "FaceData: max_batch {} must be at least 1", max_batch);
  identities_ = render::make_identities(model, static_cast<std::uint64_t>(config.render.identity_seed), config.model.classes);
  model_ = std::make_unique<render::RenderModel>(device, model, identities_);
  render::RenderOptions o;
  o.width = o.height = static_cast<int>(config.model.input_size);
  o.save_for_backward = false;  // training renders forward only: the fused shade pass (docs/renderer.md)
  renderer_ = std::make_unique<render::Renderer>(*model_, o);
  train_ = render_sampling(config, static_cast<std::uint64_t>(config.train.seed));
  eval_ = render_sampling(config, eval_seed(static_cast<std::uint64_t>(config.train.seed)));
  allocate(slots_[0]);
}

FaceData::~FaceData() {
  // The buffers must outlive a prefetch still queued on the render stream.
  try {
    if (render_stream_) render_stream_->synchronize();
  } catch (const std::exception& e) {
    log::warn("FaceData: the render stream failed while closing: {}", e.what());
  }
}

void FaceData::allocate(Slot& slot) {
  const std::int64_t S = config_.model.input_size;
  slot.images = Tensor::empty({max_batch_, S, S, 3}, DType::f32, device_, Layout::nhwc);
  slot.labels = DeviceBuffer(device_, static_cast<std::size_t>(max_batch_) * sizeof(std::int32_t));
  slot.host_labels.resize(static_cast<std::size_t>(max_batch_));
  if (device_.backend == Backend::cuda) {
    slot.rendered = std::make_unique<Event>(device_);
    slot.released = std::make_unique<Event>(device_);
  }
}

void FaceData::render_into(Slot& slot, const render::FactorSampling& sampling, std::uint64_t first, std::int64_t batch,
                           Stream* stream) {
  DEEPER_CHECK(batch >= 1 && batch <= max_batch_, "FaceData::render: batch {} is not in [1, {}]", batch, max_batch_);
  slot.factors = draw_factors(config_, sampling, first, batch);
  for (std::int64_t i = 0; i < batch; ++i) {
    slot.host_labels[static_cast<std::size_t>(i)] = slot.factors[static_cast<std::size_t>(i)].identity;
  }
  // The host-to-device copies go first: from pageable memory CUDA may synchronise the stream before
  // copying, which is free while it is idle but would hold the host for the whole render after it
  // (and so keep the network's next kernels from being queued beside the prefetch).
  copy_bytes(slot.labels.data(), device_, slot.host_labels.data(), Device::cpu(),
             static_cast<std::size_t>(batch) * sizeof(std::int32_t), stream);
  Tensor out = slot.images.slice(0, batch);
  renderer_->render(slot.factors, out, stream);  // copies the factors, then queues the stages
}

void FaceData::finish_prefetch() {
  if (prefetched_ && render_stream_) render_stream_->synchronize();
}

void FaceData::render(const render::FactorSampling& sampling, std::uint64_t first, std::int64_t batch, Stream* stream) {
  DEEPER_NVTX_RANGE("data.render");
  finish_prefetch();  // the workspace is shared; the prefetched batch (in the back buffer) stays
  Slot& slot = slots_[front_];
  render_into(slot, sampling, first, batch, stream);
  slot.batch = 0;  // not a training batch of the feed
}

bool FaceData::acquire(std::uint64_t first, std::int64_t batch) {
  DEEPER_NVTX_RANGE("data.acquire");
  Slot& back = slots_[1 - front_];
  if (prefetched_ && back.first == first && back.batch == batch) {
    prefetched_ = false;
    front_ = 1 - front_;
    if (back.rendered) wait_for_event(nullptr, *back.rendered);
    back.in_use = true;
    ++prefetch_hits_;
    return true;
  }
  finish_prefetch();  // a different batch: drop it
  prefetched_ = false;
  Slot& slot = slots_[front_];
  render_into(slot, train_, first, batch, nullptr);
  slot.first = first;
  slot.batch = batch;
  slot.in_use = true;
  return false;
}

void FaceData::prefetch(std::uint64_t first, std::int64_t batch) {
  DEEPER_NVTX_RANGE("data.prefetch");
  DEEPER_CHECK(batch >= 1 && batch <= max_batch_, "FaceData::prefetch: batch {} is not in [1, {}]", batch, max_batch_);
  finish_prefetch();  // one in flight at a time: the workspace is shared
  prefetched_ = false;
  if (!render_stream_) render_stream_ = std::make_unique<Stream>(device_, StreamOrder::concurrent);
  Slot& back = slots_[1 - front_];
  if (!back.images.defined()) allocate(back);
  if (back.in_use) release_slot(back);  // never released: everything queued so far may still read it
  if (back.released && back.released->recorded()) wait_for_event(render_stream_.get(), *back.released);
  render_into(back, train_, first, batch, render_stream_.get());
  back.first = first;
  back.batch = batch;
  if (back.rendered) back.rendered->record(*render_stream_);
  prefetched_ = true;
}

void FaceData::release() { release_slot(slots_[front_]); }

void FaceData::release_slot(Slot& slot) {
  if (slot.released) slot.released->record(nullptr);
  slot.in_use = false;
}

}  // namespace deeper::nn
