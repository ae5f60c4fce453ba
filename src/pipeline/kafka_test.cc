// The Kafka clients against a real broker. scripts/kafka.sh starts one and
// tests/kafka_test.sh runs these with RAGLINE_KAFKA_BOOTSTRAP set; without it
// (the unit runs) they are skipped, since a unit run starts no broker.
#include "pipeline/kafka.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <set>
#include <thread>

#include "core/strings.h"
#include "pipeline/stage_doubles_for_test.h"
#include "pipeline/stages.h"
#include "pipeline/workers.h"
#include "store/collection_fixture_for_test.h"
#include "store/database.h"

namespace ragline::pipeline {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

std::string Bootstrap() {
  const char* b = std::getenv("RAGLINE_KAFKA_BOOTSTRAP");
  return b ? b : "";
}

std::string UniqueTopic(const std::string& base) {
  return StrCat(base, "-", ::testing::UnitTest::GetInstance()->current_test_info()->name(), "-", ::getpid());
}

class KafkaTest : public store::CollectionFixture {
 protected:
  void SetUp() override {
    bootstrap_ = Bootstrap();
    if (bootstrap_.empty())
      GTEST_SKIP() << "no broker: tests/kafka_test.sh runs these with RAGLINE_KAFKA_BOOTSTRAP";
  }
  std::string bootstrap_;
};

TEST_F(KafkaTest, ProducedMessagesAreReadBackFromAssignedOffsets) {
  const std::string topic = UniqueTopic("rag.test");
  ASSERT_TRUE(CreateKafkaTopic(bootstrap_, topic, 2, 1).ok());
  ASSERT_TRUE(CreateKafkaTopic(bootstrap_, topic, 2, 1).ok()) << "creating an existing topic is not a no-op";
  auto partitions = KafkaPartitionCount(bootstrap_, topic);
  ASSERT_TRUE(partitions.ok()) << partitions.status();
  EXPECT_EQ(*partitions, 2);
  EXPECT_TRUE(absl::IsNotFound(KafkaPartitionCount(bootstrap_, topic + "-absent", 1s).status()));

  auto producer = KafkaProducer::Create(bootstrap_);
  ASSERT_TRUE(producer.ok()) << producer.status();
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE((*producer)->Produce(topic, i % 2, StrCat("k", i), StrCat("v", i)).ok());
  }
  ASSERT_TRUE((*producer)->Flush(30s).ok());

  auto consumer = KafkaConsumer::Create(bootstrap_, "rag.test.reader");
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  ASSERT_TRUE((*consumer)->Assign({{topic, 0, 5}, {topic, 1, 0}}).ok());  // partition 0 from offset 5
  std::map<std::string, KafkaMessage> seen;
  for (int polls = 0; polls < 100 && seen.size() < 35; ++polls) {
    auto m = (*consumer)->Poll(200ms);
    ASSERT_TRUE(m.ok()) << m.status();
    if (*m) seen[(*m)->key] = **m;
  }
  ASSERT_EQ(seen.size(), 35u);  // 20 of partition 1, 15 of partition 0
  EXPECT_EQ(seen["k1"].partition, 1);
  EXPECT_EQ(seen["k1"].value, "v1");
  EXPECT_FALSE(seen.count("k8")) << "offset 4 of partition 0 was read, before the assigned start";
  EXPECT_EQ(seen["k10"].offset, 5);
}

// Consume-transform-produce in transactions, the chunk and embed workers'
// loop: a worker that dies with a transaction open leaves nothing of it
// visible to read_committed readers, and its successor (same transactional
// id, same group) redoes exactly that part.
TEST_F(KafkaTest, ATransformThatDiesMidTransactionIsRedoneExactlyOnce) {
  const std::string in = UniqueTopic("rag.test.in"), out = UniqueTopic("rag.test.out");
  const std::string group = UniqueTopic("rag.test.upper"), txn_id = UniqueTopic("rag.test.upper-0");
  ASSERT_TRUE(CreateKafkaTopic(bootstrap_, in, 2, 1).ok());
  ASSERT_TRUE(CreateKafkaTopic(bootstrap_, out, 2, 1).ok());
  auto source = KafkaProducer::Create(bootstrap_);
  ASSERT_TRUE(source.ok());
  constexpr int kMessages = 60, kPerTransaction = 10;
  for (int i = 0; i < kMessages; ++i)
    ASSERT_TRUE((*source)->Produce(in, i % 2, StrCat("k", i), StrCat("m", i)).ok());
  ASSERT_TRUE((*source)->Flush(30s).ok());

  // Transforms until `limit` input messages are done; with `die_after`
  // commits it dies instead, its next transaction open.
  auto worker = [&](int limit, int die_after) {
    auto consumer = KafkaConsumer::Create(bootstrap_, group, {{"session.timeout.ms", "6000"}});
    ASSERT_TRUE(consumer.ok()) << consumer.status();
    ASSERT_TRUE((*consumer)->Subscribe({in}).ok());
    auto producer = KafkaProducer::Create(bootstrap_, {{"transactional.id", txn_id}});
    ASSERT_TRUE(producer.ok()) << producer.status();
    int done = 0, commits = 0;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (done < limit && std::chrono::steady_clock::now() < deadline) {
      ASSERT_TRUE((*producer)->BeginTransaction().ok());
      std::map<int32_t, int64_t> next;
      int n = 0;
      while (n < kPerTransaction && done + n < limit && std::chrono::steady_clock::now() < deadline) {
        auto m = (*consumer)->Poll(200ms);
        ASSERT_TRUE(m.ok()) << m.status();
        if (!*m) continue;
        std::string upper = (*m)->value;
        for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        ASSERT_TRUE((*producer)->Produce(out, (*m)->partition, (*m)->key, upper).ok());
        next[(*m)->partition] = (*m)->offset + 1;
        ++n;
      }
      if (commits == die_after) return;  // dies: produced, never committed
      std::vector<PartitionStart> offsets;
      for (const auto& [partition, offset] : next) offsets.push_back({in, partition, offset});
      Status st = (*producer)->CommitTransaction(**consumer, offsets, 30s);
      ASSERT_TRUE(st.ok()) << st;
      ++commits;
      done += n;
    }
    EXPECT_EQ(done, limit);
  };
  worker(kMessages, /*die_after=*/2);  // commits 20, dies with 10 more produced
  worker(kMessages - 2 * kPerTransaction, /*die_after=*/-1);

  auto reader = KafkaConsumer::Create(bootstrap_, UniqueTopic("rag.test.check"));
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE((*reader)->Assign({{out, 0, 0}, {out, 1, 0}}).ok());
  std::map<std::string, int> copies;
  int total = 0;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  auto quiet_since = std::chrono::steady_clock::now();
  // Until every message is in and 2 s more passed without another (a duplicate would show).
  while (std::chrono::steady_clock::now() < deadline &&
         (total < kMessages || std::chrono::steady_clock::now() - quiet_since < 2s)) {
    auto m = (*reader)->Poll(200ms);
    ASSERT_TRUE(m.ok()) << m.status();
    if (!*m) continue;
    ++copies[(*m)->value];
    ++total;
    quiet_since = std::chrono::steady_clock::now();
  }
  EXPECT_EQ(total, kMessages) << "the dead worker's open transaction is visible, or something was lost";
  EXPECT_EQ(copies.size(), static_cast<size_t>(kMessages));
  for (const auto& [value, n] : copies) EXPECT_EQ(n, 1) << value;
  EXPECT_EQ(copies.count("M0") + copies.count("M59"), 2u);
}

// Reads `topic` (every partition, read_committed) until `want` messages or 60 s.
std::vector<KafkaMessage> ReadAll(const std::string& bootstrap, const std::string& topic, size_t want,
                                  std::chrono::seconds wait = 60s) {
  std::vector<KafkaMessage> out;
  auto partitions = KafkaPartitionCount(bootstrap, topic);
  auto reader = KafkaConsumer::Create(bootstrap, StrCat("rag.test.read.", topic));
  if (!partitions.ok() || !reader.ok()) return out;
  std::vector<PartitionStart> starts;
  for (int p = 0; p < *partitions; ++p) starts.push_back({topic, p, 0});
  if (!(*reader)->Assign(starts).ok()) return out;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (out.size() < want && std::chrono::steady_clock::now() < deadline) {
    auto m = (*reader)->Poll(200ms);
    if (m.ok() && *m) out.push_back(std::move(**m));
  }
  return out;
}

// Bad input of each kind goes to the dead-letter topic with its reason, in
// the worker's transaction, and the good documents around it go on.
TEST_F(KafkaTest, TheChunkWorkerSendsBadMessagesToTheDeadLetterTopic) {
  WorkerOptions o;
  o.bootstrap = bootstrap_;
  o.topics = Topics::WithPrefix(UniqueTopic("dl") + ".");
  o.group = o.topics.raw + ".chunkers";
  o.partitions = 2;
  ASSERT_TRUE(CreateTopics(o).ok());
  auto producer = KafkaProducer::Create(bootstrap_);
  ASSERT_TRUE(producer.ok());
  auto raw = [](std::string id, std::string text, std::string type) {
    RawDocument r;
    r.doc.id = std::move(id);
    r.doc.content = std::move(text);
    r.doc.content_type = std::move(type);
    r.collection = "docs";
    return RawDocumentToJson(r).dump();
  };
  ASSERT_TRUE(
      (*producer)->Produce(o.topics.raw, 0, "good", raw("good", "one two three four", "text/plain")).ok());
  ASSERT_TRUE((*producer)->Produce(o.topics.raw, 0, "junk", "{not json").ok());
  ASSERT_TRUE((*producer)
                  ->Produce(o.topics.raw, 1, "typo", R"({"id": "typo", "txet": "x", "collection": "docs"})")
                  .ok());
  ASSERT_TRUE((*producer)->Produce(o.topics.raw, 0, "nowhere", R"({"id": "nowhere", "text": "x"})").ok());
  ASSERT_TRUE((*producer)->Produce(o.topics.raw, 1, "odd", raw("odd", "x", "application/x-unknown")).ok());
  ASSERT_TRUE((*producer)->Produce(o.topics.raw, 1, "good2", raw("good2", "five six", "text/plain")).ok());
  ASSERT_TRUE((*producer)->Flush(30s).ok());

  WordTokenizer words;
  ChunkStageOptions chunking;
  chunking.chunker.max_tokens = 10;
  chunking.chunker.overlap_tokens = 2;
  chunking.chunker.lookback_tokens = 4;
  ChunkStage stage(words, chunking, {});
  RecordingEvents events;
  std::stop_source stop;
  Status result;
  std::thread worker([&] { result = RunChunkWorker(o, stage, events, stop.get_token()); });
  auto dead = ReadAll(bootstrap_, o.topics.deadletter, 4);
  auto chunks = ReadAll(bootstrap_, o.topics.chunks, 2);
  stop.request_stop();
  worker.join();
  EXPECT_TRUE(result.ok()) << result;

  std::map<std::string, std::string> reasons;
  for (const auto& m : dead) {
    auto j = nlohmann::json::parse(m.value);
    reasons[j["key"].get<std::string>()] = j["reason"].get<std::string>();
    EXPECT_EQ(j["topic"], o.topics.raw);
  }
  EXPECT_THAT(reasons["junk"], HasSubstr("not JSON"));
  EXPECT_THAT(reasons["typo"], HasSubstr("txet"));
  EXPECT_THAT(reasons["nowhere"], HasSubstr("\"collection\""));
  EXPECT_THAT(reasons["odd"], HasSubstr("application/x-unknown"));
  EXPECT_EQ(events.failed.size(), 1u);  // the one that parsed but failed to extract
  ASSERT_EQ(chunks.size(), 2u);
  std::set<std::string> keys;
  for (const auto& m : chunks) {
    keys.insert(m.key);
    EXPECT_EQ(nlohmann::json::parse(m.value)["collection"], "docs");  // the document's, on every chunk
  }
  EXPECT_EQ(keys, (std::set<std::string>{"good#0", "good2#0"}));
  // Each document on its partition: the same function for every topic.
  for (const auto& m : chunks) EXPECT_EQ(m.partition, DocumentPartition(m.key.substr(0, m.key.find('#')), 2));
}

// The upsert message of chunk `k` of `chunks` of `doc` in `collection` (version 1, dim 4).
std::string UpsertValue(const std::string& collection, const std::string& doc, size_t k, size_t chunks) {
  ChunkMessage m;
  m.collection = collection;
  m.version = 1;
  m.chunk.doc_id = doc;
  m.chunk.ordinal = k;
  m.chunk.chunk_count = chunks;
  m.chunk.text = StrCat(doc, " chunk ", k);
  return EmbeddedChunkToJson(EmbeddedChunk{m, {1.0f, float(k), 0.5f, 0.25f}, {}, std::nullopt}, 1).dump();
}

// Ends the stream after `idle_limit` consecutive idle pulls (a topic never ends).
class UntilQuiet final : public Source<EmbeddedChunk> {
 public:
  UntilQuiet(Source<EmbeddedChunk>& inner, int idle_limit) : inner_(inner), idle_limit_(idle_limit) {}
  Pulled Pull(EmbeddedChunk* out, std::chrono::milliseconds wait) override {
    const Pulled p = inner_.Pull(out, std::max(wait, std::chrono::milliseconds(100)));
    if (p == Pulled::kItem) {
      idle_ = 0;
      ++items;
      return p;
    }
    if (p == Pulled::kEnd || ++idle_ >= idle_limit_) return Pulled::kEnd;
    return Pulled::kIdle;
  }
  size_t items = 0;

 private:
  Source<EmbeddedChunk>& inner_;
  int idle_limit_;
  int idle_ = 0;
};

// An index node that dies mid-document resumes from the offsets it stored
// with its data: every document lands once, whole, and nothing is re-read
// that is already in the store. Another collection's messages only move the
// position; one for no collection here is reported.
TEST_F(KafkaTest, AnIndexNodeResumesFromTheOffsetsStoredWithItsData) {
  const std::string topic = UniqueTopic("rag.embeddings.upserts");
  ASSERT_TRUE(CreateKafkaTopic(bootstrap_, topic, 2, 1).ok());
  auto producer = KafkaProducer::Create(bootstrap_);
  ASSERT_TRUE(producer.ok());
  // Every chunk of a document on one partition (by document), in order.
  auto produce_doc = [&](const std::string& doc, int32_t partition, size_t chunks, size_t from, size_t to,
                         const std::string& collection = "docs") {
    for (size_t k = from; k < to; ++k) {
      ASSERT_TRUE((*producer)
                      ->Produce(topic, partition, ChunkId(doc, k), UpsertValue(collection, doc, k, chunks))
                      .ok());
    }
  };
  produce_doc("a", 0, 3, 0, 3);
  produce_doc("b", 1, 4, 0, 2);  // b's last two chunks are not produced yet
  ASSERT_TRUE((*producer)->Produce(topic, 1, "junk", "{not json").ok());
  produce_doc("theirs", 0, 1, 0, 1, "notes");  // another collection's
  produce_doc("lost", 0, 1, 0, 1, "nowhere");  // no collection's
  ASSERT_TRUE((*producer)->Flush(30s).ok());

  store::CollectionConfig config;
  config.name = "docs";
  config.dim = 4;
  config.index_kind = index::IndexKind::kFlat;
  std::unique_ptr<store::Collection> c = Create(config);
  ASSERT_NE(c, nullptr);
  std::vector<std::string> bad;
  auto run = [&](std::unique_ptr<store::Collection>& collection)
      -> std::pair<std::map<std::string, std::pair<CommitOutcome, size_t>>, size_t> {
    auto source = KafkaUpsertSource::Open(
        bootstrap_, "rag.index.test", topic, 4, collection->source_positions(), {},
        [](const std::string& vector_store) {
          return vector_store == "docs"    ? Routed::kMine
                 : vector_store == "notes" ? Routed::kOther
                                           : Routed::kStray;
        },
        [&](const KafkaMessage& m, const Status& why) {
          bad.push_back(StrCat(m.key, ": ", std::string(why.message())));
        });
    EXPECT_TRUE(source.ok()) << source.status();
    RecordingEvents events;
    UntilQuiet quiet(**source, 30);
    EXPECT_TRUE(IndexStage(*collection).Run(quiet, events).ok());
    return {events.committed, quiet.items};
  };

  auto [first, first_items] = run(c);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first.count("a"), 1u);
  EXPECT_EQ(first_items, 8u);  // a's 3, b's 2, and the junk and the two others' passing through
  EXPECT_FALSE(c->Get("b#0")) << "b was written before all its chunks arrived";
  EXPECT_FALSE(c->Get("theirs#0"));
  ASSERT_EQ(bad.size(), 2u);
  std::sort(bad.begin(), bad.end());
  EXPECT_THAT(bad[0], HasSubstr("not JSON"));
  EXPECT_THAT(bad[1], HasSubstr("no collection 'nowhere'"));
  // Partition 0 is past a and the others; partition 1 waits at b's first chunk (offset 0).
  EXPECT_EQ(c->source_positions(),
            (store::SourcePositions{{PositionKey(topic, 0), 5}, {PositionKey(topic, 1), 0}}));

  // The node dies; b's producer finishes; the node comes back from disk.
  ASSERT_TRUE(c->Close().ok());
  c.reset();
  produce_doc("b", 1, 4, 2, 4);
  ASSERT_TRUE((*producer)->Flush(30s).ok());
  std::unique_ptr<store::Collection> reopened = Reopen();
  ASSERT_NE(reopened, nullptr);
  auto [second, second_items] = run(reopened);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second["b"].first, CommitOutcome::kAdded);
  EXPECT_EQ(second_items, 5u) << "a was read again, or b not whole";      // b's 4 and the junk between
  EXPECT_EQ(reopened->Stats().vector_count, 7u);                          // a's 3 and b's 4, once each
  EXPECT_EQ(reopened->source_positions().at(PositionKey(topic, 1)), 5u);  // past the junk and b
}

// An index node keeps a reader per collection of its data directory. A
// collection created while it runs (Hold, create, Adopt, Release: what the
// catalog routes do) reads only what comes after, not an older namesake's
// messages; an alias's messages go to its collection; a message for no
// collection is dead-lettered once; a held collection is not read.
TEST_F(KafkaTest, AnIndexNodeKeepsAReaderPerCollection) {
  WorkerOptions o;
  o.bootstrap = bootstrap_;
  o.topics = Topics::WithPrefix(UniqueTopic("node") + ".");
  o.group = "rag.index";
  o.partitions = 2;
  ASSERT_TRUE(CreateTopics(o).ok());
  auto producer = KafkaProducer::Create(bootstrap_);
  ASSERT_TRUE(producer.ok());
  auto produce = [&](const std::string& collection, const std::string& doc, size_t chunks) {
    for (size_t k = 0; k < chunks; ++k) {
      ASSERT_TRUE((*producer)
                      ->Produce(o.topics.upserts, DocumentPartition(doc, 2), ChunkId(doc, k),
                                UpsertValue(collection, doc, k, chunks))
                      .ok());
    }
    ASSERT_TRUE((*producer)->Flush(30s).ok());
  };
  auto db = store::Database::Open(*store::Env::Default(), tmp_.path() + "/node");
  ASSERT_TRUE(db.ok()) << db.status();
  store::CollectionConfig config;
  config.name = "docs";
  config.dim = 4;
  config.index_kind = index::IndexKind::kFlat;
  ASSERT_TRUE((*db)->CreateCollection(config).ok());
  produce("docs", "a", 2);
  produce("notes", "old", 1);  // before "notes" exists here: a namesake's

  RecordingEvents events;
  IndexNode node(o, **db, {}, events);
  std::stop_source stop;
  Status result;
  std::thread run([&] { result = node.Run(stop.get_token()); });
  auto has = [&](const std::string& collection, const std::string& id) {
    auto c = (*db)->GetCollection(collection);
    return c.ok() && (*c)->Get(id).has_value();
  };
  auto eventually = [&](const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
    return done();
  };
  EXPECT_TRUE(eventually([&] { return has("docs", "a#1"); }));

  config.name = "notes";
  node.Hold("notes");
  auto notes = (*db)->CreateCollection(config);
  ASSERT_TRUE(notes.ok()) << notes.status();
  ASSERT_TRUE(node.Adopt(**notes).ok());
  node.Release("notes");
  node.Hold("n");
  ASSERT_TRUE((*db)->CreateAlias("n", "notes").ok());
  node.Release("n");
  produce("notes", "new", 1);
  produce("n", "via-alias", 1);
  produce("nowhere", "lost", 1);
  produce("docs", "b", 1);
  EXPECT_TRUE(
      eventually([&] { return has("notes", "new#0") && has("notes", "via-alias#0") && has("docs", "b#0"); }));
  EXPECT_FALSE(has("notes", "old#0")) << "a collection created now read what came before it";
  EXPECT_FALSE(has("docs", "new#0"));
  EXPECT_EQ(node.Reading(), (std::vector<std::string>{"docs", "notes"}));

  node.Hold("docs");  // before a drop: its reader stops and stays stopped
  EXPECT_EQ(node.Reading(), (std::vector<std::string>{"notes"}));
  produce("docs", "c", 1);
  std::this_thread::sleep_for(1s);
  EXPECT_FALSE(has("docs", "c#0"));
  node.Release("docs");
  EXPECT_TRUE(eventually([&] { return has("docs", "c#0"); }));

  stop.request_stop();
  run.join();
  EXPECT_TRUE(result.ok()) << result;
  auto dead = ReadAll(bootstrap_, o.topics.deadletter, 3, 3s);  // a third one must not come
  ASSERT_EQ(dead.size(), 2u);
  std::set<std::string> reasons;
  for (const auto& m : dead) reasons.insert(nlohmann::json::parse(m.value)["reason"].get<std::string>());
  EXPECT_EQ(reasons, (std::set<std::string>{"no collection 'notes' on this index node",  // old, before notes
                                            "no collection 'nowhere' on this index node"}));
  EXPECT_EQ(events.committed.size(), 5u);  // a, new, via-alias, b, c
}

}  // namespace
}  // namespace ragline::pipeline
