// The whole analysis of one training run: E1-E4 and the gradient maps in order (E3, E4 and the gradient
// maps reuse the E2 trials), with wall-clock durations, then the report (analysis/report.h).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "analysis/e1_generalisation.h"
#include "analysis/e2_reverse_correlation.h"
#include "analysis/e3_layers.h"
#include "analysis/e4_pose.h"
#include "analysis/gradient_maps.h"
#include "analysis/stimuli.h"
#include "analysis/trials.h"
#include "core/progress.h"

namespace deeper::analysis {

struct AnalysisResults {
  std::optional<E1Result> e1;
  std::optional<E2Result> e2;
  std::optional<E3Result> e3;
  std::optional<E4Result> e4;
  std::optional<GradientResult> gradients;
  std::vector<TrialSet> trials;                          // the E2 trials (responses at the frontal view)
  std::vector<std::pair<std::string, double>> seconds;  // per stage, in order
};

// Runs the experiments settings.experiments names, logging each stage and showing progress (images).
AnalysisResults run_analyses(Study& study, const ProgressOptions& progress = {});

}  // namespace deeper::analysis
