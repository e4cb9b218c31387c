#include "analysis/run.h"

#include <algorithm>
#include <fstream>

#include "core/error.h"
#include "core/safetensors.h"
#include "nn/checkpoint.h"

namespace deeper::analysis {

std::int64_t RunInfo::step() const {
  const auto it = metadata.find("train.step");
  if (it == metadata.end()) return 0;
  try {
    return std::stoll(it->second);
  } catch (const std::exception&) {
    throw Error(fmt::format("{}: metadata train.step '{}' is not an integer", checkpoint.string(), it->second));
  }
}

RunInfo load_run(const std::filesystem::path& dir) {
  RunInfo run;
  run.dir = dir;
  if (!std::filesystem::is_directory(dir)) {
    throw Error(fmt::format("run folder {}: not found (train one with deeper-train --out {})", dir.string(),
                            dir.string()));
  }
  run.checkpoint = dir / "checkpoint.safetensors";
  if (!std::filesystem::is_regular_file(run.checkpoint)) {
    throw Error(fmt::format("{}: no checkpoint.safetensors in the run folder (has deeper-train finished a step?)",
                            dir.string()));
  }
  const io::SafetensorsFile file = io::read_safetensors(run.checkpoint);
  for (const auto& [key, value] : file.metadata) run.metadata[key] = value;
  const auto format = run.metadata.find("deeper.format");
  if (format == run.metadata.end() || format->second != nn::kCheckpointFormat) {
    throw Error(fmt::format("{}: not a deeper-train checkpoint (metadata deeper.format is missing or wrong)",
                            run.checkpoint.string()));
  }
  run.config = nn::checkpoint_config(run.checkpoint);

  const auto metrics = dir / "metrics.jsonl";
  std::ifstream in(metrics);
  if (in) {
    std::string line;
    for (std::int64_t number = 1; std::getline(in, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
      if (record.is_discarded() || !record.is_object()) {
        throw Error(fmt::format("{}:{}: not a JSON object", metrics.string(), number));
      }
      run.records.push_back(std::move(record));
    }
  }
  return run;
}

bool AnalysisSettings::runs(std::string_view experiment) const {
  return std::find(experiments.begin(), experiments.end(), experiment) != experiments.end();
}

AnalysisSettings analysis_preset(std::string_view name) {
  AnalysisSettings s;
  if (name == "tiny") return s;
  if (name == "small") {
    s.preset = "small";
    s.batch = 128;
    s.e1_identities = 64;
    s.e1_renders = 20;
    s.targets = 4;
    s.trials = 5000;
    s.permutations = 500;
    s.e3_permutations = 100;
    s.vertex_stride = 2;
    s.e3_texel_factor = 8;
    s.e4_trials = 2000;
    s.gradient_trials = 512;
    return s;
  }
  if (name == "paper") {
    s.preset = "paper";
    s.batch = 256;
    s.e1_identities = 200;
    s.e1_renders = 50;
    s.targets = 4;
    s.trials = 10800;  // 1,800 trials x 6 faces, as the lab's human design
    s.permutations = 1000;
    s.e3_permutations = 100;
    s.vertex_stride = 2;
    s.e3_texel_factor = 8;
    s.e4_trials = 10800;
    s.gradient_trials = 1024;
    return s;
  }
  throw Error(fmt::format("unknown analysis preset '{}' (known: tiny, small, paper)", name));
}

std::string preset_for_run(const nn::TrainConfig& config) {
  if (config.model.classes >= 1000 || config.model.input_size >= 224) return "paper";
  if (config.model.classes >= 100) return "small";
  return "tiny";
}

void validate_settings(const AnalysisSettings& s, const nn::TrainConfig& config) {
  const auto check = [](bool ok, std::string_view what, auto value, std::string_view need) {
    if (!ok) throw Error(fmt::format("analysis setting {} = {}: {}", what, value, need));
  };
  check(s.batch >= 2, "batch", s.batch, "must be at least 2");
  check(s.alpha > 0.0 && s.alpha < 1.0, "alpha", s.alpha, "must be in (0, 1)");
  check(s.e1_identities >= 2 && s.e1_identities <= config.model.classes, "e1_identities", s.e1_identities,
        fmt::format("must be in [2, {}] (the trained identities)", config.model.classes));
  check(s.e1_renders >= 1, "e1_renders", s.e1_renders, "must be at least 1");
  check(!s.e1_levels.empty() && !s.e1_morph.empty(), "e1 levels", s.e1_levels.size(), "must not be empty");
  for (double a : s.e1_levels) check(std::isfinite(a) && a >= 0.0 && a <= 10.0, "e1 level", a, "must be in [0, 10]");
  for (double l : s.e1_morph) check(std::isfinite(l) && l >= 0.0 && l <= 1.0, "e1 morph", l, "must be in [0, 1]");
  check(s.bootstrap >= 10, "bootstrap", s.bootstrap, "must be at least 10");
  check(s.targets >= 1 && s.targets <= config.model.classes, "targets", s.targets,
        fmt::format("must be in [1, {}] (the trained identities)", config.model.classes));
  check(s.trials >= 50, "trials", s.trials, "must be at least 50");
  check(std::isfinite(s.perturbation) && s.perturbation > 0.0 && s.perturbation <= 3.0, "perturbation",
        s.perturbation, "must be in (0, 3]");
  check(s.permutations >= 0 && s.permutations <= 100000, "permutations", s.permutations, "must be in [0, 100000]");
  check(s.e3_permutations >= 0 && s.e3_permutations <= 100000, "e3_permutations", s.e3_permutations,
        "must be in [0, 100000]");
  check(s.texel_factor >= 1 && s.e3_texel_factor >= 1, "texel_factor", std::min(s.texel_factor, s.e3_texel_factor),
        "must be at least 1");
  check(s.vertex_stride >= 1, "vertex_stride", s.vertex_stride, "must be at least 1");
  check(!s.layers.empty(), "layers", s.layers.size(), "must name at least one layer");
  for (int l : s.layers) check(l >= 1 && l <= 10, "layer", l, "must be in 1-10 (the lab's hidden layers)");
  check(std::isfinite(s.pose_degrees) && s.pose_degrees > 0.0 && s.pose_degrees <= 60.0, "pose_degrees",
        s.pose_degrees, "must be in (0, 60]");
  check(s.e4_trials >= 50 && s.e4_trials <= s.trials, "e4_trials", s.e4_trials,
        fmt::format("must be in [50, trials = {}]", s.trials));
  check(s.invariance_level > 0.0 && s.invariance_level <= 1.0, "invariance_level", s.invariance_level,
        "must be in (0, 1]");
  check(s.gradient_trials >= 1 && s.gradient_trials <= s.trials, "gradient_trials", s.gradient_trials,
        fmt::format("must be in [1, trials = {}]", s.trials));
  static constexpr std::string_view known[] = {"e1", "e2", "e3", "e4", "gradients"};
  for (const auto& e : s.experiments) {
    check(std::find(std::begin(known), std::end(known), e) != std::end(known), "experiment", e,
          "is not one of e1, e2, e3, e4, gradients");
  }
  for (const char* needs_e2 : {"e3", "e4", "gradients"}) {
    check(!s.runs(needs_e2) || s.runs("e2"), "experiments", needs_e2, "needs e2 (it reuses the E2 trials)");
  }
}

nlohmann::json settings_json(const AnalysisSettings& s) {
  return {{"preset", s.preset},
          {"seed", s.seed},
          {"batch", s.batch},
          {"alpha", s.alpha},
          {"e1", {{"identities", s.e1_identities}, {"renders", s.e1_renders}, {"levels", s.e1_levels},
                  {"morph", s.e1_morph}, {"bootstrap", s.bootstrap}}},
          {"e2", {{"targets", s.targets}, {"trials", s.trials}, {"perturbation", s.perturbation},
                  {"permutations", s.permutations}, {"texel_factor", s.texel_factor}}},
          {"e3", {{"layers", s.layers}, {"permutations", s.e3_permutations}, {"vertex_stride", s.vertex_stride},
                  {"texel_factor", s.e3_texel_factor}, {"spatial", s.spatial}}},
          {"e4", {{"pose_degrees", s.pose_degrees}, {"trials", s.e4_trials}, {"invariance_level", s.invariance_level}}},
          {"gradients", {{"trials", s.gradient_trials}}},
          {"experiments", s.experiments}};
}

}  // namespace deeper::analysis
