// The core API routes (docs/server.md, docs/openapi.yaml):
//
//   GET    /healthz                               open   process is up
//   GET    /readyz                                open   model loaded and data dir open (else 503)
//   GET    /metrics                               open   Prometheus text
//   GET    /ui, /openapi.yaml, /openapi.json, /docs  open  the web page, the API description (web_routes.h)
//   POST   /v1/collections                        write  create (only "name" required)
//   GET    /v1/collections                        read   names and aliases
//   GET    /v1/collections/{name}                 read   configuration + counts
//   DELETE /v1/collections/{name}                 write  drop
//   GET    /v1/collections/{name}/stats           read   describe_index_stats
//   PUT    /v1/aliases/{alias}                    write  create or flip {"collection"}
//   DELETE /v1/aliases/{alias}                    write
//   GET    /v1/aliases                            read
//   POST   /v1/collections/{name}/vectors         write  upsert {"vectors": [...]}
//   POST   /v1/collections/{name}/vectors/delete  write  {"ids": [...]} | {"filter": {...}}
//   POST   /v1/collections/{name}/vectors/search  read   {"vector", "k", "filter"}
//   GET    /v1/collections/{name}/vectors/{id}    read
//   POST   /v1/collections/{name}/query           read   RAG query (JSON or SSE)
//   POST   /v1/chat/completions, GET /v1/models    read   OpenAI-compatible (chat_routes.h)
//   ...    /pinecone/{index}/...                  both   Pinecone-compatible data plane (pinecone_routes.h)
//
// Other modules add their routes next to these with Server::AddRoute (the
// documents routes: /v1/collections/{name}/documents..., from pipeline/).
//
// Thread safety: registration runs once before the server starts; handlers
// are thread-safe (see server.h).
#pragma once

#include <memory>

#include "query/query.h"
#include "server/server.h"

namespace ragline::server {

// Adds every route listed above to `server`; without `vector_writes` not the
// routes that write records (upsert, delete): an index node, whose
// collections only their Kafka partitions write; collections and aliases it
// does create and drop (through its router).
void RegisterCoreRoutes(Server& server, bool vector_writes = true);

// GET /healthz ({"status": "ok"}) and GET /metrics (the server's registry,
// Prometheus text), open: what every ragline process that serves HTTP has
// (nodes, routers, workers).
void RegisterHealthAndMetricsRoutes(Server& server);

// Where a query handler's stages report: the server's
// rag_pipeline_latency_seconds{stage}, rag_vectorstore_query_time_seconds,
// its log, and the request's id.
query::QueryInstruments QueryInstrumentsFor(Server& server, const RouteRequest& r);

// Before a query runs: sets request.deadline (Server::QueryDeadline) and
// takes a query slot (Server::AdmitQuery), which the caller holds until the
// reply is written (RespondToQuery takes it over).
Result<resilience::AdmissionController::Ticket> AdmitQuery(Server& server, const RouteRequest& r,
                                                           query::QueryRequest& request);

// The reply to a query whose hits are retrieved (the query route's, and the
// router's): JSON {"hits", "answer", "citations", "degraded",
// "degraded_reason", "degraded_detail"} with `extra`'s fields added, or, when
// the request asks to stream, server-sent events "hits", "delta"..., "done"
// (`extra`'s fields in "hits" and "done"). `slot` is held until the last byte.
Result<nlohmann::json> RespondToQuery(RouteRequest& r, std::shared_ptr<const query::RetrievedHits> retrieved,
                                      query::QueryRequest request, const generate::ChatClient* chat,
                                      const generate::AnswerOptions& options,
                                      const query::QueryInstruments& ins, nlohmann::json extra,
                                      resilience::AdmissionController::Ticket slot);

// Server-sent event framing: "event: NAME\ndata: JSON\n\n".
std::string SseEvent(std::string_view name, const nlohmann::json& data);

}  // namespace ragline::server
