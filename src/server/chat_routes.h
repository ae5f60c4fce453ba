// OpenAI-compatible chat completions over ragline's RAG query (docs/compat.md
// "OpenAI"), so that code written for OpenAI's chat API, the official
// `openai` package included, asks a collection with a new base URL:
//
//   POST /v1/chat/completions  read  {"model": COLLECTION, "messages": [...], "stream"?, ...}
//   GET  /v1/models            read  the embedding model, then each collection and alias
//
// The model is a collection or an alias (the key must cover it). The
// question is the conversation's last user message, alone: earlier turns and
// system messages are not sent to retrieval or to the LLM (each request is
// one RAG query, as POST .../query). Retrieval and the answer are the query
// route's: the LLM with numbered citations, or, without one or when it
// fails, the extractive answer marked degraded.
//
// Reply: OpenAI's chat.completion (choices[0].message.content is the answer,
// finish_reason the LLM's or "stop", usage the LLM's token counts, zeros for
// an extractive answer) plus the query route's fields as extensions:
// "citations", "hits", "degraded", "degraded_reason", "degraded_detail".
// "stream": true sends chat.completion.chunk events ("data: {...}"): the
// role, the answer's deltas, a last chunk with finish_reason and the
// extensions, a usage chunk when stream_options.include_usage, then
// "data: [DONE]".
//
// Extension request fields: "k", "mode", "filter", "timeout_ms" (as in the
// query route). OpenAI's sampling fields (temperature, max_tokens, top_p,
// stop, seed, penalties, user, metadata, ...) are accepted and not used: the
// server's LLM settings apply. Refused with a 400 naming the field: n other
// than 1, tools/functions, logprobs, a response_format other than text,
// non-text content parts, unknown fields.
//
// Thread safety: handlers run concurrently; the backend's functions must
// allow it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "query/query.h"
#include "server/server.h"

namespace ragline::server {

// What a chat completion needs from the node or router that serves it.
struct ChatBackend {
  // The query route's retrieval of `request` on collection or alias `name`
  // (`request_json`: the request as the query route's body); `extra` gets
  // the fields that route adds to its reply (degraded, partial, a fallback's
  // answer). NotFound when `name` is neither.
  std::function<Result<query::RetrievedHits>(RouteRequest& r, const std::string& name,
                                             const query::QueryRequest& request,
                                             const nlohmann::json& request_json,
                                             const query::QueryInstruments& ins, nlohmann::json* extra)>
      retrieve;
  // The collections and aliases, sorted.
  std::function<Result<std::vector<std::string>>()> models;
};

// Adds the routes above to `server`.
void RegisterChatRoutes(Server& server, ChatBackend backend);

}  // namespace ragline::server
