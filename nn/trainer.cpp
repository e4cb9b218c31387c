// The training loop (nn/trainer.h).
#include "nn/trainer.h"

#include "core/error.h"
#include "core/log.h"
#include "kernels/nn/optimizer.h"
#include "kernels/runtime/nvtx.h"
#include "nn/schedule.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

namespace deeper::nn {

namespace {

double steady_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

kernels::ParamSegments weight_decay_segments(const NetworkLayout& layout) {
  kernels::ParamSegments out;
  std::vector<kernels::ParamSegment> list;
  for (const auto& v : layout.params) {
    const bool decay = v.kind == ParamKind::conv_weight || v.kind == ParamKind::linear_weight;
    if (!list.empty() && list.back().decay == decay) {
      list.back().count = v.offset + v.numel - list.back().offset;
    } else {
      if (!list.empty()) list.back().count = v.offset - list.back().offset;  // absorb the gap
      list.push_back({v.offset, v.numel, decay});
    }
  }
  if (list.empty()) return out;
  list.front().count += list.front().offset;
  list.front().offset = 0;
  list.back().count = layout.param_buffer_elements - list.back().offset;
  DEEPER_CHECK(static_cast<int>(list.size()) <= kernels::kMaxParamSegments,
               "Trainer: {} weight-decay segments exceed the optimizer's limit of {}", list.size(),
               kernels::kMaxParamSegments);
  out.size = static_cast<int>(list.size());
  std::copy(list.begin(), list.end(), out.segment);
  return out;
}

namespace {

struct Bins {
  std::string name;
  double lo, hi;
  int count;
  int bin(double v) const {
    if (count == 1 || hi <= lo) return 0;
    const int b = static_cast<int>(std::floor((v - lo) / (hi - lo) * count));
    return std::clamp(b, 0, count - 1);
  }
};

}  // namespace

nlohmann::json EvalResult::to_json(std::int64_t train_images) const {
  nlohmann::json j;
  j["kind"] = "eval";
  j["step"] = step;
  j["images"] = train_images;
  j["eval_images"] = images;
  j["loss"] = loss;
  j["accuracy"] = accuracy;
  j["by_factor"] = by_factor;
  return j;
}

Trainer::Trainer(TrainConfig config, TrainerOptions options) : config_(std::move(config)), options_(std::move(options)) {
  validate_config(config_, "the training configuration");
  const std::int64_t total = config_.total_steps();
  if (options_.profile_first != 0 || options_.profile_last != 0) {
    DEEPER_CHECK(options_.profile_first >= 1 && options_.profile_first <= options_.profile_last &&
                     options_.profile_last <= total,
                 "Trainer: profile steps {}:{} must satisfy 1 <= A <= B <= {}", options_.profile_first,
                 options_.profile_last, total);
  }
  const NetworkLayout layout = resnet10_layout(config_.model);
  std::filesystem::create_directories(config_.output.dir);
  const auto ckpt = checkpoint_path();
  store_ = std::make_unique<ParameterStore>(options_.device, layout, config_.optimizer.kind);
  state_.seed = static_cast<std::uint64_t>(config_.train.seed);
  if (options_.resume) {
    if (!std::filesystem::exists(ckpt)) fail("--resume: there is no checkpoint to resume from ({} does not exist)", ckpt.string());
    state_ = load_checkpoint(ckpt, *store_, config_);
    DEEPER_CHECK(state_.step < total, "--resume: {} is at step {}, the end of a {}-step run", ckpt.string(), state_.step, total);
    last_checkpoint_step_ = state_.step;
  } else {
    if (std::filesystem::exists(ckpt)) {
      fail("{} exists: pass --resume to continue that run, or choose another --out", ckpt.string());
    }
    store_->initialize(static_cast<std::uint64_t>(config_.train.seed));
  }
  if (options_.face_model == nullptr) {
    own_model_ = std::make_unique<render::FaceModel>(render::make_procedural_model());
    options_.face_model = own_model_.get();
  }
  data_ = std::make_unique<FaceData>(options_.device, config_, *options_.face_model, config_.train.batch);
  net_ = std::make_unique<Network>(options_.device, layout, config_.train.batch, options_.math);
  net_->set_bf16_conv_kernel(options_.bf16_conv_kernel);
  if (options_.math == kernels::ConvMath::wmma_bf16) {
    bf16_ = std::make_unique<DeviceBuffer>(options_.device,
                                           static_cast<std::size_t>(layout.param_buffer_elements) * sizeof(std::uint16_t));
    params_to_bf16(options_.device, store_->params(), static_cast<std::uint16_t*>(bf16_->data()),
                   layout.param_buffer_elements);
  }
  segments_ = weight_decay_segments(layout);
  set_prefetch(options_.prefetch);
}

void Trainer::set_prefetch(RenderPrefetch mode) {
  options_.prefetch = mode;
  prefetch_ = mode == RenderPrefetch::on || (mode == RenderPrefetch::automatic && options_.device.backend == Backend::cuda);
}

Trainer::~Trainer() = default;

std::filesystem::path Trainer::checkpoint_path() const {
  return std::filesystem::path(config_.output.dir) / "checkpoint.safetensors";
}

LossResult Trainer::step() {
  DEEPER_NVTX_RANGE("train.step");
  const std::int64_t B = config_.train.batch, t = state_.step, total = config_.total_steps();
  const double lr = learning_rate(config_.schedule, t, total);
  data_->acquire(state_.train_counter, B);  // prefetched during the last step, or rendered now
  std::uint16_t* bf16 = bf16_ ? static_cast<std::uint16_t*>(bf16_->data()) : nullptr;
  const NetworkBuffersT<float> b = store_buffers(*store_, bf16);
  net_->forward(b, data_->images().data<float>(), B, BnMode::train);
  const LossResult r = net_->loss(data_->labels(), false);
  check_finite_loss(r.loss, t + 1,
                    last_checkpoint_step_ >= 0
                        ? fmt::format("the last good checkpoint, step {}, is kept in {}", last_checkpoint_step_,
                                      checkpoint_path().string())
                        : std::string("no checkpoint was written before it"));
  // The next batch renders on the render stream while the backward pass and the optimizer run.
  if (prefetch_ && t + 1 < total) data_->prefetch(state_.train_counter + static_cast<std::uint64_t>(B), B);
  net_->backward(b);
  data_->release();  // the stem's weight gradient was the last reader of the images
  {
    DEEPER_NVTX_RANGE("optimizer");
    const OptimizerConfig& o = config_.optimizer;
    if (o.kind == OptimizerKind::sgd) {
      kernels::SgdParams p;
      p.n = store_->param_buffer_elements();
      p.weights = store_->params();
      p.grads = store_->grads();
      p.momentum_buffer = o.momentum != 0.0 ? store_->optimizer_state(0) : nullptr;
      p.weights_bf16 = bf16;
      p.lr = lr;
      p.momentum = o.momentum;
      p.weight_decay = o.weight_decay;
      p.nesterov = o.nesterov;
      p.step = t + 1;
      p.segments = segments_;
      kernels::sgd_step(options_.device, p);
    } else {
      kernels::AdamWParams p;
      p.n = store_->param_buffer_elements();
      p.weights = store_->params();
      p.grads = store_->grads();
      p.exp_avg = store_->optimizer_state(0);
      p.exp_avg_sq = store_->optimizer_state(1);
      p.weights_bf16 = bf16;
      p.lr = lr;
      p.beta1 = o.beta1;
      p.beta2 = o.beta2;
      p.eps = o.epsilon;
      p.weight_decay = o.weight_decay;
      p.step = t + 1;
      p.segments = segments_;
      kernels::adamw_step(options_.device, p);
    }
  }
  state_.step += 1;
  state_.images += B;
  state_.train_counter += static_cast<std::uint64_t>(B);
  return r;
}

EvalResult Trainer::evaluate() {
  DEEPER_NVTX_RANGE("evaluate");
  EvalResult out;
  out.step = state_.step;
  const std::int64_t total = config_.eval.images, B = config_.train.batch, classes = config_.model.classes;
  if (total <= 0) return out;
  const RenderConfig& rc = config_.render;
  const std::vector<Bins> bins = {
      {"yaw", rc.yaw_deg.lo, rc.yaw_deg.hi, rc.yaw_deg.lo == rc.yaw_deg.hi ? 1 : 3},
      {"pitch", rc.pitch_deg.lo, rc.pitch_deg.hi, rc.pitch_deg.lo == rc.pitch_deg.hi ? 1 : 3},
      {"light_azimuth", rc.light_yaw_deg.lo, rc.light_yaw_deg.hi, rc.light_yaw_deg.lo == rc.light_yaw_deg.hi ? 1 : 3},
      {"light_elevation", rc.light_pitch_deg.lo, rc.light_pitch_deg.hi,
       rc.light_pitch_deg.lo == rc.light_pitch_deg.hi ? 1 : 3},
      {"scale", rc.scale.lo, rc.scale.hi, rc.scale.lo == rc.scale.hi ? 1 : 3},
  };
  std::vector<std::vector<std::array<std::int64_t, 2>>> counts(bins.size());  // [factor][bin] = {n, correct}
  for (std::size_t f = 0; f < bins.size(); ++f) counts[f].assign(static_cast<std::size_t>(bins[f].count), {0, 0});
  std::map<std::string, std::array<std::int64_t, 2>> by_expression, by_age;
  std::vector<std::int32_t> predicted(static_cast<std::size_t>(B));
  const NetworkBuffersT<float> b =
      store_buffers(*store_, bf16_ ? static_cast<const std::uint16_t*>(bf16_->data()) : nullptr);
  double loss_sum = 0.0;
  std::int64_t correct = 0;
  for (std::int64_t first = 0; first < total; first += B) {
    const std::int64_t n = std::min(B, total - first);
    data_->render(data_->eval_sampling(), static_cast<std::uint64_t>(first), n);
    net_->forward(b, data_->images().data<float>(), n, BnMode::inference);
    const LossResult r = net_->loss(data_->labels(), false);
    loss_sum += r.loss * static_cast<double>(n);
    correct += r.correct;
    copy_bytes(predicted.data(), Device::cpu(), net_->predicted(), options_.device,
               static_cast<std::size_t>(n) * sizeof(std::int32_t));
    const auto& factors = data_->factors();
    for (std::int64_t i = 0; i < n; ++i) {
      const auto& f = factors[static_cast<std::size_t>(i)];
      const std::int64_t ok = predicted[static_cast<std::size_t>(i)] == f.identity ? 1 : 0;
      const double values[] = {f.yaw, f.pitch, f.light_azimuth, f.light_elevation, f.scale};
      for (std::size_t k = 0; k < bins.size(); ++k) {
        auto& c = counts[k][static_cast<std::size_t>(bins[k].bin(values[k]))];
        c[0] += 1;
        c[1] += ok;
      }
      auto& e = by_expression[std::string(render::expression_name(static_cast<render::Expression>(f.expression)))];
      e[0] += 1;
      e[1] += ok;
      const float age = data_->identities().identities[static_cast<std::size_t>(f.identity)].factors.age;
      const int decade = static_cast<int>(std::floor(age / 10.0f)) * 10;
      auto& a = by_age[fmt::format("{}-{}", decade, decade + 9)];
      a[0] += 1;
      a[1] += ok;
    }
  }
  (void)classes;
  out.images = total;
  out.loss = loss_sum / static_cast<double>(total);
  out.accuracy = static_cast<double>(correct) / static_cast<double>(total);
  auto acc = [](const std::array<std::int64_t, 2>& c) {
    return c[0] > 0 ? static_cast<double>(c[1]) / static_cast<double>(c[0]) : 0.0;
  };
  nlohmann::json j;
  for (std::size_t k = 0; k < bins.size(); ++k) {
    nlohmann::json levels = nlohmann::json::array();
    const double width = (bins[k].hi - bins[k].lo) / bins[k].count;
    for (int i = 0; i < bins[k].count; ++i) {
      const auto& c = counts[k][static_cast<std::size_t>(i)];
      levels.push_back({{"lo", bins[k].lo + i * width}, {"hi", bins[k].lo + (i + 1) * width}, {"n", c[0]}, {"accuracy", acc(c)}});
    }
    j[bins[k].name] = levels;
  }
  for (const auto& [name, c] : by_expression) j["expression"][name] = {{"n", c[0]}, {"accuracy", acc(c)}};
  for (const auto& [name, c] : by_age) j["age"][name] = {{"n", c[0]}, {"accuracy", acc(c)}};
  out.by_factor = j;
  state_.eval_counter = static_cast<std::uint64_t>(total);
  return out;
}

void Trainer::save_checkpoint_now() {
  DEEPER_NVTX_RANGE("checkpoint");
  const std::vector<float> params = store_->download_params();
  check_finite_values(params, "a weight", state_.step,
                      last_checkpoint_step_ >= 0
                          ? fmt::format("the last good checkpoint, step {}, is kept in {}", last_checkpoint_step_,
                                        checkpoint_path().string())
                          : std::string("no checkpoint was written before it"));
  save_checkpoint(checkpoint_path(), *store_, state_, config_);
  last_checkpoint_step_ = state_.step;
  if (monitor_) monitor_->checkpoint_written(state_.step, checkpoint_path().string());
}

TrainSummary Trainer::run() {
  const std::int64_t total = config_.total_steps(), B = config_.train.batch;
  TrainSummary summary;
  summary.start_step = state_.step;
  summary.checkpoint = checkpoint_path();
  log_ = std::make_unique<MetricsLog>(std::filesystem::path(config_.output.dir) / "metrics.jsonl",
                                      options_.resume ? std::optional<std::int64_t>(state_.step) : std::nullopt);
  MonitorOptions mo;
  mo.total_steps = total;
  mo.batch = B;
  mo.start_step = state_.step;
  mo.log_every = config_.train.log_every;
  mo.progress = options_.progress;
  mo.clock = options_.clock;
  monitor_ = std::make_unique<TrainMonitor>(*log_, mo);
  if (last_checkpoint_step_ >= 0) monitor_->checkpoint_written(last_checkpoint_step_, checkpoint_path().string());
  const double t0 = options_.clock ? options_.clock() : steady_now();
  std::int64_t done = 0;
  std::optional<NvtxRange> profile;
  while (state_.step < total) {
    const std::int64_t number = state_.step + 1;  // 1-based
    if (number == options_.profile_first) {
      profile.emplace(fmt::format("profile steps {}:{}", options_.profile_first, options_.profile_last));
    }
    const double lr = learning_rate(config_.schedule, state_.step, total);
    const LossResult r = step();
    monitor_->step_done(state_.step, r.loss, r.accuracy(), lr);
    if (number == options_.profile_last) profile.reset();
    summary.last_loss = r.loss;
    summary.last_accuracy = r.accuracy();
    ++done;
    const bool last = state_.step == total;
    const bool stop = options_.stop_after > 0 && done >= options_.stop_after;
    if (config_.eval.images > 0 && (last || state_.step % config_.eval.every == 0)) {
      const EvalResult e = evaluate();
      log_->write(e.to_json(state_.images));
      log::info("step {}: eval loss {:.4f}, accuracy {:.2f}% on {} held-out images", state_.step, e.loss,
                100.0 * e.accuracy, e.images);
      summary.last_eval = e;
    }
    if (last || stop || (config_.checkpoint.every > 0 && state_.step % config_.checkpoint.every == 0)) {
      save_checkpoint_now();
    }
    if (stop) break;
  }
  monitor_->finish();
  const double t1 = options_.clock ? options_.clock() : steady_now();
  summary.end_step = state_.step;
  summary.images_per_s = t1 > t0 ? static_cast<double>(done * B) / (t1 - t0) : 0.0;
  return summary;
}

}  // namespace deeper::nn
