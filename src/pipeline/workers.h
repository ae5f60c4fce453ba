// The roles of distributed mode (DESIGN.md §5), each the same stage as
// embedded mode run over Kafka topics instead of in-process channels:
//
//   ragline ingest --kafka ─▶ rag.documents.raw ─▶ chunk workers ─▶ rag.documents.chunks
//     ─▶ embed workers ─▶ rag.embeddings.upserts ─▶ index nodes (a collection each)
//
// Chunk and embed workers are consumer groups (another process shares the
// partitions; one that stops hands its partitions to the others) and
// consume-transform-produce in Kafka transactions with their input offsets:
// a batch's outputs and its consumed offsets commit together, or neither
// does (exactly once between topics). Index nodes read an explicit set of
// partitions of rag.embeddings.upserts from the offsets stored in their
// collection and store new offsets in the same write as the data
// (exactly once into the store; pipeline/stages.h IndexStage).
//
// Every message of one document goes to the same partition of every topic:
// partition = DocumentPartition(doc_id, partition count); the message key
// is the document id (raw) or the chunk id (chunks, upserts), and the
// producer names the partition itself, so the key never decides it. A
// document's chunks therefore reach one index node, in order, and its
// shrink, replacement and delete work as in embedded mode.
//
// A message that cannot be processed (unparseable, wrong types, wrong
// dimension, a document that fails to extract) goes to the dead-letter
// topic with the reason, in the same transaction, and never stalls its
// partition. An embedder that is unavailable is no message's fault: the
// embed worker rolls the batch back and reads it again after a back-off,
// until the embedder answers (nothing dead-lettered, nothing lost).
//
// Thread safety: each Run* blocks its calling thread until `stop` is
// requested or an unrecoverable error; run one role per thread or process.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "pipeline/kafka.h"
#include "pipeline/stages.h"
#include "store/database.h"

namespace ragline::pipeline {

struct Topics {
  std::string raw = "rag.documents.raw";
  std::string chunks = "rag.documents.chunks";
  std::string upserts = "rag.embeddings.upserts";
  std::string deadletter = "rag.deadletter";

  // The default names with `prefix` in front ("" = the defaults).
  static Topics WithPrefix(std::string_view prefix);
};

// FNV-1a 64 of the document id, modulo `partitions`.
int32_t DocumentPartition(std::string_view doc_id, int partitions);

struct WorkerOptions {
  std::string bootstrap;  // "host:port,..."
  Topics topics;
  std::string group;           // consumer group of the role
  std::string instance = "0";  // this process within the group; with the group, its transactional id
  size_t batch = 64;           // input messages per transaction at most
  std::chrono::milliseconds linger{100};  // a smaller batch leaves after this long
  int partitions = 4;                     // topics are created with this many partitions when absent
  int replication = 1;                    // and this replication factor
  // Called about once a second with a consumer group's input partitions' lag
  // (the rag_kafka_lag gauge); null = not reported. An index node calls it
  // from each collection's reader thread.
  std::function<void(const std::string& group, const std::vector<PartitionLag>&)> on_lag;
  // Called when a batch was rolled back for a transient reason (the embed
  // worker's embedder unavailable) with why and how long until it is read
  // again; null = not reported.
  std::function<void(const Status& why, std::chrono::milliseconds retry_in)> on_retry;
};

// Creates the four topics if they are absent.
Status CreateTopics(const WorkerOptions& options);

// Publishes documents to the raw topic, each to its DocumentPartition
// (idempotent producer). Create makes the topics if absent, once.
class DocumentPublisher {
 public:
  static Result<std::unique_ptr<DocumentPublisher>> Create(const WorkerOptions& options);
  ~DocumentPublisher();
  // Returns once the brokers acknowledged every one.
  Status Publish(const std::vector<RawDocument>& docs);

 private:
  DocumentPublisher(std::string topic, int partitions, std::unique_ptr<KafkaProducer> producer);
  std::string topic_;
  int partitions_;
  std::unique_ptr<KafkaProducer> producer_;
};

// One DocumentPublisher for one call.
Status PublishDocuments(const WorkerOptions& options, const std::vector<RawDocument>& docs);

// raw → chunks. `events` sees each document's outcome (failures also go to
// the dead-letter topic).
Status RunChunkWorker(const WorkerOptions& options, const ChunkStage& stage, StageEvents& events,
                      std::stop_token stop);

// chunks → upserts; each upsert names its chunk's collection.
Status RunEmbedWorker(const WorkerOptions& options, const EmbedStage& stage, StageEvents& events,
                      std::stop_token stop);

// An index node: upserts → the collections of one data directory. Each
// collection has its own reader (a thread: a KafkaUpsertSource over
// `partitions` of the upserts topic, empty = all, and an IndexStage) that
// starts from the positions stored in that collection and stores new ones
// with its data, so each collection is exactly once on its own. A reader
// takes the messages whose "vector_store" names its collection or an alias
// of it; the others only move its position. Messages that name no
// collection of the node go to the dead-letter topic, reported by one
// reader (the first collection by name). The consumer group of collection C
// is "<options.group>.C" (it commits nothing; it names the reader).
//
// Collections created or dropped through the API (server::CatalogObserver):
// Hold(name) before, Adopt(collection) for a new one, Release(name) after.
// Thread safety: Run on one thread; Hold, Adopt and Release from any.
class IndexNode {
 public:
  IndexNode(WorkerOptions options, store::Database& db, std::vector<int32_t> partitions, StageEvents& events);
  ~IndexNode();
  IndexNode(const IndexNode&) = delete;
  IndexNode& operator=(const IndexNode&) = delete;

  // Runs until `stop` or a reader fails (its error): a reader for every
  // collection of the database, started as collections appear, stopped as
  // they go. The caller closes the collections.
  Status Run(std::stop_token stop);
  // Stops the reader of `name` (a collection or alias about to change) and
  // keeps it stopped until Release(name).
  void Hold(const std::string& name);
  // A collection just created, before any message can name it: stores the
  // partitions' ends as its positions, so it reads only what comes next (never
  // an older namesake's messages).
  Status Adopt(store::Collection& collection);
  // Ends Hold(name) and takes the catalog's changes into account now.
  void Release(const std::string& name);
  // The collections with a running reader.
  std::vector<std::string> Reading() const;

 private:
  struct Reader;
  // Stops every reader and waits for it; returns them (with their statuses).
  std::map<std::string, std::unique_ptr<Reader>> StopReaders();
  Status RunReader(const std::string& name, std::stop_token stop);
  Routed Route(const std::string& mine, const std::string& vector_store) const;
  void RefreshNames();

  const WorkerOptions options_;
  store::Database& db_;
  const std::vector<int32_t> partitions_;
  StageEvents& events_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Reader>> readers_;  // GUARDED_BY(mu_)
  std::set<std::string> held_;                              // GUARDED_BY(mu_)
  std::condition_variable_any wake_;
  bool changed_ = false;  // GUARDED_BY(mu_): Release happened; look again now
  mutable std::shared_mutex names_mu_;
  std::map<std::string, std::string> names_;  // GUARDED_BY(names_mu_): collection or alias -> collection
};

}  // namespace ragline::pipeline
