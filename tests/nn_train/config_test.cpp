// The training config: presets, defaults, TOML round trip, --set overrides, and errors that name
// the file, the line and the key (with "did you mean").
#include "nn/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"

namespace {

using namespace deeper::nn;

// The message of the deeper::Error that `f` throws ("" if none).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const deeper::Error& e) {
    return e.what();
  }
  return "";
}

#define EXPECT_ERROR_HAS(expr, text)                                     \
  do {                                                                   \
    const std::string message_ = error_of([&] { (void)(expr); });        \
    EXPECT_NE(message_.find(text), std::string::npos)                    \
        << "error '" << message_ << "' does not contain '" << (text) << "'"; \
  } while (0)

TEST(Config, PresetsParseAndHoldThePaperRecipe) {
  const auto names = preset_names();
  ASSERT_EQ(names, (std::vector<std::string>{"paper", "small", "tiny"}));
  const TrainConfig p = load_preset("paper");
  EXPECT_EQ(p.model.widths, (std::vector<std::int64_t>{64, 128, 256, 512}));
  EXPECT_EQ(p.model.input_size, 224);
  EXPECT_EQ(p.model.classes, 2000);
  EXPECT_EQ(p.train.batch, 256);
  EXPECT_EQ(p.train.images, 26'000'000);
  EXPECT_EQ(p.total_steps(), 101'563);
  EXPECT_EQ(p.optimizer.kind, OptimizerKind::sgd);
  EXPECT_DOUBLE_EQ(p.optimizer.momentum, 0.9);
  EXPECT_EQ(p.schedule.kind, ScheduleKind::cyclic);
  EXPECT_DOUBLE_EQ(p.schedule.base_lr, 1e-6);
  EXPECT_DOUBLE_EQ(p.schedule.lr, 0.3);
  EXPECT_EQ(p.schedule.step_size, 500);

  const TrainConfig t = load_preset("tiny");
  EXPECT_EQ(t.model.input_size, 64);
  EXPECT_EQ(t.model.classes, 16);
  EXPECT_EQ(t.model.widths, (std::vector<std::int64_t>{16, 32, 64, 128}));
  EXPECT_EQ(t.total_steps(), 1000);
  const TrainConfig s = load_preset("small");
  EXPECT_EQ(s.model.input_size, 112);
  EXPECT_ERROR_HAS(preset_text("tinny"), "did you mean 'tiny'");
}

TEST(Config, PresetFilesInTheSourceTreeMatchTheCompiledIn) {
  for (const auto& name : preset_names()) {
    std::ifstream in(std::filesystem::path(DEEPER_SOURCE_DIR) / "configs" / (name + ".toml"), std::ios::binary);
    ASSERT_TRUE(in) << name;
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, preset_text(name)) << name << ": rebuild to pick up the edited preset";
  }
}

TEST(Config, DocsListEveryKeyWithItsDefault) {
  std::ifstream in(std::filesystem::path(DEEPER_SOURCE_DIR) / "docs" / "training.md");
  ASSERT_TRUE(in);
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Each default line "name = value" of the TOML output appears in the table as "| `table.name` | `value` |".
  const std::string defaults = config_to_toml(TrainConfig{}, false);
  std::string section;
  std::size_t pos = 0;
  int rows = 0;
  while (pos < defaults.size()) {
    const std::size_t end = defaults.find('\n', pos);
    const std::string line = defaults.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) continue;
    if (line.front() == '[') {
      section = line.substr(1, line.size() - 2);
      continue;
    }
    const std::size_t eq = line.find(" = ");
    const std::string row = "| `" + section + "." + line.substr(0, eq) + "` | `" + line.substr(eq + 3) + "` |";
    EXPECT_NE(doc.find(row), std::string::npos) << "docs/training.md lacks the row " << row;
    ++rows;
  }
  EXPECT_EQ(rows, static_cast<int>(config_keys().size()));
}

TEST(Config, TomlOutputRoundTripsEveryKey) {
  TrainConfig c = load_preset("tiny");
  c.optimizer.kind = OptimizerKind::adamw;
  c.schedule.kind = ScheduleKind::constant;
  c.render.yaw_deg = {-12.25, 7.0};
  c.render.expressions = {"sad", "happy"};
  c.output.dir = "runs/with \"quotes\" and \\ backslash";
  c.model.bn_epsilon = 1.0 / 3.0;
  for (const bool comments : {true, false}) {
    const std::string text = config_to_toml(c, comments);
    const TrainConfig back = parse_config(text, "round trip");
    EXPECT_EQ(config_to_toml(back, comments), text);
    EXPECT_EQ(back.model, c.model);
    EXPECT_EQ(back.output.dir, c.output.dir);
    EXPECT_EQ(back.render.yaw_deg, c.render.yaw_deg);
    EXPECT_EQ(back.render.expressions, c.render.expressions);
    EXPECT_EQ(back.optimizer.kind, OptimizerKind::adamw);
  }
  // Every key appears once.
  const std::string text = config_to_toml(c, false);
  for (const auto& key : config_keys()) {
    const std::string name = key.substr(key.find('.') + 1);
    EXPECT_NE(text.find("\n" + name + " = "), std::string::npos) << key;
  }
}

TEST(Config, DefaultsApplyToKeysAFileLeavesOut) {
  const TrainConfig c = parse_config("[model]\nclasses = 7\n", "t.toml");
  EXPECT_EQ(c.model.classes, 7);
  EXPECT_EQ(c.model.widths, TrainConfig{}.model.widths);
  EXPECT_EQ(c.train.batch, 256);
  const TrainConfig e = parse_config("# only a comment\n", "empty.toml");
  EXPECT_EQ(config_to_toml(e), config_to_toml(TrainConfig{}));
}

TEST(Config, ErrorsNameFileLineAndKey) {
  EXPECT_ERROR_HAS(parse_config("[model]\n\nwidht = [1, 2, 3, 4]\n", "a.toml"),
                   "a.toml:3: key 'model.widht': unknown key; did you mean 'model.widths'?");
  EXPECT_ERROR_HAS(parse_config("[train]\nwidths = [1, 2, 3, 4]\n", "b.toml"), "did you mean 'model.widths'?");
  EXPECT_ERROR_HAS(parse_config("[modle]\nclasses = 3\n", "c.toml"), "c.toml:1: key 'modle': unknown table; did you mean 'model'?");
  EXPECT_ERROR_HAS(parse_config("batch = 3\n", "d.toml"), "did you mean 'train.batch'?");
  EXPECT_ERROR_HAS(parse_config("[train]\nbatch = \"big\"\n", "e.toml"), "e.toml:2: key 'train.batch': expected an integer, got a string");
  EXPECT_ERROR_HAS(parse_config("[train]\nbatch = 2.5\n", "e.toml"), "expected an integer, got a float");
  EXPECT_ERROR_HAS(parse_config("[train]\nbatch = 0\n", "f.toml"), "f.toml:2: key 'train.batch': 0 must be in [1, 65536]");
  EXPECT_ERROR_HAS(parse_config("[model]\nwidths = [16, 32]\n", "g.toml"), "expected 4 widths");
  EXPECT_ERROR_HAS(parse_config("[model]\nwidths = [16, 32, \"x\", 8]\n", "g.toml"), "found a string in it");
  EXPECT_ERROR_HAS(parse_config("[model]\ninput_size = 8\n", "g.toml"), "must be in [16, 4096]");
  EXPECT_ERROR_HAS(parse_config("[model]\nclasses = 1\n", "g.toml"), "must be in [2, 1000000]");
  EXPECT_ERROR_HAS(parse_config("[optimizer]\nkind = \"adam\"\n", "h.toml"), "'adam' is not one of sgd | adamw; did you mean 'adamw'?");
  EXPECT_ERROR_HAS(parse_config("[schedule]\nkind = \"cosin\"\n", "h.toml"), "did you mean 'cosine'?");
  EXPECT_ERROR_HAS(parse_config("[optimizer]\nmomentum = 1.0\n", "i.toml"), "must be in [0, 1)");
  EXPECT_ERROR_HAS(parse_config("[schedule]\nlr = nan\n", "i.toml"), "must be a positive number");
  EXPECT_ERROR_HAS(parse_config("[schedule]\nlr = 0.1\nbase_lr = 0.2\n", "j.toml"), "key 'schedule.base_lr': 0.2 is above schedule.lr");
  EXPECT_ERROR_HAS(parse_config("[render]\nyaw_deg = [10, -10]\n", "k.toml"), "k.toml:2: key 'render.yaw_deg': range [10, -10] has lo > hi");
  EXPECT_ERROR_HAS(parse_config("[render]\nyaw_deg = [10]\n", "k.toml"), "expected a range [lo, hi] of two numbers, got an array of 1");
  EXPECT_ERROR_HAS(parse_config("[render]\nexpression_intensity = [0, 2]\n", "k.toml"), "must lie within [0, 1]");
  EXPECT_ERROR_HAS(parse_config("[render]\nexpressions = [\"smile\"]\n", "k.toml"), "'smile' is not an expression");
  EXPECT_ERROR_HAS(parse_config("[render]\nexpressions = [\"sad\", \"sad\"]\n", "k.toml"), "'sad' is listed twice");
  EXPECT_ERROR_HAS(parse_config("[render]\nexpressions = []\n", "k.toml"), "at least one expression");
  EXPECT_ERROR_HAS(parse_config("[render]\nlighting = \"sh\"\n", "k.toml"), "'sh' is not a lighting model (lambert, sh9)");
  EXPECT_EQ(parse_config("[render]\nlighting = \"sh9\"\n", "k.toml").render.lighting, "sh9");
  EXPECT_ERROR_HAS(parse_config("[model]\nclasses = = 3\n", "syntax.toml"), "syntax.toml:2: TOML syntax error");
  EXPECT_ERROR_HAS(parse_config("[schedule]\nkind = \"cosine\"\nwarmup_steps = 5000\n[train]\nsteps = 100\n", "w.toml"),
                   "warm-up steps leave nothing");
  EXPECT_ERROR_HAS(parse_config("[train]\nimages = 10\nbatch = 32\n", "x.toml"), "less than one batch");
  EXPECT_ERROR_HAS(load_config_file("/nonexistent/deeper.toml"), "/nonexistent/deeper.toml: cannot open");
}

TEST(Config, ErrorsFromAFileNameIt) {
  const auto path = std::filesystem::temp_directory_path() / "deeper_nn_train_config_test.toml";
  {
    std::ofstream out(path);
    out << "# a config\n[optimizer]\nkind = \"sgd\"\nmomentun = 0.8\n";
  }
  EXPECT_ERROR_HAS(load_config_file(path.string()), path.string() + ":4: key 'optimizer.momentun': unknown key; did you mean 'optimizer.momentum'?");
  {
    std::ofstream out(path);
    out << "[optimizer]\nmomentum = 0.8\n";
  }
  EXPECT_DOUBLE_EQ(load_config_file(path.string()).optimizer.momentum, 0.8);
  std::filesystem::remove(path);
}

TEST(Config, OverridesSetEveryKind) {
  TrainConfig c = load_preset("tiny");
  apply_override(c, "model.widths=[8, 8, 16, 16]");
  apply_override(c, "train.batch=12");
  apply_override(c, "schedule.lr = 0.5");
  apply_override(c, "schedule.lr=1");  // an integer is a fine number
  apply_override(c, "optimizer.kind=adamw");  // bare word
  apply_override(c, "schedule.kind=\"constant\"");  // quoted
  apply_override(c, "optimizer.nesterov=true");
  apply_override(c, "render.yaw_deg=[-5, 5.5]");
  apply_override(c, "render.expressions=[\"happy\"]");
  apply_override(c, "output.dir=some/dir");
  EXPECT_EQ(c.model.widths, (std::vector<std::int64_t>{8, 8, 16, 16}));
  EXPECT_EQ(c.train.batch, 12);
  EXPECT_DOUBLE_EQ(c.schedule.lr, 1.0);
  EXPECT_EQ(c.optimizer.kind, OptimizerKind::adamw);
  EXPECT_EQ(c.schedule.kind, ScheduleKind::constant);
  EXPECT_TRUE(c.optimizer.nesterov);
  EXPECT_EQ(c.render.yaw_deg, (Range{-5.0, 5.5}));
  EXPECT_EQ(c.render.expressions, (std::vector<std::string>{"happy"}));
  EXPECT_EQ(c.output.dir, "some/dir");
}

TEST(Config, BadOverridesAreErrorsAndChangeNothing) {
  TrainConfig c = load_preset("tiny");
  const std::string before = config_to_toml(c);
  EXPECT_ERROR_HAS(apply_override(c, "schedule.lr"), "--set 'schedule.lr': expected key=value");
  EXPECT_ERROR_HAS(apply_override(c, "schedule.rl=0.1"), "unknown key; did you mean 'schedule.lr'?");
  EXPECT_ERROR_HAS(apply_override(c, "schedule.lr=fast"), "'fast' is not a number");
  EXPECT_ERROR_HAS(apply_override(c, "schedule.lr="), "no value after '='");
  EXPECT_ERROR_HAS(apply_override(c, "schedule.lr=-1"), "must be a positive number");
  EXPECT_ERROR_HAS(apply_override(c, "train.batch=1e3"), "expected an integer, got a float");
  EXPECT_ERROR_HAS(apply_override(c, "model.widths=[1,2]"), "expected 4 widths");
  EXPECT_ERROR_HAS(apply_override(c, "optimizer.kind=adamx"), "did you mean 'adamw'?");
  EXPECT_ERROR_HAS(apply_override(c, "optimizer.nesterov=yes"), "is not true or false");
  EXPECT_ERROR_HAS(apply_override(c, "schedule.warmup_steps=1000"), "warm-up steps leave nothing");
  EXPECT_EQ(config_to_toml(c), before);
}

TEST(Config, ResumeCompatibility) {
  const TrainConfig a = load_preset("tiny");
  TrainConfig b = a;
  b.train.steps = 5000;          // a longer run
  b.schedule.lr = 0.05;          // a new schedule is allowed
  b.output.dir = "elsewhere";
  EXPECT_NO_THROW(check_resume_compatible(a, b, "ck"));
  b = a;
  b.model.widths = {16, 32, 64, 64};
  EXPECT_ERROR_HAS(check_resume_compatible(a, b, "ck.safetensors"),
                   "ck.safetensors: cannot resume: 'model.widths' is [16, 32, 64, 128] in the checkpoint but [16, 32, 64, 64] now");
  b = a;
  b.optimizer.kind = OptimizerKind::adamw;
  EXPECT_ERROR_HAS(check_resume_compatible(a, b, "ck"), "'optimizer.kind'");
  b = a;
  b.train.seed = 7;
  EXPECT_ERROR_HAS(check_resume_compatible(a, b, "ck"), "'train.seed'");
  b = a;
  b.render.scale = {0.5, 2.0};
  EXPECT_ERROR_HAS(check_resume_compatible(a, b, "ck"), "'render.scale'");
}

TEST(Config, ClosestKey) {
  const std::vector<std::string> keys = config_keys();
  EXPECT_EQ(closest_key("model.clases", keys), "model.classes");
  EXPECT_EQ(closest_key("eval.images", keys), "eval.images");
  EXPECT_EQ(closest_key("completely.different", keys), "");
  EXPECT_EQ(closest_key("render.batch", keys), "train.batch");
}

TEST(Config, TotalSteps) {
  TrainConfig c;
  c.train.batch = 32;
  c.train.images = 100;
  EXPECT_EQ(c.total_steps(), 4);
  c.train.steps = 9;
  EXPECT_EQ(c.total_steps(), 9);
}

}  // namespace
