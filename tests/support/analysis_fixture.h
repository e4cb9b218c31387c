// A small trained run for the analysis tests: 8 identities at 32 px, narrow widths, the small face
// model (64 x 64 textures, 20 shape and 20 texture components), mild factor variation, trained once
// per test process into a temporary folder (a few seconds on the cpu).
#pragma once

#include <filesystem>
#include <string>

#include <unistd.h>

#include "analysis/run.h"
#include "analysis/stimuli.h"
#include "core/log.h"
#include "nn/trainer.h"
#include "renderer/face_model.h"

namespace analysis_test {

inline const deeper::render::FaceModel& small_face_model() {
  static const deeper::render::FaceModel model = [] {
    deeper::render::ProceduralOptions o;
    o.texture_size = 64;
    o.shape_components = 20;
    o.texture_components = 20;
    return deeper::render::make_procedural_model(o);
  }();
  return model;
}

inline deeper::nn::TrainConfig small_run_config(const std::filesystem::path& dir) {
  deeper::nn::TrainConfig c;
  c.model.widths = {8, 16, 16, 32};
  c.model.input_size = 32;
  c.model.classes = 8;
  c.model.bn_momentum = 0.8;
  c.train.batch = 16;
  c.train.steps = 80;
  c.train.log_every = 10;
  c.schedule.kind = deeper::nn::ScheduleKind::constant;
  c.schedule.lr = 0.05;
  c.eval.images = 32;
  c.eval.every = 40;
  c.checkpoint.every = 0;
  c.output.dir = dir.string();
  auto& r = c.render;
  r.yaw_deg = {-10.0, 10.0};
  r.pitch_deg = {-5.0, 5.0};
  r.roll_deg = {0.0, 0.0};
  r.scale = {1.0, 1.0};
  r.translate_x = r.translate_y = {0.0, 0.0};
  r.light_yaw_deg = r.light_pitch_deg = {0.0, 0.0};
  r.ambient = {0.45, 0.45};
  r.diffuse = {0.7, 0.7};
  r.expressions = {"neutral"};
  r.expression_intensity = {0.0, 0.0};
  return c;
}

// The run folder, trained by the first test process that needs it and shared by the others (ctest runs
// every test in its own process): training goes to a private folder renamed into place when done, so
// a concurrent or interrupted process never sees half a run. Delete the folder to retrain.
inline const std::filesystem::path& small_run() {
  static const std::filesystem::path dir = [] {
    namespace fs = std::filesystem;
    const auto d = fs::temp_directory_path() / "deeper_analysis_small_run_v1";
    if (fs::is_regular_file(d / "checkpoint.safetensors")) return d;
    const auto work = fs::temp_directory_path() /
                      ("deeper_analysis_small_run_tmp_" + std::to_string(static_cast<long long>(::getpid())));
    fs::remove_all(work);
    deeper::nn::TrainerOptions o;
    o.face_model = &small_face_model();
    o.progress.mode = deeper::ProgressMode::silent;
    deeper::nn::Trainer trainer(small_run_config(work), o);
    trainer.run();
    std::error_code ec;
    fs::rename(work, d, ec);  // fails harmlessly when another process got there first
    if (ec) fs::remove_all(work);
    return d;
  }();
  return dir;
}

// Settings small enough for unit tests (seconds on the cpu).
inline deeper::analysis::AnalysisSettings small_settings() {
  auto s = deeper::analysis::analysis_preset("tiny");
  s.batch = 32;
  s.e1_identities = 4;
  s.e1_renders = 3;
  s.bootstrap = 100;
  s.targets = 1;
  s.trials = 300;
  s.permutations = 50;
  s.e3_permutations = 20;
  s.vertex_stride = 8;
  s.texel_factor = 8;
  s.e3_texel_factor = 16;
  s.e4_trials = 90;
  s.gradient_trials = 16;
  return s;
}

inline deeper::analysis::Study small_study(deeper::analysis::AnalysisSettings settings = small_settings()) {
  return deeper::analysis::Study(deeper::analysis::load_run(small_run()), std::move(settings),
                                 deeper::Device::cpu(), &small_face_model());
}

}  // namespace analysis_test
