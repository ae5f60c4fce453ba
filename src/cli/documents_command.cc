#include "cli/documents_command.h"

#include <memory>
#include <string>

#include "cli/api_client.h"
#include "cli/io.h"
#include "core/http_peer.h"
#include "core/strings.h"
#include "pipeline/ingestor.h"

namespace ragline::cli {
namespace {

using nlohmann::json;

struct ListArgs {
  std::string collection, data, server, api_key, after;
  size_t limit = 0;  // 0 = all
};

constexpr size_t kPage = 500;

int ListFromData(const ListArgs& a) {
  auto db = store::Database::Open(*store::Env::Default(), a.data, CliDatabaseOptions(/*read_only=*/true));
  if (!db.ok()) return Fail(db.status());
  auto c = (*db)->GetCollection(a.collection);
  if (!c.ok()) return Fail(c.status());
  std::string after = a.after;
  for (size_t printed = 0; a.limit == 0 || printed < a.limit;) {
    const size_t want = a.limit == 0 ? kPage : std::min(kPage, a.limit - printed);
    pipeline::DocumentPage page = pipeline::ListDocuments(**c, after, want);
    for (const auto& d : page.documents) PrintJson(d.SummaryJson());
    printed += page.documents.size();
    if (page.next.empty()) break;
    after = page.next;
  }
  return 0;
}

int ListFromServer(const ListArgs& a) {
  auto client = ApiClient::Create(a.server, a.api_key);
  if (!client.ok()) return Fail(client.status());
  std::string after = a.after;
  for (size_t printed = 0; a.limit == 0 || printed < a.limit;) {
    const size_t want = a.limit == 0 ? kPage : std::min(kPage, a.limit - printed);
    std::string path = StrCat("/v1/collections/", UrlSegment(a.collection), "/documents?limit=", want);
    if (!after.empty()) path += StrCat("&after=", UrlSegment(after));
    auto reply = (*client)->Call("GET", path);
    if (!reply.ok()) return Fail(reply.status());
    for (const json& d : reply->body.value("documents", json::array())) PrintJson(d);
    printed += reply->body.value("documents", json::array()).size();
    if (!reply->body.value("next", json()).is_string()) break;
    after = reply->body["next"].get<std::string>();
  }
  return 0;
}

}  // namespace

void AddDocumentsCommand(CLI::App& app, int* rc) {
  auto args = std::make_shared<ListArgs>();
  auto* docs = app.add_subcommand("documents", "the documents of a collection (what ingest wrote)");
  docs->require_subcommand(1);
  auto* list = docs->add_subcommand(
      "list", "one JSON line per document, in id order: id, title, version, chunk_count, source, metadata");
  list->add_option("collection", args->collection, "collection or alias")->required();
  list->add_option("--data", args->data, "data directory (read-only)");
  list->add_option("--server", args->server, "a running `ragline serve` at http://HOST:PORT instead");
  list->add_option("--api-key", args->api_key, "API key for --server (default $RAGLINE_API_KEY)");
  list->add_option("--limit", args->limit, "print at most this many (default: all)");
  list->add_option("--after", args->after, "start after this document id");
  list->callback([args, rc] {
    if (args->data.empty() == args->server.empty()) {
      *rc = Fail("give either --data DIR or --server URL");
      return;
    }
    *rc = args->server.empty() ? ListFromData(*args) : ListFromServer(*args);
  });
}

}  // namespace ragline::cli
