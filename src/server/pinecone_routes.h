// A Pinecone-compatible data plane (docs/compat.md "Pinecone"), so that code
// written for Pinecone's SDK runs against ragline with a new index host:
// Pinecone(api_key=KEY).Index(host="http://HOST:PORT/pinecone/INDEX").
//
//   POST     /pinecone/{index}/vectors/upsert      write  {"vectors": [{"id", "values", "metadata"?}], "namespace"?}
//   POST     /pinecone/{index}/query               read   {"topK", "vector" | "id", "filter"?, "includeValues"?, ...}
//   GET      /pinecone/{index}/vectors/fetch       read   ?ids=a&ids=b&namespace=
//   POST     /pinecone/{index}/vectors/update      write  {"id" | "filter", "values"?, "setMetadata"?, "dryRun"?}
//   POST     /pinecone/{index}/vectors/delete      write  {"ids" | "filter" | "deleteAll", "namespace"?}
//   GET|POST /pinecone/{index}/describe_index_stats read  dimension, metric, counts per namespace
//   GET      /pinecone/{index}/vectors/list        read   ?namespace=&prefix=&limit=&paginationToken=
//
// The index is a ragline collection (made with POST /v1/collections; its
// dim and metric are the index's). A namespace is a collection of its own,
// "{index}__{namespace}", made on its first upsert with the index's
// configuration; the default namespace ("") is the index itself. So counts
// per namespace are cheap and a namespace is isolated as in Pinecone.
// Metadata is the record's payload, so Pinecone's filter language
// ($eq $ne $gt $gte $lt $lte $in $nin $exists $and $or) runs as ragline's
// own (docs/filters.md); anything else is a 400 naming it. A record's
// version is the time in ms, past the stored one, so every write replaces.
// Sparse values are refused (400): ragline has no sparse index; its lexical
// index searches text. API keys: the SDK's "Api-Key" header is read as
// "Authorization: Bearer" (auth.h), scoped by the index's name.
//
// Thread safety: handlers run concurrently under the catalog lock, shared.
#pragma once

#include "server/server.h"

namespace ragline::server {

void RegisterPineconeRoutes(Server& server);

}  // namespace ragline::server
