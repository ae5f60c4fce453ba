#include "server/document_routes.h"

#include <chrono>
#include <memory>
#include <shared_mutex>

#include "core/json_fields.h"
#include "core/strings.h"
#include "server/http_error.h"

namespace ragline::server {
namespace {

using nlohmann::json;

constexpr size_t kMaxListLimit = 1000;  // documents per page

class DocumentRoutes {
 public:
  DocumentRoutes(Server& server, embed::LocalEmbedder& embedder, pipeline::IngestOptions options)
      : server_(server), db_(*server.deps().db), embedder_(embedder), options_(std::move(options)) {
    options_.stage_observer = [this](std::string_view stage, double seconds) {
      server_.stage_latency(StrCat("ingest_", stage)).Observe(seconds);
    };
  }

  void Register() {
    server_.AddRoute({"POST", "/v1/collections/{name}/documents", Access::kWrite, 0,
                      [this](RouteRequest& r) { return Post(r); }});
    server_.AddRoute({"GET", "/v1/collections/{name}/documents", Access::kRead, 0,
                      [this](RouteRequest& r) { return List(r); }});
    server_.AddRoute({"GET", "/v1/collections/{name}/documents/{id...}", Access::kRead, 0,
                      [this](RouteRequest& r) { return Get(r); }});
    server_.AddRoute({"DELETE", "/v1/collections/{name}/documents/{id...}", Access::kWrite, 0,
                      [this](RouteRequest& r) { return Delete(r); }});
  }

 private:
  Result<json> Post(RouteRequest& r) {
    ASSIGN_OR_RETURN(json body, r.JsonBody());
    RETURN_IF_ERROR(RefuseUnknownFields(body, {"documents"}, ""));
    auto list = body.find("documents");
    if (list == body.end() || !list->is_array() || list->empty()) {
      return absl::InvalidArgumentError("\"documents\" must be a non-empty array");
    }
    std::vector<pipeline::SourceDocument> docs;
    docs.reserve(list->size());
    for (size_t i = 0; i < list->size(); ++i) {
      ASSIGN_OR_RETURN(auto doc, pipeline::SourceDocument::FromJson((*list)[i], StrCat("documents[", i, "]"), "http"));
      docs.push_back(std::move(doc));
    }
    const std::string wait = r.http.Param("wait");
    if (!wait.empty() && wait != "true" && wait != "false" && wait != "1" && wait != "0") {
      return absl::InvalidArgumentError(StrCat("wait must be true or false, not '", wait, "'"));
    }
    if (r.http.Header("Accept").find("application/x-ndjson") != std::string::npos) {
      return PostStreaming(r, std::move(docs));
    }
    const size_t n = docs.size();
    std::shared_lock catalog(server_.catalog_mutex());
    ASSIGN_OR_RETURN(store::Collection * c, Writable(r.PathParam(0)));
    // No lock across the ingest: each document commits atomically, and
    // embedding (the long part) runs beside other requests' ingests.
    ASSIGN_OR_RETURN(pipeline::IngestReport report,
                     pipeline::Ingestor(*c, embedder_, options_).Ingest(std::move(docs), {}, [&r] {
                       return r.Cancelled();
                     }));
    if (report.documents_failed == n) {
      std::string message = StrCat(n == 1 ? "the document" : StrCat("all ", n, " documents"), " failed: ");
      for (size_t i = 0; i < report.failures.size() && i < 5; ++i) {
        message += StrCat(i ? "; " : "", report.failures[i].id, ": ", report.failures[i].error);
      }
      if (report.failures.size() > 5) message += StrCat("; and ", report.failures.size() - 5, " more");
      return absl::InvalidArgumentError(message);
    }
    if (report.documents_failed > 0) r.SetSuccessStatus(207);
    return report.ToJson();
  }

  // With `Accept: application/x-ndjson`: the ingest's progress as JSON lines,
  // {"progress": {documents_done, documents_total, chunks_embedded}} at
  // most twice a second, then {"done": REPORT} or {"error": {code, message}}.
  // A long request shows it is moving (`ragline ingest --server`), and every
  // document's outcome is in REPORT, as in the reply without it.
  Result<json> PostStreaming(RouteRequest& r, std::vector<pipeline::SourceDocument> docs) {
    const std::string name = r.PathParam(0);
    {  // what fails before any work is a plain error reply
      std::shared_lock catalog(server_.catalog_mutex());
      RETURN_IF_ERROR(Writable(name).status());
    }
    auto owned = std::make_shared<std::vector<pipeline::SourceDocument>>(std::move(docs));
    const HttpRequest* http = &r.http;  // outlives the stream's writer
    r.response.SetHeader("Cache-Control", "no-cache");
    r.response.SetHeader("X-Accel-Buffering", "no");
    r.response.SetStream("application/x-ndjson", [this, name, owned, http](DataSink& sink) {
      auto line = [&sink](const json& j) { return sink.IsWritable() && sink.Write(DumpJson(j) + "\n"); };
      auto last = std::chrono::steady_clock::time_point();
      Result<pipeline::IngestReport> report = [&]() -> Result<pipeline::IngestReport> {
        std::shared_lock catalog(server_.catalog_mutex());
        ASSIGN_OR_RETURN(store::Collection * c, Writable(name));
        return pipeline::Ingestor(*c, embedder_, options_)
            .Ingest(
                std::move(*owned),
                [&](size_t done, size_t total, size_t chunks) {
                  const auto now = std::chrono::steady_clock::now();
                  if (done < total && now - last < std::chrono::milliseconds(500)) return;
                  last = now;
                  line({{"progress",
                         {{"documents_done", done}, {"documents_total", total}, {"chunks_embedded", chunks}}}});
                },
                [http] { return http->IsCancelled(); });
      }();
      if (report.ok()) {
        line({{"done", report->ToJson()}});
      } else {
        line({{"error",
               {{"code", ErrorCodeName(report.status())},
                {"message", server_.ClientMessage(std::string(report.status().message()))}}}});
      }
      sink.Done();
    });
    r.MarkResponded();
    return json();
  }

  // ?after=ID&limit=N (1..kMaxListLimit, default 100): {"documents": [...], "next": ID | null}.
  Result<json> List(RouteRequest& r) {
    size_t limit = 100;
    if (const std::string l = r.http.Param("limit"); !l.empty()) {
      if (l.size() > 7 || l.find_first_not_of("0123456789") != std::string::npos || std::stoul(l) < 1 ||
          std::stoul(l) > kMaxListLimit) {
        return absl::InvalidArgumentError(StrCat("limit must be a number from 1 to ", kMaxListLimit, ", not '", l, "'"));
      }
      limit = std::stoul(l);
    }
    std::shared_lock catalog(server_.catalog_mutex());
    ASSIGN_OR_RETURN(store::Collection * c, db_.GetCollection(r.PathParam(0)));
    pipeline::DocumentPage page = pipeline::ListDocuments(*c, r.http.Param("after"), limit);
    json documents = json::array();
    for (const auto& d : page.documents) documents.push_back(d.SummaryJson());
    return json{{"documents", std::move(documents)}, {"next", page.next.empty() ? json(nullptr) : json(page.next)}};
  }

  Result<json> Get(RouteRequest& r) {
    std::shared_lock catalog(server_.catalog_mutex());
    ASSIGN_OR_RETURN(store::Collection * c, db_.GetCollection(r.PathParam(0)));
    ASSIGN_OR_RETURN(auto info, pipeline::Ingestor(*c, embedder_, options_).GetDocument(r.PathParam(1)));
    if (!info) return NotFound(r);
    return info->ToJson();
  }

  Result<json> Delete(RouteRequest& r) {
    std::shared_lock catalog(server_.catalog_mutex());
    ASSIGN_OR_RETURN(store::Collection * c, Writable(r.PathParam(0)));
    ASSIGN_OR_RETURN(auto report, pipeline::Ingestor(*c, embedder_, options_).DeleteDocument(r.PathParam(1)));
    if (report.documents_deleted == 0 && report.chunks_deleted == 0) return NotFound(r);
    return report.ToJson();
  }

  // The collection, if the server's model can write it.
  Result<store::Collection*> Writable(const std::string& name) {
    ASSIGN_OR_RETURN(store::Collection * c, db_.GetCollection(name));
    if (c->config().dim != embedder_.dim()) {
      return absl::FailedPreconditionError(StrCat("collection '", name, "' has ", c->config().dim,
                                                  " dimensions; the server's model ", embedder_.model_id(),
                                                  " embeds to ", embedder_.dim()));
    }
    return c;
  }

  static Status NotFound(const RouteRequest& r) {
    return absl::NotFoundError(
        StrCat("document '", r.PathParam(1), "' not found in collection '", r.PathParam(0), "'"));
  }

  Server& server_;
  store::Database& db_;
  embed::LocalEmbedder& embedder_;
  pipeline::IngestOptions options_;
};

}  // namespace

void RegisterDocumentRoutes(Server& server, embed::LocalEmbedder& embedder, pipeline::IngestOptions options) {
  auto routes = std::make_shared<DocumentRoutes>(server, embedder, std::move(options));
  routes->Register();
  server.KeepAlive(std::move(routes));
}

}  // namespace ragline::server
