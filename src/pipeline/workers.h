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
// partition.
//
// Thread safety: each Run* blocks its calling thread until `stop` is
// requested or an unrecoverable error; run one role per thread or process.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "pipeline/kafka.h"
#include "pipeline/stages.h"

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
  // Called about once a second with the input partitions' lag (the
  // rag_kafka_lag gauge); null = not reported.
  std::function<void(const std::vector<PartitionLag>&)> on_lag;
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

// chunks → upserts; `vector_store` names the collection in each message.
Status RunEmbedWorker(const WorkerOptions& options, const EmbedStage& stage, const std::string& vector_store,
                      StageEvents& events, std::stop_token stop);

// upserts → `collection`, reading `partitions` (empty = all) of the upserts
// topic from the collection's stored positions.
Status RunIndexNode(const WorkerOptions& options, store::Collection& collection,
                    const std::vector<int32_t>& partitions, StageEvents& events, std::stop_token stop);

}  // namespace ragline::pipeline
