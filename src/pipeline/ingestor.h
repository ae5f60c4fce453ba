// Ingestor: the ingestion pipeline of embedded mode (issue #4). Documents in,
// one store record per chunk out: the stages of pipeline/stages.h (chunk →
// embed, batched across documents → index), wired over bounded in-process
// Channels (pipeline/channel.h) so a slow stage holds the others back
// instead of letting work pile up in memory. The CLI, the HTTP documents
// route and directory watching all ingest through it.
//
// Records: chunk `doc_id#ordinal` carries the chunk's embedding and its
// ChunkPayload (pipeline/chunk_payload.h; docs/ingestion.md "Payload
// schema").
//
// Freshness and crash safety (docs/ingestion.md "Freshness protocol"):
//   - content_hash = FNV-1a 64 of the source bytes, 16 hex digits. The
//     fingerprint hashes it together with the content type, source, root,
//     the caller's metadata, the chunker options and the model id.
//   - A document is unchanged, and nothing is extracted or embedded, iff its
//     chunk #0 exists with the same fingerprint.
//   - A document is written whole or not at all: all its chunks, and the
//     deletes of its old chunks with ordinal >= n, go into one atomic store
//     write (store::Collection::Write: one WAL record). After any crash it is
//     there at its old version or at its new one, in search, get and stats
//     alike. Embedding happens before, outside every lock; the writer lock
//     is held only for that write.
//   - At that write, under the collection's writer lock, a version of the
//     document at least as new that another call committed meanwhile wins:
//     this one is dropped and counted as superseded.
//   - A document with no chunks (empty or whitespace-only text) deletes its
//     old chunks and writes nothing: it is redone (cheaply) by every run.
//   - Version: the caller's, else max(now in ms, stored version + 1). A
//     caller's version that is not newer than the stored one fails the
//     document (the store would discard its chunks as stale).
//
// Limits (IngestLimits): a document over max_document_bytes (its source) or
// max_document_chunks fails with an error naming the limit. With
// max_call_chunks set (the HTTP route), every document of the call is
// extracted and chunked before any is embedded, and a call with a document
// over a limit or more chunks than that fails whole (LimitExceededError)
// before anything is embedded or written.
//
// Failures of one document (unsupported type, invalid UTF-8, a broken PDF, a
// file that cannot be read, an embedding error in its batch, a limit) go to
// IngestReport::failures; the others still ingest. Store errors abort the
// call and are returned; so does cancellation (Cancelled: documents
// committed before it stay, whole).
//
// Thread safety: all methods may be called from any thread, concurrently:
// Ingest calls on one collection run side by side (each document commits
// atomically, see above). IngestPath and Watch are serialised with each
// other by a mutex (a directory pass deletes documents whose files are
// gone). Each Ingest starts its stage threads (options.extract_threads
// chunk-stage workers and one embed-stage thread; the index stage runs on
// the caller's thread) and joins them before returning; the embedder may use its own pool. Progress and stage
// callbacks run on those threads, one at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "embed/embedder.h"
#include "embed/local_embedder.h"
#include "nlohmann/json.hpp"
#include "pipeline/messages.h"
#include "pipeline/stages.h"
#include "pipeline/wordpiece_chunk_tokenizer.h"
#include "store/collection.h"
#include "text/chunker.h"
#include "text/extract.h"

namespace ragline::pipeline {

struct IngestOptions {
  IngestLimits limits;
  text::ChunkerOptions chunker;  // 256 tokens incl. specials, overlap 32
  text::ExtractOptions extract;
  size_t embed_batch_chunks = 64;  // chunks per Embed call, taken across documents
  size_t queue_capacity = 8;       // batches of embed_batch_chunks chunks each channel holds
  size_t extract_threads = 1;      // extract+chunk workers
  // IngestPath / Watch: extract every file as this type ("txt", "text/html";
  // see text::FormatFromContentType) instead of by extension or content.
  std::string file_content_type;
  // Observes each unit of stage work: stage is "read", "extract", "chunk",
  // "embed" or "upsert", seconds its wall time (for
  // rag_pipeline_latency_seconds{stage}). Optional.
  std::function<void(std::string_view stage, double seconds)> stage_observer;

  // InvalidArgument naming the bad value.
  Status Validate(size_t special_tokens) const;
};

struct DocumentFailure {
  std::string id;
  std::string error;
};

struct IngestReport {
  size_t documents_added = 0;      // no chunk #0 before
  size_t documents_replaced = 0;   // new content (or options) replaced the old chunks
  size_t documents_unchanged = 0;  // same fingerprint: nothing re-embedded
  size_t documents_deleted = 0;    // removed (DeleteDocument, files gone from the root)
  size_t documents_failed = 0;
  size_t documents_superseded = 0;  // a version at least as new was committed meanwhile: left alone
  size_t chunks_upserted = 0;
  size_t chunks_deleted = 0;
  std::vector<DocumentFailure> failures;
  // Files of a directory that are not documents ragline reads (binary, not
  // UTF-8, empty, unreadable), with the reason; never counted as documents.
  std::vector<DocumentFailure> skipped;

  // Adds `other`'s counts and failures to this one.
  void Merge(const IngestReport& other);
  nlohmann::json ToJson() const;
};

// A committed document as chunk #0 describes it.
struct DocumentInfo {
  std::string id;
  uint64_t version = 0;
  std::string content_hash;
  std::string fingerprint;
  size_t chunk_count = 0;
  std::vector<std::string> chunk_ids;  // doc_id#0 .. doc_id#(chunk_count-1)
  std::string title;
  std::string source;
  std::string content_type;
  nlohmann::json metadata = nlohmann::json::object();  // the caller's

  nlohmann::json ToJson() const;
  // What a listing shows: id, title, version, chunk_count, source,
  // content_type, metadata (GET .../documents, `ragline documents list`).
  nlohmann::json SummaryJson() const;
};

// The document whose chunk #0 (its head) has `version` and `head_payload`;
// none when the payload is not the pipeline's (a record upserted through
// the vectors API under such an id).
std::optional<DocumentInfo> DocumentInfoFromHead(const std::string& doc_id, uint64_t version,
                                                 const nlohmann::json& head_payload);

// One page of a collection's documents, in id order.
struct DocumentPage {
  std::vector<DocumentInfo> documents;
  std::string next;  // pass as `after` for the next page; "" when this is the last
};

// The documents of `collection` (the pipeline's: each from its chunk #0)
// whose id sorts after `after` ("" = from the first), at most `limit` (>= 1).
// Scans every record (Collection::ListRecords with a filter on ordinal 0):
// O(records) per page.
DocumentPage ListDocuments(store::Collection& collection, const std::string& after, size_t limit);

// What IngestPath reads: PATH itself if it is a file (id = its name), else
// every regular file below it, hidden ones skipped, sorted, with ids
// relative to the directory ("guide/intro.md"). Each file's content type is
// its extension when ragline reads that format (".md"; "x.html.gz" →
// ".html"; a .gz is decompressed when read), else what its first bytes show
// (text::SniffFormat: "text/plain", "text/html", "application/pdf");
// `content_type` (non-empty) overrides both. Files that are none of these
// go to `skipped` with the reason; a PATH that is such a file is
// InvalidArgument with the reason.
struct SourceFile {
  std::string id;
  std::filesystem::path path;
  std::string content_type;
};
struct SourceFiles {
  std::filesystem::path root;  // the directory (a file's parent), absolute
  bool directory = false;      // PATH was a directory
  std::vector<SourceFile> files;
  std::vector<DocumentFailure> skipped;  // {id, reason}
};
Result<SourceFiles> ListSourceFiles(const std::filesystem::path& path, const std::string& content_type = "");

// Called after each document finishes (committed, unchanged or failed) and
// after each batch of chunks is embedded; chunks_embedded counts the call's
// embedded chunks so far (a long document moves it before it finishes).
using ProgressCallback = std::function<void(size_t docs_done, size_t docs_total, size_t chunks_embedded)>;
// True when the call should stop (its client went away, the server is
// shutting down). Polled before each document, batch and commit.
using CancelCheck = std::function<bool()>;

class Ingestor {
 public:
  // Chunks by the embedder's own WordPiece tokenizer. Borrows both; they
  // must outlive the Ingestor.
  Ingestor(store::Collection& collection, embed::LocalEmbedder& embedder, IngestOptions options = {});
  // Any embedder, chunked by `tokenizer` (which should be the model's).
  Ingestor(store::Collection& collection, embed::Embedder& embedder, const text::ChunkTokenizer& tokenizer,
           IngestOptions options = {});

  // Ingests `docs` (ids unique within the call; a repeated id fails). The
  // report counts every document exactly once. Errors: InvalidArgument for
  // bad options or an embedder whose dim differs from the collection's;
  // LimitExceededError (max_call_chunks set, see above); Cancelled once
  // `cancelled` says so; any store error.
  Result<IngestReport> Ingest(std::vector<SourceDocument> docs, const ProgressCallback& progress = {},
                              const CancelCheck& cancelled = {});

  // Ingests a file (doc_id = its name) or a directory scanned recursively
  // (ListSourceFiles: doc_id = the path relative to `root`, '/'-separated;
  // hidden files and directories are left out; files that are not documents
  // are reported in `skipped`). For a directory, documents ingested earlier from the same root
  // whose file is gone are deleted. Files are read by the extract workers.
  // NotFound if `root` does not exist.
  Result<IngestReport> IngestPath(const std::filesystem::path& root, const ProgressCallback& progress = {});

  // Removes every chunk of the document in one atomic write (also chunks a
  // crash of an older version left). documents_deleted is 0 when it had none.
  Result<IngestReport> DeleteDocument(const std::string& doc_id);

  // The committed document (its chunk #0), or nullopt.
  Result<std::optional<DocumentInfo>> GetDocument(const std::string& doc_id);

  // Ingests directory `root`, then watches it (inotify, recursively) and
  // re-ingests it after changes settle (300 ms without events): new and
  // changed files are ingested, deleted ones removed, unchanged ones skipped
  // by their fingerprint. `on_batch` gets the report of each pass. Returns OK
  // when `stop` is requested (checked every 200 ms), or the first error.
  Status Watch(const std::filesystem::path& root, std::stop_token stop,
               const std::function<void(const IngestReport&)>& on_batch);

 private:
  Result<IngestReport> IngestRaw(std::vector<RawDocument> docs, const ProgressCallback& progress,
                                 const CancelCheck& cancelled);
  Result<IngestReport> IngestPathLocked(const std::filesystem::path& root, const ProgressCallback& progress);
  std::string Signature() const;

  store::Collection& collection_;
  embed::Embedder& embedder_;
  std::unique_ptr<WordPieceChunkTokenizer> owned_tokenizer_;  // set by the LocalEmbedder constructor
  const text::ChunkTokenizer& tokenizer_;
  IngestOptions options_;
  std::mutex path_mu_;  // IngestPath and Watch passes, one at a time
};

}  // namespace ragline::pipeline
