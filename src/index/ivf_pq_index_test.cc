#include "index/ivf_pq_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "index/distance.h"
#include "index/flat_index.h"

namespace ragline::index {
namespace {

// Sizes shrink under ASan so the whole module suite stays fast in Debug.
#ifdef __SANITIZE_ADDRESS__
constexpr size_t kRows = 3000;
constexpr size_t kDim = 32;
constexpr size_t kPqM = kDim / 4;  // 4-d sub-spaces: 8-byte codes keep recall up at this size
constexpr size_t kQueries = 40;
#else
constexpr size_t kRows = 16000;
constexpr size_t kDim = 96;
constexpr size_t kPqM = kDim / 8;  // 8-d sub-spaces, as the default for 384-d
constexpr size_t kQueries = 200;
#endif
constexpr size_t kK = 10;

// Clustered data with low intrinsic dimension, like sentence embeddings:
// a cluster center plus a point in a shared 12-d latent subspace plus noise.
std::vector<float> ClusteredData(size_t n, size_t dim, bool normalize, uint64_t seed) {
  constexpr size_t kClusters = 64, kLatent = 12;
  std::mt19937_64 rng(1234);  // the same clusters and subspace for data and queries
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::vector<float> centers(kClusters * dim), basis(kLatent * dim);
  for (float& v : centers) v = gauss(rng);
  for (float& v : basis) v = 0.36f * gauss(rng);
  rng.seed(seed);
  std::vector<float> data(n * dim);
  std::vector<float> latent(kLatent);
  for (size_t i = 0; i < n; ++i) {
    const size_t c = std::uniform_int_distribution<size_t>(0, kClusters - 1)(rng);
    for (float& z : latent) z = gauss(rng);
    float* row = &data[i * dim];
    for (size_t a = 0; a < dim; ++a) {
      float v = centers[c * dim + a] + 0.05f * gauss(rng);
      for (size_t l = 0; l < kLatent; ++l) v += latent[l] * basis[l * dim + a];
      row[a] = v;
    }
    if (normalize) NormalizeL2(row, dim);
  }
  return data;
}

// Mean fraction of the exact top-k (from FLAT) that `index` returns.
double RecallAtK(const VectorIndex& index, const VectorIndex& flat, const std::vector<float>& queries,
                 size_t dim, const SearchOptions& options) {
  const size_t nq = queries.size() / dim;
  size_t hits = 0;
  for (size_t q = 0; q < nq; ++q) {
    const std::vector<Neighbor> exact = flat.Search(&queries[q * dim], kK, {}, nullptr);
    const std::vector<Neighbor> got = index.Search(&queries[q * dim], kK, options, nullptr);
    for (const Neighbor& e : exact) {
      hits += std::count_if(got.begin(), got.end(), [&](const Neighbor& g) { return g.label == e.label; });
    }
  }
  return static_cast<double>(hits) / static_cast<double>(nq * kK);
}

IndexParams DefaultParams() {
  IndexParams params;
  params.pq_m = kPqM;
  params.nbits = 8;
  params.nprobe = 16;
  return params;
}

// One built index per metric, shared by the tests (training dominates run time).
struct Fixture {
  Metric metric;
  std::vector<float> data;
  std::vector<float> queries;
  std::unique_ptr<VectorIndex> index;
  std::unique_ptr<VectorIndex> flat;
};

const Fixture& Built(Metric metric) {
  static Fixture* fixtures[2] = {nullptr, nullptr};
  Fixture*& slot = fixtures[metric == Metric::kL2 ? 0 : 1];
  if (slot == nullptr) {
    auto* f = new Fixture;
    f->metric = metric;
    const bool normalize = metric == Metric::kInnerProduct;
    f->data = ClusteredData(kRows, kDim, normalize, 1);
    f->queries = ClusteredData(kQueries, kDim, normalize, 2);
    f->index = MakeIvfPqIndex(kDim, metric, DefaultParams());
    ThreadPool pool(2);
    Status status = f->index->Build(f->data.data(), kRows, &pool);
    EXPECT_TRUE(status.ok()) << status;
    f->flat = MakeFlatIndex(kDim, metric);
    EXPECT_TRUE(f->flat->Build(f->data.data(), kRows, nullptr).ok());
    slot = f;
  }
  return *slot;
}

TEST(IvfPqIndexTest, RecallWithRerankMatchesFlatOnClusteredDataForL2) {
  const Fixture& f = Built(Metric::kL2);
  ASSERT_EQ(f.index->size(), kRows);
  const double recall = RecallAtK(*f.index, *f.flat, f.queries, kDim, {});
  std::printf("ivf_pq L2 recall@10 = %.3f (n=%zu dim=%zu pq_m=%zu nprobe=16 rerank=40)\n", recall,
              kRows, kDim, kPqM);
  EXPECT_GE(recall, 0.9);
}

TEST(IvfPqIndexTest, RecallWithRerankMatchesFlatOnClusteredDataForInnerProduct) {
  const Fixture& f = Built(Metric::kInnerProduct);
  const double recall = RecallAtK(*f.index, *f.flat, f.queries, kDim, {});
  std::printf("ivf_pq IP recall@10 = %.3f\n", recall);
  EXPECT_GE(recall, 0.9);
}

TEST(IvfPqIndexTest, ReturnsExactDistancesClosestFirst) {
  const Fixture& f = Built(Metric::kInnerProduct);
  const float* query = &f.queries[0];
  const std::vector<Neighbor> got = f.index->Search(query, kK, {}, nullptr);
  ASSERT_EQ(got.size(), kK);
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
  for (const Neighbor& n : got) {
    EXPECT_NEAR(n.distance, -DotScalar(query, &f.data[n.label * kDim], kDim), 1e-4f);
  }
}

TEST(IvfPqIndexTest, ProbingEveryListWithWideRerankIsNearlyExact) {
  const Fixture& f = Built(Metric::kL2);
  SearchOptions options;
  options.nprobe = 1 << 20;  // clamped to nlist
  options.rerank = 200;
  EXPECT_GE(RecallAtK(*f.index, *f.flat, f.queries, kDim, options), 0.99);
}

TEST(IvfPqIndexTest, SelectiveFilterStillReturnsKHitsThatAllPass) {
  const Fixture& f = Built(Metric::kL2);
  auto admits = [](Label label) { return label % 211 == 5; };
  size_t admitted = 0;
  for (size_t i = 0; i < kRows; ++i) admitted += admits(static_cast<Label>(i));
  ASSERT_GE(admitted, kK);
  for (size_t estimate : {admitted, kRows}) {  // known, and unknown (= n)
    LabelFilter filter{admits, estimate};
    for (size_t q = 0; q < 10; ++q) {
      const float* query = &f.queries[q * kDim];
      const std::vector<Neighbor> got = f.index->Search(query, kK, {}, &filter);
      ASSERT_EQ(got.size(), kK) << "estimate " << estimate;
      for (const Neighbor& n : got) EXPECT_TRUE(admits(n.label)) << n.label;
      if (estimate == admitted) {  // the exact fallback returns the exact filtered top-k
        const std::vector<Neighbor> exact = f.flat->Search(query, kK, {}, &filter);
        ASSERT_EQ(exact.size(), kK);
        for (size_t i = 0; i < kK; ++i) EXPECT_EQ(got[i].label, exact[i].label);
      }
    }
  }
}

TEST(IvfPqIndexTest, FilterNeverLetsARejectedLabelThrough) {
  const Fixture& f = Built(Metric::kInnerProduct);
  auto admits = [](Label label) { return label % 2 == 0; };
  LabelFilter filter{admits, kRows / 2};
  for (size_t q = 0; q < 20; ++q) {
    const std::vector<Neighbor> got = f.index->Search(&f.queries[q * kDim], kK, {}, &filter);
    ASSERT_EQ(got.size(), kK);
    for (const Neighbor& n : got) EXPECT_EQ(n.label % 2, 0u);
  }
}

TEST(IvfPqIndexTest, FilterAdmittingNothingReturnsEmpty) {
  const Fixture& f = Built(Metric::kL2);
  for (size_t estimate : {size_t{0}, kRows}) {
    LabelFilter filter{[](Label) { return false; }, estimate};
    EXPECT_TRUE(f.index->Search(&f.queries[0], kK, {}, &filter).empty()) << estimate;
  }
}

TEST(IvfPqIndexTest, SerializeRoundTripGivesIdenticalResults) {
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct}) {
    const Fixture& f = Built(metric);
    std::string bytes;
    ASSERT_TRUE(f.index->Serialize(&bytes).ok());
    std::unique_ptr<VectorIndex> loaded = MakeIvfPqIndex(kDim, metric, DefaultParams());
    Status status = loaded->Deserialize(bytes, f.data.data(), kRows);
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_EQ(loaded->size(), kRows);
    EXPECT_EQ(loaded->MemoryBytes(), f.index->MemoryBytes());
    std::string again;
    ASSERT_TRUE(loaded->Serialize(&again).ok());
    EXPECT_EQ(again, bytes);
    SearchOptions narrow;
    narrow.nprobe = 2;
    narrow.rerank = 10;
    for (size_t q = 0; q < 20; ++q) {
      for (const SearchOptions& options : {SearchOptions{}, narrow}) {
        const float* query = &f.queries[q * kDim];
        const std::vector<Neighbor> a = f.index->Search(query, kK, options, nullptr);
        const std::vector<Neighbor> b = loaded->Search(query, kK, options, nullptr);
        ASSERT_EQ(a.size(), b.size());
        for (size_t i = 0; i < a.size(); ++i) {
          EXPECT_EQ(a[i].label, b[i].label);
          EXPECT_EQ(a[i].distance, b[i].distance);
        }
      }
    }
  }
}

TEST(IvfPqIndexTest, TruncatedOrDamagedBytesAreDataLoss) {
  const Fixture& f = Built(Metric::kL2);
  std::string bytes;
  ASSERT_TRUE(f.index->Serialize(&bytes).ok());
  std::unique_ptr<VectorIndex> loaded = MakeIvfPqIndex(kDim, Metric::kL2, DefaultParams());
  std::vector<size_t> cuts = {0, 1, 7, 8, 12, 40, 47, 48, 49, bytes.size() / 2, bytes.size() - 9,
                              bytes.size() - 8, bytes.size() - 1};
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20; ++i) cuts.push_back(std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(rng));
  for (size_t cut : cuts) {
    EXPECT_EQ(loaded->Deserialize(std::string_view(bytes).substr(0, cut), f.data.data(), kRows).code(),
              absl::StatusCode::kDataLoss)
        << "cut at " << cut;
  }
  for (int i = 0; i < 20; ++i) {  // single flipped bits anywhere
    std::string damaged = bytes;
    const size_t pos = std::uniform_int_distribution<size_t>(0, bytes.size() - 1)(rng);
    damaged[pos] = static_cast<char>(damaged[pos] ^ (1 << (i % 8)));
    EXPECT_EQ(loaded->Deserialize(damaged, f.data.data(), kRows).code(), absl::StatusCode::kDataLoss)
        << "flip at " << pos;
  }
  std::string garbage(bytes.size(), '\0');
  for (char& c : garbage) c = static_cast<char>(rng());
  EXPECT_EQ(loaded->Deserialize(garbage, f.data.data(), kRows).code(), absl::StatusCode::kDataLoss);
  std::string extended = bytes + "x";
  EXPECT_EQ(loaded->Deserialize(extended, f.data.data(), kRows).code(), absl::StatusCode::kDataLoss);
  // Bytes from another row count or metric are rejected, not misread.
  EXPECT_EQ(loaded->Deserialize(bytes, f.data.data(), kRows - 1).code(), absl::StatusCode::kDataLoss);
  std::unique_ptr<VectorIndex> other = MakeIvfPqIndex(kDim, Metric::kInnerProduct, DefaultParams());
  EXPECT_EQ(other->Deserialize(bytes, f.data.data(), kRows).code(), absl::StatusCode::kDataLoss);
  // A failed load leaves the index empty rather than half-loaded.
  EXPECT_EQ(loaded->size(), 0u);
  EXPECT_TRUE(loaded->Search(&f.queries[0], kK, {}, nullptr).empty());
}

TEST(IvfPqIndexTest, PqMNotDividingDimIsInvalidArgument) {
  const std::vector<float> data(10 * 12, 1.0f);
  IndexParams params;
  params.pq_m = 5;
  EXPECT_EQ(MakeIvfPqIndex(12, Metric::kL2, params)->Build(data.data(), 10, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  params.pq_m = 4;
  params.nbits = 9;
  EXPECT_EQ(MakeIvfPqIndex(12, Metric::kL2, params)->Build(data.data(), 10, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeIvfPqIndex(0, Metric::kL2, IndexParams{})->Build(data.data(), 10, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeIvfPqIndex(12, Metric::kL2, IndexParams{})->Build(nullptr, 10, nullptr).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(IvfPqIndexTest, NonFiniteRowsAreInvalidArgument) {
  std::vector<float> data(50 * 8, 0.5f);
  data[17 * 8 + 3] = std::nanf("");
  const Status status = MakeIvfPqIndex(8, Metric::kL2, IndexParams{})->Build(data.data(), 50, nullptr);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
}

TEST(IvfPqIndexTest, FewerRowsThanListsStillFindsEveryRow) {
  constexpr size_t kSmallDim = 16, kSmallRows = 7;
  const std::vector<float> data = ClusteredData(kSmallRows, kSmallDim, false, 3);
  IndexParams params;
  params.nlist = 100;  // clamped to n
  params.nprobe = 1;
  std::unique_ptr<VectorIndex> index = MakeIvfPqIndex(kSmallDim, Metric::kL2, params);
  ASSERT_TRUE(index->Build(data.data(), kSmallRows, nullptr).ok());
  std::unique_ptr<VectorIndex> flat = MakeFlatIndex(kSmallDim, Metric::kL2);
  ASSERT_TRUE(flat->Build(data.data(), kSmallRows, nullptr).ok());
  // k > n: every row comes back, in exact order (lists are walked outwards
  // until k candidates are found, then re-ranked exactly).
  const std::vector<Neighbor> got = index->Search(&data[0], 20, {}, nullptr);
  const std::vector<Neighbor> exact = flat->Search(&data[0], 20, {}, nullptr);
  ASSERT_EQ(got.size(), kSmallRows);
  for (size_t i = 0; i < kSmallRows; ++i) EXPECT_EQ(got[i].label, exact[i].label);
  EXPECT_EQ(got[0].label, 0u);
}

TEST(IvfPqIndexTest, EmptyAndSingleRowIndexesWork) {
  constexpr size_t kSmallDim = 8;
  const std::vector<float> row = {1, 2, 3, 4, 5, 6, 7, 8};
  std::unique_ptr<VectorIndex> empty = MakeIvfPqIndex(kSmallDim, Metric::kL2, IndexParams{});
  ASSERT_TRUE(empty->Build(nullptr, 0, nullptr).ok());
  EXPECT_EQ(empty->size(), 0u);
  EXPECT_TRUE(empty->Search(row.data(), 5, {}, nullptr).empty());
  std::string bytes;
  ASSERT_TRUE(empty->Serialize(&bytes).ok());
  std::unique_ptr<VectorIndex> loaded = MakeIvfPqIndex(kSmallDim, Metric::kL2, IndexParams{});
  ASSERT_TRUE(loaded->Deserialize(bytes, nullptr, 0).ok());
  EXPECT_TRUE(loaded->Search(row.data(), 5, {}, nullptr).empty());

  std::unique_ptr<VectorIndex> single = MakeIvfPqIndex(kSmallDim, Metric::kInnerProduct, IndexParams{});
  ASSERT_TRUE(single->Build(row.data(), 1, nullptr).ok());
  const std::vector<Neighbor> got = single->Search(row.data(), 5, {}, nullptr);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].label, 0u);
  EXPECT_FLOAT_EQ(got[0].distance, -DotScalar(row.data(), row.data(), kSmallDim));
  EXPECT_TRUE(single->Search(row.data(), 0, {}, nullptr).empty());
}

TEST(IvfPqIndexTest, BuildIsReproducibleWithOrWithoutAThreadPool) {
  constexpr size_t kRowsHere = 2000, kDimHere = 32;
  const std::vector<float> data = ClusteredData(kRowsHere, kDimHere, false, 4);
  IndexParams params;
  params.nbits = 6;
  std::unique_ptr<VectorIndex> serial = MakeIvfPqIndex(kDimHere, Metric::kL2, params);
  std::unique_ptr<VectorIndex> parallel = MakeIvfPqIndex(kDimHere, Metric::kL2, params);
  ThreadPool pool(3);
  ASSERT_TRUE(serial->Build(data.data(), kRowsHere, nullptr).ok());
  ASSERT_TRUE(parallel->Build(data.data(), kRowsHere, &pool).ok());
  std::string a, b;
  ASSERT_TRUE(serial->Serialize(&a).ok());
  ASSERT_TRUE(parallel->Serialize(&b).ok());
  EXPECT_EQ(a, b);
}

TEST(IvfPqIndexTest, FourBitCodesRoundTripAndStillRecall) {
  constexpr size_t kRowsHere = 3000, kDimHere = 32;
  const std::vector<float> data = ClusteredData(kRowsHere, kDimHere, false, 5);
  const std::vector<float> queries = ClusteredData(30, kDimHere, false, 6);
  IndexParams params;
  params.nbits = 4;
  params.pq_m = 16;
  std::unique_ptr<VectorIndex> index = MakeIvfPqIndex(kDimHere, Metric::kL2, params);
  ASSERT_TRUE(index->Build(data.data(), kRowsHere, nullptr).ok());
  std::unique_ptr<VectorIndex> flat = MakeFlatIndex(kDimHere, Metric::kL2);
  ASSERT_TRUE(flat->Build(data.data(), kRowsHere, nullptr).ok());
  SearchOptions options;
  options.rerank = 100;
  EXPECT_GE(RecallAtK(*index, *flat, queries, kDimHere, options), 0.9);
  std::string bytes;
  ASSERT_TRUE(index->Serialize(&bytes).ok());
  std::unique_ptr<VectorIndex> loaded = MakeIvfPqIndex(kDimHere, Metric::kL2, params);
  ASSERT_TRUE(loaded->Deserialize(bytes, data.data(), kRowsHere).ok());
}

// 384-d, pq_m = 48 (the default for 384), nbits = 8: 48 code bytes + a 4-byte
// label per row, plus fixed-size centroids and codebooks.
TEST(IvfPqIndexTest, CodesAndLabelsTakeAtMost64BytesPerVectorAt384Dims) {
  constexpr size_t kDim384 = 384;
#ifdef __SANITIZE_ADDRESS__
  constexpr size_t kRowsHere = 600;
#else
  constexpr size_t kRowsHere = 3000;
#endif
  const std::vector<float> data = ClusteredData(kRowsHere, kDim384, true, 8);
  IndexParams params;  // pq_m = 0 → 48
  std::unique_ptr<VectorIndex> index = MakeIvfPqIndex(kDim384, Metric::kInnerProduct, params);
  ThreadPool pool(2);
  ASSERT_TRUE(index->Build(data.data(), kRowsHere, &pool).ok());
  const size_t nlist = static_cast<size_t>(std::lround(std::sqrt(double{kRowsHere})));
  // Centroids twice (rows + transposed table), codebooks once (as tables), norms.
  const size_t fixed = 2 * nlist * kDim384 * sizeof(float) + nlist * sizeof(float) +
                       256 * kDim384 * sizeof(float) + 48 * 256 * sizeof(float);
  ASSERT_GT(index->MemoryBytes(), fixed);
  const double per_vector = static_cast<double>(index->MemoryBytes() - fixed) / kRowsHere;
  std::printf("ivf_pq 384-d: %.1f bytes/vector for codes + labels (+ %zu fixed bytes)\n", per_vector,
              fixed);
  EXPECT_LE(per_vector, 64.0);
  EXPECT_GE(per_vector, 52.0);
}

}  // namespace
}  // namespace ragline::index
