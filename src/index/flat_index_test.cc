#include "index/flat_index.h"

#include <algorithm>
#include <numeric>

#include "gtest/gtest.h"
#include "index/distance.h"
#include "index/test_data.h"

namespace ragline::index {
namespace {

std::vector<Neighbor> BruteForce(const std::vector<float>& data, size_t dim, Metric metric,
                                 const float* query, size_t k) {
  std::vector<Neighbor> all;
  for (size_t i = 0; i < data.size() / dim; ++i) {
    all.push_back({Distance(metric, query, &data[i * dim], dim), static_cast<Label>(i)});
  }
  std::sort(all.begin(), all.end());
  all.resize(std::min(k, all.size()));
  return all;
}

TEST(FlatIndexTest, ReturnsTheExactTopKClosestFirst) {
  constexpr size_t kDim = 17, kN = 500;
  auto data = testing::ClusteredVectors(kN, kDim, 1);
  auto queries = testing::ClusteredVectors(20, kDim, 2);
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    auto index = MakeFlatIndex(kDim, metric);
    ASSERT_TRUE(index->Build(data.data(), kN, nullptr).ok());
    EXPECT_EQ(index->size(), kN);
    EXPECT_EQ(index->kind(), IndexKind::kFlat);
    for (size_t q = 0; q < 20; ++q) {
      const float* query = &queries[q * kDim];
      auto got = index->Search(query, 10, {}, nullptr);
      auto want = BruteForce(data, kDim, metric, query, 10);
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].label, want[i].label);
        EXPECT_FLOAT_EQ(got[i].distance, want[i].distance);
      }
    }
  }
}

TEST(FlatIndexTest, ReturnsOnlyRowsTheFilterAdmits) {
  constexpr size_t kDim = 8, kN = 1000;
  auto data = testing::ClusteredVectors(kN, kDim, 3);
  auto index = MakeFlatIndex(kDim, Metric::kL2);
  ASSERT_TRUE(index->Build(data.data(), kN, nullptr).ok());
  LabelFilter every_tenth{[](Label l) { return l % 10 == 3; }, kN / 10};
  auto got = index->Search(&data[0], 25, {}, &every_tenth);
  ASSERT_EQ(got.size(), 25u);
  for (const Neighbor& nb : got) EXPECT_EQ(nb.label % 10, 3u);
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));

  LabelFilter nothing{[](Label) { return false; }, 0};
  EXPECT_TRUE(index->Search(&data[0], 5, {}, &nothing).empty());
}

TEST(FlatIndexTest, ReturnsAllRowsWhenKExceedsN) {
  auto data = testing::ClusteredVectors(7, 4, 4);
  auto index = MakeFlatIndex(4, Metric::kL2);
  ASSERT_TRUE(index->Build(data.data(), 7, nullptr).ok());
  auto got = index->Search(&data[0], 100, {}, nullptr);
  ASSERT_EQ(got.size(), 7u);
  EXPECT_EQ(got[0].label, 0u);
  EXPECT_TRUE(index->Search(&data[0], 0, {}, nullptr).empty());
}

TEST(FlatIndexTest, EmptyIndexReturnsNothing) {
  auto index = MakeFlatIndex(4, Metric::kL2);
  ASSERT_TRUE(index->Build(nullptr, 0, nullptr).ok());
  float query[4] = {1, 2, 3, 4};
  EXPECT_TRUE(index->Search(query, 3, {}, nullptr).empty());
}

TEST(FlatIndexTest, SerializeRoundTripGivesIdenticalResults) {
  constexpr size_t kDim = 12, kN = 300;
  auto data = testing::ClusteredVectors(kN, kDim, 5);
  auto index = MakeFlatIndex(kDim, Metric::kInnerProduct);
  ASSERT_TRUE(index->Build(data.data(), kN, nullptr).ok());
  std::string bytes;
  ASSERT_TRUE(index->Serialize(&bytes).ok());
  auto loaded = MakeFlatIndex(kDim, Metric::kInnerProduct);
  ASSERT_TRUE(loaded->Deserialize(bytes, data.data(), kN).ok());
  auto a = index->Search(&data[5 * kDim], 10, {}, nullptr);
  auto b = loaded->Search(&data[5 * kDim], 10, {}, nullptr);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].label, b[i].label);
  EXPECT_GT(loaded->MemoryBytes(), 0u);
}

TEST(FlatIndexTest, DeserializeRejectsMismatchedOrDamagedBytesWithDataLoss) {
  auto data = testing::ClusteredVectors(10, 6, 6);
  auto index = MakeFlatIndex(6, Metric::kL2);
  ASSERT_TRUE(index->Build(data.data(), 10, nullptr).ok());
  std::string bytes;
  ASSERT_TRUE(index->Serialize(&bytes).ok());

  for (size_t len = 0; len < bytes.size(); ++len) {
    auto loaded = MakeFlatIndex(6, Metric::kL2);
    EXPECT_EQ(loaded->Deserialize(bytes.substr(0, len), data.data(), 10).code(),
              absl::StatusCode::kDataLoss)
        << "truncated to " << len;
  }
  EXPECT_EQ(MakeFlatIndex(7, Metric::kL2)->Deserialize(bytes, data.data(), 10).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(MakeFlatIndex(6, Metric::kInnerProduct)->Deserialize(bytes, data.data(), 10).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(MakeFlatIndex(6, Metric::kL2)->Deserialize(bytes, data.data(), 9).code(),
            absl::StatusCode::kDataLoss);
  std::string garbage(bytes.size(), 'x');
  EXPECT_EQ(MakeFlatIndex(6, Metric::kL2)->Deserialize(garbage, data.data(), 10).code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace ragline::index
