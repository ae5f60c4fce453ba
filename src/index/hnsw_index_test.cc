#include "index/hnsw_index.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

#include "core/thread_pool.h"
#include "gtest/gtest.h"
#include "index/flat_index.h"
#include "index/test_data.h"

namespace ragline::index {
namespace {

#if defined(__SANITIZE_ADDRESS__)
// Sanitised Debug builds run ~30x slower; keep the module's suite under a minute.
constexpr size_t kRecallRows = 1500;
constexpr size_t kSmallRows = 600;
#else
constexpr size_t kRecallRows = 10000;
constexpr size_t kSmallRows = 2000;
#endif
constexpr size_t kDim = 48;
constexpr size_t kQueries = 100;

using Results = std::vector<std::vector<Neighbor>>;

Results SearchAll(const VectorIndex& index, const std::vector<float>& queries, size_t dim,
                  size_t k, const SearchOptions& options = {},
                  const LabelFilter* filter = nullptr) {
  Results out;
  for (size_t q = 0; q < queries.size() / dim; ++q) {
    out.push_back(index.Search(&queries[q * dim], k, options, filter));
  }
  return out;
}

IndexParams Params(uint32_t m = 16, uint32_t ef_construction = 100, uint32_t ef_search = 64) {
  IndexParams p;
  p.m = m;
  p.ef_construction = ef_construction;
  p.ef_search = ef_search;
  return p;
}

struct Fixture {
  std::vector<float> data, queries;
  std::unique_ptr<VectorIndex> flat, hnsw;
};

Fixture BuildBoth(size_t n, size_t dim, Metric metric, bool normalize, ThreadPool* pool = nullptr,
                  const IndexParams& params = Params()) {
  Fixture f;
  // Queries are held-out rows of the same distribution, as in real use.
  f.data = testing::ClusteredVectors(n + kQueries, dim, 11, normalize);
  f.queries.assign(f.data.begin() + n * dim, f.data.end());
  f.data.resize(n * dim);
  f.flat = MakeFlatIndex(dim, metric);
  EXPECT_TRUE(f.flat->Build(f.data.data(), n, nullptr).ok());
  f.hnsw = MakeHnswIndex(dim, metric, params);
  EXPECT_TRUE(f.hnsw->Build(f.data.data(), n, pool).ok());
  return f;
}

TEST(HnswIndexTest, FindsExactNeighboursAtHighEf) {
  Fixture f = BuildBoth(kSmallRows, kDim, Metric::kL2, false);
  SearchOptions high_ef;
  high_ef.ef_search = 400;
  double recall =
      testing::RecallAt(SearchAll(*f.hnsw, f.queries, kDim, 10, high_ef), SearchAll(*f.flat, f.queries, kDim, 10));
  EXPECT_GE(recall, 0.995);
}

TEST(HnswIndexTest, ReachesRecall95AgainstFlatForL2AtEf64) {
  Fixture f = BuildBoth(kRecallRows, kDim, Metric::kL2, false);
  auto exact = SearchAll(*f.flat, f.queries, kDim, 10);
  auto approx = SearchAll(*f.hnsw, f.queries, kDim, 10);
  EXPECT_GE(testing::RecallAt(approx, exact), 0.95);
  // Distances are exact (re-ranked over the caller's rows), not quantised.
  for (size_t q = 0; q < approx.size(); ++q) {
    for (const Neighbor& nb : approx[q]) {
      EXPECT_FLOAT_EQ(nb.distance, Distance(Metric::kL2, &f.queries[q * kDim],
                                            &f.data[nb.label * kDim], kDim));
    }
    EXPECT_TRUE(std::is_sorted(approx[q].begin(), approx[q].end()));
  }
}

TEST(HnswIndexTest, ReachesRecall95AgainstFlatForInnerProductAtEf64) {
  for (bool normalize : {true, false}) {
    Fixture f = BuildBoth(kRecallRows, kDim, Metric::kInnerProduct, normalize);
    double recall = testing::RecallAt(SearchAll(*f.hnsw, f.queries, kDim, 10),
                                      SearchAll(*f.flat, f.queries, kDim, 10));
    EXPECT_GE(recall, 0.95) << "normalize=" << normalize;
  }
}

// Re-selecting full neighbour lists can drop every link to a node; the
// build links such nodes back in, so a search wide enough finds every row
// (before, 0.05-0.4% of the rows of sets like these were found at no ef).
TEST(HnswIndexTest, EveryRowIsReachable) {
  ThreadPool pool(4);
  size_t unreachable = 0, rows = 0;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
      const size_t n = kSmallRows, dim = 16;
      // Uniform directions: no cluster structure to keep the graph together.
      std::mt19937_64 rng(seed);
      std::normal_distribution<float> gauss;
      std::vector<float> data(n * dim);
      for (size_t i = 0; i < n; ++i) {
        float sq = 0;
        for (size_t d = 0; d < dim; ++d) sq += (data[i * dim + d] = gauss(rng)) * data[i * dim + d];
        for (size_t d = 0; d < dim; ++d) data[i * dim + d] /= std::sqrt(sq);
      }
      auto hnsw = MakeHnswIndex(dim, metric, Params(16, 200, 64));
      // Built on a third, grown by the rest (as compaction merges segments).
      ASSERT_TRUE(hnsw->Build(data.data(), n / 3, &pool).ok());
      ASSERT_TRUE(hnsw->Extend(data.data(), n, &pool).ok());
      SearchOptions wide;
      wide.ef_search = static_cast<uint32_t>(n);
      for (size_t i = 0; i < n; ++i) {
        auto hits = hnsw->Search(&data[i * dim], 1, wide, nullptr);
        ++rows;
        if (hits.empty() || hits[0].label != i) ++unreachable;
      }
    }
  }
  EXPECT_EQ(unreachable, 0u) << "of " << rows << " rows";
}

TEST(HnswIndexTest, HigherEfSearchDoesNotLowerRecall) {
  Fixture f = BuildBoth(kRecallRows, kDim, Metric::kL2, false, nullptr, Params(8, 40, 10));
  auto exact = SearchAll(*f.flat, f.queries, kDim, 10);
  SearchOptions low, high;
  low.ef_search = 10;
  high.ef_search = 200;
  double low_recall = testing::RecallAt(SearchAll(*f.hnsw, f.queries, kDim, 10, low), exact);
  double high_recall = testing::RecallAt(SearchAll(*f.hnsw, f.queries, kDim, 10, high), exact);
  EXPECT_GE(high_recall, low_recall);
  EXPECT_GE(high_recall, 0.97);
}

TEST(HnswIndexTest, SelectiveFilterStillReturnsKHitsThatAllPass) {
  Fixture f = BuildBoth(kRecallRows, kDim, Metric::kL2, false);
  const size_t n = kRecallRows;
  LabelFilter one_percent{[](Label l) { return l % 100 == 7; }, n / 100};
  auto exact = SearchAll(*f.flat, f.queries, kDim, 10, {}, &one_percent);
  auto approx = SearchAll(*f.hnsw, f.queries, kDim, 10, {}, &one_percent);
  for (const auto& hits : approx) {
    ASSERT_EQ(hits.size(), 10u);
    for (const Neighbor& nb : hits) EXPECT_EQ(nb.label % 100, 7u);
  }
  EXPECT_GE(testing::RecallAt(approx, exact), 0.99);

  // An estimate that says "unknown" (n) forces the walk; it still has to
  // deliver k admitted hits.
  LabelFilter unknown_estimate{one_percent.admits, n};
  for (const auto& hits : SearchAll(*f.hnsw, f.queries, kDim, 10, {}, &unknown_estimate)) {
    ASSERT_EQ(hits.size(), 10u);
    for (const Neighbor& nb : hits) EXPECT_EQ(nb.label % 100, 7u);
  }
}

TEST(HnswIndexTest, HalfAdmittingFilterIsAppliedInsideTheWalk) {
  Fixture f = BuildBoth(kRecallRows, kDim, Metric::kL2, false);
  LabelFilter even{[](Label l) { return l % 2 == 0; }, kRecallRows / 2};
  auto exact = SearchAll(*f.flat, f.queries, kDim, 10, {}, &even);
  auto approx = SearchAll(*f.hnsw, f.queries, kDim, 10, {}, &even);
  for (const auto& hits : approx) {
    ASSERT_EQ(hits.size(), 10u);
    for (const Neighbor& nb : hits) EXPECT_EQ(nb.label % 2, 0u);
  }
  EXPECT_GE(testing::RecallAt(approx, exact), 0.95);
}

TEST(HnswIndexTest, FilterAdmittingNothingReturnsEmpty) {
  Fixture f = BuildBoth(kSmallRows, kDim, Metric::kL2, false);
  for (size_t estimate : {size_t{0}, kSmallRows}) {
    LabelFilter nothing{[](Label) { return false; }, estimate};
    EXPECT_TRUE(f.hnsw->Search(&f.queries[0], 10, {}, &nothing).empty()) << estimate;
  }
}

TEST(HnswIndexTest, ReturnsEveryRowWhenKExceedsN) {
  Fixture f = BuildBoth(50, kDim, Metric::kL2, false);
  auto hits = f.hnsw->Search(&f.queries[0], 80, {}, nullptr);
  ASSERT_EQ(hits.size(), 50u);
  std::vector<Label> labels;
  for (const Neighbor& nb : hits) labels.push_back(nb.label);
  std::sort(labels.begin(), labels.end());
  for (size_t i = 0; i < 50; ++i) EXPECT_EQ(labels[i], i);
  EXPECT_TRUE(f.hnsw->Search(&f.queries[0], 0, {}, nullptr).empty());
}

TEST(HnswIndexTest, HandlesEmptyAndSingleRowIndexes) {
  auto empty = MakeHnswIndex(4, Metric::kL2, Params());
  ASSERT_TRUE(empty->Build(nullptr, 0, nullptr).ok());
  float query[4] = {0.5f, 0.25f, 0.0f, 1.0f};
  EXPECT_TRUE(empty->Search(query, 5, {}, nullptr).empty());
  std::string bytes;
  ASSERT_TRUE(empty->Serialize(&bytes).ok());
  auto empty_loaded = MakeHnswIndex(4, Metric::kL2, Params());
  ASSERT_TRUE(empty_loaded->Deserialize(bytes, nullptr, 0).ok());
  EXPECT_TRUE(empty_loaded->Search(query, 5, {}, nullptr).empty());

  float row[4] = {1.0f, 2.0f, 3.0f, 4.0f};
  auto single = MakeHnswIndex(4, Metric::kInnerProduct, Params());
  ASSERT_TRUE(single->Build(row, 1, nullptr).ok());
  auto hits = single->Search(query, 5, {}, nullptr);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].label, 0u);
  EXPECT_FLOAT_EQ(hits[0].distance, -(0.5f + 0.5f + 0.0f + 4.0f));
}

TEST(HnswIndexTest, BuildsOverIdenticalRows) {
  std::vector<float> same(300 * 8, 0.25f);
  auto index = MakeHnswIndex(8, Metric::kL2, Params(4, 20, 16));
  ASSERT_TRUE(index->Build(same.data(), 300, nullptr).ok());
  auto hits = index->Search(same.data(), 10, {}, nullptr);
  ASSERT_EQ(hits.size(), 10u);
  for (const Neighbor& nb : hits) EXPECT_EQ(nb.distance, 0.0f);
}

TEST(HnswIndexTest, SerialBuildIsDeterministicForASeed) {
  auto data = testing::ClusteredVectors(kSmallRows, kDim, 21);
  auto a = MakeHnswIndex(kDim, Metric::kL2, Params());
  auto b = MakeHnswIndex(kDim, Metric::kL2, Params());
  ASSERT_TRUE(a->Build(data.data(), kSmallRows, nullptr).ok());
  ASSERT_TRUE(b->Build(data.data(), kSmallRows, nullptr).ok());
  std::string bytes_a, bytes_b;
  ASSERT_TRUE(a->Serialize(&bytes_a).ok());
  ASSERT_TRUE(b->Serialize(&bytes_b).ok());
  EXPECT_EQ(bytes_a, bytes_b);
}

TEST(HnswIndexTest, ParallelBuildReachesSerialRecall) {
  ThreadPool pool(3);
  Fixture serial = BuildBoth(kRecallRows, kDim, Metric::kL2, false);
  Fixture parallel = BuildBoth(kRecallRows, kDim, Metric::kL2, false, &pool);
  auto exact = SearchAll(*serial.flat, serial.queries, kDim, 10);
  double serial_recall = testing::RecallAt(SearchAll(*serial.hnsw, serial.queries, kDim, 10), exact);
  double parallel_recall =
      testing::RecallAt(SearchAll(*parallel.hnsw, parallel.queries, kDim, 10), exact);
  EXPECT_GE(parallel_recall, 0.95);
  EXPECT_GE(parallel_recall, serial_recall - 0.02);
}

TEST(HnswIndexTest, ConcurrentSearchesMatchSerialSearches) {
  Fixture f = BuildBoth(kSmallRows, kDim, Metric::kInnerProduct, true);
  auto expected = SearchAll(*f.hnsw, f.queries, kDim, 10);
  std::vector<Results> got(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < got.size(); ++t) {
    threads.emplace_back([&, t] { got[t] = SearchAll(*f.hnsw, f.queries, kDim, 10); });
  }
  for (auto& th : threads) th.join();
  for (const Results& r : got) {
    ASSERT_EQ(r.size(), expected.size());
    for (size_t q = 0; q < r.size(); ++q) {
      ASSERT_EQ(r[q].size(), expected[q].size());
      for (size_t i = 0; i < r[q].size(); ++i) EXPECT_EQ(r[q][i].label, expected[q][i].label);
    }
  }
}

TEST(HnswIndexTest, SerializeRoundTripGivesIdenticalResults) {
  Fixture f = BuildBoth(kSmallRows, kDim, Metric::kL2, false);
  std::string bytes;
  ASSERT_TRUE(f.hnsw->Serialize(&bytes).ok());
  auto loaded = MakeHnswIndex(kDim, Metric::kL2, Params());
  ASSERT_TRUE(loaded->Deserialize(bytes, f.data.data(), kSmallRows).ok());
  EXPECT_EQ(loaded->size(), kSmallRows);
  EXPECT_EQ(loaded->MemoryBytes(), f.hnsw->MemoryBytes());
  auto before = SearchAll(*f.hnsw, f.queries, kDim, 10);
  auto after = SearchAll(*loaded, f.queries, kDim, 10);
  for (size_t q = 0; q < before.size(); ++q) {
    ASSERT_EQ(before[q].size(), after[q].size());
    for (size_t i = 0; i < before[q].size(); ++i) {
      EXPECT_EQ(before[q][i].label, after[q][i].label);
      EXPECT_EQ(before[q][i].distance, after[q][i].distance);
    }
  }
  std::string again;
  ASSERT_TRUE(loaded->Serialize(&again).ok());
  EXPECT_EQ(again, bytes);
}

// Compaction grows the largest segment's graph: load it over a new buffer
// that starts with its rows, then insert the rest. The extra rows come from a
// wider range than the first ones, so the codes must be re-quantised.
TEST(HnswIndexTest, ExtendedIndexOverMovedRowsReachesBuildRecall) {
  ThreadPool pool(1);
  const size_t first = kRecallRows * 3 / 10;
  auto data = testing::ClusteredVectors(kRecallRows + kQueries, kDim, 13);
  for (size_t i = first * kDim; i < data.size(); ++i) data[i] *= 2.0f;
  std::vector<float> queries(data.begin() + kRecallRows * kDim, data.end());
  data.resize(kRecallRows * kDim);

  std::vector<float> head(data.begin(), data.begin() + first * kDim);
  auto small = MakeHnswIndex(kDim, Metric::kL2, Params());
  ASSERT_TRUE(small->Build(head.data(), first, &pool).ok());
  std::string bytes;
  ASSERT_TRUE(small->Serialize(&bytes).ok());
  head.assign(head.size(), 0.0f);  // the old rows are gone; only `data` is valid now

  auto grown = MakeHnswIndex(kDim, Metric::kL2, Params());
  ASSERT_TRUE(grown->Deserialize(bytes, data.data(), first).ok());
  ASSERT_TRUE(grown->Extend(data.data(), kRecallRows, &pool).ok());
  EXPECT_EQ(grown->size(), kRecallRows);
  auto flat = MakeFlatIndex(kDim, Metric::kL2);
  ASSERT_TRUE(flat->Build(data.data(), kRecallRows, nullptr).ok());
  auto exact = SearchAll(*flat, queries, kDim, 10);
  auto approx = SearchAll(*grown, queries, kDim, 10);
  EXPECT_GE(testing::RecallAt(approx, exact), 0.95);
  // Old rows stay reachable: each finds itself.
  for (size_t row : {size_t{0}, first / 2, first - 1, first, kRecallRows - 1}) {
    auto hits = grown->Search(&data[row * kDim], 1, {}, nullptr);
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].label, row);
  }
  // And it serialises like any other index.
  std::string again;
  ASSERT_TRUE(grown->Serialize(&again).ok());
  auto reloaded = MakeHnswIndex(kDim, Metric::kL2, Params());
  ASSERT_TRUE(reloaded->Deserialize(again, data.data(), kRecallRows).ok());
  EXPECT_EQ(SearchAll(*reloaded, queries, kDim, 10).size(), approx.size());
}

TEST(HnswIndexTest, ExtendByNothingOrFromEmptyMatchesBuild) {
  auto data = testing::ClusteredVectors(kSmallRows, kDim, 17);
  auto built = MakeHnswIndex(kDim, Metric::kL2, Params());
  ASSERT_TRUE(built->Build(data.data(), kSmallRows, nullptr).ok());
  auto from_empty = MakeHnswIndex(kDim, Metric::kL2, Params());
  ASSERT_TRUE(from_empty->Extend(data.data(), kSmallRows, nullptr).ok());
  std::string a, b;
  ASSERT_TRUE(built->Serialize(&a).ok());
  ASSERT_TRUE(from_empty->Serialize(&b).ok());
  EXPECT_EQ(a, b);
  ASSERT_TRUE(built->Extend(data.data(), kSmallRows, nullptr).ok());
  std::string c;
  ASSERT_TRUE(built->Serialize(&c).ok());
  EXPECT_EQ(a, c);
}

TEST(HnswIndexTest, ExtendRejectsShrinkingAndOtherKindsSayTheyCannotGrow) {
  auto data = testing::ClusteredVectors(kSmallRows, kDim, 19);
  auto hnsw = MakeHnswIndex(kDim, Metric::kL2, Params());
  ASSERT_TRUE(hnsw->Build(data.data(), kSmallRows, nullptr).ok());
  EXPECT_EQ(hnsw->Extend(data.data(), kSmallRows - 1, nullptr).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(hnsw->size(), 0u);  // left empty, as documented
  auto flat = MakeFlatIndex(kDim, Metric::kL2);
  ASSERT_TRUE(flat->Build(data.data(), kSmallRows / 2, nullptr).ok());
  EXPECT_EQ(flat->Extend(data.data(), kSmallRows, nullptr).code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(flat->size(), kSmallRows / 2);
}

constexpr size_t kN = 60, kSmallDim = 8;

TEST(HnswIndexTest, DeserializeRejectsTruncatedOrDamagedBytesWithDataLoss) {
  auto data = testing::ClusteredVectors(kN, kSmallDim, 31);
  auto index = MakeHnswIndex(kSmallDim, Metric::kL2, Params(4, 20, 16));
  ASSERT_TRUE(index->Build(data.data(), kN, nullptr).ok());
  std::string bytes;
  ASSERT_TRUE(index->Serialize(&bytes).ok());

  auto load = [&](std::string_view b, size_t dim = kSmallDim, size_t n = kN,
                  Metric metric = Metric::kL2) {
    return MakeHnswIndex(dim, metric, Params(4, 20, 16))->Deserialize(b, data.data(), n).code();
  };
  for (size_t len = 0; len < bytes.size(); ++len) {
    ASSERT_EQ(load(std::string_view(bytes).substr(0, len)), absl::StatusCode::kDataLoss) << len;
  }
  for (size_t pos = 0; pos < bytes.size(); pos += 7) {
    std::string flipped = bytes;
    flipped[pos] = static_cast<char>(flipped[pos] ^ 0x5A);
    ASSERT_EQ(load(flipped), absl::StatusCode::kDataLoss) << pos;
  }
  EXPECT_EQ(load(std::string(bytes.size(), '\x7f')), absl::StatusCode::kDataLoss);
  EXPECT_EQ(load(bytes + "x"), absl::StatusCode::kDataLoss);
  EXPECT_EQ(load(bytes, kSmallDim + 1), absl::StatusCode::kDataLoss);
  EXPECT_EQ(load(bytes, kSmallDim, kN - 1), absl::StatusCode::kDataLoss);
  EXPECT_EQ(load(bytes, kSmallDim, kN, Metric::kInnerProduct), absl::StatusCode::kDataLoss);

  // A failed load leaves a usable (empty) index rather than a half-built one.
  auto target = MakeHnswIndex(kSmallDim, Metric::kL2, Params(4, 20, 16));
  EXPECT_FALSE(target->Deserialize(bytes.substr(0, bytes.size() / 2), data.data(), kN).ok());
  EXPECT_TRUE(target->Search(data.data(), 3, {}, nullptr).empty());
}

TEST(HnswIndexTest, MemoryBytesCountsTheCompactVectorCopyAndGraph) {
  Fixture f = BuildBoth(kSmallRows, kDim, Metric::kL2, false);
  // int8 codes (dim bytes, padded) + at least the level-0 link arrays.
  EXPECT_GE(f.hnsw->MemoryBytes(), kSmallRows * (kDim + (1 + 32) * sizeof(uint32_t)));
  EXPECT_LT(f.hnsw->MemoryBytes(), kSmallRows * kDim * sizeof(float) * 3);
}

}  // namespace
}  // namespace ragline::index
