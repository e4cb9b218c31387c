#include "analysis/trials.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "renderer/identities.h"

namespace deeper::analysis {

namespace {

std::vector<float> host_floats(const Tensor& t) {
  const Tensor h = t.device().host_memory() ? t : t.to(Device::cpu());
  const float* p = h.data<float>();
  return std::vector<float>(p, p + h.numel());
}

std::vector<double> ranks(std::span<const double> v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double average = 0.5 * static_cast<double>(i + j) + 1.0;
    for (std::size_t k = i; k <= j; ++k) r[order[k]] = average;
    i = j + 1;
  }
  return r;
}

}  // namespace

std::vector<TrialSet> make_trials(const Study& study) {
  const auto& s = study.settings();
  const auto& model = study.face_model();
  std::vector<TrialSet> sets;
  for (std::int64_t t = 0; t < s.targets; ++t) {
    TrialSet set;
    set.target = static_cast<std::int32_t>(t);
    const render::Identity& target = study.identities().identities[static_cast<std::size_t>(t)];
    const std::uint64_t seed = s.seed * 0x9E3779B97F4A7C15ull + 0x5452494Cull + static_cast<std::uint64_t>(t);
    set.faces.reserve(static_cast<std::size_t>(s.trials));
    for (std::int64_t n = 0; n < s.trials; ++n) {
      render::Identity noise = render::make_identity(model, seed, static_cast<std::uint64_t>(n));
      render::Identity face = target;
      for (std::size_t k = 0; k < face.shape.size(); ++k) {
        face.shape[k] += static_cast<float>(s.perturbation) * noise.shape[k];
      }
      for (std::size_t k = 0; k < face.texture.size(); ++k) {
        face.texture[k] += static_cast<float>(s.perturbation) * noise.texture[k];
      }
      set.faces.push_back(std::move(face));
    }
    sets.push_back(std::move(set));
  }
  return sets;
}

LayerCapture make_capture(Study& study, std::span<const int> layers, bool spatial, std::int64_t trials) {
  LayerCapture capture;
  capture.spatial = spatial;
  // The activation shapes, from one forward pass of a blank image.
  nn::InferenceModel& net = study.network();
  const std::int64_t S = net.input_size();
  Tensor blank = Tensor::empty({1, S, S, 3}, DType::f32, study.device(), Layout::nhwc);
  blank.fill_zero();
  net.run(blank);
  for (int layer : layers) {
    DEEPER_CHECK(layer >= 1 && layer <= 10, "make_capture: lab layer {} is not in 1-10", layer);
    LayerActivations a;
    a.layer = layer;
    const Tensor t = net.activation(layer);
    if (t.rank() == 4) {
      a.height = t.dim(1);
      a.width = t.dim(2);
      a.channels = t.dim(3);
    } else {
      a.channels = t.dim(1);
    }
    a.channel_means.assign(static_cast<std::size_t>(trials * a.channels), 0.0f);
    if (spatial) a.units.assign(static_cast<std::size_t>(trials * a.unit_count()), 0.0f);
    capture.layers.push_back(std::move(a));
  }
  return capture;
}

void respond_images(Study& study, std::span<const render::Identity> faces, std::span<const render::ImageFactors> factors,
                    std::int32_t target, Responses& out, LayerCapture* capture, Progress* progress) {
  const auto count = static_cast<std::int64_t>(factors.size());
  out.logit.assign(static_cast<std::size_t>(count), 0.0);
  out.probability.assign(static_cast<std::size_t>(count), 0.0);
  out.top1.assign(static_cast<std::size_t>(count), 0);
  if (capture != nullptr) {
    for (const auto& a : capture->layers) {
      DEEPER_CHECK(static_cast<std::int64_t>(a.channel_means.size()) >= count * a.channels,
                   "respond: the capture of layer {} holds fewer than {} images", a.layer, count);
    }
  }
  const std::int64_t classes = study.classes();
  run_stimuli(
      study, faces, factors,
      [&](std::int64_t first, std::int64_t n, nn::InferenceModel& net, const render::Renderer&, const Tensor&) {
        const std::vector<float> logits = host_floats(net.logits());
        for (std::int64_t b = 0; b < n; ++b) {
          const float* row = logits.data() + b * classes;
          if (!std::all_of(row, row + classes, [](float v) { return std::isfinite(v); })) {
            throw Error(fmt::format("the network's logits for stimulus image {} are not finite (does the checkpoint "
                                    "hold NaN or Inf weights?)",
                                    first + b));
          }
          const float top = *std::max_element(row, row + classes);
          double z = 0.0;
          for (std::int64_t c = 0; c < classes; ++c) z += std::exp(static_cast<double>(row[c] - top));
          const auto k = static_cast<std::size_t>(first + b);
          out.logit[k] = row[target];
          out.probability[k] = std::exp(static_cast<double>(row[target] - top)) / z;
          out.top1[k] = static_cast<std::int32_t>(std::max_element(row, row + classes) - row);
        }
        if (capture == nullptr) return;
        for (auto& a : capture->layers) {
          const std::vector<float> act = host_floats(net.activation(a.layer));
          const std::int64_t hw = a.height * a.width, c = a.channels, units = a.unit_count();
          std::vector<double> sum(static_cast<std::size_t>(c));
          for (std::int64_t b = 0; b < n; ++b) {
            const float* x = act.data() + b * units;
            float* mean = a.channel_means.data() + (first + b) * c;
            std::fill(sum.begin(), sum.end(), 0.0);
            for (std::int64_t p = 0; p < hw; ++p) {
              for (std::int64_t ch = 0; ch < c; ++ch) sum[static_cast<std::size_t>(ch)] += x[p * c + ch];
            }
            for (std::int64_t ch = 0; ch < c; ++ch) {
              mean[ch] = static_cast<float>(sum[static_cast<std::size_t>(ch)] / static_cast<double>(hw));
            }
            if (capture->spatial) std::copy(x, x + units, a.units.data() + (first + b) * units);
          }
        }
      },
      progress);
}

void respond(Study& study, TrialSet& set, const render::ImageFactors& view, std::int64_t count,
             LayerCapture* capture, Progress* progress) {
  if (count <= 0) count = set.trials();
  DEEPER_CHECK(count <= set.trials(), "respond: {} trials asked, the set has {}", count, set.trials());
  std::vector<render::ImageFactors> factors(static_cast<std::size_t>(count), view);
  for (std::int64_t n = 0; n < count; ++n) factors[static_cast<std::size_t>(n)].identity = static_cast<std::int32_t>(n);
  Responses r;
  respond_images(study, std::span<const render::Identity>(set.faces.data(), static_cast<std::size_t>(count)), factors,
                 set.target, r, capture, progress);
  set.logit = std::move(r.logit);
  set.probability = std::move(r.probability);
  set.top1 = std::move(r.top1);
  set.chosen = group_choice(set.logit);
}

std::vector<std::int32_t> group_choice(std::span<const double> logit, int group) {
  DEEPER_CHECK(group >= 1, "group_choice: group {} must be at least 1", group);
  std::vector<std::int32_t> chosen(logit.size(), 0);
  for (std::size_t first = 0; first < logit.size(); first += static_cast<std::size_t>(group)) {
    const std::size_t end = std::min(logit.size(), first + static_cast<std::size_t>(group));
    const auto best = std::max_element(logit.begin() + static_cast<std::ptrdiff_t>(first),
                                       logit.begin() + static_cast<std::ptrdiff_t>(end));
    chosen[static_cast<std::size_t>(best - logit.begin())] = 1;
  }
  return chosen;
}

double pearson(std::span<const double> a, std::span<const double> b) {
  DEEPER_CHECK(a.size() == b.size(), "pearson: {} and {} values", a.size(), b.size());
  const auto n = static_cast<double>(a.size());
  if (a.size() < 2) return std::nan("");
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n, mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double sab = 0.0, saa = 0.0, sbb = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  if (saa <= 0.0 || sbb <= 0.0) return std::nan("");
  return sab / std::sqrt(saa * sbb);
}

double spearman(std::span<const double> a, std::span<const double> b) {
  DEEPER_CHECK(a.size() == b.size(), "spearman: {} and {} values", a.size(), b.size());
  if (a.size() < 3) return std::nan("");
  const auto ra = ranks(a), rb = ranks(b);
  return pearson(ra, rb);
}

}  // namespace deeper::analysis
