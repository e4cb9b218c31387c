// Every estimator against the values of scripts/make-gcmi-fixtures.py, an independent numpy/scipy
// implementation of gcmi.md, to 1e-9 bits; copnorm outputs, the tie fraction and S_N too.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "infotheory/gcmi.h"

namespace {

using namespace deeper::info;
using nlohmann::json;

constexpr double kTolBits = 1e-9;

struct Fixtures {
  std::int64_t n = 0;
  std::map<std::string, std::vector<double>> cont;  // row-major d x n
  std::map<std::string, int> dims;
  std::map<std::string, std::vector<std::int32_t>> labels;
  json raw;
};

const Fixtures& fixtures() {
  static const Fixtures f = [] {
    Fixtures out;
    std::ifstream in(DEEPER_SOURCE_DIR "/tests/infotheory/fixtures/gcmi_fixtures.json");
    if (!in) throw std::runtime_error("cannot open tests/infotheory/fixtures/gcmi_fixtures.json");
    out.raw = json::parse(in);
    out.n = out.raw.at("n").get<std::int64_t>();
    for (const auto& [name, rows] : out.raw.at("continuous").items()) {
      auto& v = out.cont[name];
      for (const auto& row : rows) {
        if (static_cast<std::int64_t>(row.size()) != out.n)
          throw std::runtime_error("bad fixture row " + name);
        for (const auto& e : row) v.push_back(e.get<double>());
      }
      out.dims[name] = static_cast<int>(rows.size());
    }
    for (const auto& [name, values] : out.raw.at("labels").items()) {
      out.labels[name] = values.get<std::vector<std::int32_t>>();
    }
    return out;
  }();
  return f;
}

// Evaluates one fixture case with the C++ estimators.
double evaluate(const json& c) {
  const Fixtures& f = fixtures();
  const std::string est = c.at("estimator").get<std::string>();
  std::vector<const double*> p;
  std::vector<int> d;
  for (const auto& a : c.at("args")) {
    const std::string name = a.get<std::string>();
    p.push_back(f.cont.at(name).data());
    d.push_back(f.dims.at(name));
  }
  const bool bc = c.at("bias_correct").get<bool>();
  GcmiOptions opt;
  opt.bias_correct = bc;
  opt.ties = parse_tie_policy(c.at("ties").get<std::string>());
  const std::int32_t* lab =
      c.contains("labels") ? f.labels.at(c.at("labels").get<std::string>()).data() : nullptr;
  const int k = c.contains("classes") ? c.at("classes").get<int>() : 0;
  const std::int64_t n = f.n;
  if (est == "ent_g") return ent_g(p[0], d[0], n, bc);
  if (est == "mi_gg") return mi_gg(p[0], d[0], p[1], d[1], n, bc);
  if (est == "gcmi_cc") return gcmi_cc(p[0], d[0], p[1], d[1], n, opt);
  if (est == "cmi_ggg") return cmi_ggg(p[0], d[0], p[1], d[1], p[2], d[2], n, bc);
  if (est == "gccmi_ccc") return gccmi_ccc(p[0], d[0], p[1], d[1], p[2], d[2], n, opt);
  if (est == "coinfo_ccc") return coinfo_ccc(p[0], d[0], p[1], d[1], p[2], d[2], n, opt);
  if (est == "mi_model_gd") return mi_model_gd(p[0], d[0], lab, n, k, bc);
  if (est == "gcmi_model_cd") return gcmi_model_cd(p[0], d[0], lab, n, k, opt);
  if (est == "mi_mixture_gd") return mi_mixture_gd(p[0], d[0], lab, n, k);
  if (est == "gcmi_mixture_cd") return gcmi_mixture_cd(p[0], d[0], lab, n, k, opt);
  if (est == "gccmi_ccd") return gccmi_ccd(p[0], d[0], p[1], d[1], lab, n, k, opt);
  if (est == "coinfo_ccd") return coinfo_ccd(p[0], d[0], p[1], d[1], lab, n, k, opt);
  if (est == "redundancy_mmi") return redundancy_mmi(p[0], d[0], p[1], d[1], p[2], d[2], n, opt);
  if (est == "pid_synergy_mmi") return pid_mmi(p[0], d[0], p[1], d[1], p[2], d[2], n, opt).synergy;
  throw std::runtime_error("fixture names an unknown estimator: " + est);
}

TEST(Fixtures, EveryEstimatorMatchesTheReferenceDefinitions) {
  const json& cases = fixtures().raw.at("cases");
  ASSERT_GE(cases.size(), 80u);
  std::map<std::string, int> seen;
  double worst = 0.0;
  std::string worst_case;
  for (const auto& c : cases) {
    const double expected = c.at("expected").get<double>();
    const double got = evaluate(c);
    const double dev = std::fabs(got - expected);
    EXPECT_LE(dev, kTolBits) << c.dump();
    if (dev > worst) {
      worst = dev;
      worst_case = c.dump();
    }
    ++seen[c.at("estimator").get<std::string>()];
  }
  // Every estimator of the API is covered (with and without bias correction where it applies).
  for (const char* est :
       {"ent_g", "mi_gg", "gcmi_cc", "cmi_ggg", "gccmi_ccc", "coinfo_ccc", "mi_model_gd", "gcmi_model_cd",
        "mi_mixture_gd", "gcmi_mixture_cd", "gccmi_ccd", "coinfo_ccd", "redundancy_mmi", "pid_synergy_mmi"}) {
    EXPECT_GE(seen[est], 2) << est;
  }
  std::printf("[ fixtures ] %zu cases, max |deviation| = %.3g bits (%s)\n", cases.size(), worst,
              worst_case.c_str());
  RecordProperty("max_deviation_bits", std::to_string(worst));
}

TEST(Fixtures, CopnormOutputsTieFractionAndTable) {
  const Fixtures& f = fixtures();
  for (const auto& c : f.raw.at("copnorm")) {
    const auto& x = f.cont.at(c.at("input").get<std::string>());
    const auto expected = c.at("expected").get<std::vector<double>>();
    std::vector<double> out(x.size());
    copnorm(x.data(), f.n, out.data(), parse_tie_policy(c.at("ties").get<std::string>()));
    for (std::int64_t t = 0; t < f.n; ++t)
      EXPECT_NEAR(out[t], expected[t], 1e-13) << c.at("input") << " " << t;
  }
  const auto& relu = f.cont.at("relu");
  EXPECT_DOUBLE_EQ(tie_fraction(relu.data(), f.n), f.raw.at("tie_fraction").at("relu").get<double>());
  EXPECT_NEAR(copnorm_sum_of_squares(f.n), f.raw.at("table_sum_of_squares").get<double>(), 1e-11);
}

}  // namespace
