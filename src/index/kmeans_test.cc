#include "index/kmeans.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "core/thread_pool.h"
#include "index/distance.h"

namespace ragline::index {
namespace {

// `clusters` well-separated Gaussian blobs; centers are returned too.
std::vector<float> Blobs(size_t clusters, size_t per_cluster, size_t dim, float spread,
                         std::vector<float>* centers, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  centers->resize(clusters * dim);
  for (float& v : *centers) v = 10.0f * gauss(rng);
  std::vector<float> data(clusters * per_cluster * dim);
  for (size_t i = 0; i < clusters * per_cluster; ++i) {
    const size_t c = i % clusters;
    for (size_t a = 0; a < dim; ++a) data[i * dim + a] = (*centers)[c * dim + a] + spread * gauss(rng);
  }
  return data;
}

std::vector<float> Gaussian(size_t n, size_t dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::vector<float> data(n * dim);
  for (float& v : data) v = gauss(rng);
  return data;
}

TEST(KMeansTest, RecoversWellSeparatedClusters) {
  constexpr size_t kDim = 16, kClusters = 8;
  std::vector<float> centers;
  const std::vector<float> data = Blobs(kClusters, 200, kDim, 0.1f, &centers, 1);
  KMeansOptions options;
  options.num_clusters = kClusters;
  Result<KMeansResult> result = TrainKMeans(data.data(), data.size() / kDim, kDim, options, nullptr);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->centroids.size(), kClusters * kDim);
  for (size_t c = 0; c < kClusters; ++c) {
    float best = std::numeric_limits<float>::infinity();
    for (size_t j = 0; j < kClusters; ++j) {
      best = std::min(best, L2SqrScalar(&centers[c * kDim], &result->centroids[j * kDim], kDim));
    }
    EXPECT_LT(best, 0.01f) << "no centroid near true center " << c;
  }
  // Mean squared distance to the centroid ≈ dim × spread².
  EXPECT_LT(result->objective, 2.0 * kDim * 0.01);
  EXPECT_LT(result->iterations_run, options.iterations) << "well-separated blobs converge early";
}

TEST(KMeansTest, AssignsEveryRowToItsNearestCentroid) {
  constexpr size_t kDim = 24, kRows = 1001, kClusters = 37;
  const std::vector<float> data = Gaussian(kRows, kDim, 2);
  KMeansOptions options;
  options.num_clusters = kClusters;
  options.iterations = 5;
  Result<KMeansResult> result = TrainKMeans(data.data(), kRows, kDim, options, nullptr);
  ASSERT_TRUE(result.ok()) << result.status();
  const CentroidTable table(result->centroids.data(), kClusters, kDim);
  std::vector<uint32_t> assignment(kRows);
  std::vector<float> distances(kRows);
  AssignToNearest(data.data(), kRows, table, assignment.data(), distances.data(), nullptr);
  for (size_t i = 0; i < kRows; ++i) {
    float best = std::numeric_limits<float>::infinity();
    for (size_t j = 0; j < kClusters; ++j) {
      best = std::min(best, L2SqrScalar(&data[i * kDim], &result->centroids[j * kDim], kDim));
    }
    const float got = L2SqrScalar(&data[i * kDim], &result->centroids[assignment[i] * kDim], kDim);
    EXPECT_LE(got, best * (1 + 1e-4f) + 1e-4f) << "row " << i;
    EXPECT_NEAR(distances[i], got, 1e-3f * (1 + got)) << "row " << i;
  }
}

TEST(KMeansTest, CentroidTableMatchesScalarReference) {
  constexpr size_t kDim = 13, kCentroids = 1100;  // odd sizes and more than one column block
  const std::vector<float> centroids = Gaussian(kCentroids, kDim, 3);
  const std::vector<float> points = Gaussian(5, kDim, 4);
  const CentroidTable table(centroids.data(), kCentroids, kDim);
  std::vector<float> l2(kCentroids), dots(kCentroids), dots4(4 * kCentroids);
  const float* four[4] = {&points[0], &points[kDim], &points[2 * kDim], &points[3 * kDim]};
  table.Dots4(four, dots4.data());
  for (size_t p = 0; p < 5; ++p) {
    const float* x = &points[p * kDim];
    table.L2Sqrs(x, l2.data());
    table.Dots(x, dots.data());
    for (size_t j = 0; j < kCentroids; ++j) {
      const float* c = &centroids[j * kDim];
      EXPECT_NEAR(l2[j], L2SqrScalar(x, c, kDim), 1e-3f) << p << "," << j;
      EXPECT_NEAR(dots[j], DotScalar(x, c, kDim), 1e-4f) << p << "," << j;
      if (p < 4) {
        EXPECT_NEAR(dots4[p * kCentroids + j], dots[j], 1e-5f) << p << "," << j;
      }
    }
  }
}

TEST(KMeansTest, MoreIterationsNeverIncreaseTheObjective) {
  constexpr size_t kDim = 8, kRows = 2000;
  const std::vector<float> data = Gaussian(kRows, kDim, 5);
  KMeansOptions options;
  options.num_clusters = 16;
  double previous = std::numeric_limits<double>::infinity();
  for (size_t iterations : {0, 1, 3, 10}) {
    options.iterations = iterations;
    Result<KMeansResult> result = TrainKMeans(data.data(), kRows, kDim, options, nullptr);
    ASSERT_TRUE(result.ok()) << result.status();
    EXPECT_LE(result->objective, previous * (1 + 1e-6)) << iterations << " iterations";
    previous = result->objective;
  }
}

TEST(KMeansTest, NoClusterStaysEmptyWithRandomInit) {
  constexpr size_t kDim = 4, kRows = 500, kClusters = 60;
  const std::vector<float> data = Gaussian(kRows, kDim, 6);
  KMeansOptions options;
  options.num_clusters = kClusters;
  options.plus_plus_init = false;
  Result<KMeansResult> result = TrainKMeans(data.data(), kRows, kDim, options, nullptr);
  ASSERT_TRUE(result.ok()) << result.status();
  std::vector<uint32_t> assignment(kRows);
  AssignToNearest(data.data(), kRows, CentroidTable(result->centroids.data(), kClusters, kDim),
                  assignment.data(), nullptr, nullptr);
  std::vector<size_t> counts(kClusters);
  for (uint32_t a : assignment) ++counts[a];
  for (size_t j = 0; j < kClusters; ++j) EXPECT_GT(counts[j], 0u) << "cluster " << j;
}

TEST(KMeansTest, FewerRowsThanClustersMakesEveryRowACentroid) {
  const std::vector<float> data = {0, 0, 1, 1, 2, 2};
  KMeansOptions options;
  options.num_clusters = 5;
  Result<KMeansResult> result = TrainKMeans(data.data(), 3, 2, options, nullptr);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->centroids.size(), 10u);
  for (size_t j = 0; j < 5; ++j) {
    EXPECT_EQ(result->centroids[j * 2], static_cast<float>(j % 3));
  }
  EXPECT_EQ(result->objective, 0.0);
}

TEST(KMeansTest, SamplesLargeInputsDownToTheCap) {
  constexpr size_t kDim = 4, kRows = 5000;
  const std::vector<float> data = Gaussian(kRows, kDim, 7);
  KMeansOptions options;
  options.num_clusters = 10;
  options.max_points_per_cluster = 50;
  Result<KMeansResult> result = TrainKMeans(data.data(), kRows, kDim, options, nullptr);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->training_rows, 500u);
}

TEST(KMeansTest, ResultDoesNotDependOnTheThreadPool) {
  constexpr size_t kDim = 12, kRows = 3000;
  const std::vector<float> data = Gaussian(kRows, kDim, 8);
  KMeansOptions options;
  options.num_clusters = 20;
  options.seed = 99;
  ThreadPool pool(3);
  Result<KMeansResult> serial = TrainKMeans(data.data(), kRows, kDim, options, nullptr);
  Result<KMeansResult> parallel = TrainKMeans(data.data(), kRows, kDim, options, &pool);
  ASSERT_TRUE(serial.ok() && parallel.ok());
  EXPECT_EQ(serial->centroids, parallel->centroids);
  EXPECT_EQ(serial->iterations_run, parallel->iterations_run);
}

TEST(KMeansTest, RejectsEmptyInput) {
  const std::vector<float> data = {1, 2};
  KMeansOptions options;
  options.num_clusters = 1;
  EXPECT_EQ(TrainKMeans(data.data(), 0, 2, options, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TrainKMeans(data.data(), 1, 0, options, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.num_clusters = 0;
  EXPECT_EQ(TrainKMeans(data.data(), 1, 2, options, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ragline::index
