#include "analysis/analyze.h"

#include <chrono>

#include "core/log.h"

namespace deeper::analysis {

namespace {

template <typename F>
auto timed(AnalysisResults& r, const std::string& name, F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  log::info("{}: starting", name);
  auto value = f();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.seconds.emplace_back(name, s);
  log::info("{}: done in {:.1f} s", name, s);
  return value;
}

ProgressOptions images(ProgressOptions o) {
  o.unit = "images";
  return o;
}

}  // namespace

AnalysisResults run_analyses(Study& study, const ProgressOptions& progress) {
  const auto& s = study.settings();
  AnalysisResults r;
  if (s.runs("e1")) {
    r.e1 = timed(r, "E1 shape vs texture", [&] {
      Progress p("E1", static_cast<std::uint64_t>(e1_image_count(s)), images(progress));
      return run_e1(study, &p);
    });
  }
  if (!s.runs("e2")) return r;
  r.trials = make_trials(study);
  const auto n = static_cast<std::uint64_t>(s.targets * s.trials);
  r.e2 = timed(r, "E2 reverse correlation", [&] {
    Progress p("E2", n, images(progress));
    return run_e2(study, r.trials, &p);
  });
  if (s.runs("e3")) {
    r.e3 = timed(r, "E3 hidden layers", [&] {
      Progress p("E3", n, images(progress));
      return run_e3(study, r.trials, &p);
    });
  }
  if (s.runs("e4")) {
    r.e4 = timed(r, "E4 pose invariance", [&] {
      Progress p("E4", static_cast<std::uint64_t>(s.targets * s.e4_trials * 9), images(progress));
      return run_e4(study, r.trials, &p);
    });
  }
  if (s.runs("gradients")) {
    r.gradients = timed(r, "gradient maps", [&] {
      Progress p("gradients", static_cast<std::uint64_t>(s.targets * std::min(s.gradient_trials, s.trials)),
                 images(progress));
      GradientResult g = run_gradients(study, r.trials, &p);
      compare_gradients(g, *r.e2, r.e3 ? &*r.e3 : nullptr);
      return g;
    });
  }
  return r;
}

}  // namespace deeper::analysis
