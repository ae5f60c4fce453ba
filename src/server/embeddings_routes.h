// OpenAI-compatible embeddings (docs/server.md "OpenAI-compatible
// embeddings"), so that code written for OpenAI's embeddings API, the
// official `openai` package included, runs against ragline with a new base
// URL, and so that another ragline (an embed worker's --remote) can use this
// server's model:
//
//   POST /v1/embeddings   read   {"input", "model"?, "encoding_format"?, "dimensions"?, "user"?}
//
// GET /v1/models (the embedding model and the chat models) is chat_routes.h's.
//
// "input" is a string, an array of strings, an array of token ids or an
// array of such arrays (word-piece ids without special tokens; ragline adds
// [CLS] and [SEP]); at most kMaxEmbeddingInputs of them, none empty. Texts
// longer than the model reads are truncated, as everywhere in ragline.
// "model", when given, must name the served model ("all-MiniLM-L6-v2", with
// or without "sentence-transformers/"): else 404. "encoding_format" is
// "float" (default) or "base64" (little-endian float32, as OpenAI sends it;
// the `openai` package asks for it by default). "dimensions" must equal the
// model's: it cannot shorten its embeddings. "usage.prompt_tokens" counts the
// tokens the model read, special tokens included.
//
// Embedding takes a query slot (admission control: a fast 503 with
// Retry-After when the server is full). Errors carry OpenAI's body shape
// ({"error": {"message", "type", "param", "code"}}, http_error.h).
//
// Thread safety: handlers run concurrently; the embedder allows it.
#pragma once

#include <cstddef>

#include "embed/local_embedder.h"
#include "server/server.h"

namespace ragline::server {

inline constexpr size_t kMaxEmbeddingInputs = 2048;  // OpenAI's own limit per request

// Adds the routes above to `server`; `embedder` must outlive it.
void RegisterEmbeddingsRoutes(Server& server, embed::LocalEmbedder& embedder);

}  // namespace ragline::server
