#include "cli/worker_command.h"

#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <stop_token>
#include <string>
#include <vector>

#include "cli/io.h"
#include "core/strings.h"
#include "embed/local_embedder.h"
#include "embed/tokenizer.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "pipeline/wordpiece_chunk_tokenizer.h"
#include "pipeline/workers.h"
#include "server/config.h"
#include "server/routes.h"
#include "server/server.h"
#include "server/shard_routes.h"
#include "store/database.h"

namespace ragline::cli {
namespace {

using nlohmann::json;

struct WorkerArgs {
  std::string config;  // the cluster config file (server/config.h); flags override it
  std::string kafka, topic_prefix, instance = "0", group;
  int partitions = 4, replication = 1;
  size_t batch = 64;
  std::string model, precision = "auto";
  std::string remote, remote_model;  // the embed worker's embeddings server instead of --model
  size_t chunk_tokens = 256, overlap = 32;
  std::string data, collection, shard;
  bool create = false;
  uint32_t dim = 384;
  std::string host = "127.0.0.1";
  int port = -1;  // HTTP (/metrics; an index node's reads); -1 = none
};

// Counts outcomes; failures go to stderr as they happen. Stops with the process.
class WorkerEvents final : public pipeline::StageEvents {
 public:
  explicit WorkerEvents(const char* role) : role_(role) {}
  void Unchanged(const std::string&) override {}
  void Failed(const std::string& id, const std::string& error, bool) override {
    std::lock_guard<std::mutex> l(mu_);
    ++failed_;
    std::fprintf(stderr, "ragline worker %s: document '%s' failed: %s\n", role_, id.c_str(), error.c_str());
  }
  void Committed(const std::string&, pipeline::CommitOutcome outcome, size_t chunks) override {
    std::lock_guard<std::mutex> l(mu_);
    ++(outcome == pipeline::CommitOutcome::kSuperseded ? superseded_ : committed_);
    chunks_ += chunks;
  }
  void ChunksDeleted(size_t) override {}
  void StageTime(std::string_view, double) override {}
  bool ShouldStop() override { return false; }
  json Summary() const {
    std::lock_guard<std::mutex> l(mu_);
    return {{"role", role_},
            {"documents_failed", failed_},
            {"documents_committed", committed_},
            {"documents_superseded", superseded_},
            {"chunks_upserted", chunks_}};
  }

 private:
  const char* role_;
  mutable std::mutex mu_;
  size_t failed_ = 0, committed_ = 0, superseded_ = 0, chunks_ = 0;  // GUARDED_BY(mu_)
};

// A worker's metrics and, with a port, its HTTP: /healthz and /metrics for
// every role, plus the shard's reads for an index node (the router's).
// rag_kafka_lag{group,topic,partition} follows the worker's input partitions.
class WorkerHttp {
 public:
  WorkerHttp()
      : logger_(obs::LogDestination::Stderr(), obs::LogLevel::kWarn),
        lag_(&metrics_.Gauge("rag_kafka_lag",
                             "Messages a consumer is behind the end of each input partition.",
                             {"group", "topic", "partition"})),
        retries_(&metrics_.Counter("rag_worker_batch_retries_total",
                                   "Input batches rolled back for a transient failure (an embedder "
                                   "unavailable) and read again after a back-off.",
                                   {"role"})) {}

  // Serves on host:port (port < 0: no HTTP). `db` non-null: an index node's
  // reads and catalog changes too, told to `observer`.
  Status Start(const std::string& host, int port, const char* role, store::Database* db,
               const std::string& data_dir, server::CatalogObserver* observer = nullptr) {
    if (port < 0) return absl::OkStatus();
    server::ServerDeps deps{db, nullptr, nullptr, &metrics_, &logger_, data_dir, observer};
    server::ServerOptions options;
    options.threads = 2;
    http_ = std::make_unique<server::Server>(deps, options);
    if (db != nullptr) {
      server::RegisterCoreRoutes(*http_, /*vector_writes=*/false);
      server::RegisterShardRoutes(*http_);
    } else {
      server::RegisterHealthAndMetricsRoutes(*http_);
    }
    ASSIGN_OR_RETURN(int bound, http_->StartInBackground(host, port));
    std::fprintf(stderr, "ragline worker %s: serving %s on http://%s:%d\n", role,
                 db != nullptr ? "reads and /metrics" : "/metrics", host.c_str(), bound);
    return absl::OkStatus();
  }

  // Reports lag into rag_kafka_lag (a WorkerOptions::on_lag). A partition
  // this worker no longer reads (a rebalance moved it) drops to 0 here: its
  // new owner reports it.
  std::function<void(const std::string&, const std::vector<pipeline::PartitionLag>&)> LagSink() {
    return [this](const std::string& group, const std::vector<pipeline::PartitionLag>& lags) {
      std::lock_guard<std::mutex> l(mu_);
      std::set<std::pair<std::string, int32_t>> now;
      for (const auto& p : lags) {
        lag_->WithLabels({group, p.topic, std::to_string(p.partition)}).Set(static_cast<double>(p.lag));
        now.insert({p.topic, p.partition});
      }
      auto& reported = reported_[group];
      for (const auto& tp : reported) {
        if (!now.count(tp)) lag_->WithLabels({group, tp.first, std::to_string(tp.second)}).Set(0);
      }
      reported.insert(now.begin(), now.end());
    };
  }

  // Reports a batch rolled back for a transient reason (a WorkerOptions::on_retry):
  // a line on stderr and rag_worker_batch_retries_total{role}.
  std::function<void(const Status&, std::chrono::milliseconds)> RetrySink(const char* role) {
    obs::Counter* retries = &retries_->WithLabels({role});
    return [role, retries](const Status& why, std::chrono::milliseconds retry_in) {
      retries->Increment();
      std::fprintf(stderr, "ragline worker %s: batch rolled back, read again in %.1f s: %s\n", role,
                   static_cast<double>(retry_in.count()) / 1000.0, std::string(why.message()).c_str());
    };
  }

  ~WorkerHttp() {
    if (http_) http_->Stop();
  }

 private:
  obs::MetricsRegistry metrics_;
  obs::Logger logger_;
  obs::GaugeFamily* lag_;
  obs::CounterFamily* retries_;
  std::mutex mu_;
  std::map<std::string, std::set<std::pair<std::string, int32_t>>> reported_;  // GUARDED_BY(mu_): per group
  std::unique_ptr<server::Server> http_;
};

pipeline::WorkerOptions Options(const WorkerArgs& a, const std::string& default_group) {
  pipeline::WorkerOptions o;
  o.bootstrap = a.kafka;
  o.topics = pipeline::Topics::WithPrefix(a.topic_prefix);
  o.group = a.group.empty() ? StrCat(a.topic_prefix, default_group) : a.group;
  o.instance = a.instance;
  o.batch = a.batch;
  o.partitions = a.partitions;
  o.replication = a.replication;
  return o;
}

Result<std::vector<int32_t>> ParsePartitions(const std::string& list) {
  std::vector<int32_t> out;
  if (list.empty()) return out;
  std::stringstream ss(list);
  std::string part;
  while (std::getline(ss, part, ',')) {
    char* end = nullptr;
    const long p = std::strtol(part.c_str(), &end, 10);
    if (part.empty() || *end != '\0' || p < 0 || p > 100000) {
      return absl::InvalidArgumentError(
          StrCat("--partitions-of-shard: '", part, "' is not a partition number"));
    }
    out.push_back(static_cast<int32_t>(p));
  }
  return out;
}

// The flags over the cluster config file's shared settings (--config), over the defaults.
Result<WorkerArgs> Resolve(const WorkerArgs& flags, const CLI::App& cmd) {
  server::ServerConfig file;
  if (!flags.config.empty()) RETURN_IF_ERROR(file.MergeFile(flags.config));
  const server::WorkersConfig& w = file.workers;
  RETURN_IF_ERROR(w.Validate());
  auto given = [&cmd](const char* name) { return cmd.count(name) > 0; };
  WorkerArgs a = flags;
  if (!given("--kafka")) a.kafka = file.kafka;
  if (!given("--topic-prefix")) a.topic_prefix = file.topic_prefix;
  if (!given("--topic-partitions")) a.partitions = static_cast<int>(w.topic_partitions);
  if (!given("--replication")) a.replication = static_cast<int>(w.replication);
  if (!given("--batch")) a.batch = w.batch;
  if (!given("--host")) a.host = w.host;
  if (cmd.get_option_no_throw("--model") != nullptr && !given("--model")) a.model = file.model_dir;
  if (cmd.get_option_no_throw("--precision") != nullptr && !given("--precision"))
    a.precision = file.precision;
  if (cmd.get_option_no_throw("--chunk-tokens") != nullptr) {
    if (!given("--chunk-tokens")) a.chunk_tokens = w.chunk_tokens;
    if (!given("--overlap")) a.overlap = w.overlap;
  }
  if (cmd.get_option_no_throw("--collection") != nullptr) {
    if (!given("--collection")) a.collection = w.collection;
    if (!given("--create")) a.create = w.create;
    if (!given("--dim")) a.dim = static_cast<uint32_t>(w.dim);
  }
  if (a.kafka.empty()) return absl::InvalidArgumentError("--kafka is required (or \"kafka\" in --config)");
  return a;
}

int Finish(const Status& st, const WorkerEvents& events) {
  PrintJson(events.Summary());
  if (!st.ok()) return Fail(st);
  return 0;
}

int RunChunk(const WorkerArgs& a) {
  auto vocab = OpenModelTokenizer(a.model);
  if (!vocab.ok()) return Fail(vocab.status());
  pipeline::WordPieceChunkTokenizer tokenizer(*vocab);
  pipeline::ChunkStageOptions options;
  options.chunker.max_tokens = a.chunk_tokens;
  options.chunker.overlap_tokens = a.overlap;
  if (Status st = options.chunker.Validate(tokenizer.special_tokens()); !st.ok()) return Fail(st);
  // No store here: no freshness check (index nodes apply the version rules).
  options.signature = StrCat("schema=", pipeline::ChunkPayload::kSchema, ";max_tokens=", a.chunk_tokens,
                             ";overlap=", a.overlap);
  pipeline::ChunkStage stage(tokenizer, options, {});
  WorkerHttp http;
  if (Status st = http.Start(a.host, a.port, "chunk", nullptr, ""); !st.ok()) return Fail(st);
  pipeline::WorkerOptions worker = Options(a, "rag.workers.chunk");
  worker.on_lag = http.LagSink();
  std::stop_source stop;
  SignalStopper stopper(stop);
  WorkerEvents events("chunk");
  std::fprintf(stderr, "ragline worker chunk: consuming %s\n", worker.topics.raw.c_str());
  return Finish(pipeline::RunChunkWorker(worker, stage, events, stop.get_token()), events);
}

// The embed worker's model: in process (--model), or an embeddings server
// (--remote, which need not be up yet: its batches wait for it).
Result<std::unique_ptr<embed::Embedder>> WorkerEmbedder(const WorkerArgs& a) {
  if (!a.remote.empty()) {
    if (a.remote_model.empty()) return absl::InvalidArgumentError("--remote needs --remote-model");
    ASSIGN_OR_RETURN(auto remote, OpenRemoteEmbedder(a.remote, a.remote_model, a.batch, a.dim));
    return std::unique_ptr<embed::Embedder>(std::move(remote));
  }
  ASSIGN_OR_RETURN(auto options, EncoderOptions(a.precision));
  ASSIGN_OR_RETURN(auto local, OpenModel(a.model, options, nullptr));
  std::fprintf(stderr, "ragline worker embed: encoder %s\n", local->encoder().kernel().c_str());
  return std::unique_ptr<embed::Embedder>(std::move(local));
}

int RunEmbed(const WorkerArgs& a) {
  auto embedder = WorkerEmbedder(a);
  if (!embedder.ok()) return Fail(embedder.status());
  pipeline::EmbedStage stage(**embedder, (*embedder)->dim(), a.batch, std::chrono::milliseconds(50));
  WorkerHttp http;
  if (Status st = http.Start(a.host, a.port, "embed", nullptr, ""); !st.ok()) return Fail(st);
  pipeline::WorkerOptions worker = Options(a, "rag.workers.embed");
  worker.on_lag = http.LagSink();
  worker.on_retry = http.RetrySink("embed");
  std::stop_source stop;
  SignalStopper stopper(stop);
  WorkerEvents events("embed");
  std::fprintf(stderr, "ragline worker embed: consuming %s\n", worker.topics.chunks.c_str());
  return Finish(pipeline::RunEmbedWorker(worker, stage, events, stop.get_token()), events);
}

// The index node's HTTP catalog changes, told to its IndexNode.
class NodeCatalog final : public server::CatalogObserver {
 public:
  explicit NodeCatalog(pipeline::IndexNode& node) : node_(node) {}
  void Hold(const std::string& name) override { node_.Hold(name); }
  Status Created(store::Collection& c) override { return node_.Adopt(c); }
  void Release(const std::string& name) override { node_.Release(name); }

 private:
  pipeline::IndexNode& node_;
};

int RunIndex(const WorkerArgs& a) {
  auto partitions = ParsePartitions(a.shard);
  if (!partitions.ok()) return Fail(partitions.status());
  store::DatabaseOptions db_options = CliDatabaseOptions(/*read_only=*/false);
  db_options.threads = 1;
  auto db = store::Database::Open(*store::Env::Default(), a.data, db_options);
  if (!db.ok()) return Fail(db.status());
  if (!a.collection.empty()) {
    auto c = (*db)->GetCollection(a.collection);
    if (!c.ok() && absl::IsNotFound(c.status()) && a.create) {
      store::CollectionConfig config;
      config.name = a.collection;
      config.dim = a.dim;
      config.metric = store::DistanceMetric::kCosine;
      config.index_kind = index::IndexKind::kHnsw;
      c = (*db)->CreateCollection(config);  // reads the topic from its start: the bootstrap collection
    }
    if (!c.ok()) return Fail(c.status());
  } else if (a.create) {
    return Fail("--create needs --collection");
  }
  pipeline::WorkerOptions worker = Options(a, "rag.index");
  WorkerEvents events("index");
  auto http = std::make_unique<WorkerHttp>();
  worker.on_lag = http->LagSink();
  pipeline::IndexNode node(worker, **db, *partitions, events);
  NodeCatalog catalog(node);
  if (Status st = http->Start(a.host, a.port, "index", db->get(), a.data, &catalog); !st.ok())
    return Fail(st);
  std::stop_source stop;
  SignalStopper stopper(stop);
  std::fprintf(stderr, "ragline worker index: consuming %s into the collections of %s\n",
               worker.topics.upserts.c_str(), a.data.c_str());
  Status st = node.Run(stop.get_token());
  http.reset();  // stops serving before the collections close
  for (const std::string& name : (*db)->OpenCollectionNames()) {
    auto c = (*db)->GetCollection(name);
    Status closed = c.ok() ? (*c)->Close() : c.status();
    if (st.ok()) st = closed;
  }
  return Finish(st, events);
}

int Run(int (*role)(const WorkerArgs&), const WorkerArgs& flags, const CLI::App& cmd) {
  auto args = Resolve(flags, cmd);
  if (!args.ok()) return Fail(args.status());
  return role(*args);
}

void AddCommon(CLI::App* cmd, WorkerArgs* a) {
  cmd->add_option("--config", a->config,
                  "the cluster config file: \"kafka\", \"topic_prefix\", \"model\", \"precision\" and "
                  "\"workers\" (docs/distributed.md); flags override it");
  cmd->add_option("--kafka", a->kafka, "bootstrap servers, host:port[,host:port...]");
  cmd->add_option("--topic-prefix", a->topic_prefix, "put before every topic and group name");
  cmd->add_option("--group", a->group, "consumer group (default per role)");
  cmd->add_option("--instance", a->instance, "this process within its group: keep it across restarts")
      ->capture_default_str();
  cmd->add_option("--topic-partitions", a->partitions, "partitions of topics this creates")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  cmd->add_option("--replication", a->replication, "replication factor of topics this creates")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  cmd->add_option("--port", a->port,
                  "serve /healthz and /metrics (rag_kafka_lag) here, and an index node's reads for a router "
                  "(0 = any free port; default: no HTTP)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--host", a->host, "address --port listens on")->capture_default_str();
  cmd->add_option("--batch", a->batch, "input messages per transaction (chunks per embedding call)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
}

}  // namespace

void AddWorkerCommand(CLI::App& app, int* rc) {
  auto args = std::make_shared<WorkerArgs>();
  auto* worker =
      app.add_subcommand("worker", "run a role of distributed mode over Kafka (docs/distributed.md)");
  worker->require_subcommand(1);

  auto* chunk = worker->add_subcommand("chunk", "rag.documents.raw -> rag.documents.chunks (extract, chunk)");
  AddCommon(chunk, args.get());
  chunk->add_option("--model", args->model, StrCat(kModelHelp, "; for its tokenizer"));
  chunk->add_option("--chunk-tokens", args->chunk_tokens, "tokens per chunk")->capture_default_str();
  chunk->add_option("--overlap", args->overlap, "tokens shared by consecutive chunks")->capture_default_str();
  chunk->callback([args, rc, chunk] { *rc = Run(RunChunk, *args, *chunk); });

  auto* embed = worker->add_subcommand("embed", "rag.documents.chunks -> rag.embeddings.upserts (embed)");
  AddCommon(embed, args.get());
  embed->add_option("--model", args->model, kModelHelp);
  embed->add_option("--precision", args->precision, "auto | fp32 | int8 (docs/embedding.md)")->capture_default_str();
  embed->add_option("--remote", args->remote,
                    "embed with an OpenAI-compatible embeddings server instead, e.g. http://host:8080/v1 or "
                    "another `ragline serve` (key from $RAGLINE_EMBED_API_KEY or $OPENAI_API_KEY); while it "
                    "is down, batches roll back and are read again");
  embed->add_option("--remote-model", args->remote_model, "model name sent to --remote");
  embed->add_option("--dim", args->dim, "with --remote: the width of its embeddings")->capture_default_str();
  embed->callback([args, rc, embed] { *rc = Run(RunEmbed, *args, *embed); });

  auto* index = worker->add_subcommand(
      "index", "rag.embeddings.upserts -> the collections of --data (offsets stored with each)");
  AddCommon(index, args.get());
  index->add_option("--data", args->data, "data directory")->required();
  index->add_option("--collection", args->collection,
                    "a collection that must exist at start (more come through the router's API)");
  index->add_flag("--create", args->create,
                  "create --collection if absent (cosine, hnsw; it reads the topic from its start)");
  index->add_option("--dim", args->dim, "dimension of a collection --create makes (the model's)")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536));
  index->add_option("--partitions-of-shard", args->shard,
                    "partitions of the upserts topic to read, e.g. 0,1 (default all)");
  index->callback([args, rc, index] { *rc = Run(RunIndex, *args, *index); });
}

}  // namespace ragline::cli
