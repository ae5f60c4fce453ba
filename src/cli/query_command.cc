#include "cli/query_command.h"

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "cli/api_client.h"
#include "cli/io.h"
#include "core/strings.h"
#include "embed/local_embedder.h"
#include "generate/llm_config.h"
#include "query/query.h"
#include "search/retriever.h"
#include "store/database.h"

namespace ragline::cli {
namespace {

using nlohmann::json;

struct QueryFlags {
  std::string question, collection, data, server_url, mode = "hybrid", filter, model, api_key, llm_url,
                                                      llm_model;
  size_t k = 5;
  double min_similarity = query::QueryRequest::kDefaultMinSimilarity;
  bool no_generate = false, json_out = false;
};

// After the answer's text: its sources, and a note when it is degraded.
void PrintSources(const json& out) {
  std::printf("\n\nSources:\n");
  // "[1] The Closure API (libffi), Closures > API (api.html#3)": the document's
  // title when it has one, else its id; then the section or PDF page.
  for (const auto& c : out["citations"]) {
    std::string name = c.contains("title") && c["title"].is_string() ? c["title"].get<std::string>()
                                                                      : c["doc_id"].get<std::string>();
    if (c.contains("heading_path") && c["heading_path"].is_string()) {
      const std::string heading = c["heading_path"].get<std::string>();
      name = heading.starts_with(name) ? heading : StrCat(name, ", ", heading);  // h1 = title: said once
    }
    if (c.contains("page") && c["page"].is_number_unsigned()) name += StrCat(", page ", c["page"].get<size_t>());
    std::printf("  [%d] %s (%s)\n", c["n"].get<int>(), name.c_str(), c["id"].get<std::string>().c_str());
  }
  if (out.value("degraded", false) && out["degraded_detail"].is_string()) {
    std::fflush(stdout);  // after the sources on a terminal, where both streams show
    std::fprintf(stderr, "note: extractive answer (%s)\n", out["degraded_detail"].get<std::string>().c_str());
  }
}

void PrintQueryResult(const json& out, bool json_out) {
  if (json_out) {
    PrintJson(out);
    return;
  }
  const json& hits = out["hits"];
  if (out.contains("answer") && out["answer"].is_string()) {
    std::printf("%s", out["answer"].get<std::string>().c_str());
    PrintSources(out);
    return;
  }
  int n = 0;
  for (const auto& h : hits) {
    std::string text = h["text"].get<std::string>();
    if (text.size() > 160) text = text.substr(0, 157) + "...";
    std::printf("%d. %s (%s) score %.4f\n   %s\n", ++n, h["id"].get<std::string>().c_str(),
                h["doc_id"].get<std::string>().c_str(), h["score"].get<double>(), text.c_str());
  }
}

// Prints an answer's text as it arrives.
bool PrintDelta(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  return true;
}

// A streamed answer (text output with generation): print as the server writes.
bool Streams(const QueryFlags& f) { return !f.json_out && !f.no_generate; }

// The query route's request body for these flags, the same over HTTP and
// in process.
Result<json> RequestBody(const QueryFlags& f) {
  json body = {{"query", f.question}, {"k", f.k}, {"mode", f.mode}, {"generate", !f.no_generate},
               {"min_similarity", f.min_similarity}};
  if (!f.filter.empty()) {
    json filter = json::parse(f.filter, nullptr, false);
    if (filter.is_discarded()) return absl::InvalidArgumentError("--filter: malformed JSON");
    body["filter"] = filter;
  }
  return body;
}

int QueryOverHttp(const QueryFlags& f) {
  auto request_body = RequestBody(f);
  if (!request_body.ok()) return Fail(request_body.status());
  json& body = *request_body;
  auto client = ApiClient::Create(f.server_url, f.api_key);
  if (!client.ok()) return Fail(client.status());
  const std::string path = StrCat("/v1/collections/", UrlSegment(f.collection), "/query");
  if (Streams(f)) {  // hits, deltas as the LLM writes them, then done (docs/server.md "Query")
    body["stream"] = true;
    bool done = false;
    Status st = (*client)->PostEvents(path, body, [&](const std::string& event, const json& data) {
      if (event == "delta" && data.contains("text") && data["text"].is_string()) {
        PrintDelta(data["text"].get<std::string>());
      } else if (event == "done") {
        PrintSources(data);
        done = true;
      }
    });
    if (!st.ok()) return Fail(st);
    if (!done) return Fail("the server's answer stream ended before its \"done\" event");
    return 0;
  }
  auto reply = (*client)->Call("POST", path, &body);
  if (!reply.ok()) return Fail(reply.status());
  PrintQueryResult(reply->body, f.json_out);
  return 0;
}

int QueryDirect(const QueryFlags& f) {
  auto body = RequestBody(f);
  if (!body.ok()) return Fail(body.status());
  auto request = query::QueryRequest::FromJson(*body);
  if (!request.ok()) return Fail(request.status());
  auto db = store::Database::Open(*store::Env::Default(), f.data, CliDatabaseOptions(/*read_only=*/true));
  if (!db.ok()) return Fail(db.status());
  auto c = (*db)->GetCollection(f.collection);
  if (!c.ok()) return Fail(c.status());
  std::unique_ptr<embed::LocalEmbedder> embedder;
  search::Query probe;
  probe.mode = request->mode;
  probe.text = request->question;
  if (search::Retriever::NeedsEmbedding(probe)) {
    auto opened = OpenModel(f.model, {}, nullptr);
    if (!opened.ok()) {
      return Fail(StrCat("the embedding model is needed for --mode ", f.mode,
                         " (or use --mode lexical): ", std::string(opened.status().message())));
    }
    embedder = std::move(*opened);
  }
  generate::LlmConfig llm;
  llm.MergeEnvironment();
  if (!f.llm_url.empty()) llm.url = f.llm_url;
  if (!f.llm_model.empty()) llm.model = f.llm_model;
  if (!llm.url.empty() && llm.model.empty())
    return Fail("--llm-url needs --llm-model (or RAGLINE_LLM_MODEL)");
  auto chat = generate::MakeChatClient(llm);
  if (!chat.ok()) return Fail(chat.status());
  query::QueryInstruments none;
  auto retrieved = query::RunRetrieval(**c, embedder.get(), *request, none);
  if (!retrieved.ok()) return Fail(retrieved.status());
  json out;
  if (request->generate && Streams(f)) {
    const generate::DeltaCallback print = PrintDelta;
    generate::Answer answer = query::RunAnswer(*request, *retrieved, chat->get(), {}, &print, none);
    PrintSources(query::QueryResponseJson(*retrieved, &answer));
    return 0;
  }
  if (request->generate) {
    generate::Answer answer = query::RunAnswer(*request, *retrieved, chat->get(), {}, nullptr, none);
    out = query::QueryResponseJson(*retrieved, &answer);
  } else {
    out = query::QueryResponseJson(*retrieved, nullptr);
  }
  PrintQueryResult(out, f.json_out);
  return 0;
}

}  // namespace

void AddQueryCommand(CLI::App& app, int* rc) {
  auto f = std::make_shared<QueryFlags>();
  auto* cmd = app.add_subcommand("query", "answer a question with citations from a collection; the answer prints as it is written (--json: the whole reply at once)");
  cmd->add_option("question", f->question, "the question")->required();
  cmd->add_option("--collection,-c", f->collection, "collection or alias")->required();
  auto* data = cmd->add_option("--data", f->data, "data directory (query it directly, read-only)");
  auto* server = cmd->add_option("--server", f->server_url, "server URL, e.g. http://127.0.0.1:8080");
  data->excludes(server);
  cmd->add_option("--k", f->k, "passages to retrieve")->capture_default_str()->check(CLI::Range(1, 1000));
  cmd->add_option("--mode", f->mode, "dense | lexical | hybrid")->capture_default_str();
  cmd->add_option("--filter", f->filter, "payload filter JSON");
  cmd->add_flag("--no-generate", f->no_generate, "retrieve only; print the hits");
  cmd->add_option("--min-similarity", f->min_similarity,
                  "answer only when a passage is at least this similar to the question (cosine; -1 = always)")
      ->capture_default_str()
      ->check(CLI::Range(-1.0, 1.0));
  cmd->add_flag("--json", f->json_out, "print the response JSON");
  cmd->add_option("--model", f->model, StrCat(kModelHelp, " (--data only)"));
  cmd->add_option("--llm-url", f->llm_url, "OpenAI-compatible base URL (--data only; or RAGLINE_LLM_URL)");
  cmd->add_option("--llm-model", f->llm_model, "LLM model name (--data only; or RAGLINE_LLM_MODEL)");
  cmd->add_option("--api-key", f->api_key, "API key for --server (or RAGLINE_API_KEY)");
  cmd->callback([f, rc] {
    if (f->data.empty() == f->server_url.empty()) {
      *rc = Fail("give either --data DIR or --server URL");
    } else {
      *rc = f->data.empty() ? QueryOverHttp(*f) : QueryDirect(*f);
    }
  });
}

}  // namespace ragline::cli
