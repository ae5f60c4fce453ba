// Retriever: one query against one collection in dense, lexical or hybrid mode.
//
// Dense mode ranks by the collection's vector index (Collection::Search); the
// query vector is given, or the query text is embedded with the Embedder.
// Lexical mode ranks by BM25 (Collection::LexicalSearch) over the text.
// Hybrid mode runs both with `candidates` hits per list (default max(k, 100))
// and fuses them (fusion.h); it needs the text, and embeds it unless a vector
// is given. The payload filter applies inside both searches, so every fused
// hit passes it. Hits are best first; in hybrid mode `score` is the fused
// score (higher is better), otherwise the list's own score.
//
// Ownership: borrows the collection and the embedder (may be null: then only
// queries that carry a vector or need no vector run); both must outlive it.
//
// Thread safety: Search is const and may run concurrently if the embedder
// allows concurrent Embed() calls (LocalEmbedder and RemoteEmbedder do).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "embed/embedder.h"
#include "index/vector_index.h"
#include "search/fusion.h"
#include "store/collection.h"
#include "store/filter.h"

namespace ragline::search {

enum class Mode { kDense, kLexical, kHybrid };
std::string_view ModeName(Mode mode);
// "dense" | "lexical" | "hybrid"; InvalidArgument otherwise.
Result<Mode> ParseMode(std::string_view name);

struct Query {
  Mode mode = Mode::kDense;
  std::optional<std::string> text;
  std::optional<std::vector<float>> vector;  // the collection's dim floats
  size_t k = 10;                             // hits wanted, > 0
  const store::PayloadFilter* filter = nullptr;  // borrowed; null = all records
  FusionOptions fusion;
  size_t candidates = 0;  // hybrid: hits per list before fusion; 0 = max(k, 100)
  index::SearchOptions index_options;  // ef_search / nprobe overrides for dense search
  std::optional<index::Bm25Params> bm25;  // BM25 override for this query; unset = the collection's
};

class Retriever {
 public:
  Retriever(const store::Collection& collection, embed::Embedder* embedder)
      : collection_(collection), embedder_(embedder) {}

  // Top-k hits for `query`. InvalidArgument when the query lacks what its mode
  // needs (text for lexical and hybrid; vector or text for dense), when
  // a text must be embedded but there is no embedder, or when the embedder's
  // dimension differs from the collection's; search and embedding errors pass
  // through. Hybrid mode: `dense_list`, when non-null, receives the dense
  // list it fused (best first, HybridDepth long), whose scores are the
  // metric's (the fused scores are not).
  Result<std::vector<store::SearchHit>> Search(const Query& query,
                                               std::vector<store::SearchHit>* dense_list = nullptr) const;

  // True if running `query` would call the embedder (its mode needs a vector
  // and it has only text).
  static bool NeedsEmbedding(const Query& query);

 private:
  Result<std::vector<float>> QueryVector(const Query& query) const;

  const store::Collection& collection_;
  embed::Embedder* embedder_;
};

// Hybrid mode's depth: hits fetched per list before fusion.
size_t HybridDepth(const Query& query);

// Hybrid mode's last step: fuses a dense and a lexical list (each best first,
// fetched at HybridDepth) into the best `k`. `dense_distances`: the dense
// scores are l2 distances (lower is better). A router calls it on lists merged
// over shards, so that a sharded collection fuses as one would.
std::vector<store::SearchHit> FuseHybrid(std::span<const store::SearchHit> dense,
                                         std::span<const store::SearchHit> lexical, const FusionOptions& fusion,
                                         bool dense_distances, size_t k);

}  // namespace ragline::search
