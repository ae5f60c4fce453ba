#include "cli/serve_command.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "cli/api_client.h"
#include "cli/io.h"
#include "cli/probe_command.h"
#include "core/strings.h"
#include "core/thread_pool.h"
#include "embed/batching_embedder.h"
#include "embed/local_embedder.h"
#include "generate/llm_config.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "router/router.h"
#include "server/config.h"
#include "server/document_routes.h"
#include "server/embeddings_routes.h"
#include "server/routes.h"
#include "server/server.h"
#include "server/shard_routes.h"
#include "store/compactor.h"
#include "store/database.h"

namespace ragline::cli {
namespace {

using nlohmann::json;

volatile std::sig_atomic_t g_stop_signal = 0;

struct ServeFlags {
  std::string config_file, role, kafka, topic_prefix;
  std::vector<std::string> shards;
  uint64_t shard_deadline_ms = 0;
  std::string data, model, host, llm_url, llm_model, log_level, precision;
  int port = 0;
  size_t threads = 0, max_body_bytes = 0;
  uint64_t shutdown_grace_ms = 0;
};

// Background compaction (store/compactor.h) with a log line and
// rag_compactions_total{collection,result} / rag_compaction_duration_seconds
// per merge; null when the config turns it off.
std::unique_ptr<store::Compactor> StartCompactor(store::Database* db, server::Server* srv,
                                                 const store::CompactorOptions& options,
                                                 obs::MetricsRegistry& metrics, obs::Logger& logger) {
  if (!options.enabled()) return nullptr;
  auto& runs = metrics.Counter("rag_compactions_total", "Background compactions by outcome.",
                               {"collection", "result"});
  auto& seconds =
      metrics.Histogram("rag_compaction_duration_seconds", "Background compaction time, in seconds.", {},
                        {0.1, 0.5, 1, 5, 15, 60, 300, 1200});
  return std::make_unique<store::Compactor>(
      db, &srv->catalog_mutex(), options, [&runs, &seconds, &logger](const store::CompactionReport& r) {
        runs.WithLabels({r.collection, r.status.ok() ? "ok" : "error"}).Increment();
        seconds.WithLabels({}).Observe(r.seconds);
        auto event = r.status.ok() ? logger.Info("compacted") : logger.Warn("compaction failed");
        event.Stage("compact")
            .DurationMs(r.seconds * 1000)
            .Field("collection", r.collection)
            .Field("sealed_segments", r.sealed_segments)
            .Field("dead_rows", r.dead_rows);
        if (!r.status.ok()) event.Error(r.status);
      });
}

// What a collection's open found, as the operator sees it: a JSON log line
// and rag_collection_degraded{collection} / rag_quarantined_segments{collection}
// for quarantined segments, rag_wal_tail_cuts_total{collection} and a log
// line for a cut WAL tail (docs/server.md "Damage").
std::function<void(const store::Collection&)> CollectionHealthReporter(obs::MetricsRegistry& metrics,
                                                                       obs::Logger& logger) {
  auto& degraded = metrics.Gauge(
      "rag_collection_degraded",
      "1 while a collection serves without a quarantined (corrupt or missing) segment.", {"collection"});
  auto& quarantined =
      metrics.Gauge("rag_quarantined_segments", "Quarantined segments per collection.", {"collection"});
  auto& tail_cuts = metrics.Counter("rag_wal_tail_cuts_total", "Torn WAL tails cut at open.", {"collection"});
  return [&degraded, &quarantined, &tail_cuts, &logger](const store::Collection& c) {
    const std::string& name = c.config().name;
    const auto q = c.quarantined();
    degraded.WithLabels({name}).Set(q.empty() ? 0 : 1);
    quarantined.WithLabels({name}).Set(static_cast<double>(q.size()));
    for (const auto& segment : q) {
      logger.Error("collection degraded")
          .ErrorCode("data_loss")
          .Field("collection", name)
          .Field("segment", segment.file)
          .Field("reason", segment.reason)
          .Field("rows", segment.rows ? static_cast<int64_t>(*segment.rows) : int64_t{-1})
          .Field("action", StrCat("ragline check ", name, "; ragline repair ", name, " (server stopped)"));
    }
    const auto& r = c.recovery_report();
    if (r.tail_cut) {
      tail_cuts.WithLabels({name}).Increment();
      logger.Warn("wal tail cut")
          .Field("collection", name)
          .Field("reason", r.reason)
          .Field("bytes_dropped", r.bytes_dropped);
    }
  };
}

// Opens every collection before serving, so /readyz, /metrics and the log
// describe all of them from the start (and the first query does not pay
// for the load). A collection that fails to open is logged; requests to it
// get the error, the others are served.
void OpenEveryCollection(store::Database& db, obs::Logger& logger) {
  auto names = db.ListCollections();
  if (!names.ok()) return;
  for (const auto& name : *names) {
    auto c = db.GetCollection(name);
    if (!c.ok()) logger.Error("collection unavailable").Field("collection", name).Error(c.status());
  }
}

int RunServe(const ServeFlags& flags, CLI::App* cmd) {
  server::ServerConfig config;
  if (!flags.config_file.empty()) {
    if (Status st = config.MergeFile(flags.config_file); !st.ok()) return Fail(st);
  }
  config.MergeEnvironment();
  auto given = [cmd](const char* name) { return cmd->count(name) > 0; };
  if (given("--data")) config.data_dir = flags.data;
  if (given("--model")) config.model_dir = flags.model;
  if (given("--host")) config.host = flags.host;
  if (given("--port")) config.port = flags.port;
  if (given("--threads")) config.threads = flags.threads;
  if (given("--max-body-bytes")) config.max_body_bytes = flags.max_body_bytes;
  if (given("--shutdown-grace-ms")) config.shutdown_grace_ms = flags.shutdown_grace_ms;
  if (given("--llm-url")) config.llm.url = flags.llm_url;
  if (given("--llm-model")) config.llm.model = flags.llm_model;
  if (given("--log-level")) config.log_level = flags.log_level;
  if (given("--precision")) config.precision = flags.precision;
  if (given("--role")) config.role = flags.role;
  if (given("--shard")) config.shards = flags.shards;
  if (given("--shard-deadline-ms")) config.shard_deadline_ms = flags.shard_deadline_ms;
  if (given("--kafka")) config.kafka = flags.kafka;
  if (given("--topic-prefix")) config.topic_prefix = flags.topic_prefix;
  if (Status st = config.Validate(); !st.ok()) return Fail(st);
  auto level = obs::ParseLogLevel(config.log_level);
  if (!level.ok()) return Fail(StrCat("log level: ", std::string(level.status().message())));

  // SIGINT/SIGTERM set a flag that a watcher thread polls. (A handler rather
  // than sigwait: libraries such as OpenBLAS start threads before main, and
  // any of them may be the one the signal is delivered to.)
  g_stop_signal = 0;
  struct sigaction action {};
  action.sa_handler = [](int sig) { g_stop_signal = sig; };
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  obs::Logger logger(obs::LogDestination::Stderr(), *level);
  obs::MetricsRegistry metrics;
  auto chat = generate::MakeChatClient(config.llm);
  if (!chat.ok()) return Fail(StrCat("LLM: ", std::string(chat.status().message())));

  // A node serves a data directory; a router, the shards' (router/router.h).
  const bool router = config.role == "router";
  std::unique_ptr<store::Database> db;
  std::unique_ptr<router::ShardSet> shards;
  if (router) {
    router::ShardSetOptions shard_options;
    for (const auto& spec : config.shards) {
      auto replicas = router::ShardSetOptions::ParseShard(spec);
      if (!replicas.ok()) return Fail(replicas.status());
      shard_options.shards.push_back(std::move(*replicas));
    }
    shard_options.deadline = std::chrono::milliseconds(config.shard_deadline_ms);
    if (const char* key = std::getenv("RAGLINE_SHARD_API_KEY")) shard_options.api_key = key;
    auto created = router::ShardSet::Create(std::move(shard_options), &metrics);
    if (!created.ok()) return Fail(created.status());
    shards = std::move(*created);
  } else {
    store::DatabaseOptions db_options;
    db_options.on_open = CollectionHealthReporter(metrics, logger);
    auto opened_db = store::Database::Open(*store::Env::Default(), config.data_dir, db_options);
    if (!opened_db.ok()) return Fail(opened_db.status());
    db = std::move(*opened_db);
    OpenEveryCollection(*db, logger);
  }

  ThreadPool embed_pool(0);
  std::unique_ptr<embed::LocalEmbedder> embedder;
  embed::LocalEmbedderOptions model_options;
  model_options.precision = *embed::ParsePrecision(config.precision);  // checked by Validate
  auto opened = OpenModel(config.model_dir, model_options, &embed_pool);
  if (opened.ok()) {
    embedder = std::move(*opened);
    const std::string kernel = embedder->encoder().kernel();
    logger.Info("embedding model loaded")
        .Field("model", embedder->model_id())
        .Field("precision", embed::PrecisionName(embedder->encoder().precision()))
        .Field("kernel", kernel)
        .Field("precision_choice", embedder->encoder().precision_choice());
    metrics.Gauge("rag_encoder_info", "1 for the model and kernel the encoder runs (kernel: fp32 avx512, ...).",
                  {"model", "kernel"})
        .WithLabels({embedder->model_id(), kernel})
        .Set(1);
  } else if (!config.model_dir.empty()) {
    return Fail(StrCat("model: ", std::string(opened.status().message())));
  } else {
    logger.Warn("no embedding model: dense and hybrid text queries will fail; /readyz reports not ready")
        .Error(opened.status());
  }

  server::ServerOptions options;
  options.threads = config.threads;
  options.max_body_bytes = config.max_body_bytes;
  options.max_header_bytes = config.max_header_bytes;
  options.shutdown_grace = std::chrono::milliseconds(config.shutdown_grace_ms);
  options.api_keys = config.api_keys;
  options.request_timeout = std::chrono::milliseconds(config.request_timeout_ms);
  options.max_queued_requests = config.max_queued_requests;
  options.admission = config.Admission();
  options.fallback = {.enabled = config.fallback_enabled,
                      .capacity = config.fallback_capacity,
                      .refresh = std::chrono::milliseconds(config.fallback_refresh_ms),
                      .search_timeout = std::chrono::milliseconds(config.fallback_search_timeout_ms),
                      .breaker = config.search_breaker};
  // Queries' questions go through the batcher; bulk embedding (documents,
  // /v1/embeddings) calls the model directly.
  std::unique_ptr<embed::BatchingEmbedder> batcher;
  embed::Embedder* question_embedder = embedder.get();
  if (embedder && config.question_batching) {
    batcher = std::make_unique<embed::BatchingEmbedder>(*embedder, config.question_batch, &metrics);
    question_embedder = batcher.get();
  }
  server::ServerDeps deps{db.get(), question_embedder, chat->get(), &metrics, &logger, config.data_dir};
  auto srv = std::make_unique<server::Server>(deps, options);
  if (router) {
    router::RouterOptions router_options;
    router_options.kafka = config.kafka;
    router_options.topic_prefix = config.topic_prefix;
    router::RegisterRouterRoutes(*srv, *shards, router_options);
  } else {
    server::RegisterCoreRoutes(*srv);
    server::RegisterShardRoutes(*srv);
    if (embedder) {
      pipeline::IngestOptions ingest;
      ingest.limits = config.ingest;
      server::RegisterDocumentRoutes(*srv, *embedder, ingest);
      server::RegisterEmbeddingsRoutes(*srv, *embedder);
    }
  }
  auto port = srv->Bind(config.host, config.port);
  if (!port.ok()) return Fail(port.status());
  auto compactor = router ? nullptr : StartCompactor(db.get(), srv.get(), config.compaction, metrics, logger);

  std::atomic<bool> done{false};
  std::thread signal_thread([&] {
    while (!done) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const int sig = g_stop_signal;
      if (sig == 0) continue;
      logger.Info("shutting down")
          .Field("signal", sig == SIGINT ? "SIGINT" : "SIGTERM")
          .Field("grace_ms", static_cast<int64_t>(options.shutdown_grace.count()));
      srv->Stop();  // Run drains: in-flight requests finish (or are cancelled after the grace period)
      return;
    }
  });

  std::printf("ragline serving on http://%s:%d\n", config.host.c_str(), *port);
  std::fflush(stdout);
  logger.Info("listening")
      .Field("address", StrCat("http://", config.host, ":", *port))
      .Field("role", config.role)
      .Field("data", router ? StrCat(config.shards.size(), " shards") : config.data_dir)
      .Field("model", embedder ? embedder->model_id() : std::string("none"))
      .Field("llm", config.llm.url.empty() ? std::string("none (extractive answers)") : config.llm.url)
      .Field("threads", config.threads)
      .Field("auth", config.api_keys.empty() ? "open" : "api keys");
  // The built-in synthetic probe asks this server over its own port, as a client would.
  std::thread probe_thread;
  if (config.probe) {
    const std::string self = StrCat("http://", config.host == "0.0.0.0" ? std::string("127.0.0.1") : config.host,
                                    ":", *port);
    probe_thread = std::thread([&, self] { ProbeLoop(self, *config.probe, metrics, logger, &done); });
  }
  Status run = srv->Run();
  done = true;
  if (probe_thread.joinable()) probe_thread.join();
  signal_thread.join();
  compactor.reset();  // waits for a merge in progress
  srv.reset();
  db.reset();  // closes the collections
  logger.Info("stopped");
  if (!run.ok()) return Fail(run);
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, int* rc) {
  auto flags = std::make_shared<ServeFlags>();
  auto* cmd = app.add_subcommand("serve",
                                 "run the HTTP API (docs/server.md); settings: flags > RAGLINE_LLM_* "
                                 "environment > --config file > defaults");
  cmd->add_option("--data", flags->data, "data directory (a node)");
  cmd->add_option("--role", flags->role,
                  "node (serve --data) | router (fan out to --shard index nodes; docs/distributed.md)");
  cmd->add_option(
      "--shard", flags->shards,
      "router: one shard's index nodes, http://HOST:PORT[,http://HOST:PORT...]; repeat per shard");
  cmd->add_option("--shard-deadline-ms", flags->shard_deadline_ms,
                  "router: how long a shard may take to answer, over its replicas (default 2000)");
  cmd->add_option("--kafka", flags->kafka,
                  "router: bootstrap servers; POST .../documents publishes to rag.documents.raw");
  cmd->add_option("--topic-prefix", flags->topic_prefix, "router: put before every topic name");
  cmd->add_option("--model", flags->model, kModelHelp);
  cmd->add_option("--host", flags->host, "listen address (default 127.0.0.1)");
  cmd->add_option("--port", flags->port, "listen port; 0 = any free port (default 8080)");
  cmd->add_option("--config", flags->config_file, "JSON config file (docs/server.md)");
  cmd->add_option("--threads", flags->threads, "HTTP worker threads (default 8)");
  cmd->add_option("--max-body-bytes", flags->max_body_bytes, "largest request body (default 32 MiB)");
  cmd->add_option(
      "--shutdown-grace-ms", flags->shutdown_grace_ms,
      "SIGTERM: how long in-flight requests may finish before they are cancelled (default 10000)");
  cmd->add_option("--llm-url", flags->llm_url, "OpenAI-compatible base URL, e.g. http://127.0.0.1:8081/v1");
  cmd->add_option("--llm-model", flags->llm_model, "model name sent to the LLM server");
  cmd->add_option("--log-level", flags->log_level, "debug | info | warn | error (default info)");
  cmd->add_option(
      "--precision", flags->precision,
      "encoder precision for queries and documents: auto | fp32 | int8 (default auto: int8 where the CPU has a SIMD int8 kernel and it passes a parity check at start-up; docs/embedding.md)");
  cmd->callback([flags, cmd, rc] { *rc = RunServe(*flags, cmd); });
}

}  // namespace ragline::cli
