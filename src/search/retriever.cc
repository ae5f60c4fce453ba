#include "search/retriever.h"

#include <algorithm>
#include <array>

#include "core/strings.h"

namespace ragline::search {

std::string_view ModeName(Mode mode) {
  switch (mode) {
    case Mode::kDense:
      return "dense";
    case Mode::kLexical:
      return "lexical";
    case Mode::kHybrid:
      return "hybrid";
  }
  return "?";
}

Result<Mode> ParseMode(std::string_view name) {
  if (name == "dense") return Mode::kDense;
  if (name == "lexical") return Mode::kLexical;
  if (name == "hybrid") return Mode::kHybrid;
  return absl::InvalidArgumentError(StrCat("unknown mode '", name, "' (expected dense, lexical or hybrid)"));
}

bool Retriever::NeedsEmbedding(const Query& query) {
  return query.mode != Mode::kLexical && !query.vector && query.text.has_value();
}

Result<std::vector<float>> Retriever::QueryVector(const Query& query) const {
  if (query.vector) return *query.vector;
  if (!query.text) return absl::InvalidArgumentError("dense search needs a \"vector\" or a \"text\" to embed");
  if (embedder_ == nullptr) return absl::InvalidArgumentError("no embedding model to embed the query text");
  const size_t dim = collection_.config().dim;
  if (embedder_->dim() != dim) {
    return absl::InvalidArgumentError(StrCat("model ", embedder_->model_id(), " embeds to ", embedder_->dim(),
                                             " dimensions, collection '", collection_.config().name, "' has ",
                                             dim));
  }
  const std::array<std::string, 1> texts = {*query.text};
  ASSIGN_OR_RETURN(Matrix m, embedder_->Embed(texts));
  auto row = m.row(0);
  return std::vector<float>(row.begin(), row.end());
}

Result<std::vector<store::SearchHit>> Retriever::Search(const Query& query,
                                                        std::vector<store::SearchHit>* dense_list) const {
  if (query.k == 0) return absl::InvalidArgumentError("k must be > 0");
  switch (query.mode) {
    case Mode::kDense: {
      ASSIGN_OR_RETURN(auto vec, QueryVector(query));
      return collection_.Search(vec, query.k, query.filter, query.index_options);
    }
    case Mode::kLexical:
      if (!query.text) return absl::InvalidArgumentError("lexical search needs a \"text\"");
      return collection_.LexicalSearch(*query.text, query.k, query.filter, query.bm25 ? &*query.bm25 : nullptr);
    case Mode::kHybrid:
      break;
  }
  if (!query.text) return absl::InvalidArgumentError("hybrid search needs a \"text\"");
  RETURN_IF_ERROR(query.fusion.Validate());
  const size_t depth = HybridDepth(query);
  ASSIGN_OR_RETURN(auto vec, QueryVector(query));
  ASSIGN_OR_RETURN(auto dense, collection_.Search(vec, depth, query.filter, query.index_options));
  ASSIGN_OR_RETURN(auto lexical, collection_.LexicalSearch(*query.text, depth, query.filter, query.bm25 ? &*query.bm25 : nullptr));
  auto fused = FuseHybrid(dense, lexical, query.fusion, collection_.config().metric == store::DistanceMetric::kL2,
                          query.k);
  if (dense_list != nullptr) *dense_list = std::move(dense);
  return fused;
}

size_t HybridDepth(const Query& query) {
  return query.candidates > 0 ? query.candidates : std::max<size_t>(query.k, 100);
}

std::vector<store::SearchHit> FuseHybrid(std::span<const store::SearchHit> dense,
                                         std::span<const store::SearchHit> lexical, const FusionOptions& fusion,
                                         bool dense_distances, size_t k) {
  if (fusion.method == FusionMethod::kRrf) {
    const std::array<RankedList, 2> lists = {RankedList{dense, fusion.dense_weight, dense_distances},
                                             RankedList{lexical, fusion.lexical_weight, false}};
    return FuseRrf(lists, fusion.rrf_k, k);
  }
  const std::array<RankedList, 2> lists = {RankedList{dense, fusion.alpha, dense_distances},
                                           RankedList{lexical, 1.0 - fusion.alpha, false}};
  return FuseConvex(lists, k);
}

}  // namespace ragline::search
