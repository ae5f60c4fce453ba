// The ingestion stages (DESIGN.md §3), each written once against the
// Source/Sink seam (pipeline/channel.h):
//
//   RawDocument ─▶ ChunkStage ─▶ ChunkMessage ─▶ EmbedStage ─▶ EmbeddedChunk ─▶ IndexStage ─▶ store
//                 read, limits,                  batched across                assembles each
//                 freshness, extract, chunk      documents                     document, one atomic write
//
// What a stage decides about a document (unchanged, failed, committed) it
// reports to StageEvents, which also carries stage timings and tells the
// stages when to stop. Ingestor (pipeline/ingestor.h) wires the stages over
// Channels for embedded mode; distributed mode wires the same stages over
// Kafka topics.
//
// Rules the stages keep (docs/ingestion.md "Freshness protocol"):
//   - ChunkStage skips a document whose committed chunk #0 has the same
//     fingerprint (HeadLookup), and gives it a version: the caller's (which
//     must be newer than the stored one), else max(now in ms, stored + 1).
//   - EmbedStage fails every chunk of a document one of whose batches failed,
//     and embeds none of its later chunks. An embedder that is unavailable
//     (resilience::IsTransient: a remote embedder down, timing out or behind
//     its open breaker) fails no document: the stage stops and returns why,
//     so that its caller can retry the batch (the Kafka embed worker rolls
//     its transaction back) or fail the call whole.
//   - IndexStage writes a document only once all chunk_count of its chunks
//     arrived, in one store::Collection::Write group with the deletes of its
//     old chunks past the new count; under the writer lock, a version at
//     least as new committed meanwhile wins (superseded).
//   - A message delivered twice (at-least-once transports, a consumer
//     group's rebalance) is ignored: documents are assembled by ordinal,
//     and documents finished lately are remembered (the last 65,536).
//   - Messages that carry a SourceOffset (Kafka) move the collection's
//     source positions in the same atomic write: per key, up to the first
//     message of a document still incomplete, else past the last message
//     read. A consumer that resumes from Collection::source_positions()
//     re-reads exactly what is not in the store (exactly once; documents
//     re-read whole are harmless, by the version rules).
//
// Thread safety: ChunkStage::Run may run on several threads at once (one
// stage object); EmbedStage and IndexStage run on one thread each. StageEvents
// implementations are called from every stage thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "embed/embedder.h"
#include "pipeline/channel.h"
#include "pipeline/messages.h"
#include "store/collection.h"
#include "text/chunker.h"
#include "text/extract.h"

namespace ragline::pipeline {

// Bounds on one document and one call (each has a 413 over HTTP).
struct IngestLimits {
  size_t max_document_bytes = 16u << 20;  // a document's source (text, or file bytes)
  size_t max_document_chunks = 4096;      // chunks one document may make
  size_t max_call_chunks = 0;  // chunks one Ingest call may make; 0 = no bound (plans first when set)
};

enum class CommitOutcome {
  kAdded,       // the document had no chunk #0 before
  kReplaced,    // its old chunks were replaced
  kSuperseded,  // a version at least as new was committed meanwhile: nothing written
};

// Where stages report. Called from every stage thread.
class StageEvents {
 public:
  virtual ~StageEvents() = default;
  virtual void Unchanged(const std::string& doc_id) = 0;
  // `over_limit`: an IngestLimits bound (or the HTML depth limit) failed it.
  virtual void Failed(const std::string& doc_id, const std::string& error, bool over_limit) = 0;
  virtual void Committed(const std::string& doc_id, CommitOutcome outcome, size_t chunks_upserted) = 0;
  // Chunks one write deleted (old chunks past a document's new count).
  virtual void ChunksDeleted(size_t n) = 0;
  // One unit of stage work: "read", "extract", "chunk", "embed" or "upsert".
  virtual void StageTime(std::string_view stage, double seconds) = 0;
  // A batch of `n` chunks was embedded (progress within long documents).
  virtual void ChunksEmbedded(size_t /*n*/) {}
  // Polled before each unit of work; true stops the stage.
  virtual bool ShouldStop() = 0;
};

// A committed document's chunk #0, as the freshness check needs it.
struct DocumentHead {
  uint64_t version = 0;
  std::string fingerprint;
};
using HeadLookup = std::function<std::optional<DocumentHead>(const std::string& doc_id)>;

// The heads of documents in `collection` (chunk #0 of each).
HeadLookup CollectionHeads(const store::Collection& collection);

struct ChunkStageOptions {
  IngestLimits limits;
  text::ChunkerOptions chunker;
  text::ExtractOptions extract;
  // Goes into every fingerprint: the payload schema, the model and the
  // chunker options (a change re-ingests every document once).
  std::string signature;
};

class ChunkStage {
 public:
  // Borrows `tokenizer` (the model's); `heads` empty = no freshness check.
  ChunkStage(const text::ChunkTokenizer& tokenizer, ChunkStageOptions options, HeadLookup heads);

  // Turns documents from `in` into chunk messages on `out` until `in` ends,
  // `out` refuses or events.ShouldStop().
  void Run(Source<RawDocument>& in, Sink<ChunkMessage>& out, StageEvents& events) const;
  // One document; false when `out` refused.
  bool Process(RawDocument doc, Sink<ChunkMessage>& out, StageEvents& events) const;

 private:
  const text::ChunkTokenizer& tokenizer_;
  ChunkStageOptions options_;
  HeadLookup heads_;
};

class EmbedStage {
 public:
  // Batches of at most `batch_chunks` texts, across documents. A partial
  // batch is embedded once no chunk arrived for `linger` (a stream that
  // pauses), or when `in` ends. Borrows `embedder`.
  EmbedStage(embed::Embedder& embedder, size_t dim, size_t batch_chunks, std::chrono::milliseconds linger);

  // Until `in` ends or events.ShouldStop(): OK. A transient embedder
  // failure: that status, with the failed batch's chunks not handed on.
  Status Run(Source<ChunkMessage>& in, Sink<EmbeddedChunk>& out, StageEvents& events) const;

 private:
  embed::Embedder& embedder_;
  size_t dim_;
  size_t batch_chunks_;
  std::chrono::milliseconds linger_;
};

class IndexStage {
 public:
  // Borrows `collection`.
  explicit IndexStage(store::Collection& collection);

  // Commits documents as they complete (those complete at one moment in
  // one write, with the source positions they let advance) until `in` ends
  // or events.ShouldStop(). The first store error stops it and is returned.
  Status Run(Source<EmbeddedChunk>& in, StageEvents& events) const;

 private:
  store::Collection& collection_;
};

// A source file's bytes, decompressed when it is a ".gz" holding gzip data
// (LimitExceededError past `max_bytes` decompressed); errors name the file.
Result<std::string> ReadSourceFile(const std::filesystem::path& path, size_t max_bytes = size_t{1} << 30);

// The ids of a document's chunks with ordinal >= `from` that exist in
// `collection`: ordinals below `known_count`, then on while they exist (a
// crash of a version before atomic writes left a contiguous range past the
// count).
std::vector<std::string> ExistingChunkIds(const store::Collection& collection, const std::string& doc_id,
                                          size_t from, size_t known_count);

}  // namespace ragline::pipeline
