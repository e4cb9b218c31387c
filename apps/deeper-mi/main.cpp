// deeper-mi: Gaussian-copula mutual information between variables stored in .npy files.
//
//   deeper-mi cc  X.npy Y.npy -o MI.npy          MI for every (x, y) pair -> (U, F)
//   deeper-mi cd  X.npy LABELS.npy -o MI.npy     each x against discrete labels -> (U,)
//   deeper-mi ccc X.npy Y.npy Z.npy -o MI.npy    I(x; y | z), z one continuous variable -> (U, F)
//   deeper-mi ccd X.npy Y.npy Z.npy -o MI.npy    I(x; y | z), z discrete labels -> (U, F)
//   deeper-mi coi X.npy Y.npy Z.npy -o CO.npy    co-information I(x;y) - I(x;y|z) -> (U, F)
//
// Arrays have trials on the first axis: (N,), (N, V) or (N, V, d). Results are in bits,
// bias-corrected unless --no-bias-correction. Univariate `cc` runs as one batched all-pairs job with
// optional permutation statistics (--perm), on the CPU (OpenBLAS) or a device (the GCMI kernels:
// --device cuda, or emu to run them in the emulator). Univariate `cd` (model), `ccc`, `ccd` and `coi`
// run the batched engines (allpairs_cd.h, allpairs_conditional.h), also with --perm; model `cd`,
// `ccc` and `coi` with continuous z also on a device (allpairs_cond_device.h); `cc` and
// model `cd` with multivariate (N, V, d) variables run the batched multivariate CPU engines
// (allpairs_mv.h), also with --perm; mixture cd and multivariate ccc, ccd, coi loop over pairs with
// the fp64 reference estimators (docs/gcmi.md).
#include "apps/deeper-mi/inputs.h"
#include "core/cli.h"
#include "core/log.h"
#include "core/npy.h"
#include "core/progress.h"
#include "core/stopwatch.h"
#include "infotheory/allpairs.h"
#include "infotheory/allpairs_cd.h"
#include "infotheory/allpairs_cond_device.h"
#include "infotheory/allpairs_conditional.h"
#include "infotheory/allpairs_mv.h"
#include "infotheory/allpairs_stream.h"
#include "infotheory/gcmi.h"
#include "kernels/runtime/device.h"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace {

using namespace deeper;

struct MiArgs {
  std::string x, y, z, out, out_dir;
  std::string method = "model", ties = "stable", stats = "maxstat", precision = "auto";
  int permutations = 0;
  std::int64_t tile_units = 0;  // cc on a device: units per streamed tile (0: automatic)
  double alpha = 0.05;
  bool no_bias_correction = false;
};

info::TiePolicy parse_ties(const std::string& s) {
  if (s == "stable") return info::TiePolicy::stable;
  if (s == "jitter") return info::TiePolicy::jitter;
  return info::TiePolicy::average;
}

info::GcmiOptions gcmi_options(const MiArgs& a, const CommonOptions& common) {
  info::GcmiOptions o;
  o.bias_correct = !a.no_bias_correction;
  o.ties = parse_ties(a.ties);
  o.seed = common.seed;
  return o;
}

void require_same_trials(const mi_app::VariableSet& a, std::int64_t n, const std::string& other) {
  if (a.trials != n) fail("{} has {} trials but {} has {}; the first axes must match", a.path, a.trials, other, n);
}

// Multivariate inputs: d within the engines' limit, and N > d_x + d_y (the copula rows lose one degree
// of freedom to their zero mean), naming the files.
void require_mv_shapes(const mi_app::VariableSet& x, const mi_app::VariableSet& y) {
  for (const auto* s : {&x, &y}) {
    if (s->dim > info::kMaxVariableDim) {
      fail("{}: variables of d = {} dimensions (shape (N, V, d)); deeper-mi accepts d up to {}", s->path, s->dim,
           info::kMaxVariableDim);
    }
  }
  if (x.trials <= x.dim + y.dim) {
    fail("{} (d = {}) and {} (d = {}): too few trials, N = {}; MI of multivariate variables needs N > d_x + d_y = {}",
         x.path, x.dim, y.path, y.dim, x.trials, x.dim + y.dim);
  }
}

void write_matrix(const std::string& path, const std::vector<double>& values, std::vector<std::int64_t> shape) {
  io::write_npy(path, values.data(), DType::f64, shape);
  log::info("wrote {} ({})", path, io::shape_string(shape));
}

void warn_ties(const mi_app::VariableSet& s, const std::vector<double>& fractions) {
  std::int64_t heavy = 0;
  for (double f : fractions) heavy += f > 0.1;
  if (heavy > 0) {
    log::warn("{}: {} of {} variables have more than 10% tied values; with --ties stable, ties follow trial order "
              "(see docs/gcmi.md)", s.path, heavy, s.count);
  }
}

// Runs `pair(u, f)` for every pair with a progress display; fills a U x F matrix.
std::vector<double> for_each_pair(std::int64_t units, std::int64_t features,
                                  const std::function<double(std::int64_t, std::int64_t)>& pair) {
  std::vector<double> out(static_cast<std::size_t>(units * features));
  ProgressOptions progress_options;
  progress_options.unit = "pairs";
  Progress progress("pairs", static_cast<std::uint64_t>(units * features), progress_options);
  for (std::int64_t u = 0; u < units; ++u) {
    for (std::int64_t f = 0; f < features; ++f) {
      out[static_cast<std::size_t>(u * features + f)] = pair(u, f);
      progress.advance();
    }
  }
  progress.finish();
  return out;
}

info::GemmPrecision parse_precision(const std::string& s, const Device& device) {
  if (s == "f64") return info::GemmPrecision::f64;
  if (s == "f32") return info::GemmPrecision::f32;
  if (s == "bf16") return info::GemmPrecision::bf16;
  return device.backend == Backend::cpu ? info::GemmPrecision::f64 : info::GemmPrecision::f32;  // auto
}

// Writes the MI (shape `shape`) and, with permutations, the null statistics into --out-dir (default:
// beside --out): p_values, null_max (P), null_max_per_feature (P, F), p_fwe (maxstat) or q_values (fdr).
void write_results(const MiArgs& a, const info::AllPairsResult& r, const std::vector<std::int64_t>& shape) {
  write_matrix(a.out, r.mi, shape);
  if (r.permutations == 0) return;
  const std::filesystem::path dir =
      a.out_dir.empty() ? std::filesystem::path(a.out).parent_path() : std::filesystem::path(a.out_dir);
  if (!dir.empty()) std::filesystem::create_directories(dir);
  std::vector<double> p(r.mi.size());
  for (std::int64_t u = 0; u < r.units; ++u) {
    for (std::int64_t f = 0; f < r.features; ++f) p[static_cast<std::size_t>(u * r.features + f)] = r.p_value(u, f);
  }
  write_matrix((dir / "p_values.npy").string(), p, shape);
  write_matrix((dir / "null_max.npy").string(), r.max_null_all, {r.permutations});
  write_matrix((dir / "null_max_per_feature.npy").string(), r.max_null, {r.permutations, r.features});
  if (a.stats == "maxstat") {
    write_matrix((dir / "p_fwe.npy").string(), info::maxstat_p_values(r), shape);
    log::info("max-stat threshold at alpha {}: {:.6g} bits", a.alpha, info::maxstat_threshold(r, a.alpha));
  } else if (a.stats == "fdr") {
    write_matrix((dir / "q_values.npy").string(), info::fdr_bh(p), shape);
  }
}

// The batched engines' options (permutations, seed, GEMM precision) from the command line.
info::AllPairsOptions batched_options(const MiArgs& a, const CommonOptions& common, const Device& device) {
  info::AllPairsOptions o;
  o.gcmi = gcmi_options(a, common);
  o.permutations = a.permutations;
  o.permutation_seed = common.seed;
  o.precision = parse_precision(a.precision, device);
  return o;
}

// --perm on a path without permutation statistics is an error that names the reason.
void reject_permutations(const MiArgs& a, const std::string& why) {
  if (a.permutations > 0) fail("--perm is not available here: {}", why);
}

void run_cc(const MiArgs& a, const CommonOptions& common, const Device& device) {
  Stopwatch clock;
  const auto x = mi_app::load_variables(a.x), y = mi_app::load_variables(a.y);
  require_same_trials(y, x.trials, a.x);
  if (x.dim == 1 && y.dim == 1) {
    const double t_read = clock.lap();
    const info::AllPairsOptions o = batched_options(a, common, device);
    if (a.tile_units > 0 && device.backend == Backend::cpu) {
      fail("--tile-units streams X through a device (cuda or emu); the CPU engine needs no tiles");
    }
    const info::AllPairsResult r =
        device.backend == Backend::cpu
            ? info::gcmi_cc_all_pairs(device, x.data.data(), x.count, y.data.data(), y.count, x.trials, o)
            : info::gcmi_cc_all_pairs_streamed(device, info::unit_source(x.data.data(), x.trials), x.count,
                                               y.data.data(), y.count, x.trials, o, {a.tile_units});
    const double t_compute = clock.lap();
    warn_ties(x, r.tie_fraction_x);
    warn_ties(y, r.tie_fraction_y);
    write_results(a, r, {x.count, y.count});
    log::debug("cc: read inputs {:.4f} s, compute {:.4f} s, write outputs {:.4f} s", t_read, t_compute, clock.lap());
    return;
  }
  // Multivariate: the batched CPU engine (whitening + one GEMM + per-pair log-determinants).
  require_mv_shapes(x, y);
  if (device.backend != Backend::cpu) log::info("multivariate cc runs on the CPU (the device path covers univariate cc)");
  const double t_read = clock.lap();
  info::AllPairsResult r;
  try {
    r = info::gcmi_cc_all_pairs_mv(x.data.data(), x.count, x.dim, y.data.data(), y.count, y.dim, x.trials,
                                   batched_options(a, common, Device::cpu()));
  } catch (const Error& e) {  // name the files (x is X, y is Y): e.g. a variable with collinear dimensions
    fail("X = {}, Y = {}: {}", a.x, a.y, e.what());
  }
  const double t_compute = clock.lap();
  warn_ties(x, r.tie_fraction_x);
  warn_ties(y, r.tie_fraction_y);
  write_results(a, r, {x.count, y.count});
  log::debug("cc (d = {} x {}): read inputs {:.4f} s, compute {:.4f} s, write outputs {:.4f} s", x.dim, y.dim, t_read,
             t_compute, clock.lap());
}

void run_cd(const MiArgs& a, const CommonOptions& common, const Device& device) {
  const auto x = mi_app::load_variables(a.x);
  const auto labels = mi_app::load_labels(a.y);
  if (static_cast<std::int64_t>(labels.values.size()) != x.trials) {
    fail("{} has {} trials but {} has {} labels; the first axes must match", a.x, x.trials, a.y, labels.values.size());
  }
  const bool mixture = a.method == "mixture";
  if (x.dim > info::kMaxVariableDim) {
    fail("{}: variables of d = {} dimensions (shape (N, V, d)); deeper-mi accepts d up to {}", a.x, x.dim,
         info::kMaxVariableDim);
  }
  // Every class needs N_k > d for its covariance (the model estimator's class entropies).
  std::vector<std::int64_t> counts(static_cast<std::size_t>(labels.classes), 0);
  for (const std::int32_t k : labels.values) ++counts[static_cast<std::size_t>(k)];
  for (int k = 0; k < labels.classes; ++k) {
    if (counts[static_cast<std::size_t>(k)] <= x.dim) {
      fail("{}: class {} has {} trials; with {}-D variables in {} every class needs more than {}", a.y, k,
           counts[static_cast<std::size_t>(k)], x.dim, a.x, x.dim);
    }
  }
  if (!mixture) {
    if (x.dim > 1 && device.backend != Backend::cpu) log::info("multivariate cd runs on the CPU (the device path covers univariate cd)");
    const Device& on = x.dim == 1 ? device : Device::cpu();
    const info::AllPairsOptions o = batched_options(a, common, on);
    info::AllPairsResult r;
    try {
      r = x.dim == 1 ? info::gcmi_model_cd_batched(on, x.data.data(), x.count, labels.values.data(), x.trials,
                                                   labels.classes, o)
                     : info::gcmi_model_cd_batched_mv(x.data.data(), x.count, x.dim, labels.values.data(), x.trials,
                                                      labels.classes, o);
    } catch (const Error& e) {  // name the files: e.g. collinear dimensions, a class without variance
      fail("X = {}, LABELS = {}: {}", a.x, a.y, e.what());
    }
    warn_ties(x, r.tie_fraction_x);
    write_results(a, r, {x.count});
    return;
  }
  reject_permutations(a, "the mixture estimator runs the per-variable reference");
  if (device.backend != Backend::cpu) log::info("mixture cd runs on the CPU");
  const auto opts = gcmi_options(a, common);
  write_matrix(a.out, for_each_pair(x.count, 1, [&](std::int64_t u, std::int64_t) {
                 return info::gcmi_mixture_cd(x.variable(u), x.dim, labels.values.data(), x.trials, labels.classes, opts);
               }), {x.count});
}

// ccc, ccd and coi: z is one variable, continuous or (integer array) discrete.
void run_conditional(const std::string& kind, const MiArgs& a, const CommonOptions& common, const Device& device) {
  const auto x = mi_app::load_variables(a.x), y = mi_app::load_variables(a.y);
  require_same_trials(y, x.trials, a.x);
  const auto opts = gcmi_options(a, common);
  const bool discrete = kind == "ccd" || (kind == "coi" && mi_app::holds_labels(a.z));
  std::function<double(std::int64_t, std::int64_t)> cmi;
  mi_app::VariableSet z;
  mi_app::Labels labels;
  if (discrete) {
    labels = mi_app::load_labels(a.z);
    if (static_cast<std::int64_t>(labels.values.size()) != x.trials) {
      fail("{} has {} labels but {} has {} trials; the first axes must match", a.z, labels.values.size(), a.x, x.trials);
    }
    cmi = [&](std::int64_t u, std::int64_t f) {
      return info::gccmi_ccd(x.variable(u), x.dim, y.variable(f), y.dim, labels.values.data(), x.trials, labels.classes, opts);
    };
  } else {
    z = mi_app::load_variables(a.z);
    require_same_trials(z, x.trials, a.x);
    if (z.count != 1) fail("{}: the conditioning variable must be one variable, shape (N,) or (N, 1, d); it holds {}", a.z, z.count);
    cmi = [&](std::int64_t u, std::int64_t f) {
      return info::gccmi_ccc(x.variable(u), x.dim, y.variable(f), y.dim, z.variable(0), z.dim, x.trials, opts);
    };
  }
  const bool coi = kind == "coi";
  if (x.dim == 1 && y.dim == 1 && (discrete || z.dim == 1)) {
    // Continuous z runs on the chosen device; discrete z (ccd, coi with labels) on the CPU.
    if (discrete && device.backend != Backend::cpu) log::info("{} with discrete z runs on the CPU", kind);
    const Device& on = discrete ? Device::cpu() : device;
    const info::AllPairsOptions o = batched_options(a, common, on);
    const double* xd = x.data.data();
    const double* yd = y.data.data();
    info::AllPairsResult r;
    if (discrete) {
      const std::int32_t* l = labels.values.data();
      r = coi ? info::coinfo_ccd_all_pairs(xd, x.count, yd, y.count, l, x.trials, labels.classes, o)
              : info::gccmi_ccd_all_pairs(xd, x.count, yd, y.count, l, x.trials, labels.classes, o);
    } else {
      r = coi ? info::coinfo_ccc_all_pairs(on, xd, x.count, yd, y.count, z.variable(0), x.trials, o)
              : info::gccmi_ccc_all_pairs(on, xd, x.count, yd, y.count, z.variable(0), x.trials, o);
    }
    warn_ties(x, r.tie_fraction_x);
    warn_ties(y, r.tie_fraction_y);
    write_results(a, r, {x.count, y.count});
    return;
  }
  reject_permutations(a, fmt::format("multivariate variables (d = {}, {}, {}) run the per-pair reference", x.dim, y.dim,
                                     discrete ? 1 : z.dim));
  if (device.backend != Backend::cpu) log::info("multivariate {} runs on the CPU", kind);
  write_matrix(a.out, for_each_pair(x.count, y.count, [&](std::int64_t u, std::int64_t f) {
                 const double c = cmi(u, f);
                 return coi ? info::gcmi_cc(x.variable(u), x.dim, y.variable(f), y.dim, x.trials, opts) - c : c;
               }), {x.count, y.count});
}

}  // namespace

int main(int argc, char** argv) {
  MiArgs args;
  std::string chosen;
  std::vector<CLI::App*> commands;
  return deeper::run_main(
      argc, argv, "mi",
      [&](CLI::App& app) {
        // The usual form is `deeper-mi CMD ...`: name a mistyped command rather than its options.
        if (argc > 1 && argv[1][0] != '-') {
          const std::string first = argv[1];
          if (first != "cc" && first != "cd" && first != "ccc" && first != "ccd" && first != "coi") {
            throw UsageError("unknown command '" + first + "'; use one of cc, cd, ccc, ccd, coi (see --help)");
          }
        }
        app.require_subcommand(0, 1);  // none: a usage error below that names the commands
        app.fallthrough();
        const auto add = [&](const std::string& name, const std::string& help, bool third) {
          CLI::App* c = app.add_subcommand(name, help);
          c->add_option("X", args.x, "variables x: .npy (N,), (N, V) or (N, V, d)")->required()->check(CLI::ExistingFile);
          c->add_option(name == "cd" ? "LABELS" : "Y", args.y, name == "cd" ? "labels 0..K-1: integer .npy (N,)" : "variables y")
              ->required()->check(CLI::ExistingFile);
          if (third) {
            c->add_option("Z", args.z, name == "ccc" ? "conditioning variable (continuous)"
                                                     : (name == "ccd" ? "conditioning labels 0..K-1" : "third variable (continuous, or integer labels)"))
                ->required()->check(CLI::ExistingFile);
          }
          c->add_option("-o,--out", args.out, "output .npy (written atomically)")->required();
          c->add_option("--ties", args.ties, "tie policy of the copula normalisation")
              ->check(CLI::IsMember({"stable", "jitter", "average"}));
          c->add_flag("--no-bias-correction", args.no_bias_correction, "plug-in estimates (no analytic bias correction)");
          if (name == "cd") c->add_option("--method", args.method, "model | mixture")->check(CLI::IsMember({"model", "mixture"}));
          if (name == "cc") {
            c->add_option("--tile-units", args.tile_units,
                          "univariate cc on a device: stream X in tiles of this many units, two in flight "
                          "(default 0: as many as fit in a quarter of the device's free memory)")
                ->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 40));
          }
          {
            c->add_option("--perm", args.permutations,
                          "permutations for the null (cc permutes y, cd the labels, ccd y within classes, ccc y, "
                          "coi z; cc and model cd also for (N, V, d) variables)")
                ->check(CLI::Range(0, 1000000));
            c->add_option("--alpha", args.alpha, "family-wise error rate for the max-stat threshold")->check(CLI::Range(1e-9, 0.999999));
            c->add_option("--stats", args.stats, "maxstat | pvalues | fdr")->check(CLI::IsMember({"maxstat", "pvalues", "fdr"}));
            c->add_option("--out-dir", args.out_dir, "folder for p-values and null maxima (default: beside --out)");
            c->add_option("--precision", args.precision,
                          "GEMM precision of the batched path: auto (f64 on cpu, f32 on a device) | f64 | f32 | bf16 "
                          "(bf16: cc, model cd, ccc and coi with continuous z, on a device only)")
                ->check(CLI::IsMember({"auto", "f64", "f32", "bf16"}));
          }
          c->callback([&chosen, name] { chosen = name; });
          commands.push_back(c);
        };
        add("cc", "MI for every (x, y) pair -> (U, F)", false);
        add("cd", "MI of each x with discrete labels -> (U,)", false);
        add("ccc", "conditional MI I(x; y | z), z continuous -> (U, F)", true);
        add("ccd", "conditional MI I(x; y | z), z discrete -> (U, F)", true);
        add("coi", "co-information I(x; y) - I(x; y | z) -> (U, F)", true);
      },
      [&](const CommonOptions& common) {
        if (chosen.empty()) throw UsageError("no command given; use one of cc, cd, ccc, ccd, coi (see --help)");
        const DeviceChoice choice = select_device(common.device);
        log::debug("{}", choice.why);
        if (chosen == "cc") return run_cc(args, common, choice.device);
        if (chosen == "cd") return run_cd(args, common, choice.device);
        run_conditional(chosen, args, common, choice.device);
      });
}
