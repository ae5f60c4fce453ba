#include "embed/encoder_math.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

namespace ragline::embed::internal {
namespace {

// Tolerances stated in encoder_math.h, checked on dense grids.
TEST(EncoderMathTest, ExpApproxIsWithinTwoUlpOfStdExpOverTheSoftmaxRange) {
  double max_rel = 0.0;
  for (double x = -87.0; x <= 88.0; x += 1e-3) {
    const float xf = static_cast<float>(x);
    const double want = std::exp(static_cast<double>(xf));
    max_rel = std::max(max_rel, std::abs(ExpApprox(xf) - want) / want);
  }
  std::printf("ExpApprox max relative error %.3g\n", max_rel);
  EXPECT_LT(max_rel, 2.5e-7);
  EXPECT_EQ(ExpApprox(0.0f), 1.0f);
  EXPECT_GE(ExpApprox(-1000.0f), 0.0f);
  EXPECT_LT(ExpApprox(-1000.0f), 1e-37f);
}

TEST(EncoderMathTest, ErfApproxIsWithinOneMillionthOfStdErf) {
  double max_abs = 0.0;
  for (double x = -8.0; x <= 8.0; x += 1e-4) {
    const float xf = static_cast<float>(x);
    max_abs = std::max(max_abs, std::abs(ErfApprox(xf) - std::erf(static_cast<double>(xf))));
  }
  std::printf("ErfApprox max absolute error %.3g\n", max_abs);
  EXPECT_LT(max_abs, 5e-7);
  EXPECT_EQ(ErfApprox(0.0f), 0.0f);
}

// GELU inherits erf's error scaled by |x| / 2 (about 1e-6 near x = -5, where
// GELU itself is ~1e-6); above |GELU| = 1 the error is relative.
TEST(EncoderMathTest, GeluApproxMatchesTheErfDefinition) {
  double max_abs = 0.0;
  for (double x = -12.0; x <= 12.0; x += 1e-4) {
    const float xf = static_cast<float>(x);
    const double want = 0.5 * xf * (1.0 + std::erf(xf / std::sqrt(2.0)));
    max_abs = std::max(max_abs, std::abs(GeluApprox(xf) - want) / std::max(1.0, std::abs(want)));
  }
  std::printf("GeluApprox max error (absolute, relative above 1) %.3g\n", max_abs);
  EXPECT_LT(max_abs, 1.5e-6);
}

TEST(EncoderMathTest, VectorBiasGeluMatchesTheErfDefinition) {
  // 240,003 values: full 8-lane blocks and a scalar tail.
  std::vector<float> row, bias;
  for (double x = -12.0; x <= 12.0; x += 1e-4) {
    row.push_back(static_cast<float>(x) - 0.25f);
    bias.push_back(0.25f);
  }
  std::vector<float> input = row;
  BiasGelu(row.data(), bias.data(), row.size());
  double max_abs = 0.0;
  for (size_t i = 0; i < row.size(); ++i) {
    const double x = double{input[i]} + bias[i];
    const double want = 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    max_abs = std::max(max_abs, std::abs(row[i] - want) / std::max(1.0, std::abs(want)));
  }
  std::printf("BiasGelu (vector) max error %.3g over %zu values\n", max_abs, row.size());
  EXPECT_LT(max_abs, 1.5e-6);
}

TEST(EncoderMathTest, BiasResidualLayerNormMatchesADoubleReference) {
  const size_t n = 389;  // 48 vector blocks and a tail
  std::vector<float> x(n), bias(n), gamma(n), beta(n), residual(n);
  for (size_t i = 0; i < n; ++i) {
    x[i] = std::sin(0.37f * i) * 3.0f;
    bias[i] = 0.01f * (i % 7);
    gamma[i] = 1.0f + 0.001f * i;
    beta[i] = -0.002f * (i % 5);
    residual[i] = std::cos(0.11f * i) + 5.0f;  // an offset the mean must remove
  }
  std::vector<double> sum(n);
  double mean = 0.0;
  for (size_t i = 0; i < n; ++i) mean += sum[i] = double{x[i]} + bias[i] + residual[i];
  mean /= n;
  double var = 0.0;
  for (size_t i = 0; i < n; ++i) var += (sum[i] - mean) * (sum[i] - mean);
  const double inv_std = 1.0 / std::sqrt(var / n + 1e-12);
  BiasResidualLayerNorm(x.data(), bias.data(), gamma.data(), beta.data(), 1e-12f, residual.data(), n);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_NEAR(residual[i], (sum[i] - mean) * inv_std * gamma[i] + beta[i], 2e-5) << i;
  }
}

TEST(EncoderMathTest, SoftmaxRowMatchesADoubleReference) {
  std::vector<float> row(203);
  for (size_t i = 0; i < row.size(); ++i) row[i] = 12.0f * std::sin(0.7f * i) - 3.0f;
  std::vector<double> want(row.size());
  double max = -1e30, sum = 0.0;
  for (float v : row) max = std::max(max, double{v});
  for (size_t i = 0; i < row.size(); ++i) sum += want[i] = std::exp(row[i] - max);
  SoftmaxRow(row.data(), row.size());
  for (size_t i = 0; i < row.size(); ++i) EXPECT_NEAR(row[i], want[i] / sum, 1e-7) << i;
}

}  // namespace
}  // namespace ragline::embed::internal
