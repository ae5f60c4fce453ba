// The query service without HTTP: request parsing, how hits read typed chunk
// payloads and foreign ones, and retrieval + extractive answers over a real
// collection (lexical, so no model is needed; dense and hybrid with the real
// model run in server_test.cc and tests/server_test.sh).
#include "query/query.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pipeline/chunk_payload.h"
#include "store/collection_fixture_for_test.h"

namespace ragline::query {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

std::string ErrorOf(const json& body) {
  auto r = QueryRequest::FromJson(body);
  return r.ok() ? std::string("ok") : std::string(r.status().message());
}

TEST(QueryRequestTest, ParsesAndNamesTheBadField) {
  auto r = QueryRequest::FromJson({{"query", "what?"}, {"k", 3.0}, {"mode", "lexical"}, {"generate", false}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->k, 3u);
  EXPECT_EQ(r->mode, search::Mode::kLexical);
  EXPECT_FALSE(r->generate);
  EXPECT_THAT(ErrorOf({{"k", 3}}), HasSubstr("\"query\""));
  EXPECT_THAT(ErrorOf({{"query", "  "}}), HasSubstr("must not be empty"));
  EXPECT_THAT(ErrorOf({{"query", "\xff"}}), HasSubstr("UTF-8"));
  EXPECT_THAT(ErrorOf({{"query", "q"}, {"k", 0}}), HasSubstr("\"k\""));
  EXPECT_THAT(ErrorOf({{"query", "q"}, {"mode", "fuzzy"}}), HasSubstr("\"mode\""));
  EXPECT_THAT(ErrorOf({{"query", "q"}, {"filter", {{"a", {{"$near", 1}}}}}}), HasSubstr("\"filter\""));
  EXPECT_THAT(ErrorOf({{"query", "q"}, {"topk", 1}}), HasSubstr("topk"));
}

pipeline::ChunkPayload Chunk(std::string doc_id, size_t ordinal, std::string text) {
  pipeline::ChunkPayload p;
  p.doc_id = std::move(doc_id);
  p.ordinal = ordinal;
  p.chunk_count = 2;
  p.text = std::move(text);
  p.begin = 10 * ordinal;
  p.end = p.begin + p.text.size();
  p.title = "The Title";
  p.metadata = {{"lang", "en"}};
  return p;
}

TEST(HitFieldsTest, ReadsATypedChunkAndAForeignPayload) {
  HitFields chunk = HitFields::Of(Chunk("guide.md", 1, "apt install").ToJson(), "text");
  EXPECT_EQ(chunk.doc_id, "guide.md");
  EXPECT_EQ(chunk.text, "apt install");
  EXPECT_EQ(chunk.offsets, json::array({10, 21}));
  EXPECT_EQ(chunk.metadata, json({{"lang", "en"}}));  // the caller's, not the pipeline's fields
  EXPECT_EQ(chunk.title, "The Title");

  // Upserted through the vectors API with a text field of its own.
  HitFields foreign = HitFields::Of({{"body", "hello"}, {"title", "T"}, {"n", 1}}, "body");
  EXPECT_EQ(foreign.doc_id, "");
  EXPECT_EQ(foreign.text, "hello");
  EXPECT_TRUE(foreign.offsets.is_null());
  EXPECT_EQ(foreign.metadata, json({{"title", "T"}, {"n", 1}}));
  EXPECT_EQ(foreign.title, "T");
  store::SearchHit hit{"v1", 0.5f, 3, {}};
  EXPECT_EQ(HitJson(hit, foreign)["doc_id"], "v1");  // no doc_id: the record's id
}

class RunRetrievalTest : public store::CollectionFixture {};

TEST_F(RunRetrievalTest, LexicalRetrievalAndAnExtractiveAnswerWithCitations) {
  store::CollectionConfig config;
  config.name = "docs";
  config.dim = 2;
  config.index_kind = index::IndexKind::kFlat;
  std::unique_ptr<store::Collection> c = Create(config);
  ASSERT_NE(c, nullptr);
  std::vector<store::Record> records = {
      {"guide.md#0", 1, {1, 0}, Chunk("guide.md", 0, "Debian installs packages with apt.").ToJson().dump()},
      {"guide.md#1", 1, {0, 1}, Chunk("guide.md", 1, "Fedora uses dnf instead.").ToJson().dump()},
      {"v1", 1, {1, 1}, json({{"text", "apt is also a word here"}}).dump()}};
  ASSERT_TRUE(c->Upsert(std::move(records)).ok());

  auto request = QueryRequest::FromJson({{"query", "apt packages"}, {"mode", "lexical"}, {"k", 5}});
  ASSERT_TRUE(request.ok());
  auto retrieved = RunRetrieval(*c, nullptr, *request, {});
  ASSERT_TRUE(retrieved.ok()) << retrieved.status();
  ASSERT_GE(retrieved->hits.size(), 2u);
  EXPECT_EQ(retrieved->hits_json[0]["id"], "guide.md#0");
  EXPECT_EQ(retrieved->hits_json[0]["doc_id"], "guide.md");
  ASSERT_FALSE(retrieved->passages.empty());
  EXPECT_EQ(retrieved->passages[0].title, "The Title");

  generate::Answer answer = RunAnswer(*request, *retrieved, nullptr, {}, nullptr, {});
  json body = QueryResponseJson(*retrieved, &answer);
  EXPECT_TRUE(body["degraded"].get<bool>());  // no LLM: the extractive answer, said so
  ASSERT_FALSE(body["citations"].empty());
  EXPECT_EQ(body["citations"][0]["doc_id"], "guide.md");
  EXPECT_EQ(body["citations"][0]["title"], "The Title");

  // Dense needs a model; without one the error says what to do.
  auto dense = QueryRequest::FromJson({{"query", "apt"}, {"mode", "dense"}});
  auto refused = RunRetrieval(*c, nullptr, *dense, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::IsUnavailable(refused.status()));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("\"mode\": \"lexical\""));
}

}  // namespace
}  // namespace ragline::query
