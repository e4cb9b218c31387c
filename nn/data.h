// Training and evaluation data: faces rendered on the device, on the fly, straight into the
// network's input tensor (renderer/pipeline.h), with labels = identity index.
//
// Factor draws (renderer/factors.h): image i of a run is image i of FactorSampling
// {seed, identity_count = model.classes, the render.* ranges}; training images use seed
// train.seed and the counter TrainingState::train_counter (batch after batch, so a resumed run
// draws the same images), the held-out evaluation set is images [0, eval.images) of seed
// eval_seed(train.seed) (new factor draws, the same set at every evaluation). Mapping of the
// config's names: yaw_deg -> yaw, pitch_deg -> pitch, roll_deg -> roll, scale, translate_x -> tx,
// translate_y -> ty, light_yaw_deg -> light_azimuth, light_pitch_deg -> light_elevation, ambient,
// diffuse, expression_intensity -> intensity. render.expressions: all seven in the renderer's order
// -> uniform over them; one -> fixed; another subset -> subset[(w * n) >> 32] with w the 14th
// Philox word of the image's RFAC sequence (the sampler reads words 0-12), so it stays a pure
// function of (seed, image index).
// The factors are drawn on the host (52 bytes per image, bit-identical to the device sampler) and
// passed to Renderer::render; the labels (B int32) are copied to the device; the pixels never
// leave it.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"
#include "kernels/runtime/stream.h"
#include "kernels/runtime/tensor.h"
#include "nn/config.h"
#include "renderer/face_model.h"
#include "renderer/factors.h"
#include "renderer/identities.h"
#include "renderer/pipeline.h"

namespace deeper::nn {

// The Philox seed of the held-out evaluation renders of a run with seed `train_seed`.
std::uint64_t eval_seed(std::uint64_t train_seed);

// The FactorSampling of the config's render.* ranges (validated; throws deeper::Error naming the key).
render::FactorSampling render_sampling(const TrainConfig& config, std::uint64_t seed);

// The factors of images [first, first + count) under the config's expression subset (top comment).
std::vector<render::ImageFactors> draw_factors(const TrainConfig& config, const render::FactorSampling& sampling,
                                               std::uint64_t first, std::int64_t count);

// How Trainer::step gets its batch (TrainerOptions::prefetch).
enum class RenderPrefetch {
  automatic,  // on for cuda, off for cpu and emu (where nothing runs concurrently, so it gains nothing)
  on,         // render batch t + 1 on a second stream while the network trains on batch t
  off,        // render each batch at the start of its step, on the default stream
};

// "auto", "on", "off" -> the mode; throws deeper::Error naming the allowed values otherwise.
RenderPrefetch parse_render_prefetch(std::string_view name);
const char* render_prefetch_name(RenderPrefetch mode);

// The images and labels of one batch, rendered on the device.
//
// Two ways to get a batch:
//   render(): now, on the given stream (evaluation, benchmarks, tests).
//   acquire() / prefetch() / release(): the double-buffered training feed. The next training batch
//     is rendered into the back buffer on a render stream that runs beside the default stream (a
//     CUDA stream created non-blocking), so its render overlaps the network's forward and backward
//     passes of the current batch. Events order the two: the network's work waits for the render of
//     its batch (acquire), and a render into a buffer waits for the last work that reads it
//     (release). On cpu and emu every call runs in order on the calling thread, so the images are
//     the same bits either way; only the timing differs.
//   The renderer's workspace is shared, so render() first waits for a prefetch in flight; the
//   prefetched batch stays valid across render() calls.
class FaceData {
 public:
  // Builds the identity set (model.classes identities of render.identity_seed) and its render cache
  // on `device`, and the image (max_batch x S x S x 3 f32) and label buffers. The second buffer of
  // the training feed is allocated by the first prefetch().
  FaceData(const Device& device, const TrainConfig& config, const render::FaceModel& model, std::int64_t max_batch);
  ~FaceData();
  FaceData(const FaceData&) = delete;
  FaceData& operator=(const FaceData&) = delete;

  // Renders images [first, first + batch) of `sampling` into images() and their identities into
  // labels(), on `stream` (the default stream when null).
  void render(const render::FactorSampling& sampling, std::uint64_t first, std::int64_t batch, Stream* stream = nullptr);

  // Makes training images [first, first + batch) the current batch (images(), labels(), factors())
  // for work queued on the default stream from now on: the prefetched batch when it is this one (the
  // default stream waits for its render; the host does not), otherwise rendered now. Returns whether
  // the prefetched batch was used.
  bool acquire(std::uint64_t first, std::int64_t batch);
  // Queues the render of training images [first, first + batch) into the back buffer on the render
  // stream and returns; acquire() of the same range picks it up.
  void prefetch(std::uint64_t first, std::int64_t batch);
  // Marks everything queued on the default stream so far as the last work that reads the current
  // batch: a later prefetch into its buffer starts after it. Call after the backward pass.
  void release();
  // How many acquire() calls the prefetched batch served (the others rendered their batch then).
  std::int64_t prefetch_hits() const { return prefetch_hits_; }

  const Tensor& images() const { return slots_[front_].images; }  // max_batch x S x S x 3; the first `batch` rows are valid
  const std::int32_t* labels() const { return static_cast<const std::int32_t*>(slots_[front_].labels.data()); }
  const std::vector<render::ImageFactors>& factors() const { return slots_[front_].factors; }  // of the current batch
  const render::IdentitySet& identities() const { return identities_; }
  const render::FactorSampling& train_sampling() const { return train_; }
  const render::FactorSampling& eval_sampling() const { return eval_; }

 private:
  // One image/label buffer pair, with the batch it holds and its ordering events.
  struct Slot {
    Tensor images;
    DeviceBuffer labels;
    std::vector<render::ImageFactors> factors;
    std::vector<std::int32_t> host_labels;      // the source of the label copy; kept until the next render
    std::uint64_t first = 0;                    // the training images it holds (acquire/prefetch)
    std::int64_t batch = 0;                     // 0: not a training batch of the feed
    bool in_use = false;                        // acquired and not released since
    std::unique_ptr<Event> rendered, released;  // cuda only
  };

  void allocate(Slot& slot);
  // Renders into `slot` on `stream`: draws, label copy and the render pipeline.
  void render_into(Slot& slot, const render::FactorSampling& sampling, std::uint64_t first, std::int64_t batch,
                   Stream* stream);
  // Waits until a prefetch in flight has finished with the renderer's workspace.
  void finish_prefetch();
  // Records that the work queued on the default stream so far is the last to read `slot`.
  void release_slot(Slot& slot);

  Device device_;
  TrainConfig config_;
  std::int64_t max_batch_ = 0;
  render::IdentitySet identities_;
  std::unique_ptr<render::RenderModel> model_;
  std::unique_ptr<render::Renderer> renderer_;
  render::FactorSampling train_, eval_;
  Slot slots_[2];
  int front_ = 0;
  std::int64_t prefetch_hits_ = 0;
  bool prefetched_ = false;               // slots_[1 - front_] holds (or will hold) a queued training batch
  std::unique_ptr<Stream> render_stream_;  // created by the first prefetch()
};

}  // namespace deeper::nn
