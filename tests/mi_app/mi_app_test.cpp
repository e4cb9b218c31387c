// deeper-mi end to end: each subcommand's output equals the library's reference estimators, the
// permutation outputs appear with their shapes, and bad inputs give exit code 1 or 2 with one
// "deeper-mi: error:" line that names the file, leaving an existing output untouched.
#include "core/npy.h"
#include "infotheory/allpairs_cd.h"
#include "infotheory/allpairs_conditional.h"
#include "infotheory/allpairs_mv.h"
#include "infotheory/gcmi.h"

#include <gtest/gtest.h>

#include "tests/support/program_test.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
namespace info = deeper::info;

namespace {

constexpr std::int64_t kN = 120, kU = 5, kF = 3;

using deeper::test::Outcome;

class MiApp : public deeper::test::ProgramTest {
 protected:
  MiApp() : ProgramTest(DEEPER_MI_BINARY, "deeper-mi") {}
  void SetUp() override {
    ProgramTest::SetUp();
    std::mt19937_64 gen(9);
    std::normal_distribution<double> normal;
    x_.resize(kN * kU);  // trial-major (N, U)
    y_.resize(kN * kF);
    z_.resize(kN);
    labels_.resize(kN);
    for (std::int64_t t = 0; t < kN; ++t) {
      z_[t] = normal(gen);
      labels_[t] = static_cast<std::int32_t>(t % 3);
      for (std::int64_t f = 0; f < kF; ++f) y_[t * kF + f] = normal(gen) + 0.5 * z_[t];
      for (std::int64_t u = 0; u < kU; ++u) x_[t * kU + u] = normal(gen) + 0.7 * y_[t * kF + u % kF] + labels_[t];
    }
    write("x.npy", x_, {kN, kU});
    write("y.npy", y_, {kN, kF});
    write("z.npy", z_, {kN});
    deeper::io::write_npy(path("labels.npy"), labels_.data(), deeper::DType::i32, std::vector<std::int64_t>{kN});
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write(const std::string& name, const std::vector<double>& v, std::vector<std::int64_t> shape) const {
    deeper::io::write_npy(path(name), v.data(), deeper::DType::f64, shape);
  }
  std::vector<double> load(const std::string& name, std::vector<std::int64_t> shape) const {
    const auto a = deeper::io::read_npy(path(name));
    EXPECT_EQ(a.shape, shape) << name;
    return a.to_vector<double>();
  }
  // Variable v of a trial-major (N, V) array as a contiguous row.
  static std::vector<double> column(const std::vector<double>& a, std::int64_t count, std::int64_t v) {
    std::vector<double> out(kN);
    for (std::int64_t t = 0; t < kN; ++t) out[t] = a[t * count + v];
    return out;
  }

  std::vector<double> x_, y_, z_;
  std::vector<std::int32_t> labels_;
};

}  // namespace

TEST_F(MiApp, CcEqualsTheReferenceEstimator) {
  const Outcome r = run("cc " + path("x.npy") + " " + path("y.npy") + " -o " + path("mi.npy") + " -q");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto mi = load("mi.npy", {kU, kF});
  for (std::int64_t u = 0; u < kU; ++u) {
    for (std::int64_t f = 0; f < kF; ++f) {
      const auto xu = column(x_, kU, u), yf = column(y_, kF, f);
      EXPECT_NEAR(mi[u * kF + f], info::gcmi_cc(xu.data(), 1, yf.data(), 1, kN), 1e-12);
    }
  }
}

TEST_F(MiApp, CcOnTheEmulatorRunsTheCudaKernelsAndAgrees) {
  ASSERT_EQ(run("cc " + path("x.npy") + " " + path("y.npy") + " -o " + path("cpu.npy") + " -q").status, 0);
  const Outcome r = run("cc " + path("x.npy") + " " + path("y.npy") + " -o " + path("emu.npy") + " --device emu -q");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto cpu = load("cpu.npy", {kU, kF}), emu = load("emu.npy", {kU, kF});
  for (std::size_t i = 0; i < cpu.size(); ++i) EXPECT_NEAR(emu[i], cpu[i], 2e-5) << i;
  // f64 is the CPU path's precision: asking for it on a device is a clear error.
  const Outcome f64 = run("cc " + path("x.npy") + " " + path("y.npy") + " -o " + path("emu.npy") + " --device emu --precision f64");
  EXPECT_EQ(f64.status, 1);
  EXPECT_NE(f64.err.find("f64 runs on the CPU"), std::string::npos) << f64.err;
}

TEST_F(MiApp, CcTilesOnADeviceGiveTheUntiledBits) {
  const std::string common = "cc " + path("x.npy") + " " + path("y.npy") + " --device emu --perm 9 -q ";
  ASSERT_EQ(run(common + "-o " + path("whole.npy") + " --out-dir " + path("whole")).status, 0);
  const Outcome r = run(common + "-o " + path("tiled.npy") + " --out-dir " + path("tiled") + " --tile-units 2");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(load("whole.npy", {kU, kF}), load("tiled.npy", {kU, kF}));
  EXPECT_EQ(load("whole/p_values.npy", {kU, kF}), load("tiled/p_values.npy", {kU, kF}));
  EXPECT_EQ(load("whole/null_max.npy", {9}), load("tiled/null_max.npy", {9}));
  // On the CPU there is nothing to stream: a clear error, not a silent ignore.
  const Outcome cpu = run("cc " + path("x.npy") + " " + path("y.npy") + " -o " + path("c.npy") + " --tile-units 2");
  EXPECT_EQ(cpu.status, 1);
  EXPECT_NE(cpu.err.find("--tile-units"), std::string::npos) << cpu.err;
}

TEST_F(MiApp, CcWithPermutationsWritesTheNullStatistics) {
  const Outcome r = run("cc " + path("x.npy") + " " + path("y.npy") + " -o " + path("mi.npy") + " --perm 49 --seed 3 --out-dir " +
                    path("stats") + " -q");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto p = load("stats/p_values.npy", {kU, kF});
  for (double v : p) EXPECT_TRUE(v >= 0.02 && v <= 1.0) << v;
  load("stats/null_max.npy", {49});
  load("stats/null_max_per_feature.npy", {49, kF});
  const auto p_fwe = load("stats/p_fwe.npy", {kU, kF});
  EXPECT_DOUBLE_EQ(p_fwe[0], 0.02);  // x0 = y0 + noise: beyond every null maximum
}

TEST_F(MiApp, CdCccCcdAndCoiEqualTheReferenceEstimators) {
  ASSERT_EQ(run("cd " + path("x.npy") + " " + path("labels.npy") + " -o " + path("cd.npy")).status, 0);
  ASSERT_EQ(run("ccc " + path("x.npy") + " " + path("y.npy") + " " + path("z.npy") + " -o " + path("ccc.npy")).status, 0);
  ASSERT_EQ(run("ccd " + path("x.npy") + " " + path("y.npy") + " " + path("labels.npy") + " -o " + path("ccd.npy")).status, 0);
  ASSERT_EQ(run("coi " + path("x.npy") + " " + path("y.npy") + " " + path("labels.npy") + " -o " + path("coi.npy")).status, 0);
  const auto cd = load("cd.npy", {kU}), ccc = load("ccc.npy", {kU, kF}), ccd = load("ccd.npy", {kU, kF}),
             coi = load("coi.npy", {kU, kF});
  for (std::int64_t u = 0; u < kU; ++u) {
    const auto xu = column(x_, kU, u);
    EXPECT_NEAR(cd[u], info::gcmi_model_cd(xu.data(), 1, labels_.data(), kN, 3), 1e-12);
    for (std::int64_t f = 0; f < kF; ++f) {
      const auto yf = column(y_, kF, f);
      EXPECT_NEAR(ccc[u * kF + f], info::gccmi_ccc(xu.data(), 1, yf.data(), 1, z_.data(), 1, kN), 1e-12);
      const double cmi = info::gccmi_ccd(xu.data(), 1, yf.data(), 1, labels_.data(), kN, 3);
      EXPECT_NEAR(ccd[u * kF + f], cmi, 1e-12);
      EXPECT_NEAR(coi[u * kF + f], info::gcmi_cc(xu.data(), 1, yf.data(), 1, kN) - cmi, 1e-12);
    }
  }
}

TEST_F(MiApp, CdCccCcdAndCoiWithPermutationsWriteTheEnginesStatistics) {
  // Each command's p-values and null maxima are those of the batched engine with the same seed.
  std::vector<double> xr(kN * kU), yr(kN * kF);  // variable-major rows for the library
  for (std::int64_t v = 0; v < kU; ++v) std::ranges::copy(column(x_, kU, v), xr.begin() + v * kN);
  for (std::int64_t v = 0; v < kF; ++v) std::ranges::copy(column(y_, kF, v), yr.begin() + v * kN);
  info::AllPairsOptions o;
  o.permutations = 39;
  o.permutation_seed = 4;
  const auto check = [&](const std::string& cmd, const info::AllPairsResult& expect, std::vector<std::int64_t> shape) {
    const Outcome r = run(cmd + " -o " + path(cmd.substr(0, cmd.find(' ')) + ".npy") + " --perm 39 --seed 4 --stats fdr --out-dir " +
                          path("s") + " -q");
    ASSERT_EQ(r.status, 0) << cmd << "\n" << r.err;
    const auto p = load("s/p_values.npy", shape);
    const auto null_max = load("s/null_max.npy", {39});
    load("s/q_values.npy", shape);
    for (std::int64_t u = 0; u < expect.units; ++u) {
      for (std::int64_t f = 0; f < expect.features; ++f) EXPECT_EQ(p[u * expect.features + f], expect.p_value(u, f)) << cmd;
    }
    for (std::size_t i = 0; i < null_max.size(); ++i) EXPECT_EQ(null_max[i], expect.max_null_all[i]) << cmd;
  };
  check("cd " + path("x.npy") + " " + path("labels.npy"),
        info::gcmi_model_cd_batched(xr.data(), kU, labels_.data(), kN, 3, o), {kU});
  const std::string xy = path("x.npy") + " " + path("y.npy") + " ";
  check("ccc " + xy + path("z.npy"), info::gccmi_ccc_all_pairs(xr.data(), kU, yr.data(), kF, z_.data(), kN, o), {kU, kF});
  check("ccd " + xy + path("labels.npy"),
        info::gccmi_ccd_all_pairs(xr.data(), kU, yr.data(), kF, labels_.data(), kN, 3, o), {kU, kF});
  check("coi " + xy + path("z.npy"), info::coinfo_ccc_all_pairs(xr.data(), kU, yr.data(), kF, z_.data(), kN, o), {kU, kF});
  // Paths without permutation statistics say so.
  const Outcome mixture = run("cd " + path("x.npy") + " " + path("labels.npy") + " -o " + path("m.npy") + " --method mixture --perm 9");
  EXPECT_EQ(mixture.status, 1);
  EXPECT_NE(mixture.err.find("mixture"), std::string::npos) << mixture.err;
  const Outcome coi = run("coi " + xy + path("labels.npy") + " -o " + path("c.npy") + " --perm 9");
  EXPECT_EQ(coi.status, 1);
  EXPECT_NE(coi.err.find("not implemented"), std::string::npos) << coi.err;
}

TEST_F(MiApp, BadInputsAreOneLineErrorsAndKeepTheOldOutput) {
  std::vector<double> short_y(60 * kF, 0.5);
  write("short.npy", short_y, {60, kF});
  std::vector<double> nan_x = x_;
  nan_x[7] = std::nan("");
  write("nan.npy", nan_x, {kN, kU});
  std::vector<std::int32_t> gap(kN, 0);
  gap[0] = 2;  // class 1 empty
  deeper::io::write_npy(path("gap.npy"), gap.data(), deeper::DType::i32, std::vector<std::int64_t>{kN});
  std::ofstream(path("out.npy")) << "previous result";

  const auto expect_error = [&](const std::string& args, int status, const std::string& part) {
    const Outcome r = run(args);
    EXPECT_EQ(r.status, status) << args << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("deeper-mi: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(part), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  };
  expect_error("cc " + path("x.npy") + " " + path("short.npy") + " -o " + path("out.npy"), 1, "short.npy");
  expect_error("cc " + path("nan.npy") + " " + path("y.npy") + " -o " + path("out.npy"), 1, "NaN");
  expect_error("cd " + path("x.npy") + " " + path("gap.npy") + " -o " + path("out.npy"), 1, "class 1");
  std::vector<std::int32_t> short_labels(60, 0);
  deeper::io::write_npy(path("short_labels.npy"), short_labels.data(), deeper::DType::i32, std::vector<std::int64_t>{60});
  expect_error("cd " + path("x.npy") + " " + path("short_labels.npy") + " -o " + path("out.npy"), 1, "short_labels.npy");
  expect_error("ccd " + path("x.npy") + " " + path("y.npy") + " " + path("short_labels.npy") + " -o " + path("out.npy"), 1,
               "short_labels.npy");
  std::vector<std::int32_t> tiny(kN, 0);
  tiny[3] = tiny[9] = 1;  // class 1 has 2 trials: ccd needs N_k > 2
  deeper::io::write_npy(path("tiny.npy"), tiny.data(), deeper::DType::i32, std::vector<std::int64_t>{kN});
  expect_error("ccd " + path("x.npy") + " " + path("y.npy") + " " + path("tiny.npy") + " -o " + path("out.npy"), 1, "class 1");
  expect_error("cc " + path("missing.npy") + " " + path("y.npy") + " -o " + path("out.npy"), 2, "missing.npy");
  expect_error("cx " + path("x.npy") + " " + path("y.npy") + " -o " + path("out.npy"), 2, "cx");
  expect_error("cc " + path("x.npy") + " " + path("y.npy") + " -o " + path("out.npy") + " --ties sorted", 2, "sorted");
  std::ifstream in(path("out.npy"));
  std::string content;
  std::getline(in, content);
  EXPECT_EQ(content, "previous result");
}

// (N, V, d) inputs: cc and model cd run the batched multivariate engines (with --perm); the MI equals
// the per-pair reference, the p-values and null maxima are the engine's with the same seed.
TEST_F(MiApp, MultivariateCcAndCdEqualTheReferenceAndTheEngines) {
  constexpr int kD = 3;
  constexpr std::int64_t kV = 4;
  std::mt19937_64 gen(21);
  std::normal_distribution<double> normal;
  std::vector<double> xv(kN * kV * kD), yv(kN * kF * 2);  // trial-major (N, V, 3) and (N, F, 2)
  for (std::int64_t t = 0; t < kN; ++t) {
    for (std::int64_t f = 0; f < kF; ++f) {
      for (int j = 0; j < 2; ++j) yv[(t * kF + f) * 2 + j] = normal(gen) + 0.4 * y_[t * kF + f];
    }
    for (std::int64_t v = 0; v < kV; ++v) {
      for (int j = 0; j < kD; ++j) {
        xv[(t * kV + v) * kD + j] = std::exp(normal(gen) + 0.6 * y_[t * kF + (v + j) % kF] + 0.3 * labels_[t] * (j - 1));
      }
    }
  }
  write("xv.npy", xv, {kN, kV, kD});
  write("yv.npy", yv, {kN, kF, 2});
  // Variable-major rows for the library: variable v, dimension j at (v * d + j) * N.
  const auto rows = [](const std::vector<double>& a, std::int64_t count, int d) {
    std::vector<double> out(a.size());
    for (std::int64_t t = 0; t < kN; ++t) {
      for (std::int64_t v = 0; v < count; ++v) {
        for (int j = 0; j < d; ++j) out[(v * d + j) * kN + t] = a[(t * count + v) * d + j];
      }
    }
    return out;
  };
  const std::vector<double> xr = rows(xv, kV, kD), yr = rows(yv, kF, 2), y1 = rows(y_, kF, 1);

  // 3-D x against 2-D y: every pair equals gcmi_cc.
  Outcome r = run("cc " + path("xv.npy") + " " + path("yv.npy") + " -o " + path("mv.npy") + " -q");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto mi = load("mv.npy", {kV, kF});
  for (std::int64_t u = 0; u < kV; ++u) {
    for (std::int64_t f = 0; f < kF; ++f) {
      EXPECT_NEAR(mi[u * kF + f], info::gcmi_cc(xr.data() + u * kD * kN, kD, yr.data() + f * 2 * kN, 2, kN), 1e-9);
    }
  }

  // 3-D x against scalar y with permutations: the engine's statistics.
  info::AllPairsOptions o;
  o.permutations = 39;
  o.permutation_seed = 4;
  const auto expect_cc = info::gcmi_cc_all_pairs_mv(xr.data(), kV, kD, y1.data(), kF, 1, kN, o);
  r = run("cc " + path("xv.npy") + " " + path("y.npy") + " -o " + path("mv1.npy") + " --perm 39 --seed 4 --out-dir " +
          path("s") + " -q");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(load("mv1.npy", {kV, kF}), expect_cc.mi);
  const auto p = load("s/p_values.npy", {kV, kF});
  for (std::int64_t u = 0; u < kV; ++u) {
    for (std::int64_t f = 0; f < kF; ++f) EXPECT_EQ(p[u * kF + f], expect_cc.p_value(u, f));
  }
  EXPECT_EQ(load("s/null_max.npy", {39}), expect_cc.max_null_all);
  EXPECT_EQ(load("s/p_fwe.npy", {kV, kF}), info::maxstat_p_values(expect_cc));

  // Model cd of 3-D x with the labels, with permutations; and the mixture estimator per variable.
  const auto expect_cd = info::gcmi_model_cd_batched_mv(xr.data(), kV, kD, labels_.data(), kN, 3, o);
  r = run("cd " + path("xv.npy") + " " + path("labels.npy") + " -o " + path("cd.npy") + " --perm 39 --seed 4 --stats fdr --out-dir " +
          path("c") + " -q");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto cd = load("cd.npy", {kV});
  EXPECT_EQ(cd, expect_cd.mi);
  for (std::int64_t u = 0; u < kV; ++u) {
    EXPECT_NEAR(cd[u], info::gcmi_model_cd(xr.data() + u * kD * kN, kD, labels_.data(), kN, 3), 1e-9);
  }
  EXPECT_EQ(load("c/null_max.npy", {39}), expect_cd.max_null_all);
  load("c/q_values.npy", {kV});
  ASSERT_EQ(run("cd " + path("xv.npy") + " " + path("labels.npy") + " -o " + path("mix.npy") + " --method mixture -q").status, 0);
  const auto mix = load("mix.npy", {kV});
  for (std::int64_t u = 0; u < kV; ++u) {
    EXPECT_NEAR(mix[u], info::gcmi_mixture_cd(xr.data() + u * kD * kN, kD, labels_.data(), kN, 3), 1e-12);
  }
}

TEST_F(MiApp, MultivariateBadInputsNameTheFileAndTheProblem) {
  const auto expect_error = [&](const std::string& args, const std::vector<std::string>& parts) {
    const Outcome r = run(args);
    EXPECT_EQ(r.status, 1) << args << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("deeper-mi: error: ", 0), 0u) << r.err;
    for (const auto& part : parts) EXPECT_NE(r.err.find(part), std::string::npos) << part << " in " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  };
  // Too few trials for the dimension: N = 6 trials, 3-D x and 3-D y need N > 6.
  write("x6.npy", std::vector<double>(x_.begin(), x_.begin() + 6 * 2 * 3), {6, 2, 3});
  write("y6.npy", std::vector<double>(y_.begin(), y_.begin() + 6 * 3), {6, 1, 3});
  expect_error("cc " + path("x6.npy") + " " + path("y6.npy") + " -o " + path("o.npy"),
               {"x6.npy", "y6.npy", "too few trials", "N > d_x + d_y = 6"});
  // d beyond the engines' limit.
  write("x17.npy", std::vector<double>(static_cast<std::size_t>(kN * 17), 1.0), {kN, 1, 17});
  expect_error("cc " + path("x17.npy") + " " + path("y.npy") + " -o " + path("o.npy"), {"x17.npy", "d = 17"});
  // Wrong rank.
  write("r4.npy", std::vector<double>(static_cast<std::size_t>(kN * 4), 1.0), {kN, 1, 2, 2});
  expect_error("cc " + path("r4.npy") + " " + path("y.npy") + " -o " + path("o.npy"), {"r4.npy", "4 axes"});
  // Trial counts that differ, NaN in a multivariate array.
  std::vector<double> xv(static_cast<std::size_t>(kN * 2 * 3));
  std::mt19937_64 gen(3);
  std::normal_distribution<double> normal;
  for (auto& v : xv) v = normal(gen);
  write("xv.npy", xv, {kN, 2, 3});
  write("xs.npy", std::vector<double>(xv.begin(), xv.begin() + (kN - 1) * 6), {kN - 1, 2, 3});
  expect_error("cc " + path("xs.npy") + " " + path("y.npy") + " -o " + path("o.npy"), {"xs.npy", "trials"});
  std::vector<double> xn = xv;
  xn[(5 * 2 + 1) * 3 + 2] = std::numeric_limits<double>::infinity();
  write("xn.npy", xn, {kN, 2, 3});
  expect_error("cd " + path("xn.npy") + " " + path("labels.npy") + " -o " + path("o.npy"), {"xn.npy", "Inf", "trial 5"});
  // A class too small for the dimension (3 trials for 3-D x), naming the labels file.
  std::vector<std::int32_t> few(kN, 0);
  few[1] = few[50] = few[90] = 1;
  deeper::io::write_npy(path("few.npy"), few.data(), deeper::DType::i32, std::vector<std::int64_t>{kN});
  expect_error("cd " + path("xv.npy") + " " + path("few.npy") + " -o " + path("o.npy"), {"few.npy", "class 1 has 3 trials", "xv.npy"});
  // Collinear dimensions (the same ranks in two dimensions of variable 1).
  std::vector<double> xc = xv;
  for (std::int64_t t = 0; t < kN; ++t) xc[(t * 2 + 1) * 3 + 2] = 2.0 * xc[(t * 2 + 1) * 3 + 0] + 1.0;
  write("xc.npy", xc, {kN, 2, 3});
  expect_error("cc " + path("xc.npy") + " " + path("y.npy") + " -o " + path("o.npy"), {"xc.npy", "variable 1", "collinear"});
}
