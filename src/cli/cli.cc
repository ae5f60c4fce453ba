#include "cli/cli.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "cli/api_client.h"
#include "cli/cluster_command.h"
#include "cli/documents_command.h"
#include "cli/embed_command.h"
#include "cli/eval_command.h"
#include "cli/ingest_command.h"
#include "cli/io.h"
#include "cli/probe_command.h"
#include "cli/query_command.h"
#include "cli/reindex_command.h"
#include "cli/serve_command.h"
#include "cli/worker_command.h"
#include "core/strings.h"
#include "embed/local_embedder.h"
#include "nlohmann/json.hpp"
#include "search/retriever.h"
#include "store/database.h"
#include "store/record_json.h"

namespace ragline::cli {
namespace {

using nlohmann::json;
using store::Collection;
using store::Database;

Result<std::unique_ptr<Database>> OpenDatabase(const std::string& dir, bool read_only) {
  return Database::Open(*store::Env::Default(), dir, CliDatabaseOptions(read_only));
}

Result<store::Record> ParseRecord(const std::string& line, size_t line_no, size_t dim) {
  const std::string where = StrCat("line ", line_no);
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded()) return absl::InvalidArgumentError(StrCat(where, ": malformed JSON"));
  return store::RecordFromJson(j, dim, where);
}

Result<std::optional<store::PayloadFilter>> ParseFilterArg(const std::string& text) {
  if (text.empty()) return std::optional<store::PayloadFilter>();
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return absl::InvalidArgumentError("--filter: malformed JSON");
  ASSIGN_OR_RETURN(auto f, store::PayloadFilter::Parse(j));
  return std::optional<store::PayloadFilter>(std::move(f));
}

json ConfigJson(const Collection& c) { return c.config().ToJson(); }

// store::StatsJson plus, after a cut WAL tail, what recovery dropped (the CLI reports it).
// ---------------------------------------------------------------- commands

int CmdCollectionCreate(const std::string& data, const std::string& name, uint32_t dim,
                        const std::string& metric, const std::string& index,
                        const std::vector<std::string>& params, uint32_t seal_threshold,
                        const std::string& fsync, const std::string& text_field, const std::string& analyzer,
                        const std::string& bm25) {
  store::CollectionConfig config;
  config.name = name;
  config.dim = dim;
  auto m = store::ParseMetric(metric);
  if (!m.ok()) return Fail(m.status());
  config.metric = *m;
  auto kind = index::ParseIndexKind(index);
  if (!kind.ok()) return Fail(kind.status());
  config.index_kind = *kind;
  for (const auto& p : params) {
    auto eq = p.find('=');
    if (eq == std::string::npos) return Fail(StrCat("--param '", p, "': expected KEY=VALUE"));
    Status st =
        config.index_params.Set(std::string_view(p).substr(0, eq), std::string_view(p).substr(eq + 1));
    if (!st.ok()) return Fail(st);
  }
  config.seal_threshold = seal_threshold;
  if (fsync != "batch" && fsync != "none") return Fail("--fsync must be 'batch' or 'none'");
  config.fsync = fsync == "none" ? store::FsyncPolicy::kNone : store::FsyncPolicy::kBatch;
  config.lexical.text_field = text_field;
  if (Status st = config.lexical.analyzer.SetFromString(analyzer); !st.ok())
    return Fail(StrCat("--analyzer: ", std::string(st.message())));
  auto bm25_params = index::Bm25Params::Parse(bm25);
  if (!bm25_params.ok()) return Fail(StrCat("--bm25: ", std::string(bm25_params.status().message())));
  config.lexical.bm25 = *bm25_params;
  auto db = OpenDatabase(data, false);
  if (!db.ok()) return Fail(db.status());
  auto c = (*db)->CreateCollection(config);
  if (!c.ok()) return Fail(c.status());
  PrintJson(ConfigJson(**c));
  return 0;
}

int CmdUpsert(const std::string& data, const std::string& name, const std::string& file, size_t batch_size) {
  auto db = OpenDatabase(data, false);
  if (!db.ok()) return Fail(db.status());
  auto c = (*db)->GetCollection(name);
  if (!c.ok()) return Fail(c.status());
  Collection& collection = **c;
  auto fd = OpenInput(file);
  if (!fd.ok()) return Fail(fd.status());
  std::vector<store::Record> batch;
  store::UpsertSummary total;
  size_t acked = 0;
  auto flush = [&]() -> Status {
    if (batch.empty()) return absl::OkStatus();
    const size_t n = batch.size();
    ASSIGN_OR_RETURN(auto s, collection.Upsert(std::move(batch)));
    batch.clear();
    total.inserted += s.inserted;
    total.replaced += s.replaced;
    total.stale += s.stale;
    total.unchanged += s.unchanged;
    acked += n;
    PrintJson({{"acked", acked}});
    return absl::OkStatus();
  };
  const Status pumped = PumpLines(
      *fd, 50,
      [&](std::string& line, size_t line_no) -> Status {
        if (line.find_first_not_of(" \t\r") == std::string::npos) return absl::OkStatus();
        ASSIGN_OR_RETURN(auto record, ParseRecord(line, line_no, collection.config().dim));
        batch.push_back(std::move(record));
        return absl::OkStatus();
      },
      [&] { return batch.size() >= batch_size; }, flush);
  const int rc = pumped.ok() ? 0 : Fail(pumped);
  if (*fd != 0) ::close(*fd);
  std::fprintf(stderr, "upsert: %zu acked (%zu inserted, %zu replaced, %zu stale discarded, %zu unchanged)\n",
               acked, total.inserted, total.replaced, total.stale, total.unchanged);
  if (Status st = collection.Close(); !st.ok()) return Fail(st);
  return rc;
}

struct SearchArgs {
  std::string name;
  size_t k = 10;
  std::string filter;
  uint32_t ef = 0, nprobe = 0;
  std::string file;
  std::string mode;   // "": hybrid for a {"text"} query, dense for a {"vector"} one
  std::string model;  // "": found by OpenModel (io.h)
  std::string fusion = "convex";
  double rrf_k = 60;
  std::string weights;
  double alpha = 0.5;
  size_t candidates = 0;
};

// Opens the query embedder on first use and checks that it fits the collection.
class LazyEmbedder {
 public:
  LazyEmbedder(std::string model_dir, const store::CollectionConfig& config)
      : model_dir_(std::move(model_dir)), config_(config) {}

  Result<embed::Embedder*> Get() {
    if (embedder_) return embedder_.get();
    if (!error_.ok()) return error_;
    auto opened = OpenModel(model_dir_, {}, nullptr);
    if (!opened.ok()) {
      error_ = opened.status();
    } else if ((*opened)->dim() != config_.dim) {
      error_ = absl::InvalidArgumentError(StrCat("model ", (*opened)->model_id(), " embeds to ",
                                                 (*opened)->dim(), " dimensions, collection '", config_.name,
                                                 "' has ", config_.dim));
    } else {
      embedder_ = std::move(*opened);
      return embedder_.get();
    }
    return error_;
  }

 private:
  std::string model_dir_;
  const store::CollectionConfig& config_;
  std::unique_ptr<embed::Embedder> embedder_;
  Status error_;
};

// Parses one JSONL query line into `query` (mode, text, vector, k, filter).
// `query_filter` keeps a per-query filter alive.
Status ParseQueryLine(const std::string& line, const std::string& where, size_t dim, bool auto_mode,
                      search::Query* query, std::optional<store::PayloadFilter>* query_filter) {
  json q = json::parse(line, nullptr, false);
  if (q.is_discarded() || !q.is_object())
    return absl::InvalidArgumentError(StrCat(where, ": malformed JSON query"));
  if (q.contains("mode")) {
    if (!q["mode"].is_string())
      return absl::InvalidArgumentError(StrCat(where, ": \"mode\" must be a string"));
    auto mode = search::ParseMode(q["mode"].get<std::string>());
    if (!mode.ok())
      return absl::InvalidArgumentError(StrCat(where, ": ", std::string(mode.status().message())));
    query->mode = *mode;
  }
  if (q.contains("text")) {
    if (!q["text"].is_string())
      return absl::InvalidArgumentError(StrCat(where, ": \"text\" must be a string"));
    query->text = q["text"].get<std::string>();
  }
  if (q.contains("vector")) {
    ASSIGN_OR_RETURN(auto vec, store::VectorFromJson(q["vector"], dim, where));
    query->vector = std::move(vec);
  }
  if (auto_mode && !q.contains("mode")) {  // as `ragline query` and the HTTP API: hybrid for text
    query->mode = query->text && !query->vector ? search::Mode::kHybrid : search::Mode::kDense;
  }
  const std::string mode_name(search::ModeName(query->mode));
  if (query->mode == search::Mode::kDense) {
    if (!query->vector && !query->text) {
      return absl::InvalidArgumentError(
          StrCat(where, ": missing \"vector\" (dense mode; or a \"text\" to embed)"));
    }
  } else if (!query->text) {
    return absl::InvalidArgumentError(StrCat(where, ": missing \"text\" (", mode_name, " mode)"));
  }
  if (q.contains("k")) {
    if (!q["k"].is_number_unsigned() || q["k"].get<size_t>() == 0) {
      return absl::InvalidArgumentError(StrCat(where, ": \"k\" must be a positive integer"));
    }
    query->k = q["k"].get<size_t>();
  }
  if (q.contains("filter")) {
    auto f = store::PayloadFilter::Parse(q["filter"]);
    if (!f.ok()) return absl::InvalidArgumentError(StrCat(where, ": ", std::string(f.status().message())));
    *query_filter = std::move(*f);
    query->filter = &**query_filter;
  }
  return absl::OkStatus();
}

int CmdSearch(const std::string& data, const SearchArgs& args) {
  auto mode = search::ParseMode(args.mode.empty() ? "dense" : args.mode);
  if (!mode.ok()) return Fail(StrCat("--mode: ", std::string(mode.status().message())));
  search::FusionOptions fusion;
  auto method = search::ParseFusionMethod(args.fusion);
  if (!method.ok()) return Fail(StrCat("--fusion: ", std::string(method.status().message())));
  fusion.method = *method;
  fusion.rrf_k = args.rrf_k;
  fusion.alpha = args.alpha;
  if (Status st = fusion.SetWeights(args.weights); !st.ok())
    return Fail(StrCat("--weights: ", std::string(st.message())));
  if (Status st = fusion.Validate(); !st.ok()) return Fail(st);
  auto db = OpenDatabase(data, true);
  if (!db.ok()) return Fail(db.status());
  auto c = (*db)->GetCollection(args.name);
  if (!c.ok()) return Fail(c.status());
  const Collection& collection = **c;
  auto filter = ParseFilterArg(args.filter);
  if (!filter.ok()) return Fail(filter.status());
  LazyEmbedder embedder(args.model, collection.config());
  auto fd = OpenInput(args.file);
  if (!fd.ok()) return Fail(fd.status());
  LineReader reader(*fd);
  std::string line;
  size_t line_no = 0;
  while (reader.NextLine(&line, -1) == LineReader::Outcome::kLine) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = StrCat("line ", line_no);
    search::Query query;
    query.mode = *mode;
    query.k = args.k;
    query.fusion = fusion;
    query.candidates = args.candidates;
    query.index_options.ef_search = args.ef;
    query.index_options.nprobe = args.nprobe;
    query.filter = *filter ? &**filter : nullptr;
    std::optional<store::PayloadFilter> query_filter;
    if (Status st = ParseQueryLine(line, where, collection.config().dim, args.mode.empty(), &query, &query_filter); !st.ok()) {
      return Fail(st);
    }
    embed::Embedder* model = nullptr;
    if (search::Retriever::NeedsEmbedding(query)) {
      auto e = embedder.Get();
      if (!e.ok()) {
        const std::string why = std::string(e.status().message());
        if (query.mode == search::Mode::kDense) {
          return Fail(
              StrCat(where, ": missing \"vector\" (dense mode) and \"text\" cannot be embedded: ", why));
        }
        return Fail(StrCat(where, ": \"text\" cannot be embedded for ", search::ModeName(query.mode),
                           " mode (or give a \"vector\"): ", why));
      }
      model = *e;
    }
    auto hits = search::Retriever(collection, model).Search(query);
    if (!hits.ok()) return Fail(StrCat(where, ": ", std::string(hits.status().message())));
    json out = json::array();
    for (const auto& h : *hits) {
      out.push_back({{"id", h.id}, {"score", h.score}, {"version", h.version}, {"payload", h.payload}});
    }
    PrintJson({{"hits", out}});
  }
  if (*fd != 0) ::close(*fd);
  return 0;
}

int CmdGet(const std::string& data, const std::string& name, const std::vector<std::string>& ids) {
  auto db = OpenDatabase(data, true);
  if (!db.ok()) return Fail(db.status());
  auto c = (*db)->GetCollection(name);
  if (!c.ok()) return Fail(c.status());
  int rc = 0;
  for (const auto& id : ids) {
    auto r = (*c)->Get(id);
    if (!r) {
      rc = Fail(StrCat("record '", id, "' not found in collection '", name, "'"));
      continue;
    }
    PrintJson({{"id", r->id}, {"version", r->version}, {"vector", r->vector}, {"payload", r->payload}});
  }
  return rc;
}

int CmdDelete(const std::string& data, const std::string& name, const std::vector<std::string>& ids,
              const std::string& filter_text, bool all) {
  if (int{!ids.empty()} + int{!filter_text.empty()} + int{all} != 1) {
    return Fail("give exactly one of --id (repeatable), --filter and --all");
  }
  auto db = OpenDatabase(data, false);
  if (!db.ok()) return Fail(db.status());
  auto c = (*db)->GetCollection(name);
  if (!c.ok()) return Fail(c.status());
  Result<store::DeleteSummary> s = absl::UnknownError("unreachable");
  if (!ids.empty()) {
    s = (*c)->Delete(ids);
  } else if (all) {
    s = (*c)->DeleteAll();
  } else {
    auto filter = ParseFilterArg(filter_text);
    if (!filter.ok()) return Fail(filter.status());
    s = (*c)->DeleteByFilter(**filter);
  }
  if (!s.ok()) return Fail(s.status());
  PrintJson({{"deleted", s->deleted}, {"not_found", s->not_found}});
  return 0;
}

// ragline check: a read-only look (it runs beside a server) that reads
// around damage instead of refusing it, and says what `repair` would lose.
int CmdCheck(const std::string& data, const std::string& name) {
  store::DatabaseOptions options;
  options.read_only = true;
  options.salvage = true;
  auto db = Database::Open(*store::Env::Default(), data, options);
  if (!db.ok()) return Fail(db.status());
  auto c = (*db)->GetCollection(name);
  if (!c.ok()) return Fail(c.status());
  const auto stats = (*c)->Stats();
  const json recovery = store::RecoveryJson(**c);
  const bool healthy = stats.quarantined.empty() && (*c)->LostLogRanges().empty();
  json out = {{"collection", (*c)->config().name},
              {"healthy", healthy},
              {"vector_count", stats.vector_count},
              {"quarantined_segments", store::QuarantineJson(stats.quarantined)},
              {"wal_recovery", recovery}};
  if (!healthy) {
    out["repair"] =
        StrCat("ragline repair ", (*c)->config().name, " --data ", data,
               "   (stop the server first; keeps what remains, moves damaged segments to quarantine/)");
  }
  PrintJson(out);
  return healthy ? 0 : kExitError;
}

// ragline repair: like leveldb's RepairDB. Needs the writer lock.
int CmdRepair(const std::string& data, const std::string& name) {
  store::DatabaseOptions options;
  options.salvage = true;
  auto db = Database::Open(*store::Env::Default(), data, options);
  if (!db.ok()) return Fail(db.status());
  auto c = (*db)->GetCollection(name);
  if (!c.ok()) return Fail(c.status());
  auto report = (*c)->Repair();
  if (!report.ok()) return Fail(report.status());
  json lost = json::array();
  for (const auto& g : report->lost_log_ranges) {
    lost.push_back({{"first_lsn", g.first_lsn},
                    {"last_lsn", g.last_lsn == UINT64_MAX ? json(nullptr) : json(g.last_lsn)},
                    {"cause", g.cause}});
  }
  PrintJson(
      {{"collection", (*c)->config().name},
       {"removed_segments", store::QuarantineJson(report->removed_segments)},
       {"removed_segments_moved_to", report->removed_segments.empty() ? json(nullptr) : json("quarantine/")},
       {"lost_log_ranges", lost},
       {"vector_count", report->vector_count}});
  return 0;
}

// Opens the data directory, runs fn(db) -> Result<json> and prints the JSON
// or the error.
template <typename Fn>
int WithDatabase(const std::string& data, bool read_only, Fn fn) {
  auto db = OpenDatabase(data, read_only);
  if (!db.ok()) return Fail(db.status());
  Result<json> out = fn(**db);
  if (!out.ok()) return Fail(out.status());
  PrintJson(*out);
  return 0;
}

template <typename Fn>
int WithCollection(const std::string& data, const std::string& name, bool read_only, Fn fn) {
  auto db = OpenDatabase(data, read_only);
  if (!db.ok()) return Fail(db.status());
  auto c = (*db)->GetCollection(name);
  if (!c.ok()) return Fail(c.status());
  return fn(**c);
}

// CLI11's help, with a range as "UINT in [1, 1000]=64" rather than
// "UINT:INT in [1 - 1000]=64", and no "=[]" after repeatable options.
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_option_opts(const CLI::Option* opt) const override {
    static const std::regex kRange(R"((\w+):(?:INT|UINT|FLOAT|NUMBER) in \[(\S+) - (\S+)\])");
    static const std::regex kEmptyList(R"(=\[\])");  // a repeatable option's default: none
    const std::string opts = std::regex_replace(CLI::Formatter::make_option_opts(opt), kRange, "$1 in [$2, $3]");
    return std::regex_replace(opts, kEmptyList, "");
  }
};

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{"ragline: a retrieval-augmented generation engine"};
  app.formatter(std::make_shared<HelpFormatter>());
  // Every option's help shows its default (subcommands inherit this).
  app.option_defaults()->always_capture_default();
  app.set_version_flag("--version", [] {
    return StrCat("ragline 0.1.0\nencoder kernels on this CPU: ", embed::EncoderKernels(),
                  " (RAGLINE_SIMD=avx2|scalar caps them)");
  });
  app.require_subcommand(1);
  std::string data;
  auto add_data = [&](CLI::App* cmd) { cmd->add_option("--data", data, "data directory")->required(); };
  int rc = 0;

  // collection create|list|describe|drop
  auto* coll = app.add_subcommand("collection", "create, list, describe and drop collections");
  coll->require_subcommand(1);
  std::string name;
  uint32_t dim = 0;
  std::string create_model;
  std::string metric = "cosine", index_kind = "hnsw", fsync = "batch";
  std::vector<std::string> params;
  uint32_t seal_threshold = 32768;
  std::string text_field = "text", analyzer, bm25;
  auto* create = coll->add_subcommand("create", "create a collection");
  create->add_option("name", name, "collection name")->required();
  create->add_option("--dim", dim, "vector dimension (default: the embedding model's, as over HTTP)");
  create->add_option("--model", create_model, kModelHelp);
  create->add_option("--metric", metric, "cosine | dot | l2")->capture_default_str();
  create->add_option("--index", index_kind, "flat | hnsw | ivf_pq")->capture_default_str();
  create->add_option("--param", params,
                     "index parameter KEY=VALUE (repeatable): M, ef_construction, "
                     "ef_search, nlist, pq_m, nbits, nprobe, rerank, seed");
  create->add_option("--seal-threshold", seal_threshold, "rows per segment before it is indexed")
      ->capture_default_str();
  create->add_option("--fsync", fsync, "batch (durable before ack) | none")->capture_default_str();
  create->add_option("--text-field", text_field, "payload field holding the text for lexical (BM25) search")
      ->capture_default_str();
  create->add_option("--analyzer", analyzer,
                     "lexical analyzer options KEY=VALUE,...: stemmer (english, porter, any Snowball "
                     "language, none), stop_words (english, none), lowercase (true, false), max_token_chars");
  create->add_option("--bm25", bm25, "BM25 parameters, e.g. k1=1.2,b=0.75 (the default)");
  add_data(create);
  create->callback([&] {
    if (dim == 0) {  // the model's dimension, so `ingest` and text queries fit
      auto model = OpenModel(create_model, {}, nullptr);
      if (!model.ok()) {
        rc = Fail(StrCat("give --dim, or make the embedding model available for its dimension: ",
                         std::string(model.status().message())));
        return;
      }
      dim = static_cast<uint32_t>((*model)->dim());
    }
    rc = CmdCollectionCreate(data, name, dim, metric, index_kind, params, seal_threshold, fsync, text_field,
                             analyzer, bm25);
  });

  auto* list = coll->add_subcommand("list", "list collections and aliases");
  add_data(list);
  list->callback([&] {
    rc = WithDatabase(data, true, [](Database& db) -> Result<json> {
      ASSIGN_OR_RETURN(auto names, db.ListCollections());
      ASSIGN_OR_RETURN(auto aliases, db.ListAliases());
      return json{{"collections", names}, {"aliases", aliases}};
    });
  });

  auto* describe = coll->add_subcommand("describe", "show a collection's configuration and stats");
  describe->add_option("name", name, "collection or alias")->required();
  add_data(describe);
  describe->callback([&] {
    rc = WithCollection(data, name, true, [](Collection& c) {
      json j = ConfigJson(c);
      j["stats"] = store::StatsJson(c);
      PrintJson(j);
      return 0;
    });
  });

  auto* drop = coll->add_subcommand("drop", "delete a collection and its files");
  drop->add_option("name", name, "collection name")->required();
  add_data(drop);
  drop->callback([&] {
    rc = WithDatabase(data, false, [&](Database& db) -> Result<json> {
      RETURN_IF_ERROR(db.DropCollection(name));
      return json{{"dropped", name}};
    });
  });

  // alias create|flip|delete|list
  auto* alias = app.add_subcommand("alias", "names that point at a collection and flip atomically");
  alias->require_subcommand(1);
  std::string alias_name, target;
  for (const char* verb : {"create", "flip"}) {
    auto* cmd = alias->add_subcommand(verb, std::string(verb) + " an alias");
    cmd->add_option("alias", alias_name, "alias name")->required();
    cmd->add_option("collection", target, "target collection")->required();
    add_data(cmd);
    const bool is_create = std::string(verb) == "create";
    cmd->callback([&, is_create] {
      rc = WithDatabase(data, false, [&](Database& db) -> Result<json> {
        RETURN_IF_ERROR(is_create ? db.CreateAlias(alias_name, target) : db.FlipAlias(alias_name, target));
        return json{{"alias", alias_name}, {"collection", target}};
      });
    });
  }
  auto* alias_delete = alias->add_subcommand("delete", "delete an alias");
  alias_delete->add_option("alias", alias_name, "alias name")->required();
  add_data(alias_delete);
  alias_delete->callback([&] {
    rc = WithDatabase(data, false, [&](Database& db) -> Result<json> {
      RETURN_IF_ERROR(db.DeleteAlias(alias_name));
      return json{{"deleted_alias", alias_name}};
    });
  });
  // rollback / history: on the data directory, or through a server (--server URL).
  std::string alias_server;
  auto alias_over = [&](const std::string& method, const std::string& suffix) -> int {
    const std::string path = StrCat("/v1/aliases/", alias_name, suffix);
    if (alias_server.empty()) {
      if (data.empty()) return Fail(absl::InvalidArgumentError("give --data DIR or --server URL"));
      return WithDatabase(data, method == "GET", [&](Database& db) -> Result<json> {
        ASSIGN_OR_RETURN(json now, db.DescribeAlias(alias_name));
        if (method == "GET") return now;
        ASSIGN_OR_RETURN(std::string restored, db.RollbackAlias(alias_name));
        return json{{"alias", alias_name}, {"collection", restored}, {"rolled_back_from", now["collection"]}};
      });
    }
    auto client = ApiClient::Create(alias_server, "");
    if (!client.ok()) return Fail(client.status());
    json empty = json::object();
    auto reply = (*client)->Call(method, path, method == "POST" ? &empty : nullptr);
    if (!reply.ok()) return Fail(reply.status());
    PrintJson(reply->body);
    return 0;
  };
  auto* alias_rollback =
      alias->add_subcommand("rollback", "point an alias back at the collection it had before its last flip");
  auto* alias_history = alias->add_subcommand("history", "an alias's target and its earlier ones");
  for (auto* cmd : {alias_rollback, alias_history}) {
    cmd->add_option("alias", alias_name, "alias name")->required();
    auto* server = cmd->add_option("--server", alias_server, "a ragline server (http://HOST:PORT)");
    cmd->add_option("--data", data, "data directory")->excludes(server);
  }
  alias_rollback->callback([&] { rc = alias_over("POST", "/rollback"); });
  alias_history->callback([&] { rc = alias_over("GET", ""); });
  // admin fallback on|off|status --server URL (docs/reliability.md)
  auto* admin = app.add_subcommand("admin", "operator switches of a running server");
  admin->require_subcommand(1);
  auto* fallback =
      admin->add_subcommand("fallback", "answer queries from the hot-cache fallback index: on, off, status");
  std::string fallback_state, admin_server;
  fallback->add_option("state", fallback_state, "on | off | status")
      ->required()
      ->check(CLI::IsMember({"on", "off", "status"}));
  fallback->add_option("--server", admin_server, "the server (http://HOST:PORT)")->required();
  fallback->callback([&] {
    auto client = ApiClient::Create(admin_server, "");
    if (!client.ok()) {
      rc = Fail(client.status());
      return;
    }
    const json body = {{"enabled", fallback_state == "on"}};
    auto reply = fallback_state == "status" ? (*client)->Call("GET", "/v1/admin/fallback")
                                            : (*client)->Call("PUT", "/v1/admin/fallback", &body);
    if (!reply.ok()) {
      rc = Fail(reply.status());
      return;
    }
    PrintJson(reply->body);
    rc = 0;
  });

  auto* alias_list = alias->add_subcommand("list", "list aliases");
  add_data(alias_list);
  alias_list->callback([&] {
    rc = WithDatabase(data, true, [](Database& db) -> Result<json> {
      ASSIGN_OR_RETURN(auto aliases, db.ListAliases());
      return json{{"aliases", aliases}};
    });
  });

  // upsert
  std::string file;
  size_t batch_size = 1000;
  auto* upsert =
      app.add_subcommand("upsert", "upsert JSONL records {\"id\",\"version\",\"vector\",\"payload\"}");
  upsert->add_option("name", name, "collection or alias")->required();
  upsert->add_option("--file", file, "JSONL file (default: stdin)");
  upsert->add_option("--batch-size", batch_size, "records per durable batch")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  add_data(upsert);
  upsert->callback([&] { rc = CmdUpsert(data, name, file, batch_size); });

  // search
  SearchArgs search_args;
  auto* search = app.add_subcommand(
      "search",
      "top-k search; JSONL queries on stdin: {\"vector\": [...]} or {\"text\": \"...\"} (plus optional "
      "\"k\", \"filter\", \"mode\")");
  search->add_option("name", search_args.name, "collection or alias")->required();
  search->add_option("--k", search_args.k, "hits per query")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  search->add_option("--filter", search_args.filter, "payload filter JSON, e.g. '{\"lang\": \"en\"}'");
  search->add_option("--ef", search_args.ef, "HNSW ef_search override");
  search->add_option("--nprobe", search_args.nprobe, "IVF-PQ nprobe override");
  search->add_option("--file", search_args.file, "JSONL file (default: stdin)");
  search
      ->add_option("--mode", search_args.mode,
                   "dense (nearest vectors; {\"text\"} is embedded with --model) | lexical (BM25 over the "
                   "text field) | hybrid (both, fused; needs {\"text\"}); default: hybrid for a {\"text\"} query "
                   "(as `ragline query`), dense for a {\"vector\"}");
  search->add_option("--model", search_args.model, kModelHelp);
  search->add_option("--fusion", search_args.fusion, "hybrid fusion: rrf | convex (docs/retrieval.md)")
      ->capture_default_str();
  search->add_option("--rrf-k", search_args.rrf_k, "RRF constant k")->capture_default_str();
  search->add_option("--weights", search_args.weights, "RRF weights, e.g. dense=1,lexical=1");
  search->add_option("--alpha", search_args.alpha, "convex fusion weight of dense (lexical gets 1 - alpha)")
      ->capture_default_str();
  search
      ->add_option("--candidates", search_args.candidates,
                   "hybrid: hits per list before fusion (0 = max(k, 100))")
      ->capture_default_str();
  add_data(search);
  search->callback([&] { rc = CmdSearch(data, search_args); });

  // get
  std::string filter;
  std::vector<std::string> get_ids;
  auto* get = app.add_subcommand("get", "print records as JSON lines; exit 1 if any is absent");
  get->add_option("name", name, "collection or alias")->required();
  get->add_option("id", get_ids, "record id(s)")->required();
  add_data(get);
  get->callback([&] { rc = CmdGet(data, name, get_ids); });

  // delete
  std::vector<std::string> ids;
  bool delete_all = false;
  auto* del = app.add_subcommand("delete", "delete records by id, by payload filter, or all of them");
  del->add_option("name", name, "collection or alias")->required();
  del->add_option("--id", ids, "record id (repeatable)");
  del->add_option("--filter", filter, "payload filter JSON (not empty: that is --all)");
  del->add_flag("--all", delete_all, "delete every record (the collection stays)");
  add_data(del);
  del->callback([&] { rc = CmdDelete(data, name, ids, filter, delete_all); });

  // stats
  auto* stats = app.add_subcommand("stats", "collection statistics as JSON");
  stats->add_option("name", name, "collection or alias")->required();
  add_data(stats);
  stats->callback([&] {
    rc = WithCollection(data, name, true, [](Collection& c) {
      PrintJson(store::StatsJson(c));
      return 0;
    });
  });

  // check | repair
  auto* check = app.add_subcommand(
      "check",
      "report damage: quarantined segments, lost WAL ranges, a cut WAL tail (read-only; exit 1 if damaged)");
  check->add_option("name", name, "collection or alias")->required();
  add_data(check);
  check->callback([&] { rc = CmdCheck(data, name); });
  auto* repair = app.add_subcommand(
      "repair",
      "keep what a damaged collection still has: seal what the WAL holds, drop damaged files, report losses");
  repair->add_option("name", name, "collection or alias")->required();
  add_data(repair);
  repair->callback([&] { rc = CmdRepair(data, name); });

  // compact
  auto* compact =
      app.add_subcommand("compact", "seal pending segments, then merge segments and drop dead rows");
  compact->add_option("name", name, "collection or alias")->required();
  add_data(compact);
  compact->callback([&] {
    rc = WithCollection(data, name, false, [](Collection& c) {
      Status st = c.Seal();
      if (st.ok()) st = c.WaitForIndexing();
      if (st.ok()) st = c.Compact();
      if (!st.ok()) return Fail(st);
      PrintJson(store::StatsJson(c));
      return 0;
    });
  });

  AddEmbedCommand(app, &rc);
  AddEvalCommand(app, &rc);
  AddIngestCommand(app, &rc);
  AddDocumentsCommand(app, &rc);
  AddServeCommand(app, &rc);
  AddQueryCommand(app, &rc);
  AddProbeCommand(app, &rc);
  AddWorkerCommand(app, &rc);
  AddClusterCommand(app, &rc);
  AddReindexCommand(app, &rc);

  if (argc <= 1) {  // `ragline` alone: what it can do
    std::fputs(app.help().c_str(), stderr);
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the message (or the help); a usage error exits 2, like
    // other command-line tools, not with CLI11's own codes (106, ...).
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  return rc;
}

}  // namespace ragline::cli
