// The documents routes (issue #4), on the ingestion pipeline (src/pipeline):
//
//   POST   /v1/collections/{name}/documents        write  {"documents": [{"id", "text" |
//                                                          "content_base64" + "content_type",
//                                                          "metadata", "version", "source"}]}
//   GET    /v1/collections/{name}/documents        read   ?after=ID&limit=N (1-1000, 100): a page of
//                                                          documents in id order, "next" for the following
//   GET    /v1/collections/{name}/documents/{id}   read   the document: version, hash, chunks
//   DELETE /v1/collections/{name}/documents/{id}   write  removes all its chunks
//
// POST replies once every chunk is durable, which in ragline also means
// searchable (a growing segment is searched exactly), so `?wait=true` is
// accepted and changes nothing: there is no fire-and-forget mode, because a
// queued but unwritten document could be lost after it was acknowledged.
// Replies: 200 with the ingest report when every document went in; 207 with
// the same report (its "failures" naming each) when some failed; 400 naming
// them when all failed (unsupported type, broken PDF, invalid UTF-8, a version
// not newer than the stored one). Malformed documents (no id, bad base64, wrong
// types) fail the whole request with 400 before anything is written.
//
// Limits (options.limits; config "ingest"): a document over
// max_document_bytes or max_document_chunks, or a request over
// max_call_chunks ("max_request_chunks"), gets 413 naming the limit before
// anything is embedded or written. Each document is written atomically
// (whole, or not at all, also across a crash). A client that goes away, or
// a server shutting down past its grace period, stops the ingest between
// batches: documents already committed stay, whole.
//
// Thread safety: ingests run side by side, into one collection too (each
// document commits atomically under the collection's writer lock, held only
// for that write); reads go on meanwhile.
#pragma once

#include "embed/local_embedder.h"
#include "pipeline/ingestor.h"
#include "server/server.h"

namespace ragline::server {

// Adds the routes above to `server`. `embedder` embeds and (through its
// tokenizer) chunks; it must outlive the server. Pipeline stage timings go to
// rag_pipeline_latency_seconds{stage="ingest_<stage>"}.
void RegisterDocumentRoutes(Server& server, embed::LocalEmbedder& embedder, pipeline::IngestOptions options = {});

}  // namespace ragline::server
