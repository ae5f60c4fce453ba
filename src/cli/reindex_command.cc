#include "cli/reindex_command.h"

#include <memory>
#include <optional>

#include "cli/api_client.h"
#include "cli/io.h"
#include "core/strings.h"
#include "embed/local_embedder.h"
#include "pipeline/reindex.h"
#include "store/database.h"

namespace ragline::cli {
namespace {

using nlohmann::json;

struct ReindexArgs {
  std::string source, target, data, server, model, index, alias;
  std::vector<std::string> params;
  double rate = 0;
  bool reembed = false;
};

// {"kind", "params"} from --index and --param K=V (null: keep the source's).
Result<json> IndexJson(const ReindexArgs& a) {
  if (a.index.empty() && a.params.empty()) return json();
  if (a.index.empty()) return absl::InvalidArgumentError("--param needs --index KIND");
  json index = {{"kind", a.index}, {"params", json::object()}};
  for (const std::string& p : a.params) {
    const size_t eq = p.find('=');
    const std::string value = eq == std::string::npos ? "" : p.substr(eq + 1);
    if (eq == std::string::npos || value.empty() ||
        value.find_first_not_of("0123456789") != std::string::npos) {
      return absl::InvalidArgumentError(StrCat("--param '", p, "': expected KEY=INTEGER"));
    }
    index["params"][p.substr(0, eq)] = std::stoull(value);
  }
  return index;
}

Result<json> ReindexLocally(const ReindexArgs& a, const json& index) {
  ASSIGN_OR_RETURN(auto db, store::Database::Open(*store::Env::Default(), a.data, CliDatabaseOptions(false)));
  ASSIGN_OR_RETURN(store::Collection * source, db->GetCollection(a.source));
  std::unique_ptr<embed::LocalEmbedder> model;
  if (!a.model.empty()) {
    ASSIGN_OR_RETURN(auto options, EncoderOptions("auto"));
    ASSIGN_OR_RETURN(model, OpenModel(a.model, options, nullptr));
  }
  store::Collection* target = nullptr;
  if (auto existing = db->GetCollection(a.target); existing.ok()) {
    target = *existing;  // resume
  } else if (absl::IsNotFound(existing.status())) {
    ASSIGN_OR_RETURN(store::CollectionConfig config,
                     pipeline::ReindexTargetConfig(source->config(), a.target, index,
                                                   model ? static_cast<uint32_t>(model->dim()) : 0));
    ASSIGN_OR_RETURN(target, db->CreateCollection(config));
  } else {
    return existing.status();
  }
  Progress progress(StrCat("reindex ", a.source, " -> ", a.target), 0, "records");
  pipeline::ReindexOptions options;
  options.embedder = model.get();
  options.rate = a.rate;
  options.on_progress = [&](const pipeline::ReindexProgress& p) {
    progress.set_total(p.total);
    progress.Update(p.done, StrCat("pass ", p.pass));
  };
  ASSIGN_OR_RETURN(pipeline::ReindexReport copy, pipeline::CopyCollection(*source, *target, options));
  progress.Finish();
  json out = {{"source", source->config().name},
              {"target", a.target},
              {"copy", copy.ToJson()},
              {"verify", pipeline::VerifyCopy(*source, *target)},
              {"alias", nullptr}};
  if (out["verify"]["ok"] != true) {
    return absl::FailedPreconditionError(
        StrCat("the copy did not verify, so no alias was flipped: ", out["verify"].dump()));
  }
  if (!a.alias.empty()) {
    Status st = db->CreateAlias(a.alias, a.target);
    if (absl::IsAlreadyExists(st)) st = db->FlipAlias(a.alias, a.target);
    RETURN_IF_ERROR(st);
    out["alias"] = {{"alias", a.alias}, {"collection", a.target}};
  }
  return out;
}

Result<json> ReindexThroughServer(const ReindexArgs& a, const json& index) {
  ASSIGN_OR_RETURN(auto client, ApiClient::Create(a.server, ""));
  json body = {{"target", a.target}, {"rate", a.rate}, {"reembed", a.reembed}};
  if (!index.is_null()) body["index"] = index;
  if (!a.alias.empty()) body["alias"] = a.alias;
  Progress progress(StrCat("reindex ", a.source, " -> ", a.target), 0, "records");
  std::optional<json> done;
  Status failed;
  RETURN_IF_ERROR(
      client->PostStreaming(StrCat("/v1/collections/", a.source, "/reindex"), body, [&](const json& line) {
        if (line.contains("progress")) {
          const json& p = line["progress"];
          progress.set_total(p.value("total", 0));
          progress.Update(p.value("done", 0), StrCat("pass ", p.value("pass", 0)));
        } else if (line.contains("done")) {
          done = line["done"];
        } else if (line.contains("error")) {
          failed =
              absl::FailedPreconditionError(line["error"].value("message", std::string("re-index failed")));
        }
      }));
  progress.Finish();
  RETURN_IF_ERROR(failed);
  if (!done)
    return absl::DataLossError(
        "the server's reply ended before the re-index was done; run it again to resume");
  return *done;
}

}  // namespace

void AddReindexCommand(CLI::App& app, int* rc) {
  auto args = std::make_shared<ReindexArgs>();
  auto* cmd = app.add_subcommand(
      "reindex",
      "copy a collection into a new one (another index or model), verify it, optionally flip an alias");
  cmd->add_option("source", args->source, "collection (or alias) to copy")->required();
  cmd->add_option("target", args->target, "the new collection (created, or resumed when it exists)")
      ->required();
  auto* data = cmd->add_option("--data", args->data, "data directory");
  auto* server =
      cmd->add_option("--server", args->server, "a ragline server (http://HOST:PORT)")->excludes(data);
  cmd->add_option("--model", args->model, "re-embed every record's text with this model (--data)")
      ->excludes(server);
  cmd->add_flag("--reembed", args->reembed, "re-embed with the server's model (--server)")->excludes(data);
  cmd->add_option("--index", args->index,
                  "the new collection's index: flat, hnsw or ivf_pq (default: the source's)");
  cmd->add_option("--param", args->params, "index parameter KEY=VALUE (repeatable)");
  cmd->add_option("--rate", args->rate, "records per second into the new collection (default: unthrottled)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--alias", args->alias, "after a verified copy, point this alias at the new collection");
  cmd->callback([args, rc] {
    if (args->data.empty() && args->server.empty()) {
      *rc = Fail("give --data DIR or --server URL");
      return;
    }
    auto index = IndexJson(*args);
    if (!index.ok()) {
      *rc = Fail(index.status());
      return;
    }
    auto out = args->server.empty() ? ReindexLocally(*args, *index) : ReindexThroughServer(*args, *index);
    if (!out.ok()) {
      *rc = Fail(out.status());
      return;
    }
    PrintJson(*out);
    *rc = 0;
  });
}

}  // namespace ragline::cli
