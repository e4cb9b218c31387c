// deeper-train: train the lab's ResNet-10 on faces rendered on the fly (issue 4).
//
//   deeper-train (--preset tiny|small|paper | --config FILE) [--set key=value]... [--out DIR]
//                [--resume] [--steps N] [--profile-steps A:B] [--conv-math auto|simt_f32|wmma_bf16]
//                [--conv-kernel auto|1|2|3] [--prefetch auto|on|off] [--dry-run] [--device ...] [--seed S]
//
// The configuration is a preset (configs/<name>.toml, compiled in) or a TOML file, then each --set
// in order, then --steps, --seed and --out (docs/training.md lists every key). --dry-run prints the
// resolved configuration, the parameter count and the layer table, checks a checkpoint to resume
// from if --resume is given, and exits 0 without writing anything.
//
// Otherwise it trains (nn/trainer.h): per step a batch rendered on the device, forward, loss,
// backward, optimizer step; metrics.jsonl, checkpoint.safetensors and config.toml in the run folder,
// a progress bar with images/s and ETA, held-out evaluations, and a summary on stdout at the end.
// A NaN or infinite loss stops the run (exit 1) naming the step and the last good checkpoint.
//
// Exit status: 0 success, 1 runtime error (unreadable or invalid config file or checkpoint, unusable
// device, a non-finite loss), 2 usage error (bad option, unknown preset, bad --set, bad
// --profile-steps, bad --conv-math, --conv-kernel or --prefetch).
#include "core/cli.h"
#include "core/log.h"
#include "kernels/runtime/device.h"
#include "nn/checkpoint.h"
#include "nn/config.h"
#include "nn/parameters.h"
#include "nn/resnet10.h"
#include "nn/schedule.h"
#include "nn/trainer.h"

#include <charconv>
#include <fstream>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace deeper;

struct TrainArgs {
  std::string preset, config, out, profile_steps, conv_math = "auto", conv_kernel = "auto",
              prefetch = "auto";
  std::vector<std::string> sets;
  std::int64_t steps = 0;
  bool resume = false;
  bool dry_run = false;
};

std::int64_t parse_step(std::string_view text, std::string_view what) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    throw UsageError(fmt::format("--profile-steps: {} '{}' is not an integer (expected A:B, e.g. 100:120)", what, text));
  }
  return v;
}

// "A:B": profile steps A..B (1-based, inclusive) of a run of `total` steps.
std::pair<std::int64_t, std::int64_t> parse_profile_steps(const std::string& text, std::int64_t total) {
  const std::size_t colon = text.find(':');
  if (colon == std::string::npos) throw UsageError(fmt::format("--profile-steps '{}': expected A:B, e.g. 100:120", text));
  const std::int64_t a = parse_step(std::string_view(text).substr(0, colon), "A");
  const std::int64_t b = parse_step(std::string_view(text).substr(colon + 1), "B");
  if (a < 1 || b < a || b > total) {
    throw UsageError(fmt::format("--profile-steps {}:{}: need 1 <= A <= B <= {} (the run's steps)", a, b, total));
  }
  return {a, b};
}

nn::TrainConfig resolve_config(const TrainArgs& a, const CLI::App& app, const CommonOptions& common) {
  if (a.preset.empty() == a.config.empty()) throw UsageError("give exactly one of --preset NAME or --config FILE");
  nn::TrainConfig c;
  if (!a.preset.empty()) {
    std::string_view text;
    try {
      text = nn::preset_text(a.preset);
    } catch (const Error& e) {
      throw UsageError(e.what());
    }
    c = nn::parse_config(text, fmt::format("configs/{}.toml", a.preset));
  } else {
    c = nn::load_config_file(a.config);
  }
  for (const auto& s : a.sets) {
    try {
      nn::apply_override(c, s);
    } catch (const Error& e) {
      throw UsageError(e.what());
    }
  }
  try {
    if (a.steps > 0) nn::apply_override(c, fmt::format("train.steps={}", a.steps));
    if (app.count("--seed") > 0) nn::apply_override(c, fmt::format("train.seed={}", common.seed));
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  if (!a.out.empty()) c.output.dir = a.out;
  nn::validate_config(c, "the resolved configuration");
  return c;
}

void print_dry_run(const nn::TrainConfig& c, const nn::NetworkLayout& layout, const DeviceChoice& device,
                   const std::optional<nn::TrainingState>& resumed, const std::optional<std::pair<std::int64_t, std::int64_t>>& profile) {
  const std::int64_t steps = c.total_steps();
  std::cout << "# deeper-train dry run: the resolved configuration\n" << nn::config_to_toml(c) << '\n';
  std::cout << "# ResNet-10, " << c.model.input_size << " x " << c.model.input_size << " RGB, " << c.model.classes
            << " classes\n"
            << nn::layer_table(layout) << '\n';
  std::cout << fmt::format("device:          {} ({})\n", device.device.name(), device.why);
  std::cout << fmt::format("parameters:      {} trainable + {} BN statistics = {}\n", layout.param_count,
                           layout.stat_count, layout.param_count + layout.stat_count);
  std::cout << fmt::format("run:             {} steps x {} images = {} images, ~{:.3g} PFLOP of training\n", steps,
                           c.train.batch, steps * c.train.batch,
                           layout.train_flops() * static_cast<double>(steps * c.train.batch) / 1e15);
  std::cout << fmt::format("learning rate:   {} ({:.6g} at step 0, {:.6g} at the last step)\n", nn::to_string(c.schedule.kind),
                           nn::learning_rate(c.schedule, 0, steps), nn::learning_rate(c.schedule, steps - 1, steps));
  std::cout << fmt::format("output:          {}\n", c.output.dir);
  if (resumed) {
    std::cout << fmt::format("resume:          from step {} ({} images), checkpoint checked\n", resumed->step,
                             resumed->images);
  }
  if (profile) std::cout << fmt::format("profile steps:   {} to {}\n", profile->first, profile->second);
}

void run(const TrainArgs& a, const CLI::App& app, const CommonOptions& common) {
  const nn::TrainConfig c = resolve_config(a, app, common);
  std::optional<std::pair<std::int64_t, std::int64_t>> profile;
  if (!a.profile_steps.empty()) profile = parse_profile_steps(a.profile_steps, c.total_steps());
  if (a.conv_math != "auto" && a.conv_math != "simt_f32" && a.conv_math != "wmma_bf16") {
    throw UsageError(fmt::format("--conv-math '{}': expected auto, simt_f32 or wmma_bf16", a.conv_math));
  }
  if (a.conv_kernel != "auto" && a.conv_kernel != "1" && a.conv_kernel != "2" && a.conv_kernel != "3") {
    throw UsageError(fmt::format("--conv-kernel '{}': expected auto, 1, 2 or 3", a.conv_kernel));
  }
  nn::RenderPrefetch prefetch = nn::RenderPrefetch::automatic;
  try {
    prefetch = nn::parse_render_prefetch(a.prefetch);
  } catch (const Error& e) {
    throw UsageError(fmt::format("--prefetch: {}", e.what()));
  }
  const DeviceChoice device = select_device(common.device);
  const kernels::ConvMath math =
      a.conv_math == "wmma_bf16" || (a.conv_math == "auto" && device.device.backend == Backend::cuda)
          ? kernels::ConvMath::wmma_bf16
          : kernels::ConvMath::simt_f32;
  const nn::NetworkLayout layout = nn::resnet10_layout(c.model);

  std::optional<nn::TrainingState> resumed;
  const std::filesystem::path checkpoint = std::filesystem::path(c.output.dir) / "checkpoint.safetensors";
  if (a.resume) {
    if (!std::filesystem::exists(checkpoint)) {
      fail("--resume: there is no checkpoint to resume from ({} does not exist)", checkpoint.string());
    }
    nn::ParameterStore store(Device::cpu(), layout, c.optimizer.kind);
    resumed = nn::load_checkpoint(checkpoint, store, c);
    if (resumed->step >= c.total_steps()) {
      fail("--resume: {} is at step {}, the end of a {}-step run; raise train.images or --steps to continue",
           checkpoint.string(), resumed->step, c.total_steps());
    }
  } else if (!a.dry_run && std::filesystem::exists(checkpoint)) {
    fail("{} exists: pass --resume to continue that run, or choose another --out", checkpoint.string());
  }

  if (a.dry_run) {
    print_dry_run(c, layout, device, resumed, profile);
    return;
  }
  nn::TrainerOptions options;
  options.device = device.device;
  options.resume = a.resume;
  if (profile) {
    options.profile_first = profile->first;
    options.profile_last = profile->second;
  }
  options.math = math;
  options.bf16_conv_kernel = a.conv_kernel == "auto" ? 0 : std::stoi(a.conv_kernel);
  options.prefetch = prefetch;
  log::info("device {} ({}), conv math {}, {} steps x {} images", device.device.name(), device.why,
            options.math == kernels::ConvMath::wmma_bf16 ? "wmma_bf16" : "simt_f32", c.total_steps(), c.train.batch);
  nn::Trainer trainer(c, options);
  {
    std::ofstream toml(std::filesystem::path(c.output.dir) / "config.toml");
    toml << nn::config_to_toml(c);
  }
  const nn::TrainSummary s = trainer.run();
  std::cout << fmt::format("steps:           {} to {} of {}\n", s.start_step, s.end_step, c.total_steps());
  std::cout << fmt::format("last step:       loss {:.4f}, batch accuracy {:.2f}%\n", s.last_loss, 100.0 * s.last_accuracy);
  if (s.last_eval) {
    std::cout << fmt::format("evaluation:      loss {:.4f}, accuracy {:.2f}% on {} held-out images (chance {:.2f}%)\n",
                             s.last_eval->loss, 100.0 * s.last_eval->accuracy, s.last_eval->images,
                             100.0 / static_cast<double>(c.model.classes));
  }
  std::cout << fmt::format("throughput:      {:.1f} images/s (rendering and evaluations included)\n", s.images_per_s);
  std::cout << fmt::format("checkpoint:      {}\n", s.checkpoint.string());
}

}  // namespace

int main(int argc, char** argv) {
  TrainArgs args;
  CLI::App* app_ptr = nullptr;
  return run_main(
      argc, argv, "train",
      [&](CLI::App& app) {
        app_ptr = &app;
        app.description(
            "Train the lab's ResNet-10 on faces rendered on the fly. The configuration is a preset or a TOML\n"
            "file, then --set overrides, then --steps, --seed and --out (keys: docs/training.md).");
        auto* preset = app.add_option("--preset", args.preset, "a built-in configuration: tiny, small or paper");
        auto* config = app.add_option("--config", args.config, "a TOML configuration file");
        preset->excludes(config);
        app.add_option("--set", args.sets, "override one key, e.g. --set schedule.lr=0.05 (repeatable)")
            ->allow_extra_args(false);
        app.add_option("--out", args.out, "run folder: checkpoint.safetensors, metrics.jsonl (default output.dir)");
        app.add_flag("--resume", args.resume, "continue the run in --out from its checkpoint");
        app.add_option("--steps", args.steps, "run length in steps (sets train.steps)")->check(CLI::PositiveNumber);
        app.add_option("--profile-steps", args.profile_steps, "A:B, the 1-based steps (inclusive) to bracket for Nsight");
        app.add_option("--conv-math", args.conv_math,
                       "convolution math: auto (wmma_bf16 on cuda, else simt_f32), simt_f32 or wmma_bf16");
        app.add_option("--conv-kernel", args.conv_kernel,
                       "the wmma_bf16 conv kernel: auto (version 2 where C and K are multiples of 8), 1, 2 or 3 "
                       "(sm_90a wgmma)");
        app.add_option("--prefetch", args.prefetch,
                       "render the next batch while the network trains on this one, on a second stream: auto (on "
                       "for cuda), on or off");
        app.add_flag("--dry-run", args.dry_run, "print the resolved config, parameter count and layer table; write nothing");
      },
      [&](const CommonOptions& common) { run(args, *app_ptr, common); });
}
