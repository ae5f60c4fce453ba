#include "store/collection.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "core/strings.h"
#include "index/distance.h"
#include "store/collection_fixture_for_test.h"
#include "store/database.h"
#include "store/fault_injection_env.h"

namespace ragline::store {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<float> RandomVector(std::mt19937& rng, size_t dim) {
  std::normal_distribution<float> d;
  std::vector<float> v(dim);
  for (auto& x : v) x = d(rng);
  return v;
}

Record MakeRecord(std::string id, uint64_t version, std::vector<float> v, json payload = json::object()) {
  return Record{std::move(id), version, std::move(v), payload.dump()};
}

CollectionConfig Config(std::string name, uint32_t dim, index::IndexKind kind = index::IndexKind::kHnsw,
                        uint32_t seal_threshold = 1000) {
  CollectionConfig c;
  c.name = std::move(name);
  c.dim = dim;
  c.metric = DistanceMetric::kCosine;
  c.index_kind = kind;
  c.seal_threshold = seal_threshold;
  return c;
}

class CollectionTest : public CollectionFixture {
 protected:
  std::mt19937 rng_{7};
};

TEST_F(CollectionTest, NewerVersionReplacesOlderIsDiscardedEqualIsNoop) {
  auto c = Create(Config("v", 4));
  auto s = c->Upsert({MakeRecord("a", 5, {1, 0, 0, 0}, {{"v", 5}})});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->inserted, 1u);

  s = c->Upsert(
      {MakeRecord("a", 4, {0, 1, 0, 0}, {{"v", 4}}), MakeRecord("a", 5, {0, 1, 0, 0}, {{"v", 55}})});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->stale, 1u);
  EXPECT_EQ(s->unchanged, 1u);
  EXPECT_EQ(c->Get("a")->payload["v"], 5);

  s = c->Upsert({MakeRecord("a", 6, {0, 1, 0, 0}, {{"v", 6}})});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->replaced, 1u);
  EXPECT_EQ(c->Get("a")->version, 6u);
  EXPECT_EQ(c->Stats().vector_count, 1u);
  EXPECT_EQ(c->Stats().stale_discarded, 1u);
  // The replaced row is dead: a search returns the record once, at version 6.
  auto hits = c->Search(std::vector<float>{0, 1, 0, 0}, 10, nullptr);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].version, 6u);
  EXPECT_NEAR((*hits)[0].score, 1.0f, 1e-5);
}

TEST_F(CollectionTest, BatchIsClassifiedInOrder) {
  auto c = Create(Config("v", 2));
  auto s = c->Upsert({MakeRecord("a", 1, {1, 0}), MakeRecord("a", 3, {1, 1}), MakeRecord("a", 2, {0, 1})});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->inserted, 1u);
  EXPECT_EQ(s->replaced, 1u);
  EXPECT_EQ(s->stale, 1u);
  EXPECT_EQ(c->Get("a")->version, 3u);
}

TEST_F(CollectionTest, DeleteRemembersTheVersionSoOlderReplaysStayDiscarded) {
  auto c = Create(Config("d", 2));
  ASSERT_TRUE(c->Upsert({MakeRecord("a", 3, {1, 0}), MakeRecord("b", 1, {0, 1})}).ok());
  std::vector<std::string> ids = {"a", "zz"};
  auto d = c->Delete(ids);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->deleted, 1u);
  EXPECT_EQ(d->not_found, 1u);
  EXPECT_FALSE(c->Get("a"));
  auto s = c->Upsert({MakeRecord("a", 3, {1, 0})});  // replay of the deleted version
  EXPECT_EQ(s->stale, 1u);
  EXPECT_FALSE(c->Get("a"));
  s = c->Upsert({MakeRecord("a", 4, {1, 0})});
  EXPECT_EQ(s->inserted, 1u);
  EXPECT_EQ(c->Get("a")->version, 4u);
  // The same holds after a restart.
  c.reset();
  c = Reopen();
  EXPECT_EQ(c->Get("a")->version, 4u);
  EXPECT_EQ(c->Stats().vector_count, 2u);
}

TEST_F(CollectionTest, RejectsMalformedRecordsNamingThemAndAppliesNothing) {
  auto c = Create(Config("bad", 3));
  struct Case {
    Record record;
    std::string needle;
  };
  const Case cases[] = {
      {MakeRecord("", 1, {1, 0, 0}), "missing or empty id"},
      {MakeRecord("x", 1, {1, 0}), "dimension 2"},
      {MakeRecord("x", 1, {1, NAN, 0}), "vector[1] is not a finite number"},
      {MakeRecord("x", 1, {0, 0, 0}), "zero vector"},
      {Record{"x", 1, {1, 0, 0}, "[1]"}, "payload must be a JSON object"},
  };
  for (const auto& tc : cases) {
    auto s = c->Upsert({MakeRecord("good", 1, {1, 1, 1}), tc.record});
    ASSERT_FALSE(s.ok()) << tc.needle;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(s.status().message()).find(tc.needle), std::string::npos) << s.status();
    EXPECT_NE(std::string(s.status().message()).find("record 1"), std::string::npos) << s.status();
  }
  EXPECT_EQ(c->Stats().vector_count, 0u);
  EXPECT_EQ(c->Stats().last_lsn, 0u);
}

// Searches across sealed (HNSW) and growing segments agree with brute force.
TEST_F(CollectionTest, SearchMatchesBruteForceAcrossSegments) {
  constexpr size_t kDim = 16, kN = 2500;
  auto c = Create(Config("s", kDim, index::IndexKind::kHnsw, 1000));
  std::vector<std::vector<float>> vecs;
  std::vector<Record> batch;
  for (size_t i = 0; i < kN; ++i) {
    vecs.push_back(RandomVector(rng_, kDim));
    batch.push_back(MakeRecord(StrCat("r", i), 1, vecs.back()));
  }
  ASSERT_TRUE(c->Upsert(std::move(batch)).ok());
  ASSERT_TRUE(c->WaitForIndexing().ok());
  auto stats = c->Stats();
  EXPECT_EQ(stats.vector_count, kN);
  EXPECT_EQ(stats.segments.size(), 3u);  // two sealed + growing
  EXPECT_EQ(stats.unindexed, 500u);

  size_t found = 0, total = 0;
  for (int q = 0; q < 50; ++q) {
    auto query = RandomVector(rng_, kDim);
    auto qn = query;
    index::NormalizeL2(qn.data(), kDim);
    std::vector<std::pair<float, size_t>> truth;
    for (size_t i = 0; i < kN; ++i) {
      auto v = vecs[i];
      index::NormalizeL2(v.data(), kDim);
      truth.push_back({-index::DotScalar(qn.data(), v.data(), kDim), i});
    }
    std::partial_sort(truth.begin(), truth.begin() + 10, truth.end());
    auto hits = c->Search(query, 10, nullptr);
    ASSERT_TRUE(hits.ok());
    ASSERT_EQ(hits->size(), 10u);
    for (int j = 0; j < 10; ++j) {
      for (const auto& h : *hits) found += h.id == StrCat("r", truth[j].second);
    }
    total += 10;
    for (size_t j = 1; j < hits->size(); ++j) EXPECT_GE((*hits)[j - 1].score, (*hits)[j].score);
  }
  EXPECT_GE(double(found) / total, 0.95);
}

TEST_F(CollectionTest, SelectiveFilterStillReturnsKHitsInsideTheIndexWalk) {
  constexpr size_t kDim = 8, kN = 3000;
  auto c = Create(Config("f", kDim, index::IndexKind::kHnsw, 3000));
  std::vector<Record> batch;
  for (size_t i = 0; i < kN; ++i) {
    // 1% of rows are "rare"; 30% are "common".
    json payload = {{"kind", i % 100 == 0 ? "rare" : (i % 10 < 3 ? "common" : "other")}, {"i", i}};
    batch.push_back(MakeRecord(StrCat("r", i), 1, RandomVector(rng_, kDim), payload));
  }
  ASSERT_TRUE(c->Upsert(std::move(batch)).ok());
  ASSERT_TRUE(c->Seal().ok());
  ASSERT_TRUE(c->WaitForIndexing().ok());
  ASSERT_EQ(c->Stats().unindexed, 0u);
  for (const char* kind : {"rare", "common"}) {
    auto filter = PayloadFilter::Parse({{"kind", kind}});
    for (int q = 0; q < 20; ++q) {
      auto hits = c->Search(RandomVector(rng_, kDim), 20, &*filter);
      ASSERT_TRUE(hits.ok());
      EXPECT_EQ(hits->size(), 20u) << kind;
      for (const auto& h : *hits) EXPECT_EQ(h.payload["kind"], kind);
    }
  }
  auto range = PayloadFilter::Parse({{"i", {{"$gte", 100}, {"$lt", 105}}}});
  auto hits = c->Search(RandomVector(rng_, kDim), 20, &*range);
  EXPECT_EQ(hits->size(), 5u);  // fewer than k exist
  auto none = PayloadFilter::Parse({{"kind", "missing"}});
  EXPECT_TRUE(c->Search(RandomVector(rng_, kDim), 5, &*none)->empty());
}

TEST_F(CollectionTest, DeleteByFilterRemovesOnlyMatchingRecords) {
  auto c = Create(Config("df", 2, index::IndexKind::kFlat, 4));
  std::vector<Record> batch;
  for (int i = 0; i < 10; ++i)
    batch.push_back(MakeRecord(StrCat("r", i), 1, {1, float(i)}, {{"even", i % 2 == 0}}));
  ASSERT_TRUE(c->Upsert(std::move(batch)).ok());
  auto d = c->DeleteByFilter(*PayloadFilter::Parse({{"even", true}}));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->deleted, 5u);
  EXPECT_EQ(c->Stats().vector_count, 5u);
  EXPECT_FALSE(c->Get("r4"));
  EXPECT_TRUE(c->Get("r5"));
}

TEST_F(CollectionTest, ListRecordsReturnsEachLiveMatchingRecordOnce) {
  auto c = Create(Config("lr", 2, index::IndexKind::kFlat, 4));
  std::vector<Record> batch;
  for (int i = 0; i < 10; ++i)
    batch.push_back(MakeRecord(StrCat("r", i), 1, {1, float(i)}, {{"even", i % 2 == 0}}));
  ASSERT_TRUE(c->Upsert(std::move(batch)).ok());
  ASSERT_TRUE(c->WaitForIndexing().ok());  // rows now in sealed and growing segments
  batch.clear();
  batch.push_back(MakeRecord("r2", 2, {1, 2}, {{"even", true}, {"v", 2}}));  // replaced
  ASSERT_TRUE(c->Upsert(std::move(batch)).ok());
  std::vector<std::string> gone = {"r4"};
  ASSERT_TRUE(c->Delete(gone).ok());

  std::set<std::string> all;
  for (const auto& r : c->ListRecords(nullptr))
    EXPECT_TRUE(all.insert(r.id).second) << r.id << " listed twice";
  EXPECT_EQ(all.size(), 9u);
  EXPECT_FALSE(all.count("r4"));

  auto even = PayloadFilter::Parse({{"even", true}});
  auto listed = c->ListRecords(&*even);
  std::map<std::string, StoredRecord> by_id;
  for (auto& r : listed) by_id[r.id] = r;
  EXPECT_EQ(by_id.size(), 4u);  // r0 r2 r6 r8
  ASSERT_TRUE(by_id.count("r2"));
  EXPECT_EQ(by_id["r2"].version, 2u);
  EXPECT_EQ(by_id["r2"].payload["v"], 2);
  EXPECT_TRUE(by_id["r2"].vector.empty());
}

TEST_F(CollectionTest, CompactionDropsSupersededRowsAndReclaimsDisk) {
  constexpr size_t kDim = 32;
  auto c = Create(Config("cp", kDim, index::IndexKind::kHnsw, 500));
  std::vector<Record> batch;
  for (int i = 0; i < 2000; ++i) batch.push_back(MakeRecord(StrCat("r", i), 1, RandomVector(rng_, kDim)));
  ASSERT_TRUE(c->Upsert(std::move(batch)).ok());
  ASSERT_TRUE(c->WaitForIndexing().ok());
  // Replace half and delete a quarter.
  batch.clear();
  for (int i = 0; i < 1000; ++i) batch.push_back(MakeRecord(StrCat("r", i), 2, RandomVector(rng_, kDim)));
  ASSERT_TRUE(c->Upsert(std::move(batch)).ok());
  std::vector<std::string> ids;
  for (int i = 1000; i < 1500; ++i) ids.push_back(StrCat("r", i));
  ASSERT_TRUE(c->Delete(ids).ok());
  ASSERT_TRUE(c->Seal().ok());
  ASSERT_TRUE(c->WaitForIndexing().ok());

  auto disk = [&] {
    uint64_t bytes = 0;
    for (const auto& e : fs::directory_iterator(Dir() + "/segments")) bytes += e.file_size();
    return bytes;
  };
  auto before = c->Stats();
  const uint64_t disk_before = disk();
  EXPECT_EQ(before.deleted, 1500u);
  ASSERT_TRUE(c->Compact().ok());
  auto after = c->Stats();
  EXPECT_EQ(after.vector_count, 1500u);
  EXPECT_EQ(after.deleted, 0u);
  EXPECT_LT(after.memory_bytes, before.memory_bytes);
  EXPECT_LT(disk(), disk_before);
  EXPECT_EQ(c->Get("r0")->version, 2u);
  EXPECT_FALSE(c->Get("r1200"));
  EXPECT_EQ(c->Get("r1700")->version, 1u);
  // Every live record is still findable by its own vector.
  for (const char* id : {"r0", "r999", "r1500", "r1999"}) {
    auto rec = c->Get(id);
    auto hits = c->Search(rec->vector, 1, nullptr);
    ASSERT_EQ(hits->size(), 1u);
    EXPECT_EQ((*hits)[0].id, id);
  }
  // And the compacted state is what a restart recovers.
  c.reset();
  c = Reopen();
  EXPECT_EQ(c->Stats().vector_count, 1500u);
  EXPECT_EQ(c->Stats().deleted, 0u);
  EXPECT_FALSE(c->Get("r1200"));
}

// A search walks one graph per sealed segment, so compaction merges them all;
// the second round grows the merged (clean) segment's HNSW graph instead of
// rebuilding it (a FLAT index cannot grow: it is built again).
class CompactionMergeTest : public CollectionFixture, public ::testing::WithParamInterface<index::IndexKind> {
 protected:
  std::mt19937 rng_{7};
};

INSTANTIATE_TEST_SUITE_P(Kinds, CompactionMergeTest,
                         ::testing::Values(index::IndexKind::kHnsw, index::IndexKind::kFlat),
                         [](const auto& info) { return std::string(index::IndexKindName(info.param)); });

TEST_P(CompactionMergeTest, MergesEverySealedSegmentIntoOne) {
  constexpr size_t kDim = 16;
  auto c = Create(Config("m", kDim, GetParam(), 500));
  auto sealed_segments = [&] {
    size_t n = 0;
    for (const auto& s : c->Stats().segments) n += s.sealed;
    return n;
  };
  auto fill = [&](int from, int to) {
    std::vector<Record> batch;
    for (int i = from; i < to; ++i) batch.push_back(MakeRecord(StrCat("r", i), 1, RandomVector(rng_, kDim)));
    ASSERT_TRUE(c->Upsert(std::move(batch)).ok());
    ASSERT_TRUE(c->Seal().ok());
    ASSERT_TRUE(c->WaitForIndexing().ok());
  };
  auto expect_all_findable = [&](int n, const char* when) {
    const auto stats = c->Stats();
    EXPECT_EQ(stats.vector_count, size_t(n)) << when;
    EXPECT_EQ(stats.deleted, 0u) << when;
    EXPECT_EQ(stats.unindexed, 0u) << when;
    // A search as wide as the collection: this is about what the merge kept,
    // not about recall at a small ef (hnsw_index_test.cc measures that).
    index::SearchOptions wide;
    wide.ef_search = static_cast<uint32_t>(n);
    for (int i = 0; i < n; i += 37) {
      auto rec = c->Get(StrCat("r", i));
      ASSERT_TRUE(rec) << when << " r" << i;
      auto hits = c->Search(rec->vector, 1, nullptr, wide);
      ASSERT_EQ(hits->size(), 1u) << when;
      EXPECT_EQ((*hits)[0].id, rec->id) << when;
    }
  };
  fill(0, 1700);
  EXPECT_EQ(sealed_segments(), 4u);  // 500, 500, 500, 200
  ASSERT_TRUE(c->Compact().ok());
  EXPECT_EQ(sealed_segments(), 1u);
  expect_all_findable(1700, "merged");

  fill(1700, 2300);
  EXPECT_EQ(sealed_segments(), 3u);
  ASSERT_TRUE(c->Compact().ok());
  EXPECT_EQ(sealed_segments(), 1u);
  expect_all_findable(2300, "grown");
  ASSERT_TRUE(c->Compact().ok());  // nothing left to merge
  EXPECT_EQ(sealed_segments(), 1u);

  c.reset();
  c = Reopen();
  EXPECT_EQ(sealed_segments(), 1u);
  expect_all_findable(2300, "reopened");
}

// Close() returns once the background seal loop says it is done; the loop
// used to release the collection's state lock after saying so, which could
// land in the freed collection or in the next one opened at the same
// address (a reader count gone negative: the next writer hung forever).
// Each cycle ends with a seal in flight while the collection closes. ASan
// reports the old bug as a heap-use-after-free when the timing hits.
TEST_F(CollectionTest, ClosingWhileASealFinishesLeavesTheNextOpenUsable) {
  constexpr size_t kDim = 4;
  auto c = Create(Config("cycle", kDim, index::IndexKind::kFlat, 20));
  int next = 0;
  for (int cycle = 0; cycle < 60; ++cycle) {
    std::vector<Record> batch;
    for (int i = 0; i < 25; ++i)
      batch.push_back(MakeRecord(StrCat("r", next++), 1, RandomVector(rng_, kDim)));
    ASSERT_TRUE(c->Upsert(std::move(batch)).ok());
    c.reset();
    c = Reopen();
    ASSERT_TRUE(c);
  }
  EXPECT_EQ(c->Stats().vector_count, size_t(next));
}

TEST_F(CollectionTest, ReopenRecoversSealedSegmentsAndTheWalTail) {
  constexpr size_t kDim = 8;
  auto c = Create(Config("r", kDim, index::IndexKind::kHnsw, 100));
  // Five writes of 50 rows, one WAL record (LSN) each: the segment fills at
  // the end of writes 2 and 4, so the checkpoint is LSN 4.
  for (int b = 0; b < 5; ++b) {
    std::vector<Record> batch;
    for (int i = b * 50; i < (b + 1) * 50; ++i) {
      batch.push_back(MakeRecord(StrCat("r", i), 7, RandomVector(rng_, kDim), {{"i", i}}));
    }
    ASSERT_TRUE(c->Upsert(std::move(batch)).ok());
  }
  ASSERT_TRUE(c->WaitForIndexing().ok());
  auto before = c->Stats();
  EXPECT_EQ(before.checkpoint_lsn, 4u);
  c.reset();
  c = Reopen();
  auto after = c->Stats();
  EXPECT_EQ(after.vector_count, 250u);
  EXPECT_EQ(after.unindexed, 50u);
  EXPECT_EQ(after.last_lsn, 5u);
  for (int i : {0, 99, 100, 249}) {
    auto r = c->Get(StrCat("r", i));
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->payload["i"], i);
    EXPECT_EQ(r->version, 7u);
  }
}

TEST_F(CollectionTest, AWriteLargerThanASegmentIsCheckpointedBeforeItAndReplayedWhole) {
  constexpr size_t kDim = 8;
  auto c = Create(Config("big", kDim, index::IndexKind::kHnsw, 100));
  std::vector<Record> batch;
  for (int i = 0; i < 250; ++i)
    batch.push_back(MakeRecord(StrCat("r", i), 7, RandomVector(rng_, kDim), {{"i", i}}));
  ASSERT_TRUE(c->Upsert(std::move(batch)).ok());
  ASSERT_TRUE(c->WaitForIndexing().ok());
  auto before = c->Stats();
  // Two segments were frozen part-way through LSN 1: they are checkpointed
  // at 0, so the WAL keeps the whole write and recovery replays it.
  EXPECT_EQ(before.checkpoint_lsn, 0u);
  EXPECT_EQ(before.last_lsn, 1u);
  EXPECT_EQ(before.unindexed, 50u);
  c.reset();
  c = Reopen();
  auto after = c->Stats();
  EXPECT_EQ(after.vector_count, 250u);
  EXPECT_EQ(after.deleted, 0u);  // the sealed rows were not applied a second time
  EXPECT_EQ(after.unindexed, 50u);
  for (int i : {0, 99, 100, 249}) {
    auto r = c->Get(StrCat("r", i));
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->payload["i"], i);
  }
}

TEST_F(CollectionTest, AckedRecordsSurviveLossOfUnsyncedData) {
  FaultInjectionEnv env(*Env::Default());
  auto c = Create(Config("crash", 4, index::IndexKind::kFlat, 1 << 20), &env);
  for (int b = 0; b < 20; ++b) {
    std::vector<Record> batch;
    for (int i = 0; i < 10; ++i)
      batch.push_back(MakeRecord(StrCat("r", b * 10 + i), 1, {1, float(b), float(i), 1}));
    ASSERT_TRUE(c->Upsert(std::move(batch)).ok());
  }
  // Simulated power loss: whatever was not synced is gone; the process "dies"
  // without closing (we drop the lock by destroying after the loss).
  ASSERT_TRUE(env.DropUnsyncedData().ok());
  c.reset();
  ASSERT_TRUE(env.DropUnsyncedData().ok());
  c = Reopen();
  EXPECT_EQ(c->Stats().vector_count, 200u);
  for (int i = 0; i < 200; ++i) EXPECT_TRUE(c->Get(StrCat("r", i))) << i;
}

TEST_F(CollectionTest, FailedSyncIsNotAcknowledgedAndLosesNothingEarlier) {
  FaultInjectionEnv env(*Env::Default());
  auto c = Create(Config("fs", 2, index::IndexKind::kFlat), &env);
  ASSERT_TRUE(c->Upsert({MakeRecord("a", 1, {1, 0})}).ok());
  env.FailNextSyncs(1);
  auto s = c->Upsert({MakeRecord("b", 1, {0, 1})});
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(c->Get("b"));  // not applied in memory either
  c.reset();
  env.ClearFailures();
  ASSERT_TRUE(env.DropUnsyncedData().ok());
  c = Reopen(&env);
  EXPECT_TRUE(c->Get("a"));
}

// Issue 15 drill: a full disk during upserts and during compaction. The
// writer gets a clear error marked disk-full (the HTTP API's 507), nothing
// acknowledged is lost, and once space returns the same collection takes
// writes and compacts again without a restart.
TEST_F(CollectionTest, AFullDiskRefusesWritesAndCompactionLosesNothingAndRecovers) {
  FaultInjectionEnv env(*Env::Default());
  CollectionConfig config = Config("full", 2, index::IndexKind::kFlat);
  config.seal_threshold = 4;
  auto c = Create(config, &env);
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(c->Upsert({MakeRecord(StrCat("r", i), 1, {1, float(i)})}).ok());
  ASSERT_TRUE(c->WaitForIndexing().ok());
  const size_t before = c->Stats().vector_count;
  ASSERT_EQ(before, 12u);

  env.SetDiskFull(true);
  for (int i = 0; i < 3; ++i) {
    auto refused = c->Upsert({MakeRecord(StrCat("late", i), 1, {0, 1})});
    ASSERT_FALSE(refused.ok());
    EXPECT_TRUE(IsDiskFull(refused.status())) << refused.status();
    EXPECT_FALSE(c->Get(StrCat("late", i)));  // not applied in memory either
  }
  Status compact = c->Compact();
  EXPECT_FALSE(compact.ok());
  EXPECT_TRUE(IsDiskFull(compact)) << compact;
  // Reads go on while the disk is full.
  EXPECT_EQ(c->Stats().vector_count, before);
  EXPECT_TRUE(c->Get("r7"));
  const std::vector<float> q = {1, 7};
  auto hits = c->Search(q, 3, nullptr);
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_EQ((*hits)[0].id, "r7");

  env.SetDiskFull(false);  // space returns: the same collection writes and compacts
  ASSERT_TRUE(c->Upsert({MakeRecord("after", 1, {0, 1})}).ok());
  ASSERT_TRUE(c->Compact().ok());
  EXPECT_EQ(c->Stats().vector_count, before + 1);
  c.reset();
  ASSERT_TRUE(env.DropUnsyncedData().ok());  // and a power loss right after keeps every acked record
  c = Reopen(&env);
  EXPECT_EQ(c->Stats().vector_count, before + 1);
  for (int i = 0; i < 12; ++i) EXPECT_TRUE(c->Get(StrCat("r", i))) << i;
  EXPECT_TRUE(c->Get("after"));
  EXPECT_FALSE(c->Get("late0"));
}

TEST_F(CollectionTest, TornWalTailIsCutBackAndReported) {
  auto c = Create(Config("t", 2, index::IndexKind::kFlat));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c->Upsert({MakeRecord(StrCat("r", i), 1, {1, float(i)})}).ok());
  c.reset();
  // Append half a record's worth of garbage to the last WAL file.
  std::string last;
  for (const auto& e : fs::directory_iterator(Dir() + "/wal")) last = std::max(last, e.path().string());
  ASSERT_FALSE(last.empty());
  { std::ofstream(last, std::ios::app | std::ios::binary) << std::string("\x13\x37\x00\x01garbage", 11); }
  c = Reopen();
  EXPECT_TRUE(c->recovery_report().tail_cut);
  EXPECT_FALSE(c->recovery_report().reason.empty());
  EXPECT_EQ(c->Stats().vector_count, 5u);
  ASSERT_TRUE(c->Upsert({MakeRecord("r5", 1, {1, 5})}).ok());  // the log goes on after the cut
  c.reset();
  c = Reopen();
  EXPECT_FALSE(c->recovery_report().tail_cut);
  EXPECT_EQ(c->Stats().vector_count, 6u);
}

// The files in `dir` whose names start with `prefix`, sorted.
std::vector<std::string> SortedFiles(const std::string& dir, std::string_view prefix) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().starts_with(prefix)) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Issue #13 item 8: one bad segment no longer takes the collection down.
TEST_F(CollectionTest, ACorruptOrMissingSegmentIsQuarantinedAndTheRestServed) {
  auto c = Create(Config("seg", 4, index::IndexKind::kHnsw, 50));
  for (int b = 0; b < 2; ++b) {  // two sealed segments of 50 rows, then 10 rows in the WAL
    std::vector<Record> batch;
    for (int i = b * 50; i < (b + 1) * 50; ++i)
      batch.push_back(MakeRecord(StrCat("r", i), 1, RandomVector(rng_, 4)));
    ASSERT_TRUE(c->Upsert(std::move(batch)).ok());
    ASSERT_TRUE(c->WaitForIndexing().ok());
  }
  std::vector<Record> tail;
  for (int i = 100; i < 110; ++i) tail.push_back(MakeRecord(StrCat("r", i), 1, RandomVector(rng_, 4)));
  ASSERT_TRUE(c->Upsert(std::move(tail)).ok());
  c.reset();
  const std::vector<std::string> segs = SortedFiles(Dir() + "/segments", "seg-");
  ASSERT_EQ(segs.size(), 2u);
  {
    std::fstream f(segs[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x5a');
  }
  c = Reopen();
  ASSERT_TRUE(c);
  auto q = c->quarantined();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].file, "segments/" + fs::path(segs[0]).filename().string());
  EXPECT_NE(q[0].reason.find("checksum mismatch"), std::string::npos) << q[0].reason;
  EXPECT_EQ(q[0].reason.find(Dir()), std::string::npos) << "the reason names a path: " << q[0].reason;
  EXPECT_EQ(q[0].rows, std::optional<uint64_t>(50));
  EXPECT_TRUE(c->degraded());
  EXPECT_EQ(c->Stats().vector_count, 60u);  // the other segment and the WAL tail
  EXPECT_FALSE(c->Get("r0"));
  auto hits = c->Search(c->Get("r77")->vector, 1, nullptr);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ((*hits)[0].id, "r77");
  // Writes go on, and the quarantine outlives a compaction and a restart.
  ASSERT_TRUE(c->Upsert({MakeRecord("new", 1, RandomVector(rng_, 4))}).ok());
  ASSERT_TRUE(c->Seal().ok());
  ASSERT_TRUE(c->WaitForIndexing().ok());
  ASSERT_TRUE(c->Compact().ok());
  c.reset();
  ASSERT_TRUE(fs::exists(segs[0]));
  c = Reopen();
  EXPECT_EQ(c->quarantined().size(), 1u);
  EXPECT_EQ(c->Stats().vector_count, 61u);
  // A missing segment file is quarantined the same way (not "unavailable").
  c.reset();
  fs::remove(segs[0]);
  c = Reopen();
  ASSERT_EQ(c->quarantined().size(), 1u);
  EXPECT_EQ(c->quarantined()[0].reason, "missing");
  EXPECT_FALSE(c->quarantined()[0].rows.has_value());
  // A read-only opener that asks to retry sees Unavailable (a writer's
  // compaction may have replaced the file).
  c.reset();
  OpenOptions retry;
  retry.read_only = true;
  retry.retry_missing_segments = true;
  EXPECT_TRUE(absl::IsUnavailable(Collection::Open(*Env::Default(), Dir(), pool_, retry).status()));
}

TEST_F(CollectionTest, RepairKeepsWhatTheLogStillHoldsAndSaysWhatWasLost) {
  // One write larger than the segments: they are frozen part-way through it,
  // so the log keeps the whole write (its checkpoint is before it).
  auto c = Create(Config("rep", 4, index::IndexKind::kFlat, 50));
  std::vector<Record> batch;
  for (int i = 0; i < 120; ++i) batch.push_back(MakeRecord(StrCat("r", i), 1, RandomVector(rng_, 4)));
  ASSERT_TRUE(c->Upsert(std::move(batch)).ok());
  ASSERT_TRUE(c->WaitForIndexing().ok());
  c.reset();
  const std::vector<std::string> segs = SortedFiles(Dir() + "/segments", "seg-");
  ASSERT_EQ(segs.size(), 2u);
  fs::resize_file(segs[1], 20);  // truncated
  auto report = SalvageAndRepair();
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->removed_segments.size(), 1u);
  EXPECT_TRUE(report->lost_log_ranges.empty());
  EXPECT_EQ(report->vector_count, 120u);  // the truncated segment's 50 rows came back from the log
  EXPECT_TRUE(fs::exists(Dir() + "/quarantine/" + fs::path(segs[1]).filename().string()));
  c = Reopen();  // an ordinary open: nothing quarantined, nothing lost
  EXPECT_FALSE(c->degraded());
  EXPECT_EQ(c->Stats().vector_count, 120u);
  for (int i : {0, 60, 99, 119}) EXPECT_TRUE(c->Get(StrCat("r", i))) << i;
}

TEST_F(CollectionTest, AMissingLogFileRefusesTheOpenUntilRepairAcceptsTheLoss) {
  auto c = Create(Config("wal", 4, index::IndexKind::kFlat, 1000));
  ASSERT_TRUE(c->Upsert({MakeRecord("a", 1, {1, 0, 0, 0})}).ok());
  ASSERT_TRUE(c->Seal().ok());  // rotates the log: "b" goes into a file of its own
  ASSERT_TRUE(c->WaitForIndexing().ok());
  ASSERT_TRUE(c->Upsert({MakeRecord("b", 1, {0, 1, 0, 0})}).ok());
  c.reset();
  const std::vector<std::string> logs = SortedFiles(Dir() + "/wal", "wal-");
  ASSERT_FALSE(logs.empty());
  fs::remove(logs.back());  // the file holding "b", acknowledged
  auto refused = Collection::Open(*Env::Default(), Dir(), pool_);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::IsDataLoss(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find(fs::path(logs.back()).filename().string() + " is missing"),
            std::string_view::npos)
      << refused.status();
  auto report = SalvageAndRepair();
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->lost_log_ranges.size(), 1u);
  EXPECT_NE(report->lost_log_ranges[0].cause.find("is missing"), std::string::npos);
  c = Reopen();
  EXPECT_TRUE(c->Get("a"));
  EXPECT_FALSE(c->Get("b"));
  ASSERT_TRUE(c->Upsert({MakeRecord("c", 1, {0, 0, 1, 0})}).ok());  // and it writes again
}

TEST_F(CollectionTest, SecondWriterIsRefusedButReadersOpen) {
  auto c = Create(Config("l", 2, index::IndexKind::kFlat));
  ASSERT_TRUE(c->Upsert({MakeRecord("a", 1, {1, 0})}).ok());
  auto second = Collection::Open(*Env::Default(), Dir(), pool_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  auto reader = Reopen(nullptr, /*read_only=*/true);
  ASSERT_TRUE(reader);
  EXPECT_TRUE(reader->Get("a"));
  EXPECT_FALSE(reader->Upsert({MakeRecord("b", 1, {1, 0})}).ok());
}

TEST_F(CollectionTest, SearchesRunWhileUpsertsIndexBuildsAndCompactionGoOn) {
  constexpr size_t kDim = 16;
  auto c = Create(Config("cc", kDim, index::IndexKind::kHnsw, 300));
  std::atomic<bool> done{false};
  std::atomic<size_t> searches{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      std::mt19937 rng(100 + t);
      while (!done.load()) {
        auto hits = c->Search(RandomVector(rng, kDim), 10, nullptr);
        ASSERT_TRUE(hits.ok());
        std::set<std::string> ids;
        for (const auto& h : *hits) EXPECT_TRUE(ids.insert(h.id).second) << "duplicate " << h.id;
        searches.fetch_add(1);
      }
    });
  }
  for (int round = 0; round < 6; ++round) {
    std::vector<Record> batch;
    for (int i = 0; i < 300; ++i)
      batch.push_back(MakeRecord(StrCat("r", i), round + 1, RandomVector(rng_, kDim)));
    ASSERT_TRUE(c->Upsert(std::move(batch)).ok());
    if (round == 3) {
      ASSERT_TRUE(c->WaitForIndexing().ok());
      ASSERT_TRUE(c->Compact().ok());
    }
  }
  ASSERT_TRUE(c->WaitForIndexing().ok());
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_GT(searches.load(), 0u);
  EXPECT_EQ(c->Stats().vector_count, 300u);
  EXPECT_EQ(c->Get("r7")->version, 6u);
}

TEST_F(CollectionTest, IvfPqCollectionFindsItsOwnVectors) {
  constexpr size_t kDim = 32;
  CollectionConfig config = Config("pq", kDim, index::IndexKind::kIvfPq, 2000);
  config.index_params.nlist = 16;
  config.index_params.pq_m = 8;
  config.index_params.nprobe = 16;
  auto c = Create(config);
  std::vector<Record> batch;
  for (int i = 0; i < 2000; ++i) batch.push_back(MakeRecord(StrCat("r", i), 1, RandomVector(rng_, kDim)));
  ASSERT_TRUE(c->Upsert(std::move(batch)).ok());
  ASSERT_TRUE(c->WaitForIndexing().ok());
  ASSERT_EQ(c->Stats().unindexed, 0u);
  int found = 0;
  for (int i = 0; i < 100; ++i) {
    auto rec = c->Get(StrCat("r", i * 7));
    auto hits = c->Search(rec->vector, 1, nullptr);
    found += !hits->empty() && (*hits)[0].id == rec->id;
  }
  EXPECT_GE(found, 95);
}

// ---------------------------------------------------------------- database

TEST(DatabaseTest, AliasesCreateFlipAndDeleteAtomically) {
  TempDir tmp;
  auto db = Database::Open(*Env::Default(), tmp.path());
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE((*db)->CreateCollection(Config("v1", 2, index::IndexKind::kFlat)).ok());
  ASSERT_TRUE((*db)->CreateCollection(Config("v2", 2, index::IndexKind::kFlat)).ok());
  ASSERT_TRUE((*(*db)->GetCollection("v1"))->Upsert({MakeRecord("only-in-v1", 1, {1, 0})}).ok());
  ASSERT_TRUE((*db)->CreateAlias("live", "v1").ok());
  EXPECT_EQ((*db)->CreateAlias("live", "v2").code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ((*db)->CreateAlias("x", "nope").code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE((*(*db)->GetCollection("live"))->Get("only-in-v1"));
  ASSERT_TRUE((*db)->FlipAlias("live", "v2").ok());
  EXPECT_FALSE((*(*db)->GetCollection("live"))->Get("only-in-v1"));
  EXPECT_EQ((*db)->DropCollection("v2").code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE((*db)->DeleteAlias("live").ok());
  EXPECT_EQ((*db)->GetCollection("live").status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE((*db)->DropCollection("v2").ok());
  EXPECT_EQ((*db)->ListCollections()->size(), 1u);
  EXPECT_FALSE(fs::exists(tmp.path() + "/collections/v2"));
}

TEST(DatabaseTest, AFlipIsRememberedAndRolledBackSurvivingAReopen) {
  TempDir tmp;
  {
    auto db = Database::Open(*Env::Default(), tmp.path());
    ASSERT_TRUE(db.ok());
    for (const char* name : {"v1", "v2", "v3"}) {
      ASSERT_TRUE((*db)->CreateCollection(Config(name, 2, index::IndexKind::kFlat)).ok());
    }
    ASSERT_TRUE((*db)->CreateAlias("live", "v1").ok());
    EXPECT_EQ((*db)->RollbackAlias("live").status().code(), absl::StatusCode::kFailedPrecondition);
    ASSERT_TRUE((*db)->FlipAlias("live", "v2").ok());
    ASSERT_TRUE((*db)->FlipAlias("live", "v2").ok());  // no change: no history entry
    ASSERT_TRUE((*db)->FlipAlias("live", "v3").ok());
    auto history = (*db)->AliasHistory("live");
    ASSERT_TRUE(history.ok()) << history.status();
    ASSERT_EQ(history->size(), 2u);
    EXPECT_EQ((*history)[0].collection, "v1");
    EXPECT_EQ((*history)[1].collection, "v2");
    EXPECT_GT((*history)[1].until_ms, 1'700'000'000'000);
  }
  auto db = Database::Open(*Env::Default(), tmp.path());  // the history is on disk
  ASSERT_TRUE(db.ok());
  auto back = (*db)->RollbackAlias("live");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, "v2");
  EXPECT_EQ((*(*db)->ListAliases())["live"], "v2");
  // v1 was dropped since: the rollback refuses and leaves the alias alone.
  ASSERT_TRUE((*db)->DropCollection("v1").ok());
  auto refused = (*db)->RollbackAlias("live");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("no longer exists"), std::string_view::npos) << refused.status();
  EXPECT_EQ((*(*db)->ListAliases())["live"], "v2");
  EXPECT_EQ((*db)->AliasHistory("nope").status().code(), absl::StatusCode::kNotFound);
  // Deleting the alias forgets its history; a new one starts clean.
  ASSERT_TRUE((*db)->DeleteAlias("live").ok());
  ASSERT_TRUE((*db)->CreateAlias("live", "v3").ok());
  EXPECT_TRUE((*db)->AliasHistory("live")->empty());
}

TEST(DatabaseTest, RejectsBadNamesAndDuplicateCollections) {
  TempDir tmp;
  auto db = Database::Open(*Env::Default(), tmp.path());
  EXPECT_EQ((*db)->CreateCollection(Config("../evil", 2)).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE((*db)->CreateCollection(Config("ok", 2)).ok());
  EXPECT_EQ((*db)->CreateCollection(Config("ok", 2)).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ((*db)->GetCollection("missing").status().code(), absl::StatusCode::kNotFound);
}

// Issue #13: an alias target or a looked-up name is a directory name; it
// must follow the name rule, or it reaches outside the data directory.
TEST(DatabaseTest, NamesThatWouldLeaveTheDataDirectoryAreRefused) {
  TempDir tmp;
  // A second data directory beside this one, with a collection of its own.
  auto victim = Database::Open(*Env::Default(), tmp.path() + "/victim");
  ASSERT_TRUE(victim.ok());
  ASSERT_TRUE((*victim)->CreateCollection(Config("secret", 2)).ok());
  auto db = Database::Open(*Env::Default(), tmp.path() + "/mine");
  ASSERT_TRUE((*db)->CreateCollection(Config("ok", 2)).ok());
  for (const std::string& target :
       std::vector<std::string>{"../../victim/collections/secret", "ok/.", "ok/", ".", "..", "", "ok\n",
                                std::string(65, 'a'), "caf\xc3\xa9"}) {
    SCOPED_TRACE(target);
    Status create = (*db)->CreateAlias("evil", target);
    EXPECT_TRUE(absl::IsInvalidArgument(create)) << create;
    EXPECT_TRUE(absl::IsInvalidArgument((*db)->FlipAlias("evil", target)));
    EXPECT_TRUE(absl::IsInvalidArgument((*db)->GetCollection(target).status())) << target;
    EXPECT_TRUE(absl::IsInvalidArgument((*db)->DropCollection(target)));
  }
  EXPECT_TRUE((*db)->ListAliases()->empty());
  EXPECT_TRUE(absl::IsInvalidArgument((*db)->CreateAlias("../x", "ok")));
  // A tampered alias file is refused, not followed.
  ASSERT_TRUE(Env::Default()
                  ->WriteFileAtomically(tmp.path() + "/mine/aliases.json",
                                        R"({"aliases": {"evil": "../../victim/collections/secret"}})")
                  .ok());
  auto opened = (*db)->GetCollection("evil");
  EXPECT_TRUE(absl::IsDataLoss(opened.status())) << opened.status();
  EXPECT_EQ(std::string(opened.status().message()).find(tmp.path()), std::string::npos)
      << "the error names a path: " << opened.status();
  EXPECT_EQ((*victim)->GetCollection("secret").value()->Stats().vector_count, 0u);
}

TEST_F(CollectionTest, AnEmptyFilterDeletesNothingAndDeleteAllIsExplicit) {
  auto c = Create(Config("del", 2));
  ASSERT_TRUE(c->Upsert({MakeRecord("a", 1, {1, 0}), MakeRecord("b", 1, {0, 1})}).ok());
  auto refused = c->DeleteByFilter(*PayloadFilter::Parse(json::object()));
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();
  EXPECT_EQ(c->Stats().vector_count, 2u);
  auto all = c->DeleteAll();
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->deleted, 2u);
  EXPECT_EQ(c->Stats().vector_count, 0u);
}

TEST_F(CollectionTest, AZeroQueryVectorIsRefusedLikeAZeroUpsertUnderCosine) {
  auto c = Create(Config("zero", 2));
  ASSERT_TRUE(c->Upsert({MakeRecord("a", 1, {1, 0})}).ok());
  auto upsert = c->Upsert({MakeRecord("z", 1, {0, 0})});
  auto search = c->Search(std::vector<float>{0, 0}, 1, nullptr);
  ASSERT_TRUE(absl::IsInvalidArgument(upsert.status()));
  ASSERT_TRUE(absl::IsInvalidArgument(search.status()));
  EXPECT_NE(search.status().message().find("zero vector has no direction"), std::string_view::npos);
}

TEST_F(CollectionTest, AWriteIsAllOrNothingAcrossATornLogWrite) {
  FaultInjectionEnv env(*Env::Default());
  auto c = Create(Config("torn", 4, index::IndexKind::kFlat, 1 << 20), &env);
  ASSERT_TRUE(c->Upsert({MakeRecord("keep", 1, {1, 0, 0, 0})}).ok());
  std::vector<Record> batch;
  for (int i = 0; i < 50; ++i) batch.push_back(MakeRecord(StrCat("doc#", i), 1, {1, float(i), 0, 1}));
  // The process dies part-way through writing it: about half of its bytes
  // (whole records of the old one-record-per-row log) reached the file.
  env.FailNextAppends(1, /*torn_bytes=*/1200);
  EXPECT_FALSE(c->Upsert(std::move(batch)).ok());
  c.reset();  // no DropUnsyncedData: a process crash keeps what was written
  c = Reopen(&env);
  EXPECT_EQ(c->Stats().vector_count, 1u);  // "keep", and none of the torn write's 50
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(c->Get(StrCat("doc#", i))) << i;
}

// Kafka offsets (any outside source's positions) ride in the write they
// cover: after any crash, the data and the positions agree.
TEST_F(CollectionTest, SourcePositionsAreDurableWithTheDataTheyCover) {
  auto c = Create(Config("positions", 2, index::IndexKind::kFlat, /*seal_threshold=*/4));
  EXPECT_TRUE(c->source_positions().empty());
  auto write = [&](const std::string& id, uint64_t version, const SourcePositions& positions) {
    std::vector<WriteGroup> groups(1);
    groups[0].upserts = {MakeRecord(id, version, {1, 0})};
    auto s = c->Write(std::move(groups), {}, &positions);
    ASSERT_TRUE(s.ok()) << s.status();
  };
  write("a", 1, {{"rag.embeddings.upserts/0", 5}});
  c.reset();
  c = Reopen();  // from the log
  EXPECT_EQ(c->source_positions(), (SourcePositions{{"rag.embeddings.upserts/0", 5}}));
  EXPECT_TRUE(c->Get("a"));
  // Positions only move forward; each key on its own.
  write("b", 1, {{"rag.embeddings.upserts/0", 3}, {"rag.embeddings.upserts/1", 7}});
  EXPECT_EQ(c->source_positions(),
            (SourcePositions{{"rag.embeddings.upserts/0", 5}, {"rag.embeddings.upserts/1", 7}}));
  // A write whose data changes nothing (a replayed message) still moves them.
  write("b", 1, {{"rag.embeddings.upserts/1", 9}});
  EXPECT_EQ(c->source_positions().at("rag.embeddings.upserts/1"), 9u);
  // Sealed: the checkpoint carries them once the log below it is gone.
  for (int i = 0; i < 6; ++i) write(StrCat("r", i), 1, {{"rag.embeddings.upserts/0", 10u + i}});
  ASSERT_TRUE(c->Seal().ok());
  ASSERT_TRUE(c->WaitForIndexing().ok());
  ASSERT_TRUE(c->Compact().ok());
  const SourcePositions expected = {{"rag.embeddings.upserts/0", 15}, {"rag.embeddings.upserts/1", 9}};
  EXPECT_EQ(c->source_positions(), expected);
  c.reset();
  c = Reopen();
  EXPECT_EQ(c->source_positions(), expected);
  EXPECT_EQ(c->Stats().vector_count, 8u);
  EXPECT_EQ(StatsJson(*c)["source_positions"], nlohmann::json(expected));  // ragline stats, HTTP stats
  // Read-only opens (ragline check, query --data) see them too.
  c.reset();
  c = Reopen(nullptr, /*read_only=*/true);
  EXPECT_EQ(c->source_positions(), expected);
}

TEST_F(CollectionTest, ATornWriteLosesItsPositionsWithItsData) {
  FaultInjectionEnv env(*Env::Default());
  auto c = Create(Config("torn-positions", 4, index::IndexKind::kFlat, 1 << 20), &env);
  const SourcePositions first = {{"t/0", 1}};
  std::vector<WriteGroup> one(1);
  one[0].upserts = {MakeRecord("keep", 1, {1, 0, 0, 0})};
  ASSERT_TRUE(c->Write(std::move(one), {}, &first).ok());
  std::vector<WriteGroup> big(1);
  for (int i = 0; i < 50; ++i)
    big[0].upserts.push_back(MakeRecord(StrCat("doc#", i), 1, {1, float(i), 0, 1}));
  const SourcePositions second = {{"t/0", 51}};
  env.FailNextAppends(1, /*torn_bytes=*/1200);
  EXPECT_FALSE(c->Write(std::move(big), {}, &second).ok());
  c.reset();
  c = Reopen(&env);
  EXPECT_EQ(c->source_positions(), first);  // a consumer re-reads offsets 1..50
  EXPECT_EQ(c->Stats().vector_count, 1u);
}

TEST_F(CollectionTest, WriteGroupsCommitTogetherAndAChecksRefusalDropsOneGroup) {
  auto c = Create(Config("groups", 2));
  ASSERT_TRUE(c->Upsert({MakeRecord("old#0", 1, {1, 0}), MakeRecord("old#1", 1, {1, 1})}).ok());
  std::vector<WriteGroup> groups(3);
  groups[0].upserts = {MakeRecord("a#0", 2, {1, 0}), MakeRecord("a#1", 2, {0, 1})};
  groups[1].upserts = {MakeRecord("b#0", 2, {1, 0})};
  groups[2].upserts = {MakeRecord("old#0", 2, {0, 1})};
  auto check = [](const Collection& coll, size_t g, std::vector<std::string>* deletes) -> Status {
    if (g == 1) return absl::AbortedError("superseded");
    if (g == 2 && coll.Get("old#1")) deletes->push_back("old#1");  // read under the writer lock
    return absl::OkStatus();
  };
  auto s = c->Write(std::move(groups), check);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->dropped, (std::vector<bool>{false, true, false}));
  EXPECT_EQ(s->upserts.inserted, 2u);
  EXPECT_EQ(s->upserts.replaced, 1u);
  EXPECT_EQ(s->deletes.deleted, 1u);
  EXPECT_TRUE(c->Get("a#1"));
  EXPECT_FALSE(c->Get("b#0"));
  EXPECT_FALSE(c->Get("old#1"));
  EXPECT_EQ(c->Stats().last_lsn, 2u);  // the three groups: one log record
  // An id both deleted and upserted in one write is refused whole.
  std::vector<WriteGroup> both(1);
  both[0].upserts = {MakeRecord("x", 1, {1, 0})};
  both[0].deletes = {"a#0", "x"};
  ASSERT_TRUE(c->Upsert({MakeRecord("x", 1, {1, 0})}).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(c->Write(std::move(both)).status()));
  EXPECT_TRUE(c->Get("a#0"));
  // And the state is what a restart recovers.
  c.reset();
  c = Reopen();
  EXPECT_EQ(c->Stats().vector_count, 4u);  // a#0 a#1 old#0 x
  EXPECT_EQ(c->Get("old#0")->version, 2u);
}

}  // namespace
}  // namespace ragline::store
