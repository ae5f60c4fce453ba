#include "pipeline/reindex.h"

#include <gtest/gtest.h>

#include <chrono>

#include "core/temp_dir_for_test.h"
#include "pipeline/stage_doubles_for_test.h"
#include "store/database.h"

namespace ragline::pipeline {
namespace {

using nlohmann::json;

class ReindexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = store::Database::Open(*store::Env::Default(), tmp_.path());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    source_ = Make("src", index::IndexKind::kFlat);
    std::vector<store::Record> records;
    for (int i = 0; i < 300; ++i) records.push_back(Rec(i, 1));
    ASSERT_TRUE(source_->Upsert(std::move(records)).ok());
  }
  store::Collection* Make(const std::string& name, index::IndexKind kind) {
    store::CollectionConfig config;
    config.name = name;
    config.dim = 4;
    config.index_kind = kind;
    auto c = db_->CreateCollection(config);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : nullptr;
  }
  static store::Record Rec(int i, uint64_t version) {
    const float a = static_cast<float>(i % 17) + 1, b = static_cast<float>(i % 5) + 1;
    return {"r" + std::to_string(i),
            version,
            {a, b, 1.0f / a, static_cast<float>(i % 3)},
            json{{"text", "record number " + std::to_string(i)}}.dump()};
  }
  // id -> version of every live record.
  static std::map<std::string, uint64_t> Live(store::Collection& c) {
    std::map<std::string, uint64_t> out;
    for (const auto& r : c.ListRecords(nullptr)) out[r.id] = r.version;
    return out;
  }

  TempDir tmp_;
  std::unique_ptr<store::Database> db_;
  store::Collection* source_ = nullptr;
};

TEST_F(ReindexTest, CopiesEveryRecordIntoAnotherIndexAndASecondRunSkipsThemAll) {
  store::Collection* target = Make("dst", index::IndexKind::kHnsw);
  auto report = CopyCollection(*source_, *target, {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->converged);
  EXPECT_EQ(report->progress.copied, 300u);
  EXPECT_EQ(Live(*target), Live(*source_));
  const auto src = source_->Get("r7"), dst = target->Get("r7");
  ASSERT_TRUE(src && dst);
  EXPECT_EQ(dst->vector, src->vector);
  EXPECT_EQ(dst->payload, src->payload);
  json verified = VerifyCopy(*source_, *target);
  EXPECT_EQ(verified["ok"], true) << verified;
  EXPECT_EQ(verified["sampled"], 50);

  auto again = CopyCollection(*source_, *target, {});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->progress.copied, 0u);
  EXPECT_EQ(again->progress.skipped, 300u);
}

TEST_F(ReindexTest, WritesToTheSourceDuringTheCopyReachTheTarget) {
  store::Collection* target = Make("dst", index::IndexKind::kHnsw);
  ReindexOptions options;
  options.batch = 50;
  bool wrote = false;
  options.on_progress = [&](const ReindexProgress& p) {
    if (wrote || p.pass != 1 || p.copied < 100) return;
    wrote = true;  // mid-copy: a new record, a newer version, a delete
    ASSERT_TRUE(source_->Upsert({Rec(1000, 1), Rec(3, 2)}).ok());
    const std::string gone = "r250";
    ASSERT_TRUE(source_->Delete(std::span(&gone, 1)).ok());
  };
  auto report = CopyCollection(*source_, *target, options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(wrote);
  EXPECT_TRUE(report->converged);
  EXPECT_GE(report->progress.pass, 2u);
  EXPECT_EQ(Live(*target), Live(*source_));
  EXPECT_EQ(target->Get("r3")->version, 2u);
  EXPECT_FALSE(target->Get("r250"));
  EXPECT_TRUE(target->Get("r1000"));
}

TEST_F(ReindexTest, ACancelledCopyResumesWhereItStopped) {
  store::Collection* target = Make("dst", index::IndexKind::kFlat);
  ReindexOptions options;
  options.batch = 40;
  size_t batches = 0;
  options.cancelled = [&] { return ++batches > 3; };
  auto stopped = CopyCollection(*source_, *target, options);
  EXPECT_TRUE(absl::IsCancelled(stopped.status())) << stopped.status();
  const size_t first = Live(*target).size();
  EXPECT_EQ(first, 120u);
  auto resumed = CopyCollection(*source_, *target, {});
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->progress.skipped, first + 300u);  // pass 1 skips what was done, pass 2 everything
  EXPECT_EQ(resumed->progress.copied, 300u - first);
  EXPECT_EQ(Live(*target), Live(*source_));
}

TEST_F(ReindexTest, ReEmbedsTextWithAnotherModel) {
  store::Collection* target = Make("dst", index::IndexKind::kFlat);
  HashEmbedder model;
  ReindexOptions options;
  options.embedder = &model;
  auto report = CopyCollection(*source_, *target, options);
  ASSERT_TRUE(report.ok()) << report.status();
  std::vector<std::string> text = {"record number 7"};
  auto expected = model.Embed(text);
  ASSERT_TRUE(expected.ok());
  const auto got = target->Get("r7");
  ASSERT_TRUE(got);
  for (size_t d = 0; d < 4; ++d) EXPECT_NEAR(got->vector[d], expected->row(0)[d], 1e-6);
  // A record without text cannot be re-embedded: said, not skipped.
  ASSERT_TRUE(source_->Upsert({{"bare", 1, {1, 0, 0, 0}, "{}"}}).ok());
  auto refused = CopyCollection(*source_, *target, options);
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status()));
  EXPECT_NE(refused.status().message().find("'bare'"), std::string_view::npos) << refused.status();
}

TEST_F(ReindexTest, TheRateThrottlesUpserts) {
  store::Collection* target = Make("dst", index::IndexKind::kFlat);
  ReindexOptions options;
  options.batch = 10;
  options.rate = 100;  // records/s: the first 100 go at once (the burst), the other 200 take ~2 s
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(CopyCollection(*source_, *target, options).ok());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
}

TEST_F(ReindexTest, RefusesCollectionsThatCannotTakeTheVectors) {
  store::CollectionConfig wide;
  wide.name = "wide";
  wide.dim = 8;
  auto target = db_->CreateCollection(wide);
  ASSERT_TRUE(target.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(CopyCollection(*source_, **target, {}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(CopyCollection(*source_, *source_, {}).status()));
  auto config =
      ReindexTargetConfig(source_->config(), "next", json{{"kind", "hnsw"}, {"params", {{"M", 8}}}}, 0);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->index_kind, index::IndexKind::kHnsw);
  EXPECT_EQ(config->dim, 4u);
  EXPECT_FALSE(ReindexTargetConfig(source_->config(), "next", json("annoy"), 0).ok());
}

}  // namespace
}  // namespace ragline::pipeline
