// The training configuration of deeper-train: one struct with every setting, read from a TOML file
// (configs/*.toml, or a preset compiled into the program), overridden by `--set key=value`.
//
// Keys are "<table>.<name>", e.g. model.widths, schedule.lr. Every key has a default (the values
// below; docs/training.md lists them), so a file sets only what differs. Errors name the file, the
// line and the key: an unknown key gets a "did you mean" hint, a value of the wrong type or out of
// range says what is expected. `visit_fields` is the one list of keys: the parser, `--set`, the
// TOML writer and the docs table all go through it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace deeper::nn {

enum class OptimizerKind { sgd, adamw };
enum class ScheduleKind { cyclic, cosine, constant };

std::string_view to_string(OptimizerKind kind);
std::string_view to_string(ScheduleKind kind);

// A closed interval [lo, hi] from which a render factor is drawn uniformly (lo == hi: fixed).
struct Range {
  double lo = 0.0;
  double hi = 0.0;
  bool operator==(const Range&) const = default;
};

struct ModelConfig {
  std::vector<std::int64_t> widths = {64, 128, 256, 512};  // channels of stages 2-5 (the stem has widths[0])
  std::int64_t input_size = 224;  // square RGB input, pixels
  std::int64_t classes = 2000;    // identities = outputs of the classifier
  bool conv_bias = true;          // the lab's convs have biases (no effect before BN; kept for parity)
  double bn_momentum = 0.99;      // running = momentum * running + (1 - momentum) * batch (Keras)
  double bn_epsilon = 1e-3;       // Keras default
  bool operator==(const ModelConfig&) const = default;
};

struct TrainSettings {
  std::int64_t batch = 256;
  std::int64_t images = 26'000'000;  // training length in images; steps = ceil(images / batch)
  std::int64_t steps = 0;            // if > 0, the length in steps instead (--steps)
  std::int64_t seed = 1;             // weights init, data draws (--seed)
  std::int64_t log_every = 50;       // steps between metric records
};

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::sgd;
  double momentum = 0.9;      // sgd: v = momentum v + g; w -= lr v (PyTorch's form)
  bool nesterov = false;      // sgd
  double weight_decay = 0.0;  // sgd: L2 added to g; adamw: decoupled, w -= lr wd w
  double beta1 = 0.9;         // adamw
  double beta2 = 0.999;       // adamw
  double epsilon = 1e-8;      // adamw
};

struct ScheduleConfig {
  ScheduleKind kind = ScheduleKind::cyclic;
  double lr = 0.3;                   // cyclic: the peak; cosine: the peak after warm-up; constant: the rate
  double base_lr = 1e-6;             // cyclic: the trough
  std::int64_t step_size = 500;      // cyclic: steps from trough to peak (a cycle is 2 step_size)
  std::int64_t warmup_steps = 0;     // cosine: linear ramp from lr / warmup_steps to lr
  double final_lr = 0.0;             // cosine: the rate at the last step
  double inverse_time_decay = 0.0;   // every kind: lr(t) / (1 + d t) (Keras "decay"; the lab's 2021 script: 5e-4)
};

struct EvalConfig {
  std::int64_t images = 2000;  // held-out renders (new factor draws) per evaluation; 0: no evaluation
  std::int64_t every = 1000;   // steps between evaluations (and one at the end)
};

struct CheckpointConfig {
  std::int64_t every = 1000;  // steps between checkpoints (and one at the end); 0: only at the end
};

struct OutputConfig {
  std::string dir = "runs/train";  // checkpoint.safetensors, metrics.jsonl, config.toml (--out)
};

// The factors every training image is drawn with; names follow the renderer (renderer/preview.h,
// renderer/face_model.h). Angles in degrees, `scale` relative to a face that fills the frame,
// translations as fractions of the image size.
struct RenderConfig {
  std::int64_t identity_seed = 1;  // make_identities(model, identity_seed, model.classes)
  Range yaw_deg{-30.0, 30.0};
  Range pitch_deg{-15.0, 15.0};
  Range roll_deg{-10.0, 10.0};
  Range scale{0.9, 1.1};
  Range translate_x{-0.05, 0.05};
  Range translate_y{-0.05, 0.05};
  Range light_yaw_deg{-60.0, 60.0};
  Range light_pitch_deg{-30.0, 30.0};
  Range ambient{0.35, 0.55};
  Range diffuse{0.6, 0.8};
  std::vector<std::string> expressions = {"neutral", "happy", "surprise", "fear", "disgust", "anger", "sad"};
  Range expression_intensity{0.5, 1.0};
  // The lighting model of every training and held-out render: "lambert" (the light_* / ambient /
  // diffuse ranges above) or "sh9" (27 spherical-harmonics coefficients per image from the
  // renderer's default ranges, renderer/factors.h; the light_* ranges are then unused).
  std::string lighting = "lambert";
};

struct TrainConfig {
  ModelConfig model;
  TrainSettings train;
  OptimizerConfig optimizer;
  ScheduleConfig schedule;
  EvalConfig eval;
  CheckpointConfig checkpoint;
  OutputConfig output;
  RenderConfig render;

  // The run's length in steps: train.steps if > 0, else ceil(train.images / train.batch).
  std::int64_t total_steps() const;
};

// Calls f(key, field, help) for every setting, in file order. `field` is a reference to one of:
// std::int64_t, double, bool, std::string, std::vector<std::int64_t>, std::vector<std::string>,
// Range, OptimizerKind, ScheduleKind.
template <typename Config, typename F>
void visit_fields(Config& c, F&& f);

// The keys, in file order ("model.widths", ...).
std::vector<std::string> config_keys();

// Parses TOML text into a config (starting from the defaults). `origin` names the text in errors
// ("configs/tiny.toml", "preset tiny"): "configs/tiny.toml:12: key 'model.widht': unknown key;
// did you mean 'model.widths'?". Checks the result with validate_config.
TrainConfig parse_config(std::string_view toml_text, std::string_view origin);
// Reads and parses a file; a missing or unreadable file is an error naming it.
TrainConfig load_config_file(const std::string& path);

// The preset names ("tiny", "small", "paper") and their TOML text (configs/<name>.toml, compiled in).
std::vector<std::string> preset_names();
std::string_view preset_text(std::string_view name);  // throws for an unknown name (did you mean)
TrainConfig load_preset(std::string_view name);

// Applies one `--set` override, "key=value", with the value in TOML syntax (a bare word is taken as
// a string: optimizer.kind=adamw). Errors name the override. Re-validates the whole config.
void apply_override(TrainConfig& config, std::string_view assignment);

// Throws deeper::Error naming the first bad setting (`origin: key 'x.y': ...`).
void validate_config(const TrainConfig& config, std::string_view origin);

// The whole config as TOML (every key, comments with the help text); parse_config of it gives it back.
std::string config_to_toml(const TrainConfig& config, bool with_comments = true);

// Resuming a run: the settings that decide shapes and the data stream (model.*, optimizer.kind,
// train.batch, train.seed, render.*) must be equal. Throws deeper::Error naming the first key that
// differs and both values; `saved_origin` names the checkpoint.
void check_resume_compatible(const TrainConfig& saved, const TrainConfig& now, std::string_view saved_origin);

// The closest key to `key` within edit distance 3, or "" (for "did you mean").
std::string closest_key(std::string_view key, const std::vector<std::string>& candidates);

// ---------------------------------------------------------------------------------------------

template <typename Config, typename F>
void visit_fields(Config& c, F&& f) {
  f("model.widths", c.model.widths, "channels of stages 2-5 (the stem has widths[0]); 4 positive integers");
  f("model.input_size", c.model.input_size, "square RGB input in pixels");
  f("model.classes", c.model.classes, "identities = classifier outputs");
  f("model.conv_bias", c.model.conv_bias, "convolutions have biases (the lab's net does)");
  f("model.bn_momentum", c.model.bn_momentum, "BN running = m * running + (1 - m) * batch");
  f("model.bn_epsilon", c.model.bn_epsilon, "BN epsilon");
  f("train.batch", c.train.batch, "images per step");
  f("train.images", c.train.images, "training length in images (steps = ceil(images / batch))");
  f("train.steps", c.train.steps, "if > 0: the training length in steps instead of train.images");
  f("train.seed", c.train.seed, "seed of the weight init and the data draws");
  f("train.log_every", c.train.log_every, "steps between metrics records");
  f("optimizer.kind", c.optimizer.kind, "sgd or adamw");
  f("optimizer.momentum", c.optimizer.momentum, "sgd momentum (v = m v + g, w -= lr v)");
  f("optimizer.nesterov", c.optimizer.nesterov, "sgd Nesterov momentum");
  f("optimizer.weight_decay", c.optimizer.weight_decay, "sgd: L2 added to the gradient; adamw: decoupled");
  f("optimizer.beta1", c.optimizer.beta1, "adamw first-moment decay");
  f("optimizer.beta2", c.optimizer.beta2, "adamw second-moment decay");
  f("optimizer.epsilon", c.optimizer.epsilon, "adamw epsilon");
  f("schedule.kind", c.schedule.kind, "cyclic, cosine or constant");
  f("schedule.lr", c.schedule.lr, "cyclic: peak; cosine: peak after warm-up; constant: the rate");
  f("schedule.base_lr", c.schedule.base_lr, "cyclic: trough");
  f("schedule.step_size", c.schedule.step_size, "cyclic: steps from trough to peak");
  f("schedule.warmup_steps", c.schedule.warmup_steps, "cosine: linear warm-up steps");
  f("schedule.final_lr", c.schedule.final_lr, "cosine: rate at the last step");
  f("schedule.inverse_time_decay", c.schedule.inverse_time_decay, "lr(t) / (1 + d t) on top of any kind");
  f("eval.images", c.eval.images, "held-out renders per evaluation (0: none)");
  f("eval.every", c.eval.every, "steps between evaluations");
  f("checkpoint.every", c.checkpoint.every, "steps between checkpoints (0: only at the end)");
  f("output.dir", c.output.dir, "run folder (--out)");
  f("render.identity_seed", c.render.identity_seed, "seed of the identity set");
  f("render.yaw_deg", c.render.yaw_deg, "head yaw range, degrees");
  f("render.pitch_deg", c.render.pitch_deg, "head pitch range, degrees");
  f("render.roll_deg", c.render.roll_deg, "head roll range, degrees");
  f("render.scale", c.render.scale, "face size relative to a face that fills the frame");
  f("render.translate_x", c.render.translate_x, "horizontal shift, fraction of the width");
  f("render.translate_y", c.render.translate_y, "vertical shift, fraction of the height");
  f("render.light_yaw_deg", c.render.light_yaw_deg, "light direction yaw, degrees");
  f("render.light_pitch_deg", c.render.light_pitch_deg, "light direction pitch, degrees");
  f("render.ambient", c.render.ambient, "ambient light level");
  f("render.diffuse", c.render.diffuse, "Lambertian light level");
  f("render.expressions", c.render.expressions, "expressions drawn from (renderer names)");
  f("render.expression_intensity", c.render.expression_intensity, "expression intensity range, [0, 1]");
  f("render.lighting", c.render.lighting, "lighting model: lambert or sh9 (spherical harmonics)");
}

}  // namespace deeper::nn
