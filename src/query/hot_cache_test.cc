#include "query/hot_cache.h"

#include <gtest/gtest.h>

#include "core/temp_dir_for_test.h"
#include "nlohmann/json.hpp"

namespace ragline::query {
namespace {

using nlohmann::json;

class HotCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = store::Database::Open(*store::Env::Default(), tmp_.path() + "/data");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    store::CollectionConfig config;
    config.name = "kb";
    config.dim = 2;
    config.index_kind = index::IndexKind::kFlat;
    auto c = db_->CreateCollection(config);
    ASSERT_TRUE(c.ok());
    c_ = *c;
    const std::vector<std::pair<std::string, std::string>> texts = {
        {"paris", "Paris is the capital of France"},
        {"rome", "Rome is the capital of Italy"},
        {"oslo", "Oslo lies on a fjord"},
        {"cold", "Nothing here is ever hit"}};
    std::vector<store::Record> records;
    float angle = 0;
    for (const auto& [id, text] : texts) {
      records.push_back({id,
                         1,
                         {std::cos(angle), std::sin(angle)},
                         json{{"text", text}, {"lang", id == "rome" ? "it" : "x"}}.dump()});
      angle += 0.5f;
    }
    ASSERT_TRUE(c_->Upsert(std::move(records)).ok());
  }
  static std::vector<store::SearchHit> Hits(std::initializer_list<const char*> ids) {
    std::vector<store::SearchHit> out;
    for (const char* id : ids) out.push_back({id, 1.0f, 1, json()});
    return out;
  }
  static std::vector<std::string> Ids(const std::vector<store::SearchHit>& hits) {
    std::vector<std::string> out;
    for (const auto& h : hits) out.push_back(h.id);
    return out;
  }

  TempDir tmp_;
  std::unique_ptr<store::Database> db_;
  store::Collection* c_ = nullptr;
};

TEST_F(HotCacheTest, KeepsTheMostHitRecordsAndSearchesThemDenseAndLexical) {
  HotCache cache(/*capacity=*/3);
  EXPECT_TRUE(cache.Search("kb", {}, "capital", 5, nullptr).empty());  // nothing cached yet
  for (int i = 0; i < 3; ++i) cache.CountHits("kb", Hits({"paris", "rome"}));
  cache.CountHits("kb", Hits({"oslo"}));
  ASSERT_TRUE(cache.Refresh(*db_).ok());
  EXPECT_EQ(cache.Sizes()["kb"], 3u);  // "cold" was never hit
  // Dense: the record nearest (1, 0) is paris (angle 0), then rome, then oslo.
  const std::vector<float> east = {1, 0};
  EXPECT_EQ(Ids(cache.Search("kb", east, "", 5, nullptr)),
            (std::vector<std::string>{"paris", "rome", "oslo"}));
  // Lexical: records sharing terms, most shared first; none shared: left out.
  EXPECT_EQ(Ids(cache.Search("kb", {}, "capital of Italy", 5, nullptr)),
            (std::vector<std::string>{"rome", "paris"}));
  EXPECT_TRUE(cache.Search("kb", {}, "submarine", 5, nullptr).empty());
  auto filter = store::PayloadFilter::Parse(json{{"lang", "it"}});
  ASSERT_TRUE(filter.ok());
  EXPECT_EQ(Ids(cache.Search("kb", east, "", 5, &*filter)), (std::vector<std::string>{"rome"}));
  EXPECT_EQ(cache.Search("kb", east, "", 1, nullptr).size(), 1u);
  EXPECT_TRUE(cache.Search("other", east, "", 5, nullptr).empty());
}

TEST_F(HotCacheTest, ARefreshDropsDeletedRecordsAndDroppedCollections) {
  HotCache cache;
  cache.CountHits("kb", Hits({"paris", "rome"}));
  const std::string gone = "rome";
  ASSERT_TRUE(c_->Delete(std::span(&gone, 1)).ok());
  ASSERT_TRUE(cache.Refresh(*db_).ok());
  EXPECT_EQ(cache.Sizes()["kb"], 1u);
  ASSERT_TRUE(db_->DropCollection("kb").ok());
  ASSERT_TRUE(cache.Refresh(*db_).ok());
  EXPECT_TRUE(cache.Sizes().empty());
}

TEST_F(HotCacheTest, CountsDecaySoTheCacheFollowsWhatIsAskedNow) {
  HotCache cache(/*capacity=*/1);
  for (int i = 0; i < 8; ++i) cache.CountHits("kb", Hits({"oslo"}));
  // Past 4 x capacity distinct ids every count halves: oslo's 8 becomes 4.
  cache.CountHits("kb", Hits({"a", "b", "c", "d"}));
  for (int i = 0; i < 5; ++i) cache.CountHits("kb", Hits({"paris"}));
  ASSERT_TRUE(cache.Refresh(*db_).ok());
  const std::vector<float> east = {1, 0};
  EXPECT_EQ(Ids(cache.Search("kb", east, "", 5, nullptr)), (std::vector<std::string>{"paris"}));
}

TEST_F(HotCacheTest, CountsSurviveASaveAndLoad) {
  const std::string file = tmp_.path() + "/hot_cache.json";
  {
    HotCache cache;
    cache.CountHits("kb", Hits({"oslo"}));
    ASSERT_TRUE(cache.Save(file).ok());
  }
  HotCache restarted;
  ASSERT_TRUE(restarted.Load(file).ok());
  ASSERT_TRUE(restarted.Refresh(*db_).ok());
  EXPECT_EQ(Ids(restarted.Search("kb", {}, "fjord", 5, nullptr)), (std::vector<std::string>{"oslo"}));
  EXPECT_TRUE(HotCache().Load(tmp_.path() + "/none.json").ok());  // no file: no counts
  ASSERT_TRUE(store::Env::Default()->WriteFileAtomically(file, "[1, 2]").ok());
  EXPECT_TRUE(absl::IsDataLoss(HotCache().Load(file)));
}

}  // namespace
}  // namespace ragline::query
