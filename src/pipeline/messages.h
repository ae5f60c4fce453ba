// What flows between the ingestion stages (DESIGN.md §3, §5): a raw
// document (rag.documents.raw), its chunks (rag.documents.chunks) and their
// embeddings (rag.embeddings.upserts). The same values travel over the
// in-process channels of embedded mode and, serialised, over Kafka.
//
// Thread safety: plain values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "nlohmann/json.hpp"
#include "pipeline/chunk_payload.h"

namespace ragline::pipeline {

struct SourceDocument {
  std::string id;            // doc_id; for files: path relative to the ingested root
  std::string content;       // raw bytes (text, or file bytes)
  std::string content_type;  // MIME type or extension accepted by text::Extract ("text/plain", "pdf", ...)
  nlohmann::json metadata = nlohmann::json::object();  // caller's metadata, kept on every chunk
  std::optional<uint64_t> version;                     // caller's; else ingestion time in ms
  std::string source;                                  // file path or "http" etc., kept as payload "source"

  // The JSON form shared by the JSONL input of `ragline ingest` and the HTTP
  // documents route: {"id", "text" | "content_base64" + "content_type",
  // "metadata"?, "version"?, "source"?}. "text" is text/plain unless a
  // "content_type" says otherwise. Errors start with `where` ("line 3").
  static Result<SourceDocument> FromJson(const nlohmann::json& j, std::string_view where,
                                         std::string_view default_source);
};

// A document entering the pipeline (rag.documents.raw).
struct RawDocument {
  SourceDocument doc;
  std::filesystem::path file;  // non-empty: the content is read from this file by the chunk stage
  std::string root;            // payload "root": the directory the file was found under
  std::string collection;      // distributed mode: the collection it goes to (embedded mode: unset)
};

// One chunk of one version of a document (rag.documents.chunks). A document
// without chunks (empty or whitespace-only text) travels as one message with
// chunk.chunk_count == 0: committing it deletes the document's old chunks.
struct ChunkMessage {
  uint64_t version = 0;
  ChunkPayload chunk;
  std::string collection;  // the RawDocument's
};

// Where a message was read from an outside source: for Kafka, key
// "topic/partition" and the message's offset. In-process channels leave it
// unset.
struct SourceOffset {
  std::string key;
  uint64_t offset = 0;
};

// A chunk with its embedding (rag.embeddings.upserts).
struct EmbeddedChunk {
  ChunkMessage message;
  std::vector<float> embedding;  // the collection's dim floats; empty for a chunkless document or an error
  std::string error;             // non-empty: embedding failed, and with it the whole document
  std::optional<SourceOffset> from;  // set by a transport that has positions (Kafka)
  bool passing = false;              // another collection's message read on the way: only `from` counts
};

// ---- Wire form (docs/formats/messages.md): one JSON object per message
// value, flat, as distributed mode carries them on Kafka. Parsing is strict
// about the fields it needs (InvalidArgument naming the field: the reason a
// bad message goes to the dead-letter topic) and ignores fields it does not
// know (a newer writer).

// rag.documents.raw: the documents route's form (SourceDocument::FromJson),
// "text" for text/plain, else "content_base64" + "content_type". A file's
// bytes travel inline; `root` as "root" when set, `collection` as
// "collection" (required on the wire: the collection it goes to).
nlohmann::json RawDocumentToJson(const RawDocument& doc);
Result<RawDocument> RawDocumentFromJson(const nlohmann::json& j);

// rag.documents.chunks: the ChunkPayload's fields plus "version" and, when
// set, "collection".
nlohmann::json ChunkMessageToJson(const ChunkMessage& m);
Result<ChunkMessage> ChunkMessageFromJson(const nlohmann::json& j);

// rag.embeddings.upserts: a chunk message whose collection is named
// "vector_store" (required, non-empty) plus "embedding" (`dim` finite
// numbers) and "timestamp" (ms since the epoch, when it was embedded); or
// "error" instead of "embedding".
nlohmann::json EmbeddedChunkToJson(const EmbeddedChunk& e, uint64_t timestamp_ms);
// `dim`: the collection's; an embedding of another length is refused.
Result<EmbeddedChunk> EmbeddedChunkFromJson(const nlohmann::json& j, size_t dim);
// The "vector_store" of an upsert message, if it has one (a string).
std::optional<std::string> UpsertCollection(const nlohmann::json& j);

// The record id of a document's chunk: "doc_id#ordinal".
std::string ChunkId(std::string_view doc_id, size_t ordinal);

// The 16-hex-digit FNV-1a 64 hash the pipeline stores as content_hash.
std::string ContentHash(std::string_view bytes);

}  // namespace ragline::pipeline
