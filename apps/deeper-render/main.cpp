// deeper-render: face images from the 3D face model through the render pipeline (renderer/pipeline.h).
//
//   deeper-render contact-sheet [-n 64] [--columns 8] -o SHEET.png     N identities, varied factors
//   deeper-render sweep --factor NAME [--levels 7] [--identities 6] -o SWEEP.png
//                                                   one row per factor level, one column per identity
//   deeper-render batch -n N -o DIR [--batch 64]    DIR/image_000000.png ... + DIR/factors.jsonl
//   deeper-render export-model -o MODEL.safetensors the model (procedural, or --model) to a file
//   deeper-render import-model MODEL.safetensors [-o PREVIEW.png]   validate a model file, summarize
//   deeper-render colormap VALUES.npy -o MAP.png [--range LO:HI]    per-vertex (V) or per-texel
//                                                   (H x W) values as a colour map on a frontal face
// Shared: --model FILE (default: the embedded procedural model), --small-model, --size PX,
// --identities N (the identity set images draw from), --set NAME=VALUE|NAME=LO:HI (fix or range a
// factor; repeatable; SH coefficients sh_r0 .. sh_b8, or sh0 .. sh8 for all three channels),
// --lighting lambert|sh9 (the shading model; default lambert), --no-antialias, --background R,G,B,
// and the common --device, --seed, ...
// Identities come from make_identities(model, seed, count); factors from (seed, image index).
//
// Exit status: 0 success, 1 runtime error (unreadable or invalid model / values file, unusable
// device), 2 usage error (bad option or value, unknown factor, out-of-range factor).
#include "core/atomic_file.h"
#include "core/cli.h"
#include "core/log.h"
#include "core/npy.h"
#include "core/png.h"
#include "kernels/runtime/device.h"
#include "renderer/colour_map.h"
#include "renderer/factors.h"
#include "renderer/model_io.h"
#include "renderer/pipeline.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace deeper;
using namespace deeper::render;
namespace fs = std::filesystem;

struct Args {
  std::string model_path, out, input, factor, range, background, lighting = "lambert";
  std::vector<std::string> sets;
  bool small_model = false, no_antialias = false;
  int size = 112, columns = 8, levels = 7;
  std::int64_t count = 64, batch = 64;
  std::int32_t identities = 0;  // 0: the subcommand's default
};

FaceModel load_model(const Args& a) {
  if (!a.model_path.empty()) return load_face_model(a.model_path);
  if (a.small_model) return make_procedural_model(ProceduralOptions{33, 10, 10, 64});
  return make_procedural_model();
}

RenderOptions render_options(const Args& a) {
  RenderOptions o;
  o.width = o.height = a.size;
  o.antialias = !a.no_antialias;
  if (!a.background.empty()) {
    std::array<float, 3> bg{};
    std::size_t start = 0;
    for (int c = 0; c < 3; ++c) {
      const std::size_t comma = a.background.find(',', start);
      const std::string part = a.background.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      float v = 0;
      const auto r = std::from_chars(part.data(), part.data() + part.size(), v);
      if (part.empty() || r.ec != std::errc() || r.ptr != part.data() + part.size() || !(v >= 0.0f && v <= 1.0f) ||
          (c < 2) == (comma == std::string::npos)) {
        throw UsageError(fmt::format("--background '{}': expected R,G,B with values in [0, 1]", a.background));
      }
      bg[static_cast<std::size_t>(c)] = v;
      start = comma + 1;
    }
    o.background = bg;
  }
  return o;
}

FactorSampling sampling_for(const Args& a, std::uint64_t seed, std::int32_t identities) {
  FactorSampling s = default_sampling(seed, identities);
  s.lighting = parse_lighting(a.lighting);  // checked by the option's validator
  for (const auto& text : a.sets) {
    try {
      apply_factor_setting(s, text);
    } catch (const Error& e) {
      throw UsageError(fmt::format("--set: {}", e.what()));
    }
  }
  return s;
}

// Frontal, neutral, centred, lit from the upper right: the base of sweeps and colour maps (the SH
// values: white light, ambient 0.56, band 1 from the upper right front, no band 2).
FactorSampling plain_sampling(const Args& a, std::uint64_t seed, std::int32_t identities) {
  Args plain = a;
  plain.sets.insert(plain.sets.begin(), {"yaw=0", "pitch=0", "roll=0", "scale=1", "tx=0", "ty=0", "expression=neutral",
                                         "intensity=0", "light_azimuth=25", "light_elevation=20", "ambient=0.55",
                                         "diffuse=0.5", "sh0=2.0", "sh1=0.2", "sh2=0.45", "sh3=0.2", "sh4=0", "sh5=0",
                                         "sh6=0", "sh7=0", "sh8=0"});
  return sampling_for(plain, seed, identities);
}

struct Session {
  FaceModel model;
  IdentitySet ids;
  DeviceChoice device;
};

Session open_session(const Args& a, const CommonOptions& common, std::int32_t identities) {
  Session s{load_model(a), {}, select_device(common.device)};
  log::info("device: {} ({})", s.device.device.name(), s.device.why);
  s.ids = make_identities(s.model, common.seed, identities);
  return s;
}

std::vector<io::Image8> render_list(const Session& s, const Args& a, std::span<const ImageFactors> factors,
                                    Renderer* prepared = nullptr, const RenderModel* model = nullptr) {
  const RenderOptions o = render_options(a);
  std::optional<RenderModel> own_model;
  if (!model) model = &own_model.emplace(s.device.device, s.model, s.ids);
  std::optional<Renderer> own;
  Renderer& r = prepared ? *prepared : own.emplace(*model, o);
  std::vector<io::Image8> images;
  for (std::size_t first = 0; first < factors.size(); first += static_cast<std::size_t>(a.batch)) {
    const std::size_t n = std::min(factors.size() - first, static_cast<std::size_t>(a.batch));
    Tensor out = Tensor::empty({static_cast<std::int64_t>(n), o.height, o.width, 3}, DType::f32, s.device.device);
    r.render(factors.subspan(first, n), out);
    const auto px = tensor_to_host(out);
    const std::size_t plane = static_cast<std::size_t>(o.height) * o.width * 3;
    for (std::size_t i = 0; i < n; ++i) {
      images.push_back(io::image_from_float(std::span(px).subspan(i * plane, plane), o.width, o.height, 3));
    }
  }
  return images;
}

void write_sheet(const fs::path& path, const std::vector<io::Image8>& images, int columns) {
  io::write_png(path, io::image_grid(images, columns, 2, {255, 255, 255, 255}));
  log::info("wrote {} ({} images)", path.string(), images.size());
}

void contact_sheet(const Args& a, const CommonOptions& common) {
  if (a.count < 1 || a.count > 4096) throw UsageError(fmt::format("-n {}: need 1 to 4096 identities", a.count));
  const Session s = open_session(a, common, static_cast<std::int32_t>(a.count));
  const FactorSampling sampling = sampling_for(a, common.seed, static_cast<std::int32_t>(a.count));
  auto factors = sample_factors(sampling, 0, a.count);
  for (std::int64_t i = 0; i < a.count; ++i) {
    if (sampling.fixed_identity < 0) factors[static_cast<std::size_t>(i)].identity = static_cast<std::int32_t>(i);
  }
  write_sheet(a.out, render_list(s, a, factors), a.columns);
}

void sweep(const Args& a, const CommonOptions& common) {
  const auto names = factor_names();
  if (std::find(names.begin(), names.end(), a.factor) == names.end() && !is_sh_factor(a.factor)) {
    throw UsageError(fmt::format("--factor '{}' is not a factor (factors: identity, expression, {}, sh0 .. sh8, "
                                 "sh_r0 .. sh_b8)",
                                 a.factor, fmt::join(kContinuousFactors, ", ")));
  }
  const std::int32_t columns = a.identities > 0 ? a.identities : 6;
  const FactorSampling base = plain_sampling(a, common.seed, columns);
  if (is_sh_factor(a.factor) && base.lighting != Lighting::sh9) {
    throw UsageError(fmt::format("--factor {}: SH coefficients shade only with --lighting sh9", a.factor));
  }
  const Session s = open_session(a, common, columns);
  std::vector<double> levels;
  if (a.factor == "expression") {
    for (int e = 0; e < kExpressions; ++e) levels.push_back(e);
  } else if (a.factor == "identity") {
    throw UsageError("--factor identity: every column is already another identity; sweep another factor");
  } else {
    FactorRange r = factor_range(default_sampling(0, 1), a.factor);
    if (!a.range.empty()) {
      FactorSampling probe = base;
      try {
        apply_factor_setting(probe, a.factor + "=" + a.range);
      } catch (const Error& e) {
        throw UsageError(fmt::format("--range: {}", e.what()));
      }
      r = factor_range(probe, a.factor);
    }
    if (a.levels < 2 || a.levels > 64) throw UsageError(fmt::format("--levels {}: need 2 to 64", a.levels));
    for (int i = 0; i < a.levels; ++i) levels.push_back(r.lo + (r.hi - r.lo) * i / (a.levels - 1));
  }
  std::vector<ImageFactors> factors;
  for (double level : levels) {
    for (std::int32_t c = 0; c < columns; ++c) {
      ImageFactors f = kernels::sample_image_factors(base, static_cast<std::uint64_t>(c));
      f.identity = c;
      if (a.factor == "expression") f.intensity = 1.0f;
      set_factor_value(f, a.factor, level);
      factors.push_back(f);
    }
  }
  write_sheet(a.out, render_list(s, a, factors), columns);
}

void batch(const Args& a, const CommonOptions& common) {
  if (a.count < 1) throw UsageError(fmt::format("-n {}: need at least 1 image", a.count));
  if (a.batch < 1 || a.batch > 4096) throw UsageError(fmt::format("--batch {}: need 1 to 4096", a.batch));
  const std::int32_t identities = a.identities > 0 ? a.identities : 100;
  const Session s = open_session(a, common, identities);
  const FactorSampling sampling = sampling_for(a, common.seed, identities);
  const RenderOptions o = render_options(a);
  const RenderModel model(s.device.device, s.model, s.ids);
  Renderer r(model, o);
  const fs::path dir = a.out;
  fs::create_directories(dir);
  std::string jsonl;
  const std::size_t plane = static_cast<std::size_t>(o.height) * o.width * 3;
  for (std::int64_t first = 0; first < a.count; first += a.batch) {
    const std::int64_t n = std::min(a.count - first, a.batch);
    Tensor out = Tensor::empty({n, o.height, o.width, 3}, DType::f32, s.device.device, Layout::nhwc);
    r.render(sampling, static_cast<std::uint64_t>(first), out);
    const auto px = tensor_to_host(out);
    const auto factors = r.last_factors();
    for (std::int64_t i = 0; i < n; ++i) {
      const auto index = static_cast<std::uint64_t>(first + i);
      io::write_png(dir / fmt::format("image_{:06d}.png", index),
                    io::image_from_float(std::span(px).subspan(static_cast<std::size_t>(i) * plane, plane), o.width,
                                         o.height, 3));
      jsonl += factors_json(factors[static_cast<std::size_t>(i)], index) + "\n";
    }
    log::info("{} / {} images", first + n, a.count);
  }
  io::write_file_atomic(dir / "factors.jsonl", std::as_bytes(std::span(jsonl)));
  log::info("wrote {} images and factors.jsonl to {}", a.count, dir.string());
}

void export_model(const Args& a, const CommonOptions&) {
  const FaceModel model = load_model(a);
  save_face_model(model, a.out);
  log::info("wrote {} ({} vertices, {} triangles)", a.out, model.vertex_count(), model.mesh.triangle_count());
}

void import_model(const Args& a, const CommonOptions& common) {
  Args with = a;
  with.model_path = a.input;
  const FaceModel model = load_face_model(a.input);
  std::cout << fmt::format("{}: valid face model, {} vertices, {} triangles, texture {} x {}, {} shape and {} texture "
                           "components, {} ethnicities, {} action units\n",
                           a.input, model.vertex_count(), model.mesh.triangle_count(), model.texture_height,
                           model.texture_width, model.shape_components(), model.texture_components(),
                           model.ethnicity_count(), model.action_unit_count());
  if (a.out.empty()) return;
  const std::int32_t n = a.identities > 0 ? a.identities : 8;
  Session s{model, make_identities(model, common.seed, n), select_device(common.device)};
  auto factors = sample_factors(sampling_for(a, common.seed, n), 0, n);
  for (std::int32_t i = 0; i < n; ++i) factors[static_cast<std::size_t>(i)].identity = i;
  write_sheet(a.out, render_list(s, a, factors), std::min(n, 8));
}

void colormap(const Args& a, const CommonOptions& common) {
  const io::HostArray array = io::read_npy(a.input);
  std::vector<double> values;
  if (array.dtype == DType::f32) {
    for (float x : array.to_vector<float>()) values.push_back(x);
  } else if (array.dtype == DType::f64) {
    values = array.to_vector<double>();
  } else {
    fail("{}: values must be f32 or f64, not {}", a.input, dtype_name(array.dtype));
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) fail("{}: value {} is not finite", a.input, i);
  }
  const std::int32_t n = a.identities > 0 ? a.identities : 1;
  const Session s = open_session(a, common, n);
  const std::int64_t v = s.model.vertex_count(), texels = std::int64_t{s.model.texture_height} * s.model.texture_width;
  const auto count = static_cast<std::int64_t>(values.size());
  if (count != v && count != texels) {
    fail("{}: {} values, expected one per vertex ({}) or one per texel ({} x {} = {})", a.input, count, v,
         s.model.texture_height, s.model.texture_width, texels);
  }
  double lo = *std::min_element(values.begin(), values.end()), hi = *std::max_element(values.begin(), values.end());
  if (!a.range.empty()) {
    const auto colon = a.range.find(':');
    try {
      if (colon == std::string::npos) throw std::invalid_argument("no colon");
      lo = std::stod(a.range.substr(0, colon));
      hi = std::stod(a.range.substr(colon + 1));
    } catch (const std::exception&) {
      throw UsageError(fmt::format("--range '{}': expected LO:HI", a.range));
    }
    if (!(lo < hi)) throw UsageError(fmt::format("--range '{}': LO must be below HI", a.range));
  }
  std::vector<float> rgb(values.size() * 3);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto c = colour_map(hi > lo ? (values[i] - lo) / (hi - lo) : 0.5);
    std::copy(c.begin(), c.end(), rgb.begin() + 3 * static_cast<std::ptrdiff_t>(i));
  }
  const RenderModel model(s.device.device, s.model, s.ids);
  Renderer r(model, render_options(a));
  if (count == v) {
    r.set_vertex_colors(rgb);
  } else {
    r.set_texture_override(rgb, s.model.texture_height, s.model.texture_width);
  }
  const auto factors = sample_factors(plain_sampling(a, common.seed, n), 0, n);
  write_sheet(a.out, render_list(s, a, factors, &r, &model), std::min(n, 8));
  log::info("colour map: {} maps to the first colour, {} to the last ({} values per {})", lo, hi, count,
            count == v ? "vertex" : "texel");
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  std::function<void(const Args&, const CommonOptions&)> command;
  return run_main(
      argc, argv, "render",
      [&](CLI::App& app) {
        app.description("Render faces from the 3D face model: contact sheets, factor sweeps, batches of images\n"
                        "with their factors, model files, and colour maps of per-vertex or per-texel values.");
        app.require_subcommand(1);
        app.fallthrough();
        app.add_option("--model", a.model_path, "a face model file (safetensors); default: the embedded model");
        app.add_flag("--small-model", a.small_model, "a reduced procedural model (33 x 33 grid, 64 x 64 texture), for tests");
        app.add_option("--size", a.size, "image width and height in pixels")->check(CLI::Range(8, 1024));
        app.add_option("--identities", a.identities, "identities in the set images draw from")
            ->check(CLI::Range(1, 1 << 20));
        app.add_option("--set", a.sets,
                       "fix or range a factor: NAME=VALUE or NAME=LO:HI (repeatable; sh0 .. sh8 set all three "
                       "channels' SH coefficient)")
            ->allow_extra_args(false);
        app.add_option("--lighting", a.lighting,
                       "shading: lambert (ambient + diffuse from light_azimuth, light_elevation, ambient, diffuse) "
                       "or sh9 (9 x RGB spherical-harmonics coefficients sh_r0 .. sh_b8 per image)")
            ->check(CLI::IsMember({"lambert", "sh9"}));
        app.add_flag("--no-antialias", a.no_antialias, "skip silhouette antialiasing");
        app.add_option("--background", a.background, "background colour R,G,B in [0, 1] (default 0.5,0.5,0.5)");
        auto* sheet = app.add_subcommand("contact-sheet", "N identities under sampled factors, one image each");
        sheet->add_option("-n", a.count, "identities (default 64)");
        sheet->add_option("--columns", a.columns, "images per row")->check(CLI::Range(1, 256));
        sheet->add_option("-o,--out", a.out, "output PNG")->required();
        sheet->callback([&] { command = contact_sheet; });
        auto* sw = app.add_subcommand("sweep", "one row per level of a factor, one column per identity");
        sw->add_option("--factor", a.factor, "the factor to sweep (yaw, pitch, ..., expression)")->required();
        sw->add_option("--levels", a.levels, "levels (default 7; expression: its 7 categories)");
        sw->add_option("--range", a.range, "LO:HI levels span (default: the factor's sampling range)");
        sw->add_option("-o,--out", a.out, "output PNG")->required();
        sw->callback([&] { command = sweep; });
        auto* bt = app.add_subcommand("batch", "N images as PNGs plus factors.jsonl (one record per image)");
        bt->add_option("-n", a.count, "images")->required();
        bt->add_option("--batch", a.batch, "images per device batch (default 64)");
        bt->add_option("-o,--out", a.out, "output folder")->required();
        bt->callback([&] { command = batch; });
        auto* ex = app.add_subcommand("export-model", "write the face model to a safetensors file");
        ex->add_option("-o,--out", a.out, "output file")->required();
        ex->callback([&] { command = export_model; });
        auto* im = app.add_subcommand("import-model", "check a face model file and summarize it");
        im->add_option("file", a.input, "the model file")->required();
        im->add_option("-o,--out", a.out, "also render a contact sheet of its identities to this PNG");
        im->callback([&] { command = import_model; });
        auto* cm = app.add_subcommand("colormap", "draw per-vertex or per-texel values (.npy) as a colour map");
        cm->add_option("values", a.input, "a .npy with V values (per vertex) or H x W values (per texel)")->required();
        cm->add_option("--range", a.range, "LO:HI values mapped to the ends of the colour map (default min:max)");
        cm->add_option("-o,--out", a.out, "output PNG")->required();
        cm->callback([&] { command = colormap; });
      },
      [&](const CommonOptions& common) { command(a, common); });
}
