// The query service (DESIGN.md §4 query/): the one query path shared by
// POST /v1/collections/{name}/query, `ragline query --data` and, later, the
// router's shards: parse the request, embed the question once, retrieve
// (dense, lexical or hybrid), shape the hits, and answer with citations (LLM,
// or the extractive fallback marked degraded). It knows no HTTP.
//
// Hit shape (what clients see):
//   {"id", "doc_id", "score", "version", "text", "offsets", "metadata"}
// A chunk the pipeline wrote is read as its typed pipeline::ChunkPayload
// (text, doc_id, offsets, the caller's metadata; title for citations). Any
// other payload (records upserted through the vectors API) is read field by
// field: "text" is the collection's lexical text field, absent fields fall
// back to doc_id = id, text = "", offsets = null, metadata = the payload
// minus the fields above.
//
// Thread safety: RunRetrieval and RunAnswer are re-entrant; the collection,
// embedder and chat client they borrow must allow concurrent use (they do).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "embed/embedder.h"
#include "generate/answer.h"
#include "generate/chat_client.h"
#include "nlohmann/json.hpp"
#include "obs/log.h"
#include "obs/metrics.h"
#include "resilience/deadline.h"
#include "search/retriever.h"
#include "store/collection.h"
#include "store/filter.h"

namespace ragline::query {

struct QueryRequest {
  std::string question;
  size_t k = 5;
  search::Mode mode = search::Mode::kHybrid;
  std::optional<store::PayloadFilter> filter;
  bool generate = true;
  bool stream = false;
  // "min_similarity": when the collection's closest passage to the question
  // (cosine; dense and hybrid over a cosine collection) is less similar than
  // this, nothing is answered from and the answer says so. -1 = no floor.
  // docs/generation.md has the measurement behind the default.
  double min_similarity = kDefaultMinSimilarity;
  static constexpr double kDefaultMinSimilarity = 0.3;
  // "timeout_ms": the client's deadline for the whole request; nullopt = the
  // server's (docs/reliability.md).
  std::optional<std::chrono::milliseconds> timeout;
  // Set by the caller (from `timeout`, a header or its default): embedding
  // and search do not start past it, and the LLM gets what is left.
  resilience::Deadline deadline = resilience::Deadline::Never();

  // Parses {"query", "k", "filter", "mode", "generate", "stream", "min_similarity", "timeout_ms"}.
  // InvalidArgument names the bad field.
  static Result<QueryRequest> FromJson(const nlohmann::json& j);
};

// Where the query stages report; every pointer may be null.
struct QueryInstruments {
  obs::Histogram* embed_latency = nullptr;           // rag_pipeline_latency_seconds{stage="embed"}
  obs::Histogram* retrieve_latency = nullptr;        // {stage="retrieve"}
  obs::Histogram* generate_latency = nullptr;        // {stage="generate"}
  obs::HistogramFamily* vectorstore_time = nullptr;  // rag_vectorstore_query_time_seconds{mode}
  obs::Logger* logger = nullptr;
  std::string request_id;
};

struct RetrievedHits {
  std::vector<store::SearchHit> hits;
  nlohmann::json hits_json;                 // array of hit objects (shape above)
  std::vector<generate::Passage> passages;  // hits with text, rank order; none under the floor
  // Why there are no passages although there are hits: the closest one is
  // under the request's min_similarity (the answer says this). "" otherwise.
  std::string below_floor;
};

// Embeds (when the mode needs it) and searches. Unavailable when the mode
// needs an embedding and `embedder` is null; DeadlineExceeded when the
// request's deadline passes before the search starts.
Result<RetrievedHits> RunRetrieval(const store::Collection& collection, embed::Embedder* embedder,
                                   const QueryRequest& request, const QueryInstruments& instruments);

// Embeds `question` (one text) under the embed stage timer: the vector the
// dense and hybrid modes search with. Embedder errors pass through.
Result<std::vector<float>> EmbedQuestion(embed::Embedder& embedder, const std::string& question,
                                         const QueryInstruments& instruments);

// Hits as clients see them (hits_json) and as the answer reads them
// (passages). `text_field` is the collection's lexical text field.
RetrievedHits ShapeHits(std::vector<store::SearchHit> hits, const std::string& text_field);

// What a hit shows of its payload (see the file comment).
struct HitFields {
  std::string doc_id;  // "" when the payload has none
  std::string text;
  nlohmann::json offsets;  // [begin, end], or null
  nlohmann::json metadata = nlohmann::json::object();
  std::string title;  // for citations; "" when none
  // Pipeline chunks only: where the passage is.
  std::string source;        // file path or the caller's source
  std::string heading_path;  // "Install > Debian"
  size_t page = 0;           // PDF page from 1; 0 = none

  // `text_field` is the collection's lexical text field.
  static HitFields Of(const nlohmann::json& payload, const std::string& text_field);
};

// The hit object for one search hit.
nlohmann::json HitJson(const store::SearchHit& hit, const HitFields& fields);

// Answers request.question over the retrieved passages (`on_delta` non-null:
// streamed), the LLM within what is left of request.deadline.
generate::Answer RunAnswer(const QueryRequest& request, const RetrievedHits& retrieved,
                           const generate::ChatClient* client, const generate::AnswerOptions& options,
                           const generate::DeltaCallback* on_delta, const QueryInstruments& instruments);

// [{"n", "id", "doc_id"}] for the answer's citations.
nlohmann::json CitationsJson(const generate::Answer& answer, const RetrievedHits& retrieved);

// The whole non-streamed response body:
// {"hits", "answer", "citations", "degraded", "degraded_reason",
// "degraded_detail"} ("answer" is null and citations empty when generation
// was not asked for; the reason is a code, the detail words).
nlohmann::json QueryResponseJson(const RetrievedHits& retrieved, const generate::Answer* answer);

}  // namespace ragline::query
