// The shard side of the shard protocol (query/shard_protocol.h): the two
// routes a router calls on every index node, next to the core API.
//
//   POST /v1/collections/{name}/shard/lexical-stats  read  {"query"} -> lexical stats
//   POST /v1/collections/{name}/shard/search         read  {"k", "filter", "vector"?,
//        "query"?, "lexical_stats"?, "payloads"?} -> {"metric", "text_field", "dense"?, "lexical"?}
//   POST /v1/collections/{name}/shard/fetch          read  {"ids"} -> {"records": [{"id",
//        "version", "payload"}]} (ids not there are left out)
//
// "dense" is present when a "vector" was sent, "lexical" when a "query" was;
// "lexical_stats" (the router's sums) replaces the shard's own BM25
// statistics; "payloads": false leaves the hits' payloads out (the router
// fetches those of the hits it keeps). All three routes are plain reads: any client with a read key may call
// them, and they reveal nothing the query route does not.
//
// Thread safety: as server.h's handlers.
#pragma once

#include "server/server.h"

namespace ragline::server {

void RegisterShardRoutes(Server& server);

}  // namespace ragline::server
