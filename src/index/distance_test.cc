// Compares every SIMD level of the distance kernels with the scalar reference
// over many dimensions, including odd tails (in the spirit of llama.cpp's
// tests/test-backend-ops.cpp).
#include "index/distance.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "index/distance_internal.h"

namespace ragline::index {
namespace {

// SIMD kernels sum in a different order than the scalar loop. A float
// reduction's error is bounded by about dim * eps (6e-8) * sum(|terms|), so two
// orders differ by at most twice that; we allow dim * 1e-6 * sum(|terms|).
constexpr double kRelTolerancePerTerm = 1e-6;

std::vector<size_t> Dims() {
  std::vector<size_t> dims;
  for (size_t d = 1; d <= 70; ++d) dims.push_back(d);
  for (size_t d : {95, 96, 97, 127, 128, 129, 255, 256, 257, 383, 384, 385, 511, 512, 513, 767,
                   768, 769, 999, 1000}) {
    dims.push_back(d);
  }
  return dims;
}

struct Vectors {
  std::vector<float> a, b;
};

Vectors RandomVectors(size_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Vectors v;
  // Pad with NaN past the end: a kernel that reads beyond `dim` poisons its sum.
  v.a.assign(dim + 64, std::nanf(""));
  v.b.assign(dim + 64, std::nanf(""));
  for (size_t i = 0; i < dim; ++i) {
    v.a[i] = normal(rng);
    v.b[i] = normal(rng);
  }
  return v;
}

double AbsTermSumL2(const Vectors& v, size_t dim) {
  double s = 0;
  for (size_t i = 0; i < dim; ++i) s += (double(v.a[i]) - v.b[i]) * (double(v.a[i]) - v.b[i]);
  return s;
}

double AbsTermSumDot(const Vectors& v, size_t dim) {
  double s = 0;
  for (size_t i = 0; i < dim; ++i) s += std::fabs(double(v.a[i]) * v.b[i]);
  return s;
}

class DistanceLevelTest : public ::testing::TestWithParam<SimdLevel> {
 protected:
  void SetUp() override {
    if (!internal::CpuSupports(GetParam())) {
      GTEST_SKIP() << "CPU lacks " << SimdLevelName(GetParam());
    }
  }
};

TEST_P(DistanceLevelTest, L2SqrMatchesScalarReferenceForEveryDim) {
  for (size_t dim : Dims()) {
    Vectors v = RandomVectors(dim, static_cast<uint32_t>(dim));
    float expected = L2SqrScalar(v.a.data(), v.b.data(), dim);
    float actual = internal::L2SqrAt(GetParam(), v.a.data(), v.b.data(), dim);
    double tolerance = kRelTolerancePerTerm * double(dim) * AbsTermSumL2(v, dim) + 1e-30;
    EXPECT_NEAR(actual, expected, tolerance) << "dim=" << dim;
  }
}

TEST_P(DistanceLevelTest, DotMatchesScalarReferenceForEveryDim) {
  for (size_t dim : Dims()) {
    Vectors v = RandomVectors(dim, static_cast<uint32_t>(dim) + 1000);
    float expected = DotScalar(v.a.data(), v.b.data(), dim);
    float actual = internal::DotAt(GetParam(), v.a.data(), v.b.data(), dim);
    double tolerance = kRelTolerancePerTerm * double(dim) * AbsTermSumDot(v, dim) + 1e-30;
    EXPECT_NEAR(actual, expected, tolerance) << "dim=" << dim;
  }
}

TEST_P(DistanceLevelTest, ReadsNoFurtherThanDimFromUnalignedStart) {
  // Start one float into the buffer so the SIMD loads are unaligned.
  for (size_t dim : {1, 7, 9, 15, 17, 33, 384}) {
    Vectors v = RandomVectors(dim + 1, 7);
    const float* a = v.a.data() + 1;
    const float* b = v.b.data() + 1;
    EXPECT_FALSE(std::isnan(internal::L2SqrAt(GetParam(), a, b, dim))) << dim;
    EXPECT_FALSE(std::isnan(internal::DotAt(GetParam(), a, b, dim))) << dim;
  }
}

TEST_P(DistanceLevelTest, IdenticalVectorsHaveZeroL2) {
  Vectors v = RandomVectors(384, 3);
  EXPECT_EQ(internal::L2SqrAt(GetParam(), v.a.data(), v.a.data(), 384), 0.0f);
  EXPECT_EQ(internal::L2SqrAt(GetParam(), v.a.data(), v.a.data(), 0), 0.0f);
  EXPECT_EQ(internal::DotAt(GetParam(), v.a.data(), v.b.data(), 0), 0.0f);
}

INSTANTIATE_TEST_SUITE_P(AllLevels, DistanceLevelTest,
                         ::testing::Values(SimdLevel::kScalar, SimdLevel::kAvx2,
                                           SimdLevel::kAvx512),
                         [](const ::testing::TestParamInfo<SimdLevel>& info) {
                           return std::string(SimdLevelName(info.param));
                         });

TEST(DistanceTest, DispatchPicksASupportedLevel) {
  EXPECT_TRUE(internal::CpuSupports(ActiveSimdLevel()));
}

TEST(DistanceTest, DistanceIsL2SqrOrNegativeDot) {
  Vectors v = RandomVectors(100, 11);
  EXPECT_FLOAT_EQ(Distance(Metric::kL2, v.a.data(), v.b.data(), 100),
                  L2Sqr(v.a.data(), v.b.data(), 100));
  EXPECT_FLOAT_EQ(Distance(Metric::kInnerProduct, v.a.data(), v.b.data(), 100),
                  -Dot(v.a.data(), v.b.data(), 100));
}

TEST(DistanceTest, NormalizeL2MakesUnitVectorsAndLeavesZeroAlone) {
  std::vector<float> v = {3.0f, 4.0f};
  EXPECT_FLOAT_EQ(NormalizeL2(v.data(), 2), 5.0f);
  EXPECT_FLOAT_EQ(v[0], 0.6f);
  EXPECT_FLOAT_EQ(v[1], 0.8f);
  std::vector<float> zero(5, 0.0f);
  EXPECT_EQ(NormalizeL2(zero.data(), 5), 0.0f);
  for (float x : zero) EXPECT_EQ(x, 0.0f);
}

TEST(DistanceTest, SimdLevelNamesMatchTheEnvironmentSpelling) {
  EXPECT_EQ(SimdLevelName(SimdLevel::kScalar), "scalar");
  EXPECT_EQ(SimdLevelName(SimdLevel::kAvx2), "avx2");
  EXPECT_EQ(SimdLevelName(SimdLevel::kAvx512), "avx512");
}

}  // namespace
}  // namespace ragline::index
