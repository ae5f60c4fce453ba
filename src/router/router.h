// The router (`ragline serve --role router`, docs/distributed.md): today's
// HTTP API over a sharded collection. It holds no data: every read fans out
// to the index nodes (shard_set.h) and merges.
//
//   GET  /healthz, /metrics                  as ragline serve
//   GET  /readyz                             ready when the model is loaded and every shard has a replica up
//   GET  /v1/cluster                         shards, replicas, up/down, their collections' counts and offsets
//   GET  /v1/collections                     names and aliases every shard answered
//   GET  /v1/collections/{name}              configuration (shard 0's) + counts summed over shards
//   GET  /v1/collections/{name}/stats        counts summed over shards (one replica each) + per shard
//   GET  /v1/collections/{name}/vectors/{id} the record, from whichever shard holds it
//   POST /v1/collections/{name}/query        the RAG query, answered over all shards
//   POST /v1/collections/{name}/documents    publish to rag.documents.raw (with a Kafka bootstrap);
//                                            ?wait=true: return once searchable on its shard
//   DELETE /v1/collections/{name}/documents/{id}  publish a tombstone (the document without
//                                            text, newer): its shard deletes its chunks; ?wait=true
//
// Documents: {"documents": [...]} as `ragline serve` takes them. Each gets a
// version (the caller's, else now in ms) and is published; the reply (202)
// is {"documents_published", "versions": {id: version}}. With ?wait=true
// (timeout_ms, default RouterOptions::wait_timeout) the router polls the
// shards until every document's first chunk is at that version or newer,
// then answers 200; past the timeout, a 504 naming the documents still
// pending. A document that cannot be processed (dead-lettered) or has no
// chunks stays pending: wait for it only where that cannot happen. A
// deletion waits until no shard has the document.
//
// A query embeds its question once here and asks every shard for its top
// hits by vector and by BM25 scored with statistics summed over shards
// (query/shard_protocol.h), then merges, fuses (hybrid) and answers as one
// node would: same hits, same scores. A shard with no replica answering
// within the deadline is left out: the reply says "partial": true and lists
// "missing_shards" [{"shard", "error"}]; no shard answering is a 503. Every
// reply to a query carries "partial".
//
// Thread safety: as server.h's handlers.
#pragma once

#include <chrono>
#include <string>

#include "router/shard_set.h"
#include "server/server.h"

namespace ragline::router {

struct RouterOptions {
  std::string kafka;  // bootstrap servers; "" = no documents route (404)
  std::string topic_prefix;
  int topic_partitions = 4;  // of topics it creates when absent
  std::chrono::milliseconds wait_timeout{60'000};
};

// Adds the routes above to `server` (whose deps carry no database). `shards`
// must outlive the server.
void RegisterRouterRoutes(server::Server& server, const ShardSet& shards, RouterOptions options = {});

}  // namespace ragline::router
