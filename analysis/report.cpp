#include "analysis/report.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/ranges.h>

#include "analysis/html_report.h"
#include "analysis/numbers.h"
#include "analysis/svg_plot.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/log.h"
#include "core/npy.h"
#include "core/png.h"
#include "renderer/colour_map.h"
#include "renderer/feature_maps.h"

#ifndef DEEPER_SOURCE_COMMIT
#define DEEPER_SOURCE_COMMIT "unknown"
#endif

namespace deeper::analysis {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string fmt3(double v) { return std::isfinite(v) ? format_number(v, 3) : std::string("n/a"); }

// ---- files ----------------------------------------------------------------------------------------

struct Strip {
  std::vector<float> rgb;
  int width = 0;
};


struct Writer {
  fs::path dir;
  std::vector<FileLink> maps;

  std::string npy(const std::string& name, const std::vector<double>& values, std::vector<std::int64_t> shape,
                  const std::string& label) {
    const std::string rel = "maps/" + name + ".npy";
    io::write_npy<double>(dir / rel, values, shape);
    maps.push_back({label, rel});
    return rel;
  }
  std::string npy_u8(const std::string& name, const std::vector<std::uint8_t>& values, std::vector<std::int64_t> shape,
                     const std::string& label) {
    const std::string rel = "maps/" + name + ".npy";
    io::write_npy<std::uint8_t>(dir / rel, values, shape);
    maps.push_back({label, rel});
    return rel;
  }
  std::string png(const std::string& name, const Strip& strip, int height) { return png(name, strip.rgb, strip.width, height); }
  std::string png(const std::string& name, const std::vector<float>& rgb, int width, int height) {
    const std::string rel = "figures/" + name + ".png";
    io::write_png(dir / rel, std::span<const float>(rgb), width, height, 3);
    return rel;
  }
};

double max_of(const std::vector<double>& v) {
  double m = 0.0;
  for (double x : v) {
    if (std::isfinite(x)) m = std::max(m, x);
  }
  return m;
}

// The q-quantile (0..1) of the finite values (0 when there are none): a colour range that a few
// extreme values do not wash out.
double quantile_of(std::vector<double> v, double q) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return 0.0;
  const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// A per-vertex map from values at every k-th vertex: each vertex takes the value of the sampled vertex
// at or before it in index order (the mesh is a row-major grid, so that is its left neighbour in the row).
std::vector<double> spread_vertices(const std::vector<double>& values, const std::vector<std::int64_t>& index,
                                    std::int64_t vertices) {
  std::vector<double> out(static_cast<std::size_t>(vertices), 0.0);
  std::size_t j = 0;
  for (std::int64_t v = 0; v < vertices; ++v) {
    while (j + 1 < index.size() && index[j + 1] <= v) ++j;
    out[static_cast<std::size_t>(v)] = values[j];
  }
  return out;
}

// Side-by-side images of equal size (RGB floats), with a white gap.
Strip hstack(const std::vector<std::vector<float>>& images, int width, int height, int gap) {
  const int n = static_cast<int>(images.size());
  DEEPER_CHECK(n > 0, "report: no images to lay out");
  const int out_width = n * width + (n - 1) * gap;
  std::vector<float> out(static_cast<std::size_t>(out_width) * height * 3, 1.0f);
  for (int i = 0; i < n; ++i) {
    for (int y = 0; y < height; ++y) {
      std::copy_n(images[static_cast<std::size_t>(i)].begin() + static_cast<std::ptrdiff_t>(y) * width * 3, width * 3,
                  out.begin() + (static_cast<std::ptrdiff_t>(y) * out_width + i * (width + gap)) * 3);
    }
  }
  return {std::move(out), out_width};
}

// An h x w grid of values as a style.size-square image: each value a block as large as fits, the
// rest white.
std::vector<float> grid_tile(const std::vector<double>& values, int h, int w, const render::MapStyle& style) {
  const int size = style.size;
  const int scale = std::max(1, size / std::max(h, w));
  const auto img = render::texel_map_image(values, h, w, style, scale);
  std::vector<float> tile(static_cast<std::size_t>(size) * size * 3, 1.0f);
  const int iw = w * scale, ih = h * scale;
  for (int y = 0; y < std::min(ih, size); ++y) {
    std::copy_n(img.begin() + static_cast<std::ptrdiff_t>(y) * iw * 3, std::min(iw, size) * 3,
                tile.begin() + static_cast<std::ptrdiff_t>(y) * size * 3);
  }
  return tile;
}

render::MapStyle sequential_style(double hi, int size, std::vector<std::uint8_t> mask = {}) {
  render::MapStyle s;
  s.size = size;
  s.lo = 0.0;
  s.hi = hi > 0.0 ? hi : 1.0;
  s.mask = std::move(mask);
  return s;
}

// Spearman of a profile against its layer order; NaN when undefined.
double depth_trend(const std::vector<double>& profile) {
  std::vector<double> order(profile.size());
  std::iota(order.begin(), order.end(), 1.0);
  return spearman(order, profile);
}

Verdict trend_verdict(double rho) {
  if (!std::isfinite(rho)) return Verdict::inconclusive;
  if (rho >= 0.5) return Verdict::supported;
  if (rho <= -0.5) return Verdict::not_supported;
  return Verdict::inconclusive;
}

// ---- E3 profiles (mean over targets) ---------------------------------------------------------------

struct Profiles {
  std::vector<std::string> names;
  std::vector<int> layers;
  std::vector<double> shape_triples, texture_triples, shape_redundancy, texture_redundancy, decision_max,
      decision_fraction;
};

Profiles e3_profiles(const E3Result& e3) {
  Profiles p;
  if (e3.targets.empty()) return p;
  const std::size_t nl = e3.targets[0].layers.size();
  const auto nt = static_cast<double>(e3.targets.size());
  p.shape_triples.assign(nl, 0.0);
  p.texture_triples.assign(nl, 0.0);
  p.shape_redundancy.assign(nl, 0.0);
  p.texture_redundancy.assign(nl, 0.0);
  p.decision_max.assign(nl, 0.0);
  p.decision_fraction.assign(nl, 0.0);
  for (std::size_t l = 0; l < nl; ++l) {
    p.layers.push_back(e3.targets[0].layers[l].layer);
    p.names.push_back(fmt::format("{}", e3.targets[0].layers[l].layer));
    for (const auto& t : e3.targets) {
      const auto& L = t.layers[l];
      p.shape_triples[l] += static_cast<double>(L.shape.significant_triples) / nt;
      p.texture_triples[l] += static_cast<double>(L.texture.significant_triples) / nt;
      p.shape_redundancy[l] += L.shape.redundancy / nt;
      p.texture_redundancy[l] += L.texture.redundancy / nt;
      p.decision_max[l] += max_of(L.decision_mi) / nt;
      p.decision_fraction[l] += static_cast<double>(L.decision_significant) / static_cast<double>(L.channels) / nt;
    }
  }
  return p;
}

// ---- findings --------------------------------------------------------------------------------------

struct Findings {
  std::vector<Finding> list;
  json to_json() const {
    json a = json::array();
    for (const auto& f : list) a.push_back({{"claim", f.claim}, {"evidence", f.evidence}, {"verdict", to_string(f.verdict)}});
    return a;
  }
};

const json* last_eval(const RunInfo& run) {
  const json* found = nullptr;
  for (const auto& r : run.records) {
    if (r.value("kind", "") == "eval") found = &r;
  }
  return found;
}

Findings findings(const Study& study, const AnalysisResults& r) {
  Findings f;
  const auto classes = static_cast<double>(study.classes());
  if (const json* e = last_eval(study.run()); e != nullptr && e->contains("accuracy")) {
    const double acc = (*e)["accuracy"].get<double>();
    f.list.push_back({"1. The network learns to tell the trained identities apart from new renders (the companion paper: 99%).",
                      fmt::format("held-out accuracy {:.1f}% after {} steps (chance {:.1f}%, {} identities)", 100.0 * acc,
                                  study.run().step(), 100.0 / classes, study.classes()),
                      acc >= 0.9 ? Verdict::supported : (acc > 2.0 / classes ? Verdict::inconclusive : Verdict::not_supported)});
  }
  if (r.e1) {
    const auto& s = r.e1->summary;
    std::string evidence = s.rule;
    for (const auto& d : s.at_zero) {
      if (d.measure == "accuracy") {
        evidence += fmt::format(" | at a = {:.2g}: shape {:.2f}, texture {:.2f}, difference {:.2f} [{:.2f}, {:.2f}]",
                                s.zero_level, d.shape, d.texture, d.difference.mean, d.difference.lo, d.difference.hi);
      }
    }
    for (const auto& d : s.at_swap) {
      if (d.measure == "accuracy") {
        evidence += fmt::format(" | at the swap: shape {:.2f}, texture {:.2f}, difference {:.2f} [{:.2f}, {:.2f}]", d.shape,
                                d.texture, d.difference.mean, d.difference.lo, d.difference.hi);
      }
    }
    f.list.push_back({"2. Identity decisions survive extreme shape changes but not texture changes (E1).", evidence,
                      !s.claim_supported ? Verdict::inconclusive
                                         : (*s.claim_supported ? Verdict::supported : Verdict::not_supported)});
  }
  if (r.e2) {
    std::int64_t shape_sig = 0, texture_sig = 0;
    for (const auto& t : r.e2->targets) {
      shape_sig += t.shape_logit.significant_count();
      texture_sig += t.texture_logit.significant_count();
    }
    const auto targets = r.e2->targets.size();
    f.list.push_back({"3. A shape feature map: vertices whose 3D position carries information about the decision (E2, FWER 0.05).",
                      fmt::format("{} significant vertices over {} target(s) (of {} each)", shape_sig, targets, r.e2->vertices),
                      shape_sig > 0 ? Verdict::supported : Verdict::not_supported});
    f.list.push_back({"4. A texture feature map: texels whose RGB carries information about the decision (E2, FWER 0.05).",
                      fmt::format("{} significant texels over {} target(s) (of {} each)", texture_sig, targets,
                                  r.e2->texel_height * r.e2->texel_width),
                      texture_sig > 0 ? Verdict::supported : Verdict::not_supported});
    const json claim = e2_json(*r.e2)["claim"];
    f.list.push_back({"4b. Texture carries more decision information than shape (consistent with E1).",
                      fmt::format("summed MI(logit; coefficient): texture {:.3f} bits, shape {:.3f} bits",
                                  claim["texture_bits"].get<double>(), claim["shape_bits"].get<double>()),
                      claim["texture_more_than_shape"].get<bool>() ? Verdict::supported : Verdict::not_supported});
  }
  if (r.e3) {
    const Profiles p = e3_profiles(*r.e3);
    std::vector<double> total(p.layers.size());
    for (std::size_t l = 0; l < total.size(); ++l) total[l] = p.shape_redundancy[l] + p.texture_redundancy[l];
    const double rho = depth_trend(total);
    f.list.push_back({"5. Hidden layers represent the decision-relevant features, increasingly with depth (E3).",
                      fmt::format("total redundancy coI(F;A;D) over significant triples by layer: {}; Spearman with depth {}",
                                  [&] {
                                    std::string s;
                                    for (std::size_t l = 0; l < total.size(); ++l) {
                                      s += fmt::format("{}{}: {}", l ? ", " : "", p.layers[l], fmt3(total[l]));
                                    }
                                    return s;
                                  }(),
                                  fmt3(rho)),
                      trend_verdict(rho)});
  }
  if (r.e4) {
    const double rho = depth_trend(r.e4->invariance_index);
    f.list.push_back({"6. Representations become invariant to pose with depth (E4).",
                      fmt::format("invariance index (mean between-pose map correlation) Spearman with depth {}; first "
                                  "layer at the invariance level {}: {}",
                                  fmt3(rho), study.settings().invariance_level,
                                  r.e4->invariant_layer >= 0 ? fmt::format("{}", r.e4->invariant_layer) : "none"),
                      trend_verdict(rho)});
  }
  return f;
}

// ---- sections --------------------------------------------------------------------------------------

void training_section(HtmlReport& h, const Study& study) {
  h.section("training", "Training");
  const auto& run = study.run();
  const auto& c = run.config;
  std::vector<double> step, loss, acc, estep, eacc;
  for (const auto& r : run.records) {
    const std::string kind = r.value("kind", "");
    if (kind == "train" && r.contains("loss")) {
      step.push_back(r.value("step", 0.0));
      loss.push_back(r.value("loss", 0.0));
      acc.push_back(r.value("accuracy", 0.0));
    } else if (kind == "eval" && r.contains("accuracy")) {
      estep.push_back(r.value("step", 0.0));
      eacc.push_back(r.value("accuracy", 0.0));
    }
  }
  h.key_values({{"identities", static_cast<long long>(c.model.classes)},
                {"input", fmt::format("{} x {} RGB", c.model.input_size, c.model.input_size)},
                {"widths", fmt::format("{}", fmt::join(c.model.widths, "/"))},
                {"steps trained", static_cast<long long>(run.step())},
                {"batch", static_cast<long long>(c.train.batch)},
                {"chance accuracy", 1.0 / static_cast<double>(c.model.classes)}},
               "The run analysed.");
  if (!step.empty()) {
    LineChart lc;
    lc.title = "Training loss";
    lc.x_label = "step";
    lc.y_label = "cross-entropy (nats)";
    lc.series.push_back(LineSeries("training batches", step, loss));
    lc.series.back().markers = false;
    h.figure_svg(line_chart_svg(lc), "Mean training loss between metric records.");
    LineChart ac;
    ac.title = "Accuracy";
    ac.x_label = "step";
    ac.y_label = "accuracy";
    ac.y_min = 0.0;
    ac.y_max = 1.0;
    ac.series.push_back(LineSeries("training batches", step, acc));
    ac.series.back().markers = false;
    if (!estep.empty()) ac.series.push_back(LineSeries("held-out renders", estep, eacc));
    ac.references.push_back({1.0 / static_cast<double>(c.model.classes), "chance"});
    h.figure_svg(line_chart_svg(ac), "Training-batch accuracy and the held-out evaluation (new factor draws).");
  } else {
    h.paragraph("The run folder has no metrics.jsonl: no training curves.");
  }
  if (const json* e = last_eval(run); e != nullptr && e->contains("by_factor") && (*e)["by_factor"].is_object()) {
    std::vector<std::vector<Cell>> rows;
    for (const auto& [factor, levels] : (*e)["by_factor"].items()) {
      if (levels.is_array()) {
        for (const auto& l : levels) {
          std::string level = l.contains("name") ? l["name"].get<std::string>()
                              : l.contains("lo") ? fmt::format("{:.3g} .. {:.3g}", l["lo"].get<double>(), l["hi"].get<double>())
                                                 : std::string("-");
          rows.push_back({factor, level, l.value("n", 0.0), l.value("accuracy", 0.0)});
        }
      } else if (levels.is_object()) {
        for (const auto& [name, l] : levels.items()) {
          rows.push_back({factor, name, l.value("n", 0.0), l.value("accuracy", 0.0)});
        }
      }
    }
    if (!rows.empty()) h.table({"factor", "level", "images", "accuracy"}, rows, "Held-out accuracy per factor level (last evaluation).");
  }
}

void e1_section(HtmlReport& h, const E1Result& e1, const Study& study, Writer& w) {
  h.section("e1", "E1. Shape vs texture generalisation");
  h.paragraph(fmt::format(
      "Each of {} trained identities is manipulated in shape only or in texture only, and rendered at the same {} held-out "
      "factor draws per level. Amplification: a = 0 is the category average of the identity's demographics, 1 the identity, "
      "above 1 a caricature. Morph: lambda = 1 swaps in the shape (or texture) of another identity of the same demographics. "
      "Bands: 95% bootstrap intervals over identities.",
      e1.identities.size(), e1.renders));
  const double chance = 1.0 / static_cast<double>(study.classes());
  for (const auto& [measure, label] : {std::pair<std::string, std::string>{"accuracy", "P(top-1 = identity)"},
                                       {"probability", "softmax p(identity)"},
                                       {"logit", "logit of the identity"}}) {
    for (const std::string kind : {"amplification", "morph"}) {
      LineChart c;
      c.title = fmt::format("{} under {}", label, kind == "amplification" ? "amplification" : "morph toward another identity");
      c.x_label = kind == "amplification" ? "amplification a" : "morph lambda";
      c.y_label = label;
      for (const std::string feature : {"shape", "texture"}) {
        const E1Series& s = e1.find(feature + "_" + kind);
        std::vector<double> x, y, lo, hi;
        for (const auto& l : s.levels) {
          const E1Estimate& e = measure == "accuracy" ? l.accuracy : measure == "probability" ? l.probability : l.logit;
          x.push_back(l.level);
          y.push_back(e.mean);
          lo.push_back(e.lo);
          hi.push_back(e.hi);
        }
        c.series.push_back(LineSeries(feature + " changed", x, y, lo, hi));
        w.npy(fmt::format("e1_{}_{}", s.name, measure), e1_identity_matrix(s, measure),
              {static_cast<std::int64_t>(s.levels.size()), static_cast<std::int64_t>(e1.identities.size())},
              fmt::format("E1 {} {} (levels x identities)", s.name, measure));
      }
      if (measure == "accuracy") c.references.push_back({chance, "chance"});
      h.figure_svg(line_chart_svg(c), fmt::format("E1: {} against the manipulation level.", label));
    }
  }
  std::vector<std::vector<Cell>> rows;
  for (const auto* group : {&e1.summary.at_zero, &e1.summary.at_swap, &e1.summary.area}) {
    const std::string where = group == &e1.summary.at_zero ? fmt::format("a = {:.2g}", e1.summary.zero_level)
                              : group == &e1.summary.at_swap ? std::string("swap")
                                                             : std::string("area under the amplification curve");
    for (const auto& d : *group) {
      rows.push_back({where, d.measure, d.shape, d.texture, d.difference.mean, d.difference.lo, d.difference.hi});
    }
  }
  h.table({"where", "measure", "shape changed", "texture changed", "difference", "95% lo", "95% hi"}, rows,
          "Paired differences (shape changed minus texture changed) over identities. Positive: decisions survive shape "
          "changes better than texture changes.");
}

void e2_section(HtmlReport& h, const E2Result& e2, Study& study, Writer& w) {
  h.section("e2", "E2. Features behind identity decisions (reverse correlation)");
  const auto& s = study.settings();
  h.paragraph(fmt::format(
      "Per target, {} random faces around the target (coefficients target + {} z SD, its demographics), rendered frontal "
      "with neutral expression. Response: the target's logit. GCMI between the response and each vertex's 3D position "
      "(d = 3) and each texel's RGB (d = 3, {} x {} grid), {} permutations, maximum statistic over all vertices (and "
      "separately all texels), FWER {}. Grey: not significant.",
      s.trials, s.perturbation, e2.texel_height, e2.texel_width, s.permutations, s.alpha));
  std::vector<std::vector<Cell>> rows;
  for (const auto& t : e2.targets) {
    rows.push_back({static_cast<long long>(t.target), t.top1_rate, t.logit_mean, t.logit_sd,
                    static_cast<long long>(t.shape_logit.significant_count()), t.shape_logit.max_mi(),
                    static_cast<long long>(t.texture_logit.significant_count()), t.texture_logit.max_mi(),
                    static_cast<long long>(t.shape_chosen.significant_count()),
                    static_cast<long long>(t.texture_chosen.significant_count()),
                    std::accumulate(t.shape_coefficient_mi.begin(), t.shape_coefficient_mi.end(), 0.0),
                    std::accumulate(t.texture_coefficient_mi.begin(), t.texture_coefficient_mi.end(), 0.0)});
    const std::string tag = fmt::format("target{}", t.target);
    w.npy("e2_shape_mi_" + tag, t.shape_logit.mi, {e2.vertices}, "E2 vertex MI with the logit (bits), " + tag);
    w.npy_u8("e2_shape_significant_" + tag, t.shape_logit.significant, {e2.vertices}, "E2 vertex significance mask, " + tag);
    w.npy("e2_shape_max_null_" + tag, t.shape_logit.max_null, {static_cast<std::int64_t>(t.shape_logit.max_null.size())},
          "E2 vertex null maxima per permutation, " + tag);
    w.npy("e2_texture_mi_" + tag, t.texture_logit.mi, {e2.texel_height, e2.texel_width}, "E2 texel MI (bits), " + tag);
    w.npy_u8("e2_texture_significant_" + tag, t.texture_logit.significant, {e2.texel_height, e2.texel_width},
             "E2 texel significance mask, " + tag);
    w.npy("e2_texture_max_null_" + tag, t.texture_logit.max_null,
          {static_cast<std::int64_t>(t.texture_logit.max_null.size())}, "E2 texel null maxima per permutation, " + tag);
    w.npy("e2_shape_chosen_mi_" + tag, t.shape_chosen.mi, {e2.vertices}, "E2 vertex MI with the group-of-6 choice, " + tag);
    w.npy("e2_texture_chosen_mi_" + tag, t.texture_chosen.mi, {e2.texel_height, e2.texel_width},
          "E2 texel MI with the group-of-6 choice, " + tag);
  }
  h.table({"target", "top-1 rate", "logit mean", "logit sd", "sig. vertices", "max vertex MI", "sig. texels",
           "max texel MI", "sig. vertices (choice)", "sig. texels (choice)", "sum MI shape coef.", "sum MI texture coef."},
          rows, "Per target. MI in bits. The choice columns use the lab's group-of-6 decision instead of the logit.");
  w.npy("e2_shape_mean_mi", e2.shape_mean_mi, {e2.vertices}, "E2 vertex MI, mean over targets");
  w.npy("e2_texture_mean_mi", e2.texture_mean_mi, {e2.texel_height, e2.texel_width}, "E2 texel MI, mean over targets");
  std::vector<std::uint8_t> shape_mask(e2.shape_mean_mi.size()), texture_mask(e2.texture_mean_mi.size());
  for (std::size_t j = 0; j < shape_mask.size(); ++j) shape_mask[j] = e2.shape_significant_targets[j] > 0;
  for (std::size_t j = 0; j < texture_mask.size(); ++j) texture_mask[j] = e2.texture_significant_targets[j] > 0;
  const int size = 240;
  const auto& model = study.face_model();
  const auto shape_style = sequential_style(max_of(e2.shape_mean_mi), size, shape_mask);
  const auto panel = render::draw_vertex_map_panel(study.device(), model, e2.shape_mean_mi, shape_style);
  h.figure_png(w.png("e2_shape_map", panel, 3 * size, size),
               fmt::format("E2 shape map: MI between each vertex's 3D position and the target logit, mean over targets "
                           "(0 to {} bits, dark to yellow), on the average face at yaw -40, 0, +40. Grey: significant for no target.",
                           fmt3(shape_style.hi)));
  const auto texture_style = sequential_style(max_of(e2.texture_mean_mi), size, texture_mask);
  const int scale = std::max(1, 256 / std::max(1, e2.texel_width));
  const auto uv = render::texel_map_image(e2.texture_mean_mi, e2.texel_height, e2.texel_width, texture_style, scale);
  h.figure_png(w.png("e2_texture_map_uv", uv, e2.texel_width * scale, e2.texel_height * scale),
               fmt::format("E2 texture map in UV space (forehead at the top): MI between each texel's RGB and the target "
                           "logit, mean over targets (0 to {} bits). Grey: significant for no target.",
                           fmt3(texture_style.hi)));
  const auto on_face = render::draw_texel_map_panel(study.device(), model, e2.texture_mean_mi, e2.texel_height,
                                                    e2.texel_width, texture_style);
  h.figure_png(w.png("e2_texture_map_face", on_face, 3 * size, size), "The E2 texture map drawn on the average face.");
}

void e3_section(HtmlReport& h, const E3Result& e3, Study& study, Writer& w) {
  h.section("e3", "E3. Hidden layers");
  const auto& s = study.settings();
  h.paragraph(fmt::format(
      "The E2 trials with the activations of lab layers {}. Per channel (spatial mean): I(A;D) with the logit D, I(F;A) "
      "with every {}th vertex and every texel of a {} x {} grid (d = 3), and co-information coI(F;A;D) = I(F;A) + I(F;D) "
      "- I(F;[A,D]); {} permutations, maximum statistic per layer. A triple is significant when I(F;A) is and coI > 0 "
      "(redundancy: the channel carries the decision-relevant part of the feature). Per unit: I(A;D) for every position "
      "of every channel (streamed all-pairs GCMI).",
      fmt::join(s.layers, ", "), s.vertex_stride, e3.texel_height, e3.texel_width, s.e3_permutations));
  const Profiles p = e3_profiles(e3);
  BarChart triples;
  triples.title = "Significant feature-activation-decision triples per layer";
  triples.x_label = "lab layer";
  triples.y_label = "triples (mean over targets)";
  triples.categories = p.names;
  triples.series = {BarSeries("shape (vertices)", p.shape_triples), BarSeries("texture (texels)", p.texture_triples)};
  h.figure_svg(bar_chart_svg(triples), "E3 depth profile: how many feature x channel pairs carry decision-relevant information.");
  BarChart redundancy = triples;
  redundancy.title = "Decision-relevant feature information per layer";
  redundancy.y_label = "summed redundancy coI (bits)";
  redundancy.series = {BarSeries("shape", p.shape_redundancy), BarSeries("texture", p.texture_redundancy)};
  redundancy.style = BarStyle::profile;
  h.figure_svg(bar_chart_svg(redundancy), "E3 depth profile: total co-information over significant triples.");
  BarChart decision = triples;
  decision.title = "Decision information per layer";
  decision.y_label = "bits / fraction";
  decision.series = {BarSeries("max over channels of I(A;D) (bits)", p.decision_max),
                     BarSeries("fraction of channels with significant I(A;D)", p.decision_fraction)};
  decision.style = BarStyle::profile;
  h.figure_svg(bar_chart_svg(decision), "E3: information about the target logit carried by each layer's channels.");

  // Per-layer face maps (mean over targets of the coI map) and spatial decision maps.
  const auto& model = study.face_model();
  const int size = 160;
  std::vector<std::vector<float>> faces, texels, spatial;
  std::vector<std::vector<Cell>> rows;
  double face_hi = 0.0, tex_hi = 0.0;
  std::vector<std::vector<double>> shape_maps, texture_maps;
  for (std::size_t l = 0; l < p.layers.size(); ++l) {
    std::vector<std::vector<double>> sm, tm;
    for (const auto& t : e3.targets) {
      sm.push_back(t.layers[l].shape.map_coinfo);
      tm.push_back(t.layers[l].texture.map_coinfo);
    }
    shape_maps.push_back(mean_maps(sm));
    texture_maps.push_back(mean_maps(tm));
    face_hi = std::max(face_hi, max_of(shape_maps.back()));
    tex_hi = std::max(tex_hi, max_of(texture_maps.back()));
  }
  for (std::size_t l = 0; l < p.layers.size(); ++l) {
    const int layer = p.layers[l];
    const auto full = spread_vertices(shape_maps[l], e3.shape_vertices, model.vertex_count());
    faces.push_back(render::draw_vertex_map(study.device(), model, full, sequential_style(face_hi, size)));
    texels.push_back(grid_tile(texture_maps[l], e3.texel_height, e3.texel_width, sequential_style(tex_hi, size)));
    w.npy(fmt::format("e3_layer{}_shape_coinfo_map", layer), shape_maps[l],
          {static_cast<std::int64_t>(shape_maps[l].size())},
          fmt::format("E3 layer {}: per E3 vertex, max coI over channels (mean over targets)", layer));
    w.npy(fmt::format("e3_layer{}_texture_coinfo_map", layer), texture_maps[l], {e3.texel_height, e3.texel_width},
          fmt::format("E3 layer {}: per E3 texel, max coI over channels (mean over targets)", layer));
    const auto& L0 = e3.targets[0].layers[l];
    if (!L0.spatial_map.empty()) {
      std::vector<std::vector<double>> maps;
      for (const auto& t : e3.targets) maps.push_back(t.layers[l].spatial_map);
      const auto m = mean_maps(maps);
      w.npy(fmt::format("e3_layer{}_spatial_decision_mi", layer), m, {L0.height, L0.width},
            fmt::format("E3 layer {}: max over channels of I(A_u; D) per position (mean over targets)", layer));
      spatial.push_back(grid_tile(m, static_cast<int>(L0.height), static_cast<int>(L0.width),
                                  sequential_style(max_of(m), size)));
    }
    for (const auto& t : e3.targets) {
      w.npy(fmt::format("e3_layer{}_decision_mi_target{}", layer, t.target), t.layers[l].decision_mi,
            {t.layers[l].channels}, fmt::format("E3 layer {}: I(A_c; D) per channel, target {}", layer, t.target));
    }
    rows.push_back({static_cast<long long>(layer), L0.name, fmt::format("{} x {} x {}", L0.height, L0.width, L0.channels),
                    p.decision_max[l], p.decision_fraction[l], p.shape_triples[l], p.texture_triples[l],
                    p.shape_redundancy[l], p.texture_redundancy[l]});
  }
  h.figure_png(w.png("e3_shape_maps", hstack(faces, size, size, 4), size),
               fmt::format("E3 shape maps, layers {} left to right: per vertex, the largest significant co-information over "
                           "the layer's channels (0 to {} bits, one scale for all layers).",
                           fmt::join(p.layers, ", "), fmt3(face_hi)));
  h.figure_png(w.png("e3_texture_maps", hstack(texels, size, size, 4), size),
               fmt::format("E3 texture maps in UV space, layers {} left to right (0 to {} bits).", fmt::join(p.layers, ", "),
                           fmt3(tex_hi)));
  if (!spatial.empty()) {
    h.figure_png(w.png("e3_spatial_decision_maps", hstack(spatial, size, size, 4), size),
                 "E3 spatial maps: per position of each layer's feature map, the largest I(A_u; D) over channels (each "
                 "layer on its own scale; layer 10 has no spatial extent).");
  }
  h.table({"layer", "name", "H x W x C", "max I(A;D)", "sig. channels", "shape triples", "texture triples",
           "shape coI", "texture coI"},
          rows, "E3 per layer, mean over targets (bits).");
  const E3Cost& c = e3.cost;
  h.key_values({{"units (all positions, layers analysed)", static_cast<long long>(c.units)},
                {"channels", static_cast<long long>(c.channels)},
                {"features (vertices + texels)", static_cast<long long>(c.features)},
                {"trials", static_cast<long long>(c.trials)},
                {"GEMM FLOP per target: I(F;A) with permutations", c.flop_channel_info},
                {"GEMM FLOP per target: coI", c.flop_coinfo},
                {"GEMM FLOP per target: spatial I(A;D) with permutations", c.flop_spatial},
                {"GCMI seconds (all targets)", e3.gcmi_seconds},
                {"render + forward seconds", e3.forward_seconds}},
               "E3 cost accounting (docs/experiments.md scales it to the paper's network).");
}

void e4_section(HtmlReport& h, const E4Result& e4, Study& study, Writer& w) {
  h.section("e4", "E4. Pose invariance");
  const auto& s = study.settings();
  h.paragraph(fmt::format(
      "The first {} E2 trials of each target re-rendered at yaw and pitch in {{-{}, 0, +{}}} degrees (9 poses). Per pose "
      "the E2 maps and, per layer, I(F;A) for every E3 feature x channel. Invariance index: the mean between-pose "
      "correlation of each layer's feature map (per feature, the largest I(F;A) over channels).",
      s.e4_trials, s.pose_degrees, s.pose_degrees));
  std::vector<std::string> names;
  std::vector<double> index, ratio_shape, ratio_texture, pose_info;
  const auto nt = static_cast<double>(e4.targets.size());
  for (std::size_t l = 0; l < e4.invariance_index.size(); ++l) {
    names.push_back(fmt::format("{}", e4.targets[0].layers[l].layer));
    index.push_back(e4.invariance_index[l]);
    double rs = 0, rt = 0, pi = 0;
    for (const auto& t : e4.targets) {
      const auto& L = t.layers[l];
      rs += (L.conditional_shape > 0 ? L.pooled_shape / L.conditional_shape : 0.0) / nt;
      rt += (L.conditional_texture > 0 ? L.pooled_texture / L.conditional_texture : 0.0) / nt;
      pi += L.pose_info_mean / nt;
    }
    ratio_shape.push_back(rs);
    ratio_texture.push_back(rt);
    pose_info.push_back(pi);
  }
  BarChart inv;
  inv.title = "Pose invariance per layer";
  inv.x_label = "lab layer";
  inv.y_label = "mean between-pose map correlation";
  inv.categories = names;
  inv.series = {BarSeries("invariance index", index)};
  inv.style = BarStyle::profile;
  inv.references.push_back({s.invariance_level, "invariance level"});
  h.figure_svg(bar_chart_svg(inv), fmt::format("E4: invariance index by layer. First invariant layer: {}.",
                                               e4.invariant_layer >= 0 ? fmt::format("{}", e4.invariant_layer) : "none"));
  BarChart ratio = inv;
  ratio.title = "Pooled over conditional feature information";
  ratio.y_label = "I(F;A) pooled / I(F;A | pose)";
  ratio.series = {BarSeries("shape", ratio_shape), BarSeries("texture", ratio_texture)};
  ratio.references = {{1.0, "pose-free"}};
  h.figure_svg(bar_chart_svg(ratio), "E4: feature information on trials pooled over poses relative to within-pose (1: "
                                     "pose variation does not mask the features).");
  BarChart pose = inv;
  pose.title = "Pose information per layer";
  pose.y_label = "mean I(pose; A_c) (bits)";
  pose.series = {BarSeries("I(pose; A)", pose_info)};
  pose.references.clear();
  h.figure_svg(bar_chart_svg(pose), "E4: information about the pose bin (9 classes) per channel, mean over channels.");
  std::vector<std::string> pose_names;
  for (const auto& v : e4.views) pose_names.push_back(fmt::format("{:+g}/{:+g}", v.yaw, v.pitch));
  for (const std::string feature : {"shape", "texture"}) {
    std::vector<std::vector<double>> mats;
    for (const auto& t : e4.targets) mats.push_back(feature == "shape" ? t.shape_correlation : t.texture_correlation);
    HeatMap hm;
    hm.title = fmt::format("E2 {} map correlation between poses", feature);
    hm.x_label = "pose (yaw/pitch)";
    hm.y_label = "pose";
    hm.value_label = "Pearson r";
    hm.rows = hm.cols = static_cast<int>(e4.views.size());
    hm.values = mean_maps(mats);
    for (double& v : hm.values) {
      if (!std::isfinite(v)) v = 0.0;
    }
    hm.row_labels = hm.col_labels = pose_names;
    hm.scale = ColorScale::diverging;
    hm.v_min = -1.0;
    hm.v_max = 1.0;
    h.figure_svg(heat_map_svg(hm), fmt::format("E4: correlation of the E2 {} maps between poses (mean over targets).", feature));
    w.npy("e4_" + feature + "_map_correlation", hm.values, {hm.rows, hm.cols},
          "E4 E2-map correlation between poses (" + feature + ")");
  }
  w.npy("e4_invariance_index", index, {static_cast<std::int64_t>(index.size())}, "E4 invariance index per layer");
  // Per-pose E2 shape maps (target 0), small.
  const int size = 120;
  std::vector<std::vector<float>> tiles;
  double hi = 0.0;
  for (const auto& p : e4.targets[0].poses) hi = std::max(hi, p.shape.max_mi());
  for (const auto& p : e4.targets[0].poses) {
    tiles.push_back(render::draw_vertex_map(study.device(), study.face_model(), p.shape.mi,
                                            sequential_style(hi, size, p.shape.significant)));
  }
  h.figure_png(w.png("e4_shape_maps_by_pose", hstack(tiles, size, size, 3), size),
               fmt::format("E4: the E2 shape map of target {} re-estimated at each pose ({}), drawn on the frontal face "
                           "(0 to {} bits; grey: not significant).",
                           e4.targets[0].target, fmt::join(pose_names, ", "), fmt3(hi)));
}

void gradient_section(HtmlReport& h, const GradientResult& g, Study& study, Writer& w) {
  h.section("gradients", "Beyond the paper: gradient maps");
  h.paragraph(fmt::format(
      "The gradient of the target logit with respect to each vertex position and texel, through the network (BN in "
      "inference mode) and the differentiable renderer, averaged in norm over {} trials per target, compared with the "
      "information maps by Spearman rank correlation.",
      g.targets.empty() ? 0 : g.targets[0].trials));
  const int size = 240;
  const auto& model = study.face_model();
  const double shape_hi = quantile_of(g.shape_mean, 0.99), texture_hi = quantile_of(g.texture_mean, 0.99);
  const auto panel = render::draw_vertex_map_panel(study.device(), model, g.shape_mean, sequential_style(shape_hi, size));
  h.figure_png(w.png("gradient_shape_map", panel, 3 * size, size),
               fmt::format("Mean |d logit / d vertex| on the average face (per mm; 0 to {}, the 99th percentile: "
                           "larger values saturate).",
                           fmt3(shape_hi)));
  const int scale = std::max(1, 256 / std::max(1, g.texel_width));
  const auto uv = render::texel_map_image(g.texture_mean, g.texel_height, g.texel_width,
                                          sequential_style(texture_hi, size), scale);
  h.figure_png(w.png("gradient_texture_map_uv", uv, g.texel_width * scale, g.texel_height * scale),
               fmt::format("Mean |d logit / d texel RGB| in UV space (0 to {}, the 99th percentile).", fmt3(texture_hi)));
  w.npy("gradient_shape_map", g.shape_mean, {static_cast<std::int64_t>(g.shape_mean.size())}, "gradient map per vertex");
  w.npy("gradient_texture_map", g.texture_mean, {g.texel_height, g.texel_width}, "gradient map per texel");
  std::vector<std::vector<Cell>> rows = {{"E2 map (all vertices / texels)", g.shape_vs_e2, g.texture_vs_e2}};
  std::vector<std::string> names;
  std::vector<double> shape, texture;
  for (const auto& l : g.layers) {
    rows.push_back({fmt::format("E3 layer {} map", l.layer), l.shape, l.texture});
    names.push_back(fmt::format("{}", l.layer));
    shape.push_back(std::isfinite(l.shape) ? l.shape : 0.0);
    texture.push_back(std::isfinite(l.texture) ? l.texture : 0.0);
  }
  h.table({"compared with", "shape rho", "texture rho"}, rows, "Spearman rank correlation of the gradient maps with the MI maps.");
  if (!names.empty()) {
    BarChart c;
    c.title = "Gradient vs information maps by layer";
    c.x_label = "lab layer";
    c.y_label = "Spearman rho";
    c.categories = names;
    c.series = {BarSeries("shape", shape), BarSeries("texture", texture)};
    c.style = BarStyle::profile;
    h.figure_svg(bar_chart_svg(c), "Rank agreement of the gradient maps with each layer's I(F;A) map.");
  }
}

void methods_section(HtmlReport& h, const Study& study) {
  h.section("methods", "Methods and reconstruction choices");
  h.paragraph(
      "The 2018 paper's procedures are known only from its abstract; every experiment here is a reconstruction following "
      "the lab's published pipelines (docs/experiments.md gives each choice and why). In short: *E1* amplifies and morphs "
      "identity coefficients (residuals from the demographic GLM) of trained identities, shape and texture separately, "
      "with bootstrap intervals over identities. *E2* perturbs identity coefficients around a target (the lab drew whole "
      "random faces of the target's demographics; a network that knows only its training identities gives an informative "
      "target logit only near the target) and uses the target logit as the response; the lab's group-of-6 choice is "
      "reported too. *E3* summarises a channel by its spatial mean for the feature analyses (all units are analysed for "
      "I(A;D)), subsamples the features (every k-th vertex, a coarser texel grid) and uses co-information for redundancy. "
      "*E4* uses a 3 x 3 yaw/pitch grid and the within-pose average as I(F;A | pose). Gradient maps are not in the paper.");
  h.paragraph("GCMI (Ince et al. 2017): copula normalisation of every variable's marginals, the Gaussian MI with bias "
              "correction, in bits; permutation maximum statistics for the family-wise error rate.");
  h.key_values([&] {
    std::vector<std::pair<std::string, Cell>> rows;
    const json settings = settings_json(study.settings());
    for (auto it = settings.begin(); it != settings.end(); ++it) rows.push_back({it.key(), it.value().dump()});
    return rows;
  }(), "The analysis settings (preset and overrides).");
}

}  // namespace

std::string source_commit() { return DEEPER_SOURCE_COMMIT; }

json results_json(const Study& study, const AnalysisResults& r, const ReportContext& ctx) {
  json j;
  const auto& run = study.run();
  j["run"] = {{"dir", run.dir.string()},
              {"step", run.step()},
              {"classes", run.config.model.classes},
              {"input_size", run.config.model.input_size},
              {"metadata", run.metadata}};
  if (const json* e = last_eval(run); e != nullptr) j["training"] = {{"last_eval", *e}, {"records", run.records.size()}};
  j["settings"] = settings_json(study.settings());
  if (r.e1) j["e1"] = e1_json(*r.e1);
  if (r.e2) j["e2"] = e2_json(*r.e2);
  if (r.e3) j["e3"] = e3_json(*r.e3);
  if (r.e4) j["e4"] = e4_json(*r.e4);
  if (r.gradients) j["gradients"] = gradients_json(*r.gradients);
  json seconds = json::object();
  for (const auto& [name, s] : r.seconds) seconds[name] = s;
  j["seconds"] = seconds;
  j["findings"] = findings(study, r).to_json();
  j["provenance"] = {{"command", ctx.command_line}, {"device", ctx.device}, {"started", ctx.started},
                     {"seconds", ctx.seconds}, {"commit", source_commit()}, {"config_seed", run.config.train.seed}};
  return j;
}

fs::path write_report(const fs::path& dir, Study& study, const AnalysisResults& r, const ReportContext& ctx) {
  std::error_code ec;
  fs::create_directories(dir / "maps", ec);
  if (!ec) fs::create_directories(dir / "figures", ec);
  if (ec) throw Error(fmt::format("report folder {}: cannot create it ({})", dir.string(), ec.message()));
  Writer w{dir, {}};
  HtmlReport h("Deeper interpretability of a face-identity ResNet-10");
  h.subtitle(fmt::format("run {} ({} identities, {} px, {} steps), analysed with preset {}", study.run().dir.string(),
                         study.classes(), study.run().config.model.input_size, study.run().step(), study.settings().preset));
  const Findings f = findings(study, r);
  h.section("findings", "Findings");
  h.paragraph("The paper's claims (../shared/reference/paper.md section 5) against this run. Verdict rules are in "
              "docs/experiments.md; a small network trained for minutes is not the paper's network, so read the verdicts "
              "as statements about this run.");
  for (const auto& finding : f.list) h.finding(finding);
  training_section(h, study);
  if (r.e1) e1_section(h, *r.e1, study, w);
  if (r.e2) e2_section(h, *r.e2, study, w);
  if (r.e3) e3_section(h, *r.e3, study, w);
  if (r.e4) e4_section(h, *r.e4, study, w);
  if (r.gradients) gradient_section(h, *r.gradients, study, w);
  methods_section(h, study);
  const json results = results_json(study, r, ctx);
  const std::string text = results.dump(2);
  io::write_file_atomic(dir / "results.json", std::as_bytes(std::span<const char>(text.data(), text.size())));
  h.section("files", "Files");
  std::vector<FileLink> links = {{"every number of this report", "results.json"}};
  links.insert(links.end(), w.maps.begin(), w.maps.end());
  h.files(links, "Maps are .npy (numpy.load); vertex maps follow the face model's vertex order, texel maps are "
                 "(rows, columns) of the UV grid with row 0 at the forehead.");
  std::vector<std::pair<std::string, std::string>> prov = {{"command", ctx.command_line},
                                                           {"device", ctx.device},
                                                           {"started (UTC)", ctx.started},
                                                           {"source commit", source_commit()},
                                                           {"run folder", study.run().dir.string()},
                                                           {"training seed", fmt::format("{}", study.run().config.train.seed)},
                                                           {"analysis seed", fmt::format("{}", study.settings().seed)}};
  for (const auto& [k, v] : study.run().metadata) {
    if (k != "config") prov.emplace_back("checkpoint " + k, v);
  }
  for (const auto& [name, s] : r.seconds) prov.emplace_back(name + " (s)", fmt::format("{:.1f}", s));
  h.provenance(prov);
  const fs::path index = dir / "index.html";
  h.write(index);
  return index;
}

}  // namespace deeper::analysis
