#include "cli/eval_command.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cli/io.h"
#include "core/strings.h"
#include "embed/local_embedder.h"
#include "search/beir_dataset.h"
#include "search/metrics.h"
#include "search/retriever.h"
#include "store/database.h"

namespace ragline::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Bump when what ingest writes changes, so old scratch collections are rebuilt.
constexpr int kIngestFormat = 1;

struct EvalArgs {
  std::string dataset;
  std::string data;
  std::string collection;  // evaluate this existing collection instead of ingesting
  std::string model;
  std::string modes = "dense,lexical,hybrid";
  size_t k = 100;
  std::string index = "hnsw";
  std::string fusion = "convex";
  double rrf_k = 60;
  std::string weights;
  double alpha = 0.5;
  size_t candidates = 0;
  std::string bm25;  // query-time BM25 override, "k1=..,b=.."
  std::string precision = "auto";
  size_t max_queries = 0;
  size_t batch = 256;
  size_t threads = 0;
  std::string json_path;
};

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

std::string Hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// "eval_" + the dataset name, with characters collection names refuse replaced.
std::string ScratchName(const std::string& dataset) {
  std::string name = "eval_";
  for (char c : dataset) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    name.push_back(ok ? c : '_');
  }
  return name.substr(0, 64);
}

std::string PayloadText(const search::BeirDocument& d) {
  return d.title.empty() ? d.text : d.title + "\n" + d.text;
}

Result<json> ReadMarker(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(path.string());
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) return absl::DataLossError(StrCat(path.string(), ": malformed JSON"));
  return j;
}

Status WriteMarker(const fs::path& path, const json& marker) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << marker.dump(2) << "\n";
    if (!out) return absl::InternalError(StrCat("cannot write ", tmp.string()));
  }
  fs::rename(tmp, path, ec);
  if (ec) return absl::InternalError(StrCat("cannot rename ", tmp.string(), ": ", ec.message()));
  return absl::OkStatus();
}

// Embeds and upserts the corpus into `collection` in batches, then seals,
// indexes and compacts it.
Status Ingest(const search::BeirDataset& ds, embed::Embedder& embedder, store::Collection& collection,
              size_t batch) {
  Progress progress("ingest", ds.corpus.size());
  progress.Update(0);
  for (size_t start = 0; start < ds.corpus.size(); start += batch) {
    const size_t end = std::min(ds.corpus.size(), start + batch);
    std::vector<std::string> texts;
    for (size_t i = start; i < end; ++i) texts.push_back(PayloadText(ds.corpus[i]));
    ASSIGN_OR_RETURN(Matrix m, embedder.Embed(texts));
    std::vector<store::Record> records;
    for (size_t i = start; i < end; ++i) {
      const auto row = m.row(i - start);
      const auto& d = ds.corpus[i];
      records.push_back(store::Record{
          d.id, 1, {row.begin(), row.end()}, json{{"text", texts[i - start]}, {"title", d.title}}.dump()});
    }
    ASSIGN_OR_RETURN(auto summary, collection.Upsert(std::move(records)));
    (void)summary;
    progress.Update(end);
  }
  progress.Finish();
  std::fprintf(stderr, "ingest: building indexes and compacting\n");
  RETURN_IF_ERROR(collection.Seal());
  RETURN_IF_ERROR(collection.WaitForIndexing());
  return collection.Compact();
}

struct IngestReport {
  std::string collection;
  bool reused = false;
  double seconds = 0;
};

// The collection to evaluate: --collection as is, or the scratch collection
// named after the dataset (reused when its marker matches, else rebuilt).
Result<store::Collection*> PrepareCollection(const EvalArgs& args, const search::BeirDataset& ds,
                                             embed::Embedder& embedder, std::string_view precision,
                                             store::Database& db, IngestReport* report) {
  if (!args.collection.empty()) {
    ASSIGN_OR_RETURN(store::Collection * c, db.GetCollection(args.collection));
    if (c->config().dim != embedder.dim()) {
      return absl::InvalidArgumentError(StrCat("collection '", args.collection, "' has ", c->config().dim,
                                               " dimensions, model ", embedder.model_id(), " embeds to ",
                                               embedder.dim()));
    }
    report->collection = args.collection;
    report->reused = true;
    return c;
  }
  ASSIGN_OR_RETURN(auto kind, index::ParseIndexKind(args.index));
  const std::string name = ScratchName(ds.name);
  report->collection = name;
  const fs::path marker_path = fs::path(args.data) / "eval" / (name + ".json");
  const json wanted = {{"format", kIngestFormat},
                       {"dataset", ds.name},
                       {"corpus_fingerprint", Hex(ds.corpus_fingerprint)},
                       {"documents", ds.corpus.size()},
                       {"model", embedder.model_id()},
                       {"precision", precision},
                       {"index", args.index},
                       {"lexical", store::LexicalConfig().ToJson()}};  // new defaults rebuild it
  ASSIGN_OR_RETURN(auto names, db.ListCollections());
  if (std::find(names.begin(), names.end(), name) != names.end()) {
    auto marker = ReadMarker(marker_path);
    if (!marker.ok()) {
      return absl::FailedPreconditionError(
          StrCat("collection '", name, "' exists but ragline eval did not make it (no ", marker_path.string(),
                 "); evaluate it with --collection ", name, ", or drop it"));
    }
    json stored = *marker;
    const bool complete = stored.value("complete", false);
    stored.erase("complete");
    if (complete && stored == wanted) {
      ASSIGN_OR_RETURN(store::Collection * c, db.GetCollection(name));
      if (c->Stats().vector_count == ds.corpus.size()) {
        report->reused = true;
        return c;
      }
    }
    std::fprintf(stderr, "eval: collection '%s' holds another corpus, model or index; rebuilding it\n",
                 name.c_str());
    RETURN_IF_ERROR(db.DropCollection(name));
  }
  json marker = wanted;
  marker["complete"] = false;
  RETURN_IF_ERROR(WriteMarker(marker_path, marker));
  store::CollectionConfig config;
  config.name = name;
  config.dim = static_cast<uint32_t>(embedder.dim());
  config.metric = store::DistanceMetric::kCosine;
  config.index_kind = kind;
  config.fsync = store::FsyncPolicy::kNone;  // scratch data: rebuilt if a crash loses it
  ASSIGN_OR_RETURN(store::Collection * c, db.CreateCollection(config));
  const auto start = Clock::now();
  RETURN_IF_ERROR(Ingest(ds, embedder, *c, args.batch));
  report->seconds = Seconds(start);
  marker["complete"] = true;
  RETURN_IF_ERROR(WriteMarker(marker_path, marker));
  return c;
}

// Hit ids as corpus ids: a chunk id "DOC#N" of a collection made by the
// ingest pipeline counts as DOC; repeats keep the first (best) rank.
std::vector<std::string> DocumentIds(const std::vector<store::SearchHit>& hits,
                                     const std::set<std::string, std::less<>>& corpus) {
  std::vector<std::string> out;
  std::set<std::string, std::less<>> seen;
  for (const auto& h : hits) {
    std::string id = h.id;
    if (!corpus.contains(id)) {
      const size_t hash = id.rfind('#');
      if (hash != std::string::npos && hash + 1 < id.size() &&
          id.find_first_not_of("0123456789", hash + 1) == std::string::npos &&
          corpus.contains(id.substr(0, hash))) {
        id.resize(hash);
      }
    }
    if (seen.insert(id).second) out.push_back(std::move(id));
  }
  return out;
}

struct ModeResult {
  std::string mode;
  size_t queries = 0;
  double recall1 = 0, recall10 = 0, recall100 = 0, ndcg10 = 0, mrr10 = 0;
  double p50_ms = 0, p99_ms = 0, mean_ms = 0;
  json per_query = json::array();  // {"id", "recall@10", "recall@100", "ndcg@10", "rr@10", "ms"}
};

Result<ModeResult> RunMode(search::Mode mode, const std::vector<const search::BeirQuery*>& queries,
                           const search::BeirDataset& ds, const std::set<std::string, std::less<>>& corpus,
                           const store::Collection& collection, embed::Embedder& embedder,
                           const search::FusionOptions& fusion, const std::optional<index::Bm25Params>& bm25,
                           const EvalArgs& args) {
  search::Retriever retriever(collection, &embedder);
  ModeResult r;
  r.mode = std::string(search::ModeName(mode));
  std::vector<double> latencies;
  for (const auto* q : queries) {
    search::Query query;
    query.mode = mode;
    query.text = q->text;
    query.k = args.k;
    query.fusion = fusion;
    query.candidates = args.candidates;
    query.bm25 = bm25;
    const auto start = Clock::now();
    auto hits = retriever.Search(query);
    latencies.push_back(Seconds(start) * 1000);
    if (!hits.ok()) {
      return absl::Status(hits.status().code(),
                          StrCat(r.mode, " query '", q->id, "': ", std::string(hits.status().message())));
    }
    const auto ids = DocumentIds(*hits, corpus);
    const auto& judgments = ds.qrels.at(q->id);
    const double recall10 = search::RecallAt(ids, judgments, 10);
    const double recall100 = search::RecallAt(ids, judgments, 100);
    const double ndcg10 = search::NdcgAt(ids, judgments, 10);
    const double rr10 = search::ReciprocalRankAt(ids, judgments, 10);
    r.recall1 += search::RecallAt(ids, judgments, 1);
    r.recall10 += recall10;
    r.recall100 += recall100;
    r.ndcg10 += ndcg10;
    r.mrr10 += rr10;
    r.per_query.push_back({{"id", q->id},
                           {"recall@10", recall10},
                           {"recall@100", recall100},
                           {"ndcg@10", ndcg10},
                           {"rr@10", rr10},
                           {"ms", latencies.back()}});
  }
  r.queries = queries.size();
  if (r.queries > 0) {
    const double n = static_cast<double>(r.queries);
    r.recall1 /= n;
    r.recall10 /= n;
    r.recall100 /= n;
    r.ndcg10 /= n;
    r.mrr10 /= n;
    double sum = 0;
    for (double l : latencies) sum += l;
    r.mean_ms = sum / n;
  }
  r.p50_ms = search::Percentile(latencies, 50);
  r.p99_ms = search::Percentile(latencies, 99);
  return r;
}

json ModeJson(const ModeResult& r) {
  return {{"queries", r.queries},
          {"recall@1", r.recall1},
          {"recall@10", r.recall10},
          {"recall@100", r.recall100},
          {"ndcg@10", r.ndcg10},
          {"mrr@10", r.mrr10},
          {"latency_ms", {{"p50", r.p50_ms}, {"p99", r.p99_ms}, {"mean", r.mean_ms}}},
          {"per_query", r.per_query}};
}

int RunEval(const EvalArgs& args) {
  std::vector<search::Mode> modes;
  for (size_t pos = 0; pos <= args.modes.size();) {
    size_t comma = args.modes.find(',', pos);
    if (comma == std::string::npos) comma = args.modes.size();
    const std::string item = args.modes.substr(pos, comma - pos);
    pos = comma + 1;
    if (item.empty()) continue;
    auto mode = search::ParseMode(item);
    if (!mode.ok()) return Fail(StrCat("--modes: ", std::string(mode.status().message())));
    if (std::find(modes.begin(), modes.end(), *mode) == modes.end()) modes.push_back(*mode);
  }
  if (modes.empty()) return Fail("--modes: name at least one of dense, lexical, hybrid");
  search::FusionOptions fusion;
  auto method = search::ParseFusionMethod(args.fusion);
  if (!method.ok()) return Fail(StrCat("--fusion: ", std::string(method.status().message())));
  fusion.method = *method;
  fusion.rrf_k = args.rrf_k;
  fusion.alpha = args.alpha;
  if (Status st = fusion.SetWeights(args.weights); !st.ok())
    return Fail(StrCat("--weights: ", std::string(st.message())));
  if (Status st = fusion.Validate(); !st.ok()) return Fail(st);
  std::optional<index::Bm25Params> bm25;
  if (!args.bm25.empty()) {
    auto params = index::Bm25Params::Parse(args.bm25);
    if (!params.ok()) return Fail(StrCat("--bm25: ", std::string(params.status().message())));
    bm25 = *params;
  }
  if (args.index != "hnsw" && args.index != "flat")
    return Fail(StrCat("--index must be hnsw or flat, not '", args.index, "'"));
  auto model_options = EncoderOptions(args.precision);
  if (!model_options.ok()) return Fail(model_options.status());
  if (args.batch == 0) return Fail("--batch must be > 0");

  auto ds = search::LoadBeirDataset(args.dataset);
  if (!ds.ok()) return Fail(ds.status());
  const auto& warnings = ds->warnings;
  if (warnings.qrels_unknown_documents + warnings.qrels_unknown_queries > 0) {
    std::fprintf(stderr,
                 "eval: warning: dropped %zu judgments of documents not in the corpus and %zu of queries "
                 "not in queries.jsonl, e.g.\n",
                 warnings.qrels_unknown_documents, warnings.qrels_unknown_queries);
    for (const auto& w : warnings.examples) std::fprintf(stderr, "  %s\n", w.c_str());
  }
  std::vector<const search::BeirQuery*> queries;
  size_t without_relevant = 0;
  for (const auto& q : ds->queries) {
    auto it = ds->qrels.find(q.id);
    if (it == ds->qrels.end()) continue;
    if (search::CountRelevant(it->second) == 0) {
      ++without_relevant;
      continue;
    }
    if (args.max_queries > 0 && queries.size() >= args.max_queries) break;
    queries.push_back(&q);
  }
  if (queries.empty())
    return Fail(StrCat(ds->qrels_path.string(), ": no query has a relevant judgment (score > 0)"));

  const size_t threads = args.threads == 0 ? std::thread::hardware_concurrency() : args.threads;
  std::unique_ptr<ThreadPool> pool;
  if (threads > 1) pool = std::make_unique<ThreadPool>(threads - 1);
  auto embedder = OpenModel(args.model, *model_options, pool.get());
  if (!embedder.ok()) return Fail(embedder.status());
  store::DatabaseOptions db_options =
      CliDatabaseOptions(/*read_only=*/!args.collection.empty());  // --collection is only read
  db_options.threads = args.threads;
  auto db = store::Database::Open(*store::Env::Default(), args.data, db_options);
  if (!db.ok()) return Fail(db.status());
  IngestReport ingest;
  const std::string_view precision = embed::PrecisionName((*embedder)->encoder().precision());  // auto resolved
  auto collection = PrepareCollection(args, *ds, **embedder, precision, **db, &ingest);
  if (!collection.ok()) return Fail(collection.status());

  std::set<std::string, std::less<>> corpus;
  for (const auto& d : ds->corpus) corpus.insert(d.id);
  std::vector<ModeResult> results;
  for (auto mode : modes) {
    auto r = RunMode(mode, queries, *ds, corpus, **collection, **embedder, fusion, bm25, args);
    if (!r.ok()) return Fail(r.status());
    results.push_back(*r);
  }

  const std::string fusion_desc =
      fusion.method == search::FusionMethod::kRrf
          ? StrCat("rrf k=", fusion.rrf_k, " dense=", fusion.dense_weight, " lexical=", fusion.lexical_weight)
          : StrCat("convex alpha=", fusion.alpha);
  const std::string index_name(index::IndexKindName((*collection)->config().index_kind));
  const index::Bm25Params bm25_used = bm25.value_or((*collection)->config().lexical.bm25);
  std::printf(
      "%s: %zu documents, %zu queries, collection %s (%s), k=%zu, %s, %s, fusion %s, bm25 k1=%g b=%g\n",
      ds->name.c_str(), ds->corpus.size(), queries.size(), ingest.collection.c_str(),
      ingest.reused ? "reused" : "ingested", args.k, index_name.c_str(), (*embedder)->encoder().kernel().c_str(),
      fusion_desc.c_str(), bm25_used.k1, bm25_used.b);
  std::printf("%-8s %6s %6s %6s %8s %7s %8s %8s\n", "mode", "R@1", "R@10", "R@100", "nDCG@10", "MRR@10",
              "p50 ms", "p99 ms");
  for (const auto& r : results) {
    std::printf("%-8s %6.3f %6.3f %6.3f %8.3f %7.3f %8.2f %8.2f\n", r.mode.c_str(), r.recall1, r.recall10,
                r.recall100, r.ndcg10, r.mrr10, r.p50_ms, r.p99_ms);
  }
  std::fflush(stdout);

  if (!args.json_path.empty()) {
    json fusion_json = {{"method", search::FusionMethodName(fusion.method)}};
    if (fusion.method == search::FusionMethod::kRrf) {
      fusion_json["k"] = fusion.rrf_k;
      fusion_json["weights"] = {{"dense", fusion.dense_weight}, {"lexical", fusion.lexical_weight}};
    } else {
      fusion_json["alpha"] = fusion.alpha;
    }
    fusion_json["candidates"] = args.candidates > 0 ? args.candidates : std::max<size_t>(args.k, 100);
    json out = {{"dataset", ds->name},
                {"documents", ds->corpus.size()},
                {"queries", queries.size()},
                {"queries_without_relevant", without_relevant},
                {"qrels_dropped",
                 {{"unknown_documents", warnings.qrels_unknown_documents},
                  {"unknown_queries", warnings.qrels_unknown_queries}}},
                {"collection", ingest.collection},
                {"ingest", {{"reused", ingest.reused}, {"seconds", ingest.seconds}}},
                {"model", (*embedder)->model_id()},
                {"precision", precision},
                {"kernel", (*embedder)->encoder().kernel()},
                {"index", index_name},
                {"k", args.k},
                {"fusion", fusion_json},
                {"bm25", {{"k1", bm25_used.k1}, {"b", bm25_used.b}}},
                {"modes", json::object()}};
    for (const auto& r : results) out["modes"][r.mode] = ModeJson(r);
    std::ofstream f(args.json_path, std::ios::trunc);
    f << out.dump(2) << "\n";
    if (!f) return Fail(StrCat("cannot write ", args.json_path));
  }
  return 0;
}

}  // namespace

void AddEvalCommand(CLI::App& app, int* rc) {
  auto args = std::make_shared<EvalArgs>();
  auto* cmd = app.add_subcommand(
      "eval", "measure recall@1/10/100, nDCG@10, MRR@10 and latency of each query mode on a BEIR dataset");
  cmd->add_option("--dataset", args->dataset,
                  "BEIR dataset directory (corpus.jsonl, queries.jsonl, qrels/test.tsv)")
      ->required();
  cmd->add_option("--data", args->data, "data directory (the scratch collection eval_<dataset> lives here)")
      ->required();
  cmd->add_option(
      "--collection", args->collection,
      "evaluate this existing collection (ids = corpus ids, or DOC#N chunks) instead of ingesting");
  cmd->add_option("--model", args->model, kModelHelp);
  cmd->add_option("--modes", args->modes, "comma-separated modes to run")->capture_default_str();
  cmd->add_option("--k", args->k, "hits retrieved per query")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--index", args->index, "index of the scratch collection: hnsw | flat")
      ->capture_default_str();
  cmd->add_option("--fusion", args->fusion, "hybrid fusion: rrf | convex")->capture_default_str();
  cmd->add_option("--rrf-k", args->rrf_k, "RRF constant k")->capture_default_str();
  cmd->add_option("--weights", args->weights, "RRF weights, e.g. dense=1,lexical=1");
  cmd->add_option("--alpha", args->alpha, "convex fusion weight of dense")->capture_default_str();
  cmd->add_option("--candidates", args->candidates, "hybrid: hits per list before fusion (0 = max(k, 100))")
      ->capture_default_str();
  cmd->add_option("--bm25", args->bm25,
                  "BM25 parameters for this evaluation, e.g. k1=1.2,b=0.75 (default: the collection's)");
  cmd->add_option("--precision", args->precision, "encoder precision: auto | fp32 | int8")->capture_default_str();
  cmd->add_option("--max-queries", args->max_queries, "evaluate only the first N judged queries (0 = all)")
      ->capture_default_str();
  cmd->add_option("--batch", args->batch, "documents per embedding batch while ingesting")
      ->capture_default_str();
  cmd->add_option("--threads", args->threads, "threads for embedding and indexing (0 = all cores)");
  cmd->add_option("--json", args->json_path, "also write the results as JSON to this file");
  cmd->callback([args, rc] { *rc = RunEval(*args); });
}

}  // namespace ragline::cli
