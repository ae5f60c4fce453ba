// ChunkPayload: the payload of every chunk record the pipeline writes, typed.
// The pipeline writes it (ToJson); the query path, GetDocument and the
// freshness check read it back (FromJson); docs/ingestion.md "Payload schema"
// is its reference. It is also the value the distributed mode will carry on
// rag.documents.chunks.
//
// Fields fall in two groups: the document's (the same on every chunk of one
// version: doc_id, title, source, root, content_type, content_hash,
// fingerprint, chunk_count, extracted, metadata) and the chunk's own (text,
// ordinal, offsets, token_count, heading_path, page).
//
// Thread safety: a plain value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/status.h"
#include "nlohmann/json.hpp"

namespace ragline::pipeline {

struct ChunkPayload {
  // Bump when what is written changes: it is part of every fingerprint, so
  // every document is re-ingested once by the next run.
  static constexpr int kSchema = 2;  // 2: "page"

  // The document's.
  std::string doc_id;
  std::string title;         // "" if the document has none
  std::string source;        // file path (absolute), or the caller's ("http", "jsonl")
  std::string root;          // files only: the directory they were ingested from; "" = absent
  std::string content_type;  // as given (extension or MIME type)
  std::string content_hash;  // FNV-1a 64 of the source bytes, 16 hex digits
  std::string fingerprint;   // what the freshness check compares
  size_t chunk_count = 0;
  nlohmann::json extracted = nlohmann::json::object();  // extraction metadata, string values
  nlohmann::json metadata = nlohmann::json::object();   // the caller's
  // The chunk's.
  std::string text;
  size_t ordinal = 0;
  uint64_t begin = 0;  // byte offsets [begin, end) into the extracted text
  uint64_t end = 0;
  size_t token_count = 0;    // model tokens, specials not counted
  std::string heading_path;  // "Install > Debian"; "" before the first heading
  size_t page = 0;           // PDF: the page (from 1) where the chunk begins; 0 = not paged

  nlohmann::json ToJson() const;
  // Reads a payload the pipeline wrote: every field above but root and page must be
  // there with its type; fields it does not know are ignored (a newer
  // writer). InvalidArgument naming the first field that is missing or
  // wrong: the payload was not written by the pipeline (e.g. a record
  // upserted through the vectors API).
  static Result<ChunkPayload> FromJson(const nlohmann::json& j);
};

}  // namespace ragline::pipeline
