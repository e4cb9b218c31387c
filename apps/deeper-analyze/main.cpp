// deeper-analyze: the paper's analyses of a trained network, and the report (issue 6).
//
//   deeper-analyze --run RUN_DIR --out REPORT_DIR [--preset auto|tiny|small|paper]
//                  [--only e1,e2,e3,e4,gradients] [--e1-renders N] [--targets N] [--trials N] [--permutations N]
//                  [--layers 1-10] [--pose-degrees D] [--device ...] [--seed S]
//
// RUN_DIR is a deeper-train run folder (checkpoint.safetensors, metrics.jsonl). The analyses
// (analysis/analyze.h): E1 shape vs texture generalisation, E2 reverse correlation maps, E3 hidden
// layers, E4 pose invariance, gradient maps; the report (analysis/report.h) goes to REPORT_DIR:
// index.html, results.json, maps/*.npy, figures/*.png. The preset sizes every experiment (auto:
// from the run's identities and resolution); the options override single settings.
// docs/experiments.md describes every procedure and choice.
//
// Exit status: 0 success (the last line is the report's path), 1 runtime error (no run, a broken
// checkpoint, an unusable device, a report folder that cannot be written), 2 usage error (bad option,
// unknown preset or experiment, bad layer list, settings the run cannot use).
#include "analysis/analyze.h"
#include "analysis/report.h"
#include "core/cli.h"
#include "core/log.h"
#include "kernels/runtime/device.h"
#include "nn/inference.h"

#include <chrono>
#include <ctime>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace deeper;

struct Args {
  std::string run, out, preset = "auto", only, layers;
  std::int64_t targets = 0, trials = 0, permutations = -1, e1_renders = 0;
  double pose_degrees = 0.0;
  std::vector<std::string> argv;
};

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');) {
    if (!item.empty()) parts.push_back(item);
  }
  return parts;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

analysis::AnalysisSettings resolve_settings(const Args& a, const analysis::RunInfo& run, const CommonOptions& common,
                                            bool seed_given) {
  analysis::AnalysisSettings s;
  try {
    s = analysis::analysis_preset(a.preset == "auto" ? analysis::preset_for_run(run.config) : a.preset);
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  // A preset sized for more identities than the run has uses all of them.
  s.e1_identities = std::min<std::int64_t>(s.e1_identities, run.config.model.classes);
  s.targets = std::min<std::int64_t>(s.targets, run.config.model.classes);
  if (!a.only.empty()) s.experiments = split(a.only);
  if (a.e1_renders > 0) s.e1_renders = a.e1_renders;
  if (a.targets > 0) s.targets = a.targets;
  if (a.trials > 0) {
    s.trials = a.trials;
    s.e4_trials = std::min(s.e4_trials, a.trials);
    s.gradient_trials = std::min(s.gradient_trials, a.trials);
  }
  if (a.permutations >= 0) {
    s.permutations = a.permutations;
    s.e3_permutations = std::min(s.e3_permutations, a.permutations);
  }
  if (!a.layers.empty()) {
    try {
      std::vector<int> layers;
      for (int l : nn::parse_lab_layers(a.layers)) layers.push_back(l);
      s.layers = layers;
    } catch (const Error& e) {
      throw UsageError(fmt::format("--layers: {}", e.what()));
    }
  }
  if (a.pose_degrees > 0.0) s.pose_degrees = a.pose_degrees;
  if (seed_given) s.seed = common.seed;
  try {
    analysis::validate_settings(s, run.config);
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  return s;
}

void run(const Args& a, const CLI::App& app, const CommonOptions& common) {
  const auto t0 = std::chrono::steady_clock::now();
  analysis::RunInfo info = analysis::load_run(a.run);
  const analysis::AnalysisSettings settings = resolve_settings(a, info, common, app.count("--seed") > 0);
  const DeviceChoice device = select_device(common.device);
  log::info("analysing {} ({} identities, {} px, step {}) on {} ({}), preset {}, experiments {}", a.run,
            info.config.model.classes, info.config.model.input_size, info.step(), device.device.name(), device.why,
            settings.preset, fmt::join(settings.experiments, ","));
  analysis::ReportContext context;
  {
    std::string line = "deeper-analyze";
    for (const auto& arg : a.argv) line += " " + arg;
    context.command_line = line;
  }
  context.device = fmt::format("{} ({})", device.device.name(), device.why);
  context.started = utc_now();
  analysis::Study study(std::move(info), settings, device.device);
  ProgressOptions progress;
  if (common.quiet) progress.mode = ProgressMode::silent;
  const analysis::AnalysisResults results = analysis::run_analyses(study, progress);
  context.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto index = analysis::write_report(a.out, study, results, context);
  log::info("analysis done in {:.1f} s", context.seconds);
  std::cout << index.string() << '\n';
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) args.argv.emplace_back(argv[i]);
  CLI::App* app_ptr = nullptr;
  return run_main(
      argc, argv, "analyze",
      [&](CLI::App& app) {
        app_ptr = &app;
        app.description(
            "Analyse a trained network (a deeper-train run folder): E1 shape vs texture generalisation, E2 reverse-\n"
            "correlation maps, E3 hidden layers, E4 pose invariance and gradient maps; writes an HTML report with\n"
            "every number in JSON and every map in .npy (docs/experiments.md).");
        app.add_option("--run", args.run, "the deeper-train run folder (checkpoint.safetensors, metrics.jsonl)")->required();
        app.add_option("--out", args.out, "the report folder (created): index.html, results.json, maps/, figures/")
            ->required();
        app.add_option("--preset", args.preset, "experiment sizes: auto (from the run), tiny, small or paper");
        app.add_option("--only", args.only, "comma-separated experiments: e1,e2,e3,e4,gradients (default: all)");
        app.add_option("--e1-renders", args.e1_renders, "E1 held-out renders per identity and level")
            ->check(CLI::PositiveNumber);
        app.add_option("--targets", args.targets, "target identities of E2-E4")->check(CLI::PositiveNumber);
        app.add_option("--trials", args.trials, "reverse-correlation trials per target")->check(CLI::PositiveNumber);
        app.add_option("--permutations", args.permutations, "permutations of the max statistic (E2, E4; E3 at most this)")
            ->check(CLI::NonNegativeNumber);
        app.add_option("--layers", args.layers, "lab layers for E3/E4, e.g. 1-10 or 2,5,9");
        app.add_option("--pose-degrees", args.pose_degrees, "E4 yaw and pitch step in degrees")->check(CLI::PositiveNumber);
      },
      [&](const CommonOptions& common) { run(args, *app_ptr, common); });
}
