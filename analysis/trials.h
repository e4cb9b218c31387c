// The reverse-correlation trials of E2, which E3, E4 and the gradient maps reuse.
//
// Per target identity i (the first settings.targets trained identities), N = settings.trials random
// faces: shape s = s_i + beta z_s SD_s, texture t = t_i + beta z_t SD_t (beta = settings.perturbation;
// z ~ N(0, 1) drawn as the coefficients of identity n of a set with seed derived from settings.seed and
// the target, renderer/identities.h), with the target's gender, ethnicity and age: "random identity
// perturbations around the target" (a reconstruction: the lab drew whole random faces of the target's
// demographics; perturbing around the target keeps the target logit informative for a network that
// only knows its training identities).
//
// Responses per trial (the network at the lab's reverse-correlation view, Study::frontal_factors(),
// or another view): the target's logit (continuous), its softmax probability, the top-1 identity, and
// the lab's human-like choice: trials form consecutive groups of 6 ("6 faces per trial"); in each the
// face with the highest target logit is "chosen" (1), the others 0 (a trailing incomplete group is
// chosen within itself).
//
// LayerCapture records lab layers' activations during the same forward passes: per channel the
// spatial mean (N x C), and optionally every unit (N x H W C floats, nhwc order).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "analysis/stimuli.h"

namespace deeper::analysis {

struct LayerActivations {
  int layer = 0;                   // lab layer 1..10
  std::int64_t height = 1, width = 1, channels = 0;
  std::vector<float> channel_means;  // N x C
  std::vector<float> units;          // N x (H W C), only when captured spatially
  std::int64_t unit_count() const { return height * width * channels; }
};

struct LayerCapture {
  std::vector<LayerActivations> layers;
  bool spatial = false;
};

struct TrialSet {
  std::int32_t target = 0;
  std::vector<render::Identity> faces;  // N trial faces
  // Responses at the last view respond() used:
  std::vector<double> logit;            // N, the target's logit
  std::vector<double> probability;      // N, softmax p(target)
  std::vector<std::int32_t> top1;       // N, argmax identity
  std::vector<std::int32_t> chosen;     // N, 1 for the group-of-6 winner
  LayerCapture capture;                 // the activations of the last respond() that recorded them (E2 for E3)
  std::int64_t trials() const { return static_cast<std::int64_t>(faces.size()); }
};

// The trial faces of every target (no rendering). Deterministic in settings.seed.
std::vector<TrialSet> make_trials(const Study& study);

// A capture of `layers` (lab layers 1-10) for N trials.
LayerCapture make_capture(Study& study, std::span<const int> layers, bool spatial, std::int64_t trials);

// Renders trials [0, count) (count <= N; 0: all) of `set` at `view` (identity field ignored), runs the
// network, fills the response vectors (resized to count) and, when given, the capture.
void respond(Study& study, TrialSet& set, const render::ImageFactors& view, std::int64_t count = 0,
             LayerCapture* capture = nullptr, Progress* progress = nullptr);

// The target's responses to a list of images.
struct Responses {
  std::vector<double> logit, probability;
  std::vector<std::int32_t> top1;
};

// Renders image k = faces[factors[k].identity] with factors[k], runs the network and records the
// responses for `target` (resized to the image count) and, when given, the activations into capture
// row k (the capture must hold at least as many rows as images).
void respond_images(Study& study, std::span<const render::Identity> faces, std::span<const render::ImageFactors> factors,
                    std::int32_t target, Responses& out, LayerCapture* capture = nullptr, Progress* progress = nullptr);

// The group-of-6 choice of a logit vector (see the top comment).
std::vector<std::int32_t> group_choice(std::span<const double> logit, int group = 6);

// Spearman rank correlation of two equally long vectors (average ranks for ties); NaN when either is
// constant or they are shorter than 3.
double spearman(std::span<const double> a, std::span<const double> b);
// Pearson correlation; NaN when either is constant.
double pearson(std::span<const double> a, std::span<const double> b);

}  // namespace deeper::analysis
