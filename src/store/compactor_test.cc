#include "store/compactor.h"

#include <gtest/gtest.h>

#include <random>

#include "core/strings.h"
#include "core/temp_dir_for_test.h"
#include "store/fault_injection_env.h"

namespace ragline::store {
namespace {

using namespace std::chrono_literals;

CollectionStats WithSegments(std::vector<std::pair<size_t, size_t>> sealed_rows_and_dead) {
  CollectionStats stats;
  uint64_t id = 1;
  for (const auto& [rows, dead] : sealed_rows_and_dead) stats.segments.push_back({id++, rows, dead, true, 0});
  stats.segments.push_back({id, 500, 400, false, 0});  // the growing segment never counts
  return stats;
}

TEST(CompactorTest, CompactsOnSegmentCountOrDeadFraction) {
  CompactorOptions o;  // 4 segments, 20 % dead
  EXPECT_FALSE(NeedsCompaction(WithSegments({}), o));
  EXPECT_FALSE(NeedsCompaction(WithSegments({{100, 0}, {100, 0}, {100, 0}}), o));
  EXPECT_TRUE(NeedsCompaction(WithSegments({{100, 0}, {100, 0}, {100, 0}, {100, 0}}), o));
  EXPECT_FALSE(NeedsCompaction(WithSegments({{1000, 199}}), o));
  EXPECT_TRUE(NeedsCompaction(WithSegments({{1000, 200}}), o));
  EXPECT_TRUE(NeedsCompaction(WithSegments({{500, 150}, {500, 50}}), o));
  EXPECT_TRUE(o.enabled());
  o.min_segments = 0;
  o.max_dead_fraction = 0;
  EXPECT_FALSE(o.enabled());
  EXPECT_FALSE(NeedsCompaction(WithSegments({{100, 90}, {100, 0}, {100, 0}, {100, 0}, {100, 0}}), o));
  o.min_segments = 1;  // one segment alone is nothing to merge
  EXPECT_FALSE(NeedsCompaction(WithSegments({{100, 0}}), o));
}

class CompactorDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::Open(env_, tmp_.path());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    CollectionConfig config;
    config.name = "c";
    config.dim = 8;
    config.seal_threshold = 200;
    auto c = db_->CreateCollection(config);
    ASSERT_TRUE(c.ok()) << c.status();
    c_ = *c;
  }
  void Add(int rows) {
    std::normal_distribution<float> d;
    std::vector<Record> batch;
    for (int i = 0; i < rows; ++i) {
      std::vector<float> v(8);
      for (auto& x : v) x = d(rng_);
      batch.push_back(Record{StrCat("r", next_++), 1, std::move(v), "{}"});
    }
    ASSERT_TRUE(c_->Upsert(std::move(batch)).ok());
    ASSERT_TRUE(c_->Seal().ok());
    ASSERT_TRUE(c_->WaitForIndexing().ok());
  }
  size_t Sealed() {
    size_t n = 0;
    for (const auto& s : c_->Stats().segments) n += s.sealed;
    return n;
  }

  TempDir tmp_{"ragline_compactor_test"};
  FaultInjectionEnv env_{*Env::Default()};
  std::unique_ptr<Database> db_;
  Collection* c_ = nullptr;
  std::mt19937 rng_{3};
  int next_ = 0;
};

TEST_F(CompactorDbTest, MergesPiledUpSegmentsAndReports) {
  std::vector<CompactionReport> reports;
  std::mutex mu;
  Compactor compactor(db_.get(), nullptr, {.interval = 1h}, [&](const CompactionReport& r) {
    std::lock_guard<std::mutex> lock(mu);
    reports.push_back(r);
  });
  Add(700);  // 200, 200, 200, 100
  ASSERT_EQ(Sealed(), 4u);
  EXPECT_EQ(compactor.RunOnce(), 1u);
  EXPECT_EQ(Sealed(), 1u);
  EXPECT_EQ(c_->Stats().vector_count, 700u);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].collection, "c");
  EXPECT_EQ(reports[0].sealed_segments, 4u);
  EXPECT_TRUE(reports[0].status.ok());
  EXPECT_EQ(compactor.RunOnce(), 0u);  // nothing piled up now
  EXPECT_EQ(reports.size(), 1u);
}

TEST_F(CompactorDbTest, AFailedCompactionWaitsForTheSegmentsToChange) {
  std::vector<CompactionReport> reports;
  Compactor compactor(db_.get(), nullptr, {.interval = 1h},
                      [&](const CompactionReport& r) { reports.push_back(r); });
  Add(800);
  env_.FailNextAtomicWrites(1);  // the merged segment's file
  EXPECT_EQ(compactor.RunOnce(), 0u);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_FALSE(reports[0].status.ok());
  EXPECT_EQ(Sealed(), 4u);  // nothing lost, nothing swapped
  EXPECT_EQ(c_->Stats().vector_count, 800u);
  EXPECT_EQ(compactor.RunOnce(), 0u);  // same segments: not retried
  EXPECT_EQ(reports.size(), 1u);
  Add(50);  // a new seal changes them
  EXPECT_EQ(compactor.RunOnce(), 1u);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_TRUE(reports[1].status.ok());
  EXPECT_EQ(Sealed(), 1u);
  EXPECT_EQ(c_->Stats().vector_count, 850u);
}

// Updates leave dead rows in the growing segment, which only sealing lets
// compaction drop: a growing segment that is dead enough is sealed early.
TEST_F(CompactorDbTest, AGrowingSegmentFullOfUpdatesIsSealedAndCompacted) {
  auto upsert = [&](int from, int to, uint64_t version) {
    std::vector<Record> batch;
    for (int i = from; i < to; ++i) {
      batch.push_back(Record{StrCat("u", i), version, std::vector<float>(8, 1.0f + float(i)), "{}"});
    }
    ASSERT_TRUE(c_->Upsert(std::move(batch)).ok());
  };
  Compactor compactor(db_.get(), nullptr, {.interval = 1h, .min_growing_rows = 50}, nullptr);
  upsert(0, 100, 1);
  EXPECT_EQ(compactor.RunOnce(), 0u);
  EXPECT_EQ(Sealed(), 0u) << "no dead rows: nothing to seal early";
  upsert(0, 40, 2);                    // 140 rows, 40 dead
  EXPECT_EQ(compactor.RunOnce(), 0u);  // seals it
  ASSERT_TRUE(c_->WaitForIndexing().ok());
  EXPECT_EQ(Sealed(), 1u);
  EXPECT_EQ(compactor.RunOnce(), 1u);  // drops the dead rows
  const CollectionStats stats = c_->Stats();
  EXPECT_EQ(stats.vector_count, 100u);
  EXPECT_EQ(stats.deleted, 0u);
  EXPECT_EQ(c_->Get("u0")->version, 2u);
  EXPECT_EQ(c_->Get("u99")->version, 1u);
}

TEST_F(CompactorDbTest, TheBackgroundThreadCompactsOnItsOwn) {
  std::atomic<int> done{0};
  Add(700);
  Compactor compactor(db_.get(), nullptr, {.interval = 10ms}, [&](const CompactionReport& r) {
    if (r.status.ok()) ++done;
  });
  for (int i = 0; i < 1000 && done == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(done, 1);
  EXPECT_EQ(Sealed(), 1u);
}

}  // namespace
}  // namespace ragline::store
