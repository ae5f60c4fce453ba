// The stages on their own, over the Source/Sink seam, the way a transport
// other than Ingestor's channels drives them: messages one at a time,
// interleaved, out of order, a stream that pauses. The real model runs in
// ingestor_test.cc; here a word tokenizer and a hashing embedder keep the
// focus on what the stages do with messages.
#include "pipeline/stages.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <thread>

#include "core/strings.h"
#include "pipeline/stage_doubles_for_test.h"
#include "store/collection_fixture_for_test.h"

namespace ragline::pipeline {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

std::string Words(const std::string& word, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += StrCat(i ? " " : "", word, i);
  return s;
}

RawDocument Raw(std::string id, std::string text, std::optional<uint64_t> version = std::nullopt) {
  RawDocument r;
  r.doc.id = std::move(id);
  r.doc.content = std::move(text);
  r.doc.content_type = "text/plain";
  r.doc.source = "test";
  r.doc.version = version;
  return r;
}

ChunkStageOptions SmallChunks() {
  ChunkStageOptions o;
  o.chunker.max_tokens = 10;
  o.chunker.overlap_tokens = 2;
  o.chunker.lookback_tokens = 4;
  o.signature = "test";
  return o;
}

std::vector<ChunkMessage> ChunkAll(std::vector<RawDocument> docs, RecordingEvents& events,
                                   HeadLookup heads = {}) {
  WordTokenizer tokenizer;
  ChunkStage stage(tokenizer, SmallChunks(), std::move(heads));
  VectorSource<RawDocument> in(std::move(docs));
  VectorSink<ChunkMessage> out;
  stage.Run(in, out, events);
  return out.Take();
}

TEST(ChunkStageTest, EmitsOneTypedMessagePerChunkAndOneForAnEmptyDocument) {
  RecordingEvents events;
  auto messages = ChunkAll({Raw("long", Words("w", 30), 7), Raw("empty", "   ")}, events);
  std::map<std::string, std::vector<ChunkMessage>> by_doc;
  for (auto& m : messages) by_doc[m.chunk.doc_id].push_back(m);
  ASSERT_EQ(by_doc["empty"].size(), 1u);
  EXPECT_EQ(by_doc["empty"][0].chunk.chunk_count, 0u);
  const auto& chunks = by_doc["long"];
  ASSERT_GT(chunks.size(), 3u);
  for (size_t k = 0; k < chunks.size(); ++k) {
    EXPECT_EQ(chunks[k].version, 7u);
    EXPECT_EQ(chunks[k].chunk.ordinal, k);
    EXPECT_EQ(chunks[k].chunk.chunk_count, chunks.size());
    EXPECT_EQ(chunks[k].chunk.fingerprint, chunks[0].chunk.fingerprint);
    EXPECT_EQ(chunks[k].chunk.token_count,
              chunks[k].chunk.text.empty() ? 0u : WordTokenizer().Tokenize(chunks[k].chunk.text).size());
  }
  // The payload survives its JSON form (what the store holds and the query path reads).
  auto back = ChunkPayload::FromJson(chunks[1].chunk.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->ToJson(), chunks[1].chunk.ToJson());
  EXPECT_TRUE(events.failed.empty());
}

TEST(ChunkStageTest, SkipsUnchangedDocumentsAndRefusesStaleVersions) {
  RecordingEvents first;
  auto messages = ChunkAll({Raw("a", Words("a", 5))}, first);
  ASSERT_EQ(messages.size(), 1u);
  const std::string fingerprint = messages[0].chunk.fingerprint;
  HeadLookup heads = [&](const std::string& id) -> std::optional<DocumentHead> {
    if (id == "a" || id == "b") return DocumentHead{100, id == "a" ? fingerprint : "other"};
    return std::nullopt;
  };
  RecordingEvents events;
  messages = ChunkAll({Raw("a", Words("a", 5)), Raw("b", Words("b", 5), 50), Raw("c", Words("c", 5))}, events,
                      heads);
  EXPECT_EQ(events.unchanged, std::vector<std::string>{"a"});
  EXPECT_THAT(events.failed["b"], HasSubstr("not newer than the stored version 100"));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].chunk.doc_id, "c");
}

TEST(EmbedStageTest, EmbedsAPartialBatchOnceTheStreamPauses) {
  HashEmbedder embedder;
  EmbedStage stage(embedder, 4, /*batch_chunks=*/64, /*linger=*/20ms);
  Channel<ChunkMessage> in(16);
  Channel<EmbeddedChunk> out(16);
  RecordingEvents events;
  std::thread runner([&] { EXPECT_TRUE(stage.Run(in, out, events).ok()); });
  RecordingEvents chunking;
  auto messages = ChunkAll({Raw("a", Words("a", 5)), Raw("b", Words("b", 5))}, chunking);
  ASSERT_EQ(messages.size(), 2u);
  for (auto& m : messages) ASSERT_TRUE(in.Put(m));
  // The channel stays open (a stream): the two chunks come out anyway.
  for (int i = 0; i < 2; ++i) {
    EmbeddedChunk e;
    ASSERT_EQ(out.Pull(&e, 10s), Pulled::kItem);
    EXPECT_EQ(e.embedding.size(), 4u);
    EXPECT_TRUE(e.error.empty());
  }
  EXPECT_EQ(embedder.batch_sizes, std::vector<size_t>{2});
  in.Close();
  runner.join();
}

TEST(EmbedStageTest, AFailedBatchFailsItsDocumentsWithoutEmbeddingTheirLaterChunks) {
  HashEmbedder embedder;
  EmbedStage stage(embedder, 4, /*batch_chunks=*/2, 24h);
  RecordingEvents chunking, events;
  auto messages = ChunkAll({Raw("long", Words("w", 30))}, chunking);
  ASSERT_GT(messages.size(), 3u);
  embedder.fail = absl::InvalidArgumentError("injected failure");  // the input's fault
  VectorSource<ChunkMessage> in(messages);
  VectorSink<EmbeddedChunk> out;
  EXPECT_TRUE(stage.Run(in, out, events).ok());
  auto embedded = out.Take();
  ASSERT_EQ(embedded.size(), messages.size());  // every chunk passes, marked failed
  for (const auto& e : embedded) EXPECT_FALSE(e.error.empty());
  EXPECT_EQ(embedder.batch_sizes.size(), 1u) << "it embedded chunks of a document that had already failed";
}

// An embedder that is down (a remote one refusing, timing out, its breaker
// open) is no document's fault: the stage stops and says why, handing on
// nothing of the batch, so its caller can retry it (the Kafka embed worker
// rolls back) or fail the call whole (Ingest: a 503, nothing written).
TEST(EmbedStageTest, AnUnavailableEmbedderFailsNoDocument) {
  HashEmbedder embedder;
  EmbedStage stage(embedder, 4, /*batch_chunks=*/2, 24h);
  RecordingEvents chunking, events;
  auto messages = ChunkAll({Raw("long", Words("w", 30)), Raw("other", Words("o", 5))}, chunking);
  embedder.fail = absl::UnavailableError("embeddings server refused the connection");
  VectorSource<ChunkMessage> in(messages);
  VectorSink<EmbeddedChunk> out;
  Status st = stage.Run(in, out, events);
  EXPECT_TRUE(absl::IsUnavailable(st)) << st;
  EXPECT_THAT(std::string(st.message()), HasSubstr("refused"));
  EXPECT_TRUE(out.Take().empty()) << "a chunk of the unembedded batch was handed on";
  EXPECT_TRUE(events.failed.empty());
  EXPECT_EQ(embedder.batch_sizes.size(), 1u) << "it went on embedding after the embedder was down";

  embedder.fail = absl::DeadlineExceededError("embeddings server timed out");
  VectorSource<ChunkMessage> again(messages);
  EXPECT_TRUE(absl::IsDeadlineExceeded(stage.Run(again, out, events)));
  EXPECT_TRUE(out.Take().empty());
}

class IndexStageTest : public store::CollectionFixture {
 protected:
  void SetUp() override {
    store::CollectionConfig config;
    config.name = "c";
    config.dim = 4;
    config.index_kind = index::IndexKind::kFlat;
    collection_ = Create(config);
    ASSERT_NE(collection_, nullptr);
  }
  // Chunks and embeds `docs` (no freshness check), in message order.
  std::vector<EmbeddedChunk> Embedded(std::vector<RawDocument> docs) {
    RecordingEvents events;
    HashEmbedder embedder;
    VectorSource<ChunkMessage> in(ChunkAll(std::move(docs), events));
    VectorSink<EmbeddedChunk> out;
    EXPECT_TRUE(EmbedStage(embedder, 4, 8, 24h).Run(in, out, events).ok());
    return out.Take();
  }
  size_t Count() { return collection_->ListRecords(nullptr).size(); }

  std::unique_ptr<store::Collection> collection_;
};

TEST_F(IndexStageTest, WritesEachDocumentWholeOnceAllItsChunksArriveInAnyOrder) {
  auto a = Embedded({Raw("a", Words("a", 30), 5)});
  auto b = Embedded({Raw("b", Words("b", 30), 5)});
  ASSERT_GT(a.size(), 2u);
  // Interleaved, each document's chunks last to first.
  std::vector<EmbeddedChunk> messages;
  std::reverse(a.begin(), a.end());
  std::reverse(b.begin(), b.end());
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    if (i < a.size()) messages.push_back(a[i]);
    if (i < b.size()) messages.push_back(b[i]);
  }
  // Hold back a's chunk #0: a must not be written, b must.
  auto held = std::find_if(messages.begin(), messages.end(), [](const EmbeddedChunk& e) {
    return e.message.chunk.doc_id == "a" && e.message.chunk.ordinal == 0;
  });
  EmbeddedChunk a0 = *held;
  messages.erase(held);
  RecordingEvents events;
  Channel<EmbeddedChunk> in(64);
  for (auto& m : messages) ASSERT_TRUE(in.Put(m));
  std::thread runner([&] { ASSERT_TRUE(IndexStage(*collection_).Run(in, events).ok()); });
  for (int i = 0; i < 200 && !events.committed.count("b"); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(events.committed.count("b"));
  EXPECT_FALSE(collection_->Get("a#1").has_value()) << "a was written before all its chunks arrived";
  ASSERT_TRUE(in.Put(a0));
  in.Close();
  runner.join();
  EXPECT_EQ(events.committed["a"], std::make_pair(CommitOutcome::kAdded, a.size()));
  EXPECT_EQ(Count(), a.size() + b.size());
  auto head = collection_->Get("a#0");
  ASSERT_TRUE(head);
  auto payload = ChunkPayload::FromJson(head->payload);
  ASSERT_TRUE(payload.ok()) << payload.status();
  EXPECT_EQ(payload->chunk_count, a.size());
  EXPECT_EQ(head->version, 5u);
}

TEST_F(IndexStageTest, AFailedChunkDropsItsDocumentAndAShorterVersionDeletesTheRest) {
  auto v1 = Embedded({Raw("d", Words("v", 30), 1)});
  RecordingEvents events;
  {
    VectorSource<EmbeddedChunk> in(v1);
    ASSERT_TRUE(IndexStage(*collection_).Run(in, events).ok());
  }
  ASSERT_EQ(Count(), v1.size());
  // v2, one of whose chunks failed to embed: nothing of v2 is written.
  auto v2 = Embedded({Raw("d", Words("x", 30), 2)});
  v2[1].error = "injected";
  v2[1].embedding.clear();
  {
    VectorSource<EmbeddedChunk> in(v2);
    ASSERT_TRUE(IndexStage(*collection_).Run(in, events).ok());
  }
  EXPECT_THAT(events.failed["d"], HasSubstr("injected"));
  EXPECT_EQ(collection_->Get("d#0")->version, 1u);
  EXPECT_EQ(Count(), v1.size());
  // v3, one chunk long: replaces v1 and deletes its other chunks in the same write.
  auto v3 = Embedded({Raw("d", "short", 3)});
  ASSERT_EQ(v3.size(), 1u);
  {
    VectorSource<EmbeddedChunk> in(v3);
    ASSERT_TRUE(IndexStage(*collection_).Run(in, events).ok());
  }
  EXPECT_EQ(events.committed["d"], std::make_pair(CommitOutcome::kReplaced, size_t{1}));
  EXPECT_EQ(events.deleted, v1.size() - 1);
  EXPECT_EQ(Count(), 1u);
  // An older version arriving late (a replayed message) changes nothing.
  {
    VectorSource<EmbeddedChunk> in(v1);
    ASSERT_TRUE(IndexStage(*collection_).Run(in, events).ok());
  }
  EXPECT_EQ(events.committed["d"].first, CommitOutcome::kSuperseded);
  EXPECT_EQ(collection_->Get("d#0")->version, 3u);
  EXPECT_EQ(Count(), 1u);
}

// How an index node on Kafka resumes: the positions it stores with the data
// stop at the first document still incomplete, so a restart re-reads exactly
// what is not in the store.
TEST_F(IndexStageTest, SourcePositionsAdvanceWithTheDocumentsTheyCoverAndNoFurther) {
  std::vector<EmbeddedChunk> log;  // one partition: a, then b, then c (which fails)
  for (auto& doc : {Raw("a", Words("a", 30), 1), Raw("b", Words("b", 30), 1), Raw("c", Words("c", 5), 1)}) {
    for (auto& e : Embedded({doc})) log.push_back(std::move(e));
  }
  log.back().error = "injected";
  for (size_t i = 0; i < log.size(); ++i) log[i].from = SourceOffset{"rag.embeddings.upserts/0", 100 + i};
  std::vector<size_t> b_at;  // b's messages in the log
  for (size_t i = 0; i < log.size(); ++i) {
    if (log[i].message.chunk.doc_id == "b") b_at.push_back(i);
  }
  ASSERT_GT(b_at.size(), 1u);
  const size_t first_b = b_at.front(), last_b = b_at.back();

  // The node dies having read everything but b's last chunk (c is read).
  std::vector<EmbeddedChunk> before_crash = log;
  before_crash.erase(before_crash.begin() + last_b);
  RecordingEvents events;
  {
    VectorSource<EmbeddedChunk> in(before_crash);
    ASSERT_TRUE(IndexStage(*collection_).Run(in, events).ok());
  }
  EXPECT_TRUE(events.committed.count("a"));
  EXPECT_FALSE(collection_->Get("b#0"));
  // b is incomplete: the position stays at its first chunk, though c came later.
  EXPECT_EQ(collection_->source_positions(),
            (store::SourcePositions{{"rag.embeddings.upserts/0", 100 + first_b}}));

  // Restart: the collection is reopened from disk, and the consumer resumes there.
  ASSERT_TRUE(collection_->Close().ok());
  collection_.reset();
  collection_ = Reopen();
  ASSERT_NE(collection_, nullptr);
  const uint64_t resume = collection_->source_positions().at("rag.embeddings.upserts/0");
  std::vector<EmbeddedChunk> replay(log.begin() + (resume - 100), log.end());
  RecordingEvents after;
  {
    VectorSource<EmbeddedChunk> in(replay);
    ASSERT_TRUE(IndexStage(*collection_).Run(in, after).ok());
  }
  EXPECT_EQ(after.committed["b"].first, CommitOutcome::kAdded);
  EXPECT_TRUE(after.failed.count("c"));
  EXPECT_EQ(collection_->source_positions(),
            (store::SourcePositions{{"rag.embeddings.upserts/0", 100 + log.size()}}));
  const size_t c_chunks = std::count_if(log.begin(), log.end(),
                                        [](const EmbeddedChunk& e) { return e.message.chunk.doc_id == "c"; });
  EXPECT_EQ(Count(), log.size() - c_chunks);  // a once, b once, nothing of c
}

// A consumer group's rebalance can deliver a message twice: a document is
// complete when every ordinal arrived, not when enough messages did, and a
// late copy does not open a written document again.
TEST_F(IndexStageTest, RedeliveredMessagesNeitherCompleteNorReopenADocument) {
  auto d = Embedded({Raw("d", Words("d", 30), 1)});
  ASSERT_GT(d.size(), 2u);
  for (size_t i = 0; i < d.size(); ++i) d[i].from = SourceOffset{"t/0", i};
  std::vector<EmbeddedChunk> messages(d.begin(), d.end() - 1);  // the last ordinal held back
  messages.push_back(d[0]);                                     // and the first one twice
  RecordingEvents events;
  {
    VectorSource<EmbeddedChunk> in(messages);
    ASSERT_TRUE(IndexStage(*collection_).Run(in, events).ok());
  }
  EXPECT_FALSE(events.committed.count("d")) << "written with an ordinal missing";
  EXPECT_EQ(Count(), 0u);
  // All of d, then a late copy of one of its chunks, through one stage.
  std::vector<EmbeddedChunk> all(d.begin(), d.end());
  all.push_back(d[1]);
  all.back().from = SourceOffset{"t/0", d.size()};
  VectorSource<EmbeddedChunk> whole(all);
  IndexStage stage(*collection_);
  RecordingEvents events2;
  ASSERT_TRUE(stage.Run(whole, events2).ok());
  EXPECT_EQ(events2.committed["d"].second, d.size());
  EXPECT_EQ(Count(), d.size());
  EXPECT_EQ(collection_->source_positions().at("t/0"), d.size() + 1) << "a late copy held the position back";
}

TEST(ChunkPayloadTest, RefusesPayloadsThePipelineDidNotWrite) {
  EXPECT_THAT(std::string(ChunkPayload::FromJson({{"text", "x"}}).status().message()),
              HasSubstr("\"doc_id\""));
  ChunkPayload p;
  p.doc_id = "d";
  p.text = "t";
  nlohmann::json j = p.ToJson();
  EXPECT_FALSE(j.contains("root"));  // only for files
  j["offsets"] = {1};
  EXPECT_THAT(std::string(ChunkPayload::FromJson(j).status().message()), HasSubstr("offsets"));
  j = p.ToJson();
  j["from_a_newer_writer"] = 1;
  EXPECT_TRUE(ChunkPayload::FromJson(j).ok());
}

}  // namespace
}  // namespace ragline::pipeline
