// The shard protocol: what a router (router/) and an index node's server
// (server/shard_routes.h) exchange to answer one query over many shards as
// one collection would (docs/distributed.md "Queries over shards").
//
// Two rounds, as Elasticsearch's dfs_query_then_fetch:
//   1. lexical and hybrid queries only: POST .../shard/lexical-stats
//      {"query"} -> LexicalTermStats (N, Σ lengths, df per query term); the
//      router sums them over shards;
//   2. POST .../shard/search {"k", "filter", "vector"?, "query"?, "lexical_stats"?,
//      "payloads": false} -> {"metric", "text_field", "dense": [hits]?, "lexical":
//      [hits]?}: the shard's top k by vector and by BM25 scored with the summed
//      statistics, without payloads;
//   3. POST .../shard/fetch {"ids"} -> the payloads of the hits the router kept
//      (k of them, where round 2 moved up to 2 x candidates per shard).
// The router merges each list over shards (scores are comparable: cosine/dot/l2
// are absolute, BM25 used the same statistics everywhere), then cuts to k or
// fuses the two lists with search::FuseHybrid, as one node would.
//
// Wire forms (JSON):
//   hit:            {"id", "score", "version", "payload"?}
//   lexical stats:  {"doc_count", "total_doc_length", "doc_freq": {"<term hash, decimal>": df}}
//
// Thread safety: pure functions.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "nlohmann/json.hpp"
#include "search/retriever.h"
#include "store/collection.h"

namespace ragline::query {

nlohmann::json HitToWire(const store::SearchHit& hit);
// InvalidArgument naming `where` and the bad field.
Result<store::SearchHit> HitFromWire(const nlohmann::json& j, const std::string& where);
Result<std::vector<store::SearchHit>> HitsFromWire(const nlohmann::json& j, const std::string& where);

nlohmann::json LexicalStatsToWire(const store::LexicalTermStats& stats);
Result<store::LexicalTermStats> LexicalStatsFromWire(const nlohmann::json& j);
// Adds `part` (one shard's statistics) into `total`.
void AddLexicalStats(const store::LexicalTermStats& part, store::LexicalTermStats* total);

// Merges per-shard lists, each best first, into the best `k` overall: by
// score descending, or ascending when `lower_is_better` (l2 distances); ties
// by id, so the order does not depend on which shard answered first.
std::vector<store::SearchHit> MergeShardHits(std::vector<std::vector<store::SearchHit>> lists, size_t k,
                                             bool lower_is_better);

}  // namespace ragline::query
