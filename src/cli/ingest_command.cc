#include "cli/ingest_command.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "cli/api_client.h"
#include "cli/io.h"
#include "core/strings.h"
#include "embed/local_embedder.h"
#include "pipeline/ingestor.h"
#include "pipeline/workers.h"
#include "store/database.h"
#include "text/extract.h"

namespace ragline::cli {
namespace {

using nlohmann::json;

struct IngestArgs {
  std::string path;
  std::string collection;
  std::string data;
  std::string model;
  bool create = false;
  size_t chunk_tokens = 256;
  size_t overlap = 32;
  size_t threads = 0;
  bool watch = false;
  std::string jsonl;
  std::string server, api_key;
  std::string precision = "auto";
  size_t batch_docs = 64;
  size_t embed_batch = 64;
  std::string kafka, topic_prefix;
  std::string content_type;  // "": by extension, else sniffed
};

// Lists PATH's files; a PATH that is no document says how to read it anyway.
Result<pipeline::SourceFiles> ListFiles(const IngestArgs& args) {
  auto listed = pipeline::ListSourceFiles(args.path, args.content_type);
  if (absl::IsInvalidArgument(listed.status())) {
    return absl::InvalidArgumentError(
        StrCat(std::string(listed.status().message()), " (--content-type txt|md|html|pdf reads it as one)"));
  }
  return listed;
}

// {"id", "reason"} per skipped file, as IngestReport::ToJson writes them.
json SkippedJson(const pipeline::SourceFiles& listed) {
  json out = json::array();
  for (const auto& k : listed.skipped) out.push_back({{"id", k.id}, {"reason", k.error}});
  return out;
}

// The closing line on stderr, the same for every way of ingesting:
// "ingested 27 documents in 0:42: 25 added, 0 replaced, 2 unchanged, 0 failed; 412 chunks; 3 files skipped".
void PrintSummary(const json& report, const Progress& progress) {
  auto n = [&](const char* key) { return report.value(key, uint64_t{0}); };
  const uint64_t docs = n("documents_added") + n("documents_replaced") + n("documents_unchanged") +
                        n("documents_failed") + n("documents_superseded");
  std::fprintf(stderr,
               "ingested %llu documents in %s: %llu added, %llu replaced, %llu unchanged, %llu failed; "
               "%llu chunks; %llu file%s skipped\n",
               static_cast<unsigned long long>(docs), Duration(progress.elapsed()).c_str(),
               static_cast<unsigned long long>(n("documents_added")),
               static_cast<unsigned long long>(n("documents_replaced")),
               static_cast<unsigned long long>(n("documents_unchanged")),
               static_cast<unsigned long long>(n("documents_failed")),
               static_cast<unsigned long long>(n("chunks_upserted")),
               static_cast<unsigned long long>(n("files_skipped")), n("files_skipped") == 1 ? "" : "s");
}

// Says on stderr which files were skipped and why, and which failed.
void PrintProblems(const json& report) {
  for (const auto& f : report.value("skipped", json::array())) {
    std::fprintf(stderr, "skipped: %s: %s\n", f["id"].get<std::string>().c_str(),
                 f["reason"].get<std::string>().c_str());
  }
  for (const auto& f : report.value("failures", json::array())) {
    std::fprintf(stderr, "failed: %s: %s\n", f["id"].get<std::string>().c_str(),
                 f["error"].get<std::string>().c_str());
  }
}

Result<pipeline::IngestReport> IngestJsonl(pipeline::Ingestor& ingestor, const IngestArgs& args,
                                           Progress& progress) {
  ASSIGN_OR_RETURN(int fd, OpenInput(args.jsonl));
  pipeline::IngestReport total;
  std::vector<pipeline::SourceDocument> batch;
  size_t done_before = 0;
  auto flush = [&]() -> Status {
    if (batch.empty()) return absl::OkStatus();
    const size_t n = batch.size();
    const size_t chunks_before = total.chunks_upserted;
    ASSIGN_OR_RETURN(auto report, ingestor.Ingest(std::move(batch), [&](size_t done, size_t, size_t chunks) {
      progress.Update(done_before + done, {}, chunks_before + chunks);
    }));
    batch.clear();
    done_before += n;
    total.Merge(report);
    return absl::OkStatus();
  };
  auto on_line = [&](std::string& line, size_t line_no) -> Status {
    if (line.find_first_not_of(" \t\r") == std::string::npos) return absl::OkStatus();
    const std::string where = StrCat("line ", line_no);
    const json j = json::parse(line, nullptr, false);
    auto doc = j.is_discarded() ? Result<pipeline::SourceDocument>(
                                      absl::InvalidArgumentError(StrCat(where, ": malformed JSON object")))
                                : pipeline::SourceDocument::FromJson(j, where, "jsonl");
    if (doc.ok()) {
      batch.push_back(std::move(*doc));
    } else {  // a bad line is one failed document; the others still ingest
      total.documents_failed++;
      total.failures.push_back({where, std::string(doc.status().message())});
    }
    return absl::OkStatus();
  };
  const Status st = PumpLines(
      fd, 200, on_line, [&] { return batch.size() >= args.batch_docs; }, flush);
  if (fd != 0) ::close(fd);
  if (!st.ok()) return st;
  return total;
}

// Adds a documents reply (an ingest report) into `total`.
void AddReport(const json& reply, json& total) {
  for (const auto& [key, value] : reply.items()) {
    if (value.is_number_unsigned()) total[key] = total.value(key, uint64_t{0}) + value.get<uint64_t>();
  }
  for (const auto& f : reply.value("failures", json::array())) total["failures"].push_back(f);
}

// `ragline ingest PATH --server URL`: the files go to the server's documents
// route in batches; the server extracts, chunks and embeds them.
int IngestOverHttp(const IngestArgs& args) {
  if (args.path.empty()) return Fail("--server takes a file or directory PATH (not --jsonl)");
  if (args.watch) return Fail("--watch works on a data dir (--data), not with --server");
  auto client = ApiClient::Create(args.server, args.api_key);
  if (!client.ok()) return Fail(client.status());
  if (args.create) {
    const json body = {{"name", args.collection}};
    auto created = (*client)->Call("POST", "/v1/collections", &body);
    if (!created.ok() && !absl::IsAlreadyExists(created.status())) return Fail(created.status());
  }
  auto listed = ListFiles(args);
  if (!listed.ok()) return Fail(listed.status());
  const std::string route = StrCat("/v1/collections/", UrlSegment(args.collection), "/documents");
  json total = {{"failures", json::array()}};
  Progress progress("ingest", listed->files.size(), "docs", "chunks");
  json batch = json::array();
  size_t batch_bytes = 0, done = 0, chunks = 0;
  // One request per batch; the server streams its progress (docs/server.md).
  auto flush = [&]() -> Status {
    if (batch.empty()) return absl::OkStatus();
    const json body = {{"documents", std::move(batch)}};
    batch = json::array();
    batch_bytes = 0;
    std::optional<json> reply;
    Status failed;
    Status sent = (*client)->PostStreaming(route, body, [&](const json& line) {
      if (auto p = line.find("progress"); p != line.end()) {
        progress.Update(done + p->value("documents_done", size_t{0}), {},
                        chunks + p->value("chunks_embedded", size_t{0}));
      } else if (line.contains("done")) {
        reply = line["done"];
      } else if (line.contains("error")) {
        failed = absl::UnavailableError(line["error"].value("message", std::string("the ingest failed")));
      }
    });
    if (absl::IsInvalidArgument(sent)) {  // refused before any work: every document of the batch failed
      for (const auto& d : body["documents"]) {
        total["failures"].push_back({{"id", d["id"]}, {"error", std::string(sent.message())}});
      }
      total["documents_failed"] = total.value("documents_failed", uint64_t{0}) + body["documents"].size();
      reply = json::object();
    } else {
      RETURN_IF_ERROR(sent);
    }
    RETURN_IF_ERROR(failed);
    if (!reply) return absl::DataLossError("the server's reply ended before the batch was done; run it again");
    AddReport(*reply, total);
    done += body["documents"].size();
    chunks = total.value("chunks_upserted", size_t{0});
    progress.Update(done, {}, chunks);
    return absl::OkStatus();
  };
  for (const auto& f : listed->files) {
    auto bytes = pipeline::ReadSourceFile(f.path);
    if (!bytes.ok()) return Fail(bytes.status());
    std::string b64;
    absl::Base64Escape(absl::string_view(bytes->data(), bytes->size()), &b64);
    batch_bytes += b64.size();
    batch.push_back({{"id", f.id},
                     {"content_base64", std::move(b64)},
                     {"content_type", f.content_type},
                     {"source", f.path.string()}});
    if (batch.size() >= args.batch_docs || batch_bytes >= (8u << 20)) {
      if (Status st = flush(); !st.ok()) return Fail(st);
    }
  }
  if (Status st = flush(); !st.ok()) return Fail(st);
  progress.Finish();
  total["files_skipped"] = listed->skipped.size();
  total["skipped"] = SkippedJson(*listed);
  PrintJson(total);
  PrintProblems(total);
  PrintSummary(total, progress);
  return total.value("documents_failed", uint64_t{0}) > 0 ? kExitError : 0;
}

// Publishes the files of PATH to rag.documents.raw (distributed mode: the
// chunk workers take it from there), --batch-docs at a time.
int IngestOverKafka(const IngestArgs& args) {
  if (args.path.empty()) return Fail("--kafka publishes the files of PATH");
  auto listed = ListFiles(args);
  if (!listed.ok()) return Fail(listed.status());
  pipeline::WorkerOptions options;
  options.bootstrap = args.kafka;
  options.topics = pipeline::Topics::WithPrefix(args.topic_prefix);
  auto publisher = pipeline::DocumentPublisher::Create(options);
  if (!publisher.ok()) return Fail(publisher.status());
  std::vector<pipeline::RawDocument> batch;
  size_t published = 0;
  Progress progress("publish", listed->files.size());
  for (const auto& f : listed->files) {
    pipeline::RawDocument raw;
    raw.doc.id = f.id;
    raw.doc.content_type = f.content_type;
    raw.doc.source = f.path.string();
    if (listed->directory) raw.root = listed->root.string();
    raw.collection = args.collection;
    auto bytes = pipeline::ReadSourceFile(f.path);
    if (!bytes.ok()) return Fail(bytes.status());
    raw.doc.content = std::move(*bytes);
    batch.push_back(std::move(raw));
    if (batch.size() >= args.batch_docs || &f == &listed->files.back()) {
      if (Status st = (*publisher)->Publish(batch); !st.ok()) return Fail(st);
      published += batch.size();
      batch.clear();
      progress.Update(published);
    }
  }
  progress.Finish();
  const json out = {{"documents_published", published},
                    {"topic", options.topics.raw},
                    {"collection", args.collection},
                    {"files_skipped", listed->skipped.size()},
                    {"skipped", SkippedJson(*listed)}};
  PrintJson(out);
  PrintProblems(out);
  return 0;
}

int CmdIngest(const IngestArgs& args) {
  if (args.server.empty() + args.data.empty() + args.kafka.empty() != 2)
    return Fail("give either --data DIR, --server URL or --kafka BROKERS");
  if (args.collection.empty()) return Fail("--collection is required");
  if (!args.content_type.empty()) {
    if (auto format = text::FormatFromContentType(args.content_type); !format.ok())
      return Fail(StrCat("--content-type: ", std::string(format.status().message())));
  }
  if (!args.kafka.empty()) return IngestOverKafka(args);
  if (!args.server.empty()) return IngestOverHttp(args);
  if (args.path.empty() == args.jsonl.empty()) return Fail("give either PATH or --jsonl FILE|-");
  if (args.watch && args.path.empty()) return Fail("--watch needs a directory PATH");
  if (!args.path.empty() && !std::filesystem::is_directory(args.path)) {
    // A file that is no document fails before the model loads.
    if (auto listed = ListFiles(args); !listed.ok()) return Fail(listed.status());
  }

  std::stop_source stop;
  std::optional<SignalStopper> stopper;
  if (args.watch) stopper.emplace(stop);

  const size_t threads = args.threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : args.threads;
  std::unique_ptr<ThreadPool> pool;
  if (threads > 1) pool = std::make_unique<ThreadPool>(threads - 1);
  auto model_options = EncoderOptions(args.precision);
  if (!model_options.ok()) return Fail(model_options.status());
  auto model = OpenModel(args.model, *model_options, pool.get());
  if (!model.ok()) return Fail(model.status());
  embed::LocalEmbedder& embedder = **model;

  store::DatabaseOptions db_options = CliDatabaseOptions(/*read_only=*/false);
  db_options.threads = 1;
  auto db = store::Database::Open(*store::Env::Default(), args.data, db_options);
  if (!db.ok()) return Fail(db.status());
  auto c = (*db)->GetCollection(args.collection);
  if (!c.ok() && absl::IsNotFound(c.status()) && args.create) {
    store::CollectionConfig config;
    config.name = args.collection;
    config.dim = static_cast<uint32_t>(embedder.dim());
    config.metric = store::DistanceMetric::kCosine;
    config.index_kind = index::IndexKind::kHnsw;
    c = (*db)->CreateCollection(config);
  }
  if (!c.ok()) {
    if (absl::IsNotFound(c.status())) {
      return Fail(StrCat(std::string(c.status().message()), " (pass --create to create it)"));
    }
    return Fail(c.status());
  }
  store::Collection& collection = **c;

  pipeline::IngestOptions options;
  options.chunker.max_tokens = args.chunk_tokens;
  options.chunker.overlap_tokens = args.overlap;
  options.embed_batch_chunks = args.embed_batch;
  options.extract_threads = std::max<size_t>(1, threads / 2);
  options.file_content_type = args.content_type;
  if (Status st = options.Validate(2); !st.ok()) return Fail(st);
  pipeline::Ingestor ingestor(collection, embedder, options);

  Progress progress("ingest", 0, "docs", "chunks");
  Result<pipeline::IngestReport> report = absl::UnknownError("unreachable");
  if (args.watch) {
    size_t failed = 0;
    Status st = ingestor.Watch(args.path, stop.get_token(), [&](const pipeline::IngestReport& r) {
      failed += r.documents_failed;
      const json out = r.ToJson();
      PrintJson(out);
      PrintProblems(out);
    });
    Status closed = collection.Close();
    if (!st.ok()) return Fail(st);
    if (!closed.ok()) return Fail(closed);
    return failed > 0 ? kExitError : 0;
  }
  if (!args.jsonl.empty()) {
    report = IngestJsonl(ingestor, args, progress);
  } else {
    report = ingestor.IngestPath(args.path, [&](size_t done, size_t total, size_t chunks) {
      progress.set_total(total);
      progress.Update(done, {}, chunks);
    });
  }
  progress.Finish();
  Status closed = collection.Close();
  if (!report.ok()) return Fail(report.status());
  if (!closed.ok()) return Fail(closed);
  const json out = report->ToJson();
  PrintJson(out);
  PrintProblems(out);
  PrintSummary(out, progress);
  return report->documents_failed > 0 ? kExitError : 0;
}

}  // namespace

void AddIngestCommand(CLI::App& app, int* rc) {
  auto args = std::make_shared<IngestArgs>();
  auto* cmd = app.add_subcommand(
      "ingest",
      "extract, chunk, embed and upsert files, a directory tree (txt, md, html, pdf, .gz of them; other text "
      "files by content) or JSONL documents "
      "{\"id\",\"text\"|\"content_base64\"+\"content_type\",\"metadata\",\"version\"}; unchanged documents "
      "are "
      "skipped, deleted files removed; prints a JSON report");
  cmd->add_option("path", args->path, "file or directory to ingest");
  cmd->add_option("--collection", args->collection, "collection (or alias) to write (not with --kafka)");
  cmd->add_option("--data", args->data, "data directory (ingest in process)");
  cmd->add_option("--server", args->server,
                  "send the files to a running `ragline serve` at http://HOST:PORT instead (PATH only)");
  cmd->add_option("--api-key", args->api_key, "API key for --server (default $RAGLINE_API_KEY)");
  cmd->add_option(
      "--kafka", args->kafka,
      "publish the files to rag.documents.raw at these brokers instead (distributed mode; PATH only)");
  cmd->add_option("--topic-prefix", args->topic_prefix, "with --kafka: put before the topic name");
  cmd->add_option("--content-type", args->content_type,
                  "read every file as this type: txt | md | html | pdf or a MIME type (default: by "
                  "extension, else by content; binary files are skipped)");
  cmd->add_option("--model", args->model, kModelHelp);
  cmd->add_option("--precision", args->precision, "encoder precision: auto | fp32 | int8 (with --data)")
      ->capture_default_str();
  cmd->add_flag("--create", args->create, "create the collection if absent (model's dim, cosine, hnsw)");
  cmd->add_option("--chunk-tokens", args->chunk_tokens, "tokens per chunk, special tokens included")
      ->capture_default_str();
  cmd->add_option("--overlap", args->overlap, "tokens shared by consecutive chunks")->capture_default_str();
  cmd->add_option("--threads", args->threads, "threads for extraction and the encoder (0 = all cores)")
      ->capture_default_str();
  cmd->add_flag("--watch", args->watch,
                "after ingesting, watch the directory and re-ingest changes until ^C");
  cmd->add_option("--jsonl", args->jsonl, "read JSONL documents from FILE or - (stdin) instead of PATH");
  cmd->add_option("--batch-docs", args->batch_docs,
                  "documents per pipeline batch (JSONL) or per request (--server)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--embed-batch", args->embed_batch, "chunks per embedding call")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->callback([args, rc] { *rc = CmdIngest(*args); });
}

}  // namespace ragline::cli
