// Training checkpoints (nn/checkpoint.h).
#include "nn/checkpoint.h"

#include <fmt/format.h>

#include <charconv>
#include <cstring>
#include <set>
#include <string>

#include "core/error.h"
#include "core/safetensors.h"

namespace deeper::nn {

namespace {

std::string state_name(OptimizerKind kind, int slot, const std::string& param) {
  return fmt::format("optimizer.{}.{}", optimizer_slot_name(kind, slot), param);
}

std::string shape_text(const std::vector<std::int64_t>& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

const std::string& meta(const io::SafetensorsMetadata& m, const std::string& key, const std::string& file) {
  const auto it = m.find(key);
  if (it == m.end()) fail("{}: checkpoint metadata has no '{}'", file, key);
  return it->second;
}

std::uint64_t meta_u64(const io::SafetensorsMetadata& m, const std::string& key, const std::string& file) {
  const std::string& text = meta(m, key, file);
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    fail("{}: checkpoint metadata '{}' is '{}', not a non-negative integer", file, key, text);
  }
  return v;
}

// Copies the named tensor of `file` into `buffer` at the view's offset after checking it.
void take(const io::SafetensorsFile& f, const ParamView& v, const std::string& name, std::vector<float>& buffer,
          const std::string& file, std::set<std::string>& used) {
  const io::SafetensorsTensor* t = f.find(name);
  if (!t) fail("{}: checkpoint has no tensor '{}' (the model needs it, shape {})", file, name, shape_text(v.shape));
  if (t->array.dtype != DType::f32) {
    fail("{}: tensor '{}' is {}, expected F32", file, name, io::safetensors_dtype_name(t->array.dtype));
  }
  if (t->array.shape != v.shape) {
    fail("{}: tensor '{}' has shape {} but the model needs {}", file, name, shape_text(t->array.shape), shape_text(v.shape));
  }
  std::memcpy(buffer.data() + v.offset, t->array.data.data(), static_cast<std::size_t>(v.numel) * sizeof(float));
  used.insert(name);
}

}  // namespace

void save_checkpoint(const std::filesystem::path& path, const ParameterStore& store, const TrainingState& state,
                     const TrainConfig& config) {
  const NetworkLayout& l = store.layout();
  const std::vector<float> params = store.download_params();
  const std::vector<float> stats = store.download_stats();
  std::vector<std::vector<float>> slots;
  for (int s = 0; s < store.optimizer_slots(); ++s) slots.push_back(store.download_optimizer_state(s));

  std::vector<std::string> names;  // stable storage for the views' names
  std::vector<io::SafetensorsView> views;
  const std::size_t total = l.params.size() * (1 + slots.size()) + l.stats.size();
  names.reserve(total);
  views.reserve(total);
  const auto add = [&](std::string name, const ParamView& v, const std::vector<float>& buffer) {
    names.push_back(std::move(name));
    views.push_back({names.back(), DType::f32, v.shape, buffer.data() + v.offset});
  };
  for (const auto& v : l.params) add(v.name, v, params);
  for (const auto& v : l.stats) add(v.name, v, stats);
  for (int s = 0; s < store.optimizer_slots(); ++s) {
    for (const auto& v : l.params) add(state_name(store.optimizer(), s, v.name), v, slots[static_cast<std::size_t>(s)]);
  }
  io::SafetensorsMetadata m;
  m["deeper.format"] = kCheckpointFormat;
  m["deeper.format_version"] = std::string(kCheckpointFormatVersion);  // (a std::string: GCC 12 warns -Wrestrict on char* assignment)
  m["deeper.version"] = DEEPER_VERSION;
  m["train.step"] = std::to_string(state.step);
  m["train.images"] = std::to_string(state.images);
  m["optimizer.kind"] = std::string(to_string(store.optimizer()));
  m["rng.seed"] = std::to_string(state.seed);
  m["rng.train_counter"] = std::to_string(state.train_counter);
  m["rng.eval_counter"] = std::to_string(state.eval_counter);
  m["config"] = config_to_toml(config, false);
  io::write_safetensors(path, views, m);
}

TrainConfig checkpoint_config(const std::filesystem::path& path) {
  const std::string file = path.string();
  const io::SafetensorsFile f = io::read_safetensors(path);
  const auto it = f.metadata.find("deeper.format");
  if (it == f.metadata.end() || it->second != kCheckpointFormat) {
    fail("{}: not a deeper-train checkpoint (metadata 'deeper.format' is {})", file,
         it == f.metadata.end() ? std::string("missing") : "'" + it->second + "'");
  }
  return parse_config(meta(f.metadata, "config", file), file + " (its config metadata)");
}

TrainingState load_checkpoint(const std::filesystem::path& path, ParameterStore& store, const TrainConfig& config) {
  const std::string file = path.string();
  const io::SafetensorsFile f = io::read_safetensors(path);
  const auto fmt_it = f.metadata.find("deeper.format");
  if (fmt_it == f.metadata.end() || fmt_it->second != kCheckpointFormat) {
    fail("{}: not a deeper-train checkpoint (metadata 'deeper.format' is {})", file,
         fmt_it == f.metadata.end() ? std::string("missing") : "'" + fmt_it->second + "'");
  }
  const std::string& version = meta(f.metadata, "deeper.format_version", file);
  if (version != kCheckpointFormatVersion) {
    fail("{}: checkpoint format version {} is not supported (this program reads version {})", file, version,
         kCheckpointFormatVersion);
  }
  const TrainConfig saved = parse_config(meta(f.metadata, "config", file), file + " (its config metadata)");
  check_resume_compatible(saved, config, file);
  const std::string& kind = meta(f.metadata, "optimizer.kind", file);
  if (kind != to_string(store.optimizer())) {
    fail("{}: checkpoint holds {} state but the run uses {}", file, kind, to_string(store.optimizer()));
  }
  if (saved.model != store.layout().model) fail("{}: the checkpoint's model differs from the store's", file);

  TrainingState state;
  state.step = static_cast<std::int64_t>(meta_u64(f.metadata, "train.step", file));
  state.images = static_cast<std::int64_t>(meta_u64(f.metadata, "train.images", file));
  state.seed = meta_u64(f.metadata, "rng.seed", file);
  state.train_counter = meta_u64(f.metadata, "rng.train_counter", file);
  state.eval_counter = meta_u64(f.metadata, "rng.eval_counter", file);

  const NetworkLayout& l = store.layout();
  std::set<std::string> used;
  std::vector<float> params(static_cast<std::size_t>(l.param_buffer_elements), 0.0f);
  std::vector<float> stats(static_cast<std::size_t>(l.stat_buffer_elements), 0.0f);
  for (const auto& v : l.params) take(f, v, v.name, params, file, used);
  for (const auto& v : l.stats) take(f, v, v.name, stats, file, used);
  std::vector<std::vector<float>> slots;
  for (int s = 0; s < store.optimizer_slots(); ++s) {
    slots.emplace_back(static_cast<std::size_t>(l.param_buffer_elements), 0.0f);
    for (const auto& v : l.params) take(f, v, state_name(store.optimizer(), s, v.name), slots.back(), file, used);
  }
  for (const auto& t : f.tensors) {
    if (!used.count(t.name)) fail("{}: checkpoint has a tensor '{}' that the model does not have", file, t.name);
  }
  store.upload_params(params);
  store.upload_stats(stats);
  for (int s = 0; s < store.optimizer_slots(); ++s) store.upload_optimizer_state(s, slots[static_cast<std::size_t>(s)]);
  return state;
}

}  // namespace deeper::nn
