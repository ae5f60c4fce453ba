// Retriever over a real Collection: each mode, the candidate depth, filters in
// both lists, query validation, and text queries embedded by the real model
// (skipped when models/all-MiniLM-L6-v2 is not fetched).
#include "core/temp_dir_for_test.h"
#include "search/retriever.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <filesystem>

#include "core/strings.h"
#include "embed/local_embedder.h"

namespace ragline::search {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using store::SearchHit;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Ids(const std::vector<SearchHit>& hits) {
  std::vector<std::string> out;
  for (const auto& h : hits) out.push_back(h.id);
  return out;
}

store::Record Doc(const std::string& id, std::vector<float> v, const std::string& text, const std::string& lang) {
  return store::Record{id, 1, std::move(v), json{{"text", text}, {"lang", lang}}.dump()};
}

class RetrieverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::CollectionConfig config;
    config.name = "kb";
    config.dim = 2;
    config.index_kind = index::IndexKind::kFlat;
    auto c = store::Collection::Create(*store::Env::Default(), dir_.path() + "/kb", config, pool_);
    ASSERT_TRUE(c.ok()) << c.status();
    collection_ = std::move(*c);
    std::vector<store::Record> docs = {
        Doc("a", {1, 0}, "the quick brown fox", "en"),         Doc("b", {0.9f, 0.1f}, "a lazy dog sleeps", "en"),
        Doc("c", {0.1f, 0.9f}, "foxes run through the forest", "en"), Doc("d", {0, 1}, "der braune fuchs", "de"),
        Doc("e", {0.7f, 0.7f}, "fox and dog together", "de"),
    };
    ASSERT_TRUE(collection_->Upsert(std::move(docs)).ok());
  }

  TempDir dir_;
  ThreadPool pool_{1};
  std::unique_ptr<store::Collection> collection_;
};

TEST_F(RetrieverTest, DenseAndLexicalModesMatchTheCollection) {
  Retriever r(*collection_, nullptr);
  Query q;
  q.vector = std::vector<float>{1, 0};
  q.k = 3;
  auto dense = r.Search(q);
  ASSERT_TRUE(dense.ok()) << dense.status();
  EXPECT_EQ(Ids(*dense), Ids(*collection_->Search(*q.vector, 3, nullptr)));
  q.mode = Mode::kLexical;
  q.text = "fox";
  auto lexical = r.Search(q);
  ASSERT_TRUE(lexical.ok()) << lexical.status();
  EXPECT_EQ(Ids(*lexical), Ids(*collection_->LexicalSearch("fox", 3, nullptr)));
  EXPECT_THAT(Ids(*lexical), ::testing::UnorderedElementsAre("a", "c", "e"));
}

TEST_F(RetrieverTest, HybridFusesBothListsWithRrf) {
  Retriever r(*collection_, nullptr);
  Query q;
  q.mode = Mode::kHybrid;
  q.text = "fox";
  q.vector = std::vector<float>{0, 1};
  q.k = 10;
  q.fusion.method = FusionMethod::kRrf;
  auto hits = r.Search(q);
  ASSERT_TRUE(hits.ok()) << hits.status();
  // Expected: RRF over the full dense ranking and the lexical ranking.
  const auto dense = *collection_->Search(*q.vector, 100, nullptr);
  const auto lexical = *collection_->LexicalSearch("fox", 100, nullptr);
  const std::array<RankedList, 2> lists = {RankedList{dense}, RankedList{lexical}};
  const auto expected = FuseRrf(lists, 60, 10);
  ASSERT_EQ(Ids(*hits), Ids(expected));
  ASSERT_EQ(hits->size(), 5u);  // every record is a dense candidate
  for (size_t i = 0; i < hits->size(); ++i) EXPECT_EQ((*hits)[i].score, expected[i].score);
  // d is nearest to (0,1) but lacks "fox": it ranks below records in both lists.
  EXPECT_NE((*hits)[0].id, "d");
  EXPECT_EQ((*hits)[0].payload["text"], expected[0].payload["text"]);
  // The dense list it fused, with the metric's scores, for the caller who asks.
  std::vector<store::SearchHit> fused_from;
  ASSERT_TRUE(r.Search(q, &fused_from).ok());
  ASSERT_EQ(Ids(fused_from), Ids(dense));
  for (size_t i = 0; i < dense.size(); ++i) EXPECT_EQ(fused_from[i].score, dense[i].score);
}

TEST_F(RetrieverTest, HybridConvexUsesAlpha) {
  Retriever r(*collection_, nullptr);
  Query q;
  q.mode = Mode::kHybrid;
  q.text = "fox";
  q.vector = std::vector<float>{1, 0};
  q.k = 2;
  q.fusion.method = FusionMethod::kConvex;
  q.fusion.alpha = 1.0;  // dense only: the dense order
  auto hits = r.Search(q);
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_EQ(Ids(*hits), Ids(*collection_->Search(*q.vector, 2, nullptr)));
  EXPECT_FLOAT_EQ((*hits)[0].score, 1.0f);
}

TEST_F(RetrieverTest, CandidateDepthLimitsEachList) {
  Retriever r(*collection_, nullptr);
  Query q;
  q.mode = Mode::kHybrid;
  q.text = "dog";  // lexical: b, e
  q.vector = std::vector<float>{0, 1};  // dense: d first, then c
  q.k = 10;
  q.candidates = 1;
  auto hits = r.Search(q);
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_EQ(hits->size(), 2u);  // one from each list
  EXPECT_THAT(Ids(*hits), ::testing::UnorderedElementsAre("d", (*collection_->LexicalSearch("dog", 1, nullptr))[0].id));
}

TEST_F(RetrieverTest, FilterAppliesToBothLists) {
  auto filter = store::PayloadFilter::Parse(json{{"lang", "de"}});
  ASSERT_TRUE(filter.ok());
  Retriever r(*collection_, nullptr);
  Query q;
  q.mode = Mode::kHybrid;
  q.text = "fox dog";
  q.vector = std::vector<float>{1, 0};
  q.filter = &*filter;
  auto hits = r.Search(q);
  ASSERT_TRUE(hits.ok()) << hits.status();
  // Without the filter, a (dense first, "fox") and b ("dog") would lead.
  EXPECT_THAT(Ids(*hits), ElementsAre("e", "d"));
}

TEST_F(RetrieverTest, RejectsQueriesMissingWhatTheirModeNeeds) {
  Retriever r(*collection_, nullptr);
  Query q;
  auto st = r.Search(q).status();
  EXPECT_THAT(std::string(st.message()), HasSubstr("needs a \"vector\" or a \"text\""));
  q.text = "fox";
  st = r.Search(q).status();
  EXPECT_THAT(std::string(st.message()), HasSubstr("no embedding model"));
  EXPECT_TRUE(Retriever::NeedsEmbedding(q));
  q.mode = Mode::kLexical;
  q.text.reset();
  q.vector = std::vector<float>{1, 0};
  EXPECT_THAT(std::string(r.Search(q).status().message()), HasSubstr("lexical search needs a \"text\""));
  q.mode = Mode::kHybrid;
  EXPECT_THAT(std::string(r.Search(q).status().message()), HasSubstr("hybrid search needs a \"text\""));
  EXPECT_FALSE(Retriever::NeedsEmbedding(q));
  q.text = "fox";
  q.fusion.rrf_k = -1;
  EXPECT_EQ(r.Search(q).status().code(), absl::StatusCode::kInvalidArgument);
  q.fusion.rrf_k = 60;
  q.k = 0;
  EXPECT_EQ(r.Search(q).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RetrieverTest, LexicalModeWithNoMatchesIsEmpty) {
  Retriever r(*collection_, nullptr);
  Query q;
  q.mode = Mode::kLexical;
  q.text = "the a";  // stop words only
  auto hits = r.Search(q);
  ASSERT_TRUE(hits.ok());
  EXPECT_TRUE(hits->empty());
  q.mode = Mode::kHybrid;  // the dense list still answers
  q.vector = std::vector<float>{1, 0};
  hits = r.Search(q);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(hits->size(), 5u);
}

const fs::path kModelDir = fs::path(RAGLINE_SOURCE_DIR) / "models" / "all-MiniLM-L6-v2";

TEST(RetrieverModelTest, EmbedsTextQueriesWithTheModel) {
  if (!fs::exists(kModelDir / "model.safetensors")) GTEST_SKIP() << "no model at " << kModelDir;
  auto embedder = embed::LocalEmbedder::Open(kModelDir, {}, nullptr);
  ASSERT_TRUE(embedder.ok()) << embedder.status();
  TempDir dir;
  ThreadPool pool(1);
  store::CollectionConfig config;
  config.name = "sem";
  config.dim = 384;
  config.index_kind = index::IndexKind::kFlat;
  auto c = store::Collection::Create(*store::Env::Default(), dir.path() + "/sem", config, pool);
  ASSERT_TRUE(c.ok()) << c.status();
  const std::vector<std::string> texts = {"The cat sat on the warm windowsill.",
                                          "Install the package with the system package manager.",
                                          "Interest rates rose sharply last quarter."};
  auto m = (*embedder)->Embed(texts);
  ASSERT_TRUE(m.ok());
  std::vector<store::Record> records;
  for (size_t i = 0; i < texts.size(); ++i) {
    auto row = m->row(i);
    records.push_back({StrCat("d", i), 1, {row.begin(), row.end()}, json{{"text", texts[i]}}.dump()});
  }
  ASSERT_TRUE((*c)->Upsert(std::move(records)).ok());
  Retriever r(**c, embedder->get());
  Query q;
  q.text = "how do I set up software?";  // a paraphrase: no shared content word with d1
  q.k = 1;
  auto hits = r.Search(q);
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_THAT(Ids(*hits), ElementsAre("d1"));
  q.mode = Mode::kHybrid;
  q.text = "a kitten resting by the window";
  hits = r.Search(q);
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_THAT(Ids(*hits), ElementsAre("d0"));
}

TEST(RetrieverModelTest, RejectsAModelOfAnotherDimension) {
  if (!fs::exists(kModelDir / "model.safetensors")) GTEST_SKIP() << "no model at " << kModelDir;
  auto embedder = embed::LocalEmbedder::Open(kModelDir, {}, nullptr);
  ASSERT_TRUE(embedder.ok()) << embedder.status();
  TempDir dir;
  ThreadPool pool(1);
  store::CollectionConfig config;
  config.name = "two";
  config.dim = 2;
  auto c = store::Collection::Create(*store::Env::Default(), dir.path() + "/two", config, pool);
  ASSERT_TRUE(c.ok());
  Retriever r(**c, embedder->get());
  Query q;
  q.text = "anything";
  EXPECT_THAT(std::string(r.Search(q).status().message()),
              HasSubstr("model all-MiniLM-L6-v2 embeds to 384 dimensions, collection 'two' has 2"));
}

}  // namespace
}  // namespace ragline::search
