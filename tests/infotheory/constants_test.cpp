// The constant tables of gcmi.md section 12 (computed there with 30-digit mpmath): entropy and MI
// bias terms, model-cd and ccc biases as the estimators apply them, S_N, the entropy of N(0, 1).
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "infotheory/gcmi.h"
#include "test_data.h"

namespace {

using namespace deeper::info;
using deeper::info::testing::normals;

// A value printed with 7 significant digits is within half a unit of its last digit.
void expect_7_digits(double got, double printed) {
  const double unit = std::pow(10.0, std::floor(std::log10(std::fabs(printed))) - 6);
  EXPECT_NEAR(got, printed, 0.5 * unit * 1.0001) << "printed " << printed;
}

TEST(Constants, EntropyBias) {
  const std::int64_t ns[] = {100, 1000, 10000};
  const double table[3][4] = {{-7.310871e-03, -2.201998e-02, -4.420400e-02, -7.394118e-02},
                              {-7.223105e-04, -2.167776e-03, -4.337123e-03, -7.231078e-03},
                              {-7.214437e-05, -2.164415e-04, -4.328987e-04, -7.215231e-04}};
  for (int i = 0; i < 3; ++i) {
    for (int d = 1; d <= 4; ++d) expect_7_digits(entropy_bias_bits(d, ns[i]), table[i][d - 1]);
  }
  EXPECT_DOUBLE_EQ(entropy_bias_nats(2, 1000), entropy_bias_bits(2, 1000) * std::numbers::ln2);
}

TEST(Constants, MiBias) {
  const std::int64_t ns[] = {100, 1000, 10000};
  const int shapes[4][2] = {{1, 1}, {2, 1}, {3, 1}, {3, 3}};
  const double table[3][4] = {{7.398242e-03, 1.487314e-02, 2.242631e-02, 6.798847e-02},
                              {7.231552e-04, 1.447036e-03, 2.171644e-03, 6.521481e-03},
                              {7.215279e-05, 1.443128e-04, 2.164800e-04, 6.495051e-04}};
  for (int i = 0; i < 3; ++i) {
    for (int s = 0; s < 4; ++s) expect_7_digits(mi_bias_bits(shapes[s][0], shapes[s][1], ns[i]), table[i][s]);
  }
  // c(N) = [psi((N-1)/2) - psi((N-2)/2)] / (2 ln 2), the univariate all-pairs constant.
  expect_7_digits(mi_bias_bits(1, 1, 1000), 7.231552e-04);
}

// The estimators subtract exactly these amounts: plug-in minus corrected, on random data.
TEST(Constants, EstimatorsApplyTheMiBias) {
  const std::int64_t n = 100;
  const auto x = normals(1, 1, 3 * n), y = normals(1, 2, 3 * n);
  const int shapes[4][2] = {{1, 1}, {2, 1}, {3, 1}, {3, 3}};
  const double table[4] = {7.398242e-03, 1.487314e-02, 2.242631e-02, 6.798847e-02};
  for (int s = 0; s < 4; ++s) {
    const int dx = shapes[s][0], dy = shapes[s][1];
    const double gap =
        mi_gg(x.data(), dx, y.data(), dy, n, false) - mi_gg(x.data(), dx, y.data(), dy, n, true);
    expect_7_digits(gap, table[s]);
    GcmiOptions plug;
    plug.bias_correct = false;
    const double gap_cc =
        gcmi_cc(x.data(), dx, y.data(), dy, n, plug) - gcmi_cc(x.data(), dx, y.data(), dy, n);
    expect_7_digits(gap_cc, table[s]);
  }
}

// Model-cd bias b(d, N) - sum_k w_k b(d, N_k) at N = 1000, balanced classes.
TEST(Constants, ModelCdBias) {
  const std::int64_t n = 1000;
  const auto x = normals(2, 1, 3 * n);
  struct Row {
    int classes, d;
    double bias;
  };
  for (const Row r : {Row{2, 1, 7.242413e-04}, Row{2, 3, 4.355283e-03}, Row{10, 1, 6.588560e-03},
                      Row{10, 3, 3.986688e-02}}) {
    std::vector<std::int32_t> labels(n);
    for (std::int64_t t = 0; t < n; ++t) labels[t] = static_cast<std::int32_t>(t % r.classes);
    double table_bias = entropy_bias_bits(r.d, n);
    for (int k = 0; k < r.classes; ++k) table_bias -= entropy_bias_bits(r.d, n / r.classes) / r.classes;
    expect_7_digits(table_bias, r.bias);
    const double gap = mi_model_gd(x.data(), r.d, labels.data(), n, r.classes, false) -
                       mi_model_gd(x.data(), r.d, labels.data(), n, r.classes, true);
    expect_7_digits(gap, r.bias);
  }
}

// ccc bias (1,1,1) at N = 1000: b(2) + b(2) - b(3) - b(1).
TEST(Constants, CccBias) {
  const std::int64_t n = 1000;
  const auto x = normals(3, 1, n), y = normals(3, 2, n), z = normals(3, 3, n);
  const double gap = cmi_ggg(x.data(), 1, y.data(), 1, z.data(), 1, n, false) -
                     cmi_ggg(x.data(), 1, y.data(), 1, z.data(), 1, n, true);
  expect_7_digits(gap, 7.238809e-04);
}

TEST(Constants, SumOfSquaresOfTheCopnormTable) {
  EXPECT_NEAR(copnorm_sum_of_squares(100), 92.276029375776, 1e-10);
  EXPECT_NEAR(copnorm_sum_of_squares(1000), 988.034920038983, 1e-9);
  EXPECT_NEAR(copnorm_sum_of_squares(10000), 9983.692138832941, 1e-8);
}

TEST(Constants, TableIsAntisymmetricAndIncreasing) {
  const auto t = copnorm_table(999);
  for (std::size_t k = 0; k < t.size(); ++k) {
    EXPECT_NEAR(t[k], -t[t.size() - 1 - k], 4e-15);  // k/(n+1) and 1 - k/(n+1) round differently
    if (k > 0) {
      EXPECT_LT(t[k - 1], t[k]);
    }
  }
  EXPECT_EQ(t[499], 0.0);  // the median of an odd table is ndtri(1/2) = 0 exactly
}

// Plug-in entropy of data with unit sample variance: (1/2) log2(2 pi e).
TEST(Constants, EntropyOfStandardNormal) {
  const std::int64_t n = 500;
  auto x = normals(4, 1, n);
  double mean = 0.0, ss = 0.0;
  for (double v : x) mean += v / n;
  for (double& v : x) v -= mean;
  for (double v : x) ss += v * v;
  for (double& v : x) v /= std::sqrt(ss / (n - 1));
  EXPECT_NEAR(ent_g(x.data(), 1, n, false), 2.047095585180641, 1e-14);
  EXPECT_NEAR(ent_g(x.data(), 1, n, true), 2.047095585180641 - entropy_bias_bits(1, n), 1e-14);
}

}  // namespace
