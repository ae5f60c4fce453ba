// Embedder: text in, one embedding per text out. The pipeline, the query
// path and `ragline embed` depend only on this interface; LocalEmbedder runs
// a BERT-family sentence-transformers model in process, RemoteEmbedder asks
// an OpenAI-compatible /v1/embeddings server.
//
// Thread safety: implementations document their own; LocalEmbedder and
// RemoteEmbedder allow concurrent Embed() calls.
#pragma once

#include <cstddef>
#include <span>
#include <string>

#include "core/matrix.h"
#include "core/status.h"

namespace ragline::embed {

class Embedder {
 public:
  virtual ~Embedder() = default;

  // Output width (384 for all-MiniLM-L6-v2).
  virtual size_t dim() const = 0;
  // Identifies the model, e.g. "all-MiniLM-L6-v2"; stored with collections.
  virtual const std::string& model_id() const = 0;
  // For people: the model and how it runs, e.g. "all-MiniLM-L6-v2 (int8 avx512vnni)".
  virtual std::string description() const { return model_id(); }

  // Returns a texts.size() × dim() matrix; row i embeds texts[i]. Texts longer
  // than the model's max_seq_length are truncated (as sentence-transformers
  // does). Fails as a whole: no partial results.
  virtual Result<Matrix> Embed(std::span<const std::string> texts) = 0;
};

}  // namespace ragline::embed
