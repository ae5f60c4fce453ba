// The wire form of the pipeline's messages (docs/formats/messages.md): each
// round-trips, and each kind of malformed message is refused with a reason
// naming the field (what the dead-letter topic will record).
#include "pipeline/messages.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

namespace ragline::pipeline {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

ChunkMessage Chunk() {
  ChunkMessage m;
  m.version = 1733500000000;
  m.chunk.doc_id = "guide/intro.md";
  m.chunk.title = "Intro";
  m.chunk.source = "/srv/docs/guide/intro.md";
  m.chunk.root = "/srv/docs";
  m.chunk.content_type = ".md";
  m.chunk.content_hash = "0123456789abcdef";
  m.chunk.fingerprint = "fedcba9876543210";
  m.chunk.chunk_count = 3;
  m.chunk.extracted = {{"lang", "en"}};
  m.chunk.metadata = {{"team", "docs"}};
  m.chunk.text = "Install with apt.";
  m.chunk.ordinal = 1;
  m.chunk.begin = 120;
  m.chunk.end = 137;
  m.chunk.token_count = 5;
  m.chunk.heading_path = "Install > Debian";
  m.collection = "docs";
  return m;
}

TEST(MessagesTest, EveryMessageRoundTripsThroughItsJson) {
  RawDocument raw;
  raw.doc.id = "manual.pdf";
  raw.doc.content = std::string("%PDF-1.4\0\xff binary", 17);
  raw.doc.content_type = "application/pdf";
  raw.doc.metadata = {{"lang", "de"}};
  raw.doc.version = 7;
  raw.doc.source = "upload";
  raw.root = "/srv";
  raw.collection = "manuals";
  auto raw_back = RawDocumentFromJson(json::parse(RawDocumentToJson(raw).dump()));
  ASSERT_TRUE(raw_back.ok()) << raw_back.status();
  EXPECT_EQ(raw_back->doc.content, raw.doc.content);  // bytes, base64 on the wire
  EXPECT_EQ(raw_back->doc.content_type, "application/pdf");
  EXPECT_EQ(raw_back->doc.version, 7u);
  EXPECT_EQ(raw_back->doc.metadata, raw.doc.metadata);
  EXPECT_EQ(raw_back->root, "/srv");
  EXPECT_EQ(raw_back->collection, "manuals");
  RawDocument text;
  text.doc.id = "a";
  text.doc.content = "plain words";
  text.doc.content_type = "text/plain";
  EXPECT_EQ(RawDocumentToJson(text)["text"], "plain words");

  const ChunkMessage m = Chunk();
  auto chunk_back = ChunkMessageFromJson(json::parse(ChunkMessageToJson(m).dump()));
  ASSERT_TRUE(chunk_back.ok()) << chunk_back.status();
  EXPECT_EQ(chunk_back->version, m.version);
  EXPECT_EQ(chunk_back->chunk.ToJson(), m.chunk.ToJson());
  EXPECT_EQ(chunk_back->collection, "docs");

  EmbeddedChunk e{m, {0.5f, -0.25f, 1.0f}, {}, std::nullopt};
  const json wire = EmbeddedChunkToJson(e, 1733500000123);
  EXPECT_EQ(wire["vector_store"], "docs");  // the chunk's collection, under the seed's name
  EXPECT_FALSE(wire.contains("collection"));
  EXPECT_EQ(wire["timestamp"], 1733500000123u);
  auto e_back = EmbeddedChunkFromJson(json::parse(wire.dump()), 3);
  ASSERT_TRUE(e_back.ok()) << e_back.status();
  EXPECT_EQ(e_back->embedding, e.embedding);
  EXPECT_EQ(e_back->message.chunk.ToJson(), m.chunk.ToJson());
  EXPECT_EQ(e_back->message.collection, "docs");

  EmbeddedChunk failed{m, {}, "embedding failed: model unavailable", std::nullopt};
  auto failed_back = EmbeddedChunkFromJson(EmbeddedChunkToJson(failed, 1), 3);
  ASSERT_TRUE(failed_back.ok()) << failed_back.status();
  EXPECT_EQ(failed_back->error, failed.error);
}

TEST(MessagesTest, MalformedMessagesAreRefusedNamingTheField) {
  const json good = EmbeddedChunkToJson(EmbeddedChunk{Chunk(), {1, 0, 0}, {}, std::nullopt}, 1);
  ASSERT_TRUE(EmbeddedChunkFromJson(good, 3).ok());
  struct Case {
    const char* what;
    std::function<void(json&)> damage;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {"wrong dimension",
       [](json& j) {
         j["embedding"] = {1, 0};
       },
       "\"embedding\" must be an array of 3"},
      {"a string in the vector", [](json& j) { j["embedding"][1] = "x"; }, "numbers only"},
      {"no embedding, no error", [](json& j) { j.erase("embedding"); }, "\"embedding\""},
      {"both embedding and error", [](json& j) { j["error"] = "x"; }, "not both"},
      {"version a string", [](json& j) { j["version"] = "1"; }, "\"version\""},
      {"negative version", [](json& j) { j["version"] = -1; }, "\"version\""},
      {"no doc_id", [](json& j) { j.erase("doc_id"); }, "\"doc_id\""},
      {"empty doc_id", [](json& j) { j["doc_id"] = ""; }, "\"doc_id\" must not be empty"},
      {"text a number", [](json& j) { j["text"] = 5; }, "\"text\""},
      {"ordinal past the count", [](json& j) { j["ordinal"] = 3; }, "past chunk_count"},
      {"offsets malformed", [](json& j) { j["offsets"] = "0-5"; }, "offsets"},
      {"metadata not an object", [](json& j) { j["metadata"] = json::array(); }, "\"metadata\""},
      {"not an object", [](json& j) { j = json::array({1}); }, "\"version\""},
      {"no vector_store", [](json& j) { j.erase("vector_store"); }, "\"vector_store\""},
      {"vector_store empty", [](json& j) { j["vector_store"] = ""; }, "\"vector_store\""},
  };
  for (const auto& c : cases) {
    json j = good;
    c.damage(j);
    auto r = EmbeddedChunkFromJson(j, 3);
    ASSERT_FALSE(r.ok()) << c.what;
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << c.what;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(c.reason)) << c.what;
  }
  // A newer writer's extra fields are ignored.
  json newer = good;
  newer["trace"] = "00-abc-01";
  EXPECT_TRUE(EmbeddedChunkFromJson(newer, 3).ok());
  // A chunkless document (delete the old chunks) carries an empty embedding.
  ChunkMessage empty = Chunk();
  empty.chunk.chunk_count = 0;
  empty.chunk.ordinal = 0;
  EXPECT_TRUE(
      EmbeddedChunkFromJson(EmbeddedChunkToJson(EmbeddedChunk{empty, {}, {}, std::nullopt}, 1), 3).ok());

  auto raw = RawDocumentFromJson({{"id", "a"}, {"text", "t"}, {"collection", "c"}, {"root", 5}});
  EXPECT_THAT(std::string(raw.status().message()), HasSubstr("\"root\""));
  raw = RawDocumentFromJson({{"id", "a"}, {"text", "t"}, {"collection", "c"}, {"colour", "red"}});
  EXPECT_THAT(std::string(raw.status().message()), HasSubstr("colour"));
  raw = RawDocumentFromJson({{"id", "a"}, {"text", "t"}});  // which collection is it for?
  EXPECT_THAT(std::string(raw.status().message()), HasSubstr("\"collection\""));
  EXPECT_TRUE(RawDocumentFromJson({{"id", "a"}, {"text", "t"}, {"collection", "c"}}).ok());
}

}  // namespace
}  // namespace ragline::pipeline
