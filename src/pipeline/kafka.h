// Kafka clients for distributed mode (DESIGN.md §5), on Debian's librdkafka
// (C API; librdkafka++ has no Admin API). Thin RAII wrappers that speak in
// Status, plus KafkaUpsertSource: rag.embeddings.upserts seen as the
// Source<EmbeddedChunk> an IndexStage reads, each message carrying its
// SourceOffset so the stage stores offsets atomically with the data.
//
// Guarantees taken here: producers are idempotent (enable.idempotence=true:
// no duplicates or reordering on retries); consumers read committed data only
// (isolation.level=read_committed), never commit offsets to Kafka
// (enable.auto.commit=false: an index node's offsets live in its collection
// checkpoint) and start from offsets the caller assigns.
//
// Thread safety: a KafkaProducer may be used from any thread; a
// KafkaConsumer and a KafkaUpsertSource from one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "pipeline/channel.h"
#include "pipeline/messages.h"
#include "store/record.h"

struct rd_kafka_s;

namespace ragline::pipeline {

// librdkafka configuration properties beyond bootstrap.servers.
using KafkaConfig = std::map<std::string, std::string>;

// "topic/partition": the key of a partition in store::SourcePositions.
std::string PositionKey(const std::string& topic, int32_t partition);

// Creates `topic` (a no-op when it exists with any settings). Errors name
// the broker's reason.
Status CreateKafkaTopic(const std::string& bootstrap, const std::string& topic, int partitions,
                        int replication_factor, std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The partition count of `topic`; NotFound when it does not exist by the
// end of `timeout` (a topic just created takes a moment to show).
Result<int> KafkaPartitionCount(const std::string& bootstrap, const std::string& topic,
                                std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Each partition's end (high watermark) as a position: where a reader that
// wants only what comes next starts. `partitions` empty: all of the topic's.
Result<store::SourcePositions> KafkaEndPositions(
    const std::string& bootstrap, const std::string& topic, const std::vector<int32_t>& partitions,
    std::chrono::milliseconds timeout = std::chrono::seconds(10));

struct KafkaMessage {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
};

struct PartitionStart {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;  // the first offset to read
};

// How far a consumer is behind the end of one partition.
struct PartitionLag {
  std::string topic;
  int32_t partition = 0;
  int64_t lag = 0;  // high watermark − the next offset this consumer reads
};

class KafkaConsumer;

class KafkaProducer {
 public:
  // With "transactional.id" in `extra`, a transactional producer: Create
  // initialises its transactions (fencing off an older producer with that
  // id, whose open transaction is aborted).
  static Result<std::unique_ptr<KafkaProducer>> Create(const std::string& bootstrap,
                                                       const KafkaConfig& extra = {});
  ~KafkaProducer();

  // Consume-transform-produce, exactly once (transactional producers only):
  // Begin; Produce the outputs; Commit with the consumer's next offsets,
  // which the group coordinator stores in the same transaction. Errors:
  // Aborted when the transaction must be aborted (then Abort and redo from
  // the group's committed offsets), FailedPrecondition when this producer
  // was fenced or failed for good (create a new one), Unavailable otherwise.
  Status BeginTransaction();
  Status CommitTransaction(const KafkaConsumer& consumer, const std::vector<PartitionStart>& next_offsets,
                           std::chrono::milliseconds timeout);
  Status AbortTransaction(std::chrono::milliseconds timeout);

  // Queues one message: `partition` >= 0 puts it there, -1 lets the
  // partitioner choose by `key`. The delivery outcome shows in Flush.
  Status Produce(const std::string& topic, int32_t partition, const std::string& key,
                 const std::string& value);
  // Waits until every queued message is acknowledged by the in-sync
  // replicas; the first delivery error since the last Flush, if any.
  Status Flush(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  explicit KafkaProducer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class KafkaConsumer {
 public:
  // `group_id` names the consumer (it commits nothing to Kafka).
  static Result<std::unique_ptr<KafkaConsumer>> Create(const std::string& bootstrap,
                                                       const std::string& group_id,
                                                       const KafkaConfig& extra = {});
  ~KafkaConsumer();

  // Reads exactly these partitions, each from its offset.
  Status Assign(const std::vector<PartitionStart>& partitions);
  // Joins the group for `topics`: partitions are shared among the group's
  // members (rebalanced as members come and go), each read from the
  // group's committed offset (the earliest where none).
  Status Subscribe(const std::vector<std::string>& topics);
  // Whether this consumer is assigned `partition` of `topic` now (a
  // rebalance can take it away between a poll and a commit).
  bool Owns(const std::string& topic, int32_t partition) const;
  // The next message, or nullopt when none arrived within `wait`.
  Result<std::optional<KafkaMessage>> Poll(std::chrono::milliseconds wait);
  // Lag of each assigned partition, from the watermarks the last fetches
  // brought (no broker round trip); partitions not fetched yet are left out.
  std::vector<PartitionLag> Lag() const;

 private:
  friend class KafkaProducer;  // group metadata for transactions
  explicit KafkaConsumer(rd_kafka_s* rk);
  rd_kafka_s* rk_;
};

// Whose an upsert message is, as one collection's reader sees it.
enum class Routed {
  kMine,   // its vector_store names this reader's collection (or an alias of it)
  kOther,  // another collection's, or a stray another reader reports
  kStray,  // no collection here takes it (or it names none): report it
};

// rag.embeddings.upserts as one collection's IndexStage source: the given
// partitions of `topic` from the collection's stored positions (offset 0
// where none). `route` sorts each message by its "vector_store" ("" when it
// has none). The collection's messages are parsed by EmbeddedChunkFromJson
// (dim); another collection's come out as passing items, which only move
// the position. A message of this collection that does not parse, or a
// stray, goes to `on_bad` with the reason and is skipped (the dead-letter
// topic receives it). Pull never ends the stream (a topic has no end): it
// reports kIdle when nothing arrived, also after a consumer error (a broker
// restarting), which last_error() then holds.
class KafkaUpsertSource final : public Source<EmbeddedChunk> {
 public:
  using BadMessage = std::function<void(const KafkaMessage& message, const Status& why)>;
  using Route = std::function<Routed(const std::string& vector_store)>;
  // `partitions`: those of `topic` to read (empty = all of them).
  static Result<std::unique_ptr<KafkaUpsertSource>> Open(const std::string& bootstrap,
                                                         const std::string& group_id,
                                                         const std::string& topic, size_t dim,
                                                         const store::SourcePositions& positions,
                                                         const std::vector<int32_t>& partitions, Route route,
                                                         BadMessage on_bad);
  Pulled Pull(EmbeddedChunk* out, std::chrono::milliseconds wait) override;
  // The last consumer error (a broker away, say); Pull went on past it.
  const Status& last_error() const { return last_error_; }
  const KafkaConsumer& consumer() const { return *consumer_; }

 private:
  KafkaUpsertSource(std::unique_ptr<KafkaConsumer> consumer, size_t dim, Route route, BadMessage on_bad)
      : consumer_(std::move(consumer)), dim_(dim), route_(std::move(route)), on_bad_(std::move(on_bad)) {}
  std::unique_ptr<KafkaConsumer> consumer_;
  size_t dim_;
  Route route_;
  BadMessage on_bad_;
  Status last_error_;
};

}  // namespace ragline::pipeline
