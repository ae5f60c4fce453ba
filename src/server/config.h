// ServerConfig: everything `ragline serve` needs, from a JSON config file,
// the environment and flags.
//
// Precedence (highest first): command-line flags, environment variables
// (RAGLINE_LLM_URL, RAGLINE_LLM_MODEL, RAGLINE_LLM_API_KEY, falling back to
// OPENAI_API_KEY for the key), the config file, built-in defaults.
//
// Config file (every key optional; unknown keys are an error so typos show):
//   {"data": "DIR", "model": "DIR", "host": "127.0.0.1", "port": 8080,
//    "threads": 8, "max_body_bytes": 33554432, "log_level": "info",
//    "llm": {"url": "http://127.0.0.1:8081/v1", "model": "NAME", "api_key": "...",
//            "timeout_ms": 60000, "max_tokens": 512,
//            "breaker": {"fail_max": 5, "reset_timeout_ms": 30000},
//            "retry": {"max_attempts": 2, "initial_backoff_ms": 100, "max_backoff_ms": 2000}},
//    "request_timeout_ms": 60000, "max_queued_requests": 64,
//    "admission": {"max_in_flight": threads/2, "max_queue": threads/4, "max_wait_ms": 2000},
//    "fallback": {"enabled": false, "capacity": 10000, "refresh_ms": 10000, "search_timeout_ms": 1000,
//                 "breaker": {"fail_max": 5, "reset_timeout_ms": 30000}},
//    "api_keys": [{"key": "...", "scope": "read"|"write", "collections": ["*"],
//                  "rate_per_s": 0, "burst": 0}],
//    "compaction": {"min_segments": 4, "max_dead_fraction": 0.2, "min_growing_rows": 1024,
//                   "interval_ms": 5000},
//    "max_header_bytes": 32768, "shutdown_grace_ms": 10000,
//    "ingest": {"max_document_bytes": 16777216, "max_document_chunks": 4096,
//               "max_request_chunks": 8192},
//    "question_batching": {"enabled": true, "workers": 0, "max_batch_tokens": 4096, "window_us": 0},
//    "probe": {"collection": "kb", "question": "...", "expect_docs": ["doc"], "min_similarity": 0.3,
//              "k": 10, "mode": "hybrid", "timeout_ms": 5000, "interval_ms": 30000},
//    "role": "node"|"router", "shards": ["http://h:p[,http://h:p...]", ...],
//    "shard_deadline_ms": 2000, "kafka": "host:port,...", "topic_prefix": "",
//    "workers": {"topic_partitions": 4, "replication": 1, "batch": 64, "host": "127.0.0.1",
//                "chunk_tokens": 256, "overlap": 32, "collection": "", "create": false,
//                "dim": 384}}
// A router (docs/distributed.md) needs "shards" (each entry one shard, its
// replicas separated by commas) and no data directory.
//
// The same file is the cluster's: `ragline worker chunk|embed|index --config
// FILE` reads "kafka", "topic_prefix", "model", "precision" and "workers"
// (the settings every worker of the cluster shares; what differs per process,
// such as --instance, --port, --data and --partitions-of-shard, stays on its
// command line), and flags override the file there too.
//
// Thread safety: plain values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "embed/batching_embedder.h"
#include "generate/llm_config.h"
#include "nlohmann/json.hpp"
#include "pipeline/ingestor.h"
#include "query/probe.h"
#include "resilience/admission.h"
#include "server/auth.h"
#include "store/compactor.h"

namespace ragline::server {

using generate::LlmConfig;

// The workers' part of the cluster config ("workers"; docs/distributed.md).
struct WorkersConfig {
  uint64_t topic_partitions = 4;   // of topics a worker creates
  uint64_t replication = 1;        // of topics a worker creates
  uint64_t batch = 64;             // input messages per transaction (chunks per embedding call)
  uint64_t chunk_tokens = 256;     // chunk workers
  uint64_t overlap = 32;           // chunk workers
  std::string host = "127.0.0.1";  // where a worker's --port listens
  std::string collection;          // index nodes: a collection that must exist at start
  bool create = false;             // index nodes: create `collection` if absent
  uint64_t dim = 384;              // of the collection `create` makes

  Status MergeJson(const nlohmann::json& j);
  Status Validate() const;
};

struct ServerConfig {
  std::string data_dir;               // required unless role is "router"
  std::string role = "node";          // "node": serve a data directory; "router": fan out to "shards"
  std::vector<std::string> shards;    // router: one "URL[,URL...]" per shard (its replicas)
  uint64_t shard_deadline_ms = 2000;  // router: per request to a shard, over its replicas
  std::string kafka;                  // router: bootstrap servers for POST .../documents ("" = no such route)
  std::string topic_prefix;           // router: in front of every topic name
  std::string model_dir;              // empty: the CLI's default model directory
  std::string precision = "auto";     // the encoder's: auto | fp32 | int8 (docs/embedding.md)
  std::string host = "127.0.0.1";
  int port = 8080;     // 0 = any free port
  size_t threads = 8;  // HTTP worker threads
  size_t max_body_bytes = 32u << 20;
  size_t max_header_bytes = 32u << 10;  // request line + headers; larger: 431 (414)
  uint64_t shutdown_grace_ms = 10'000;  // SIGTERM: in-flight requests get this long, then are cancelled
  // docs/reliability.md: a query's deadline when the client gives none; the
  // bound on requests waiting for a worker; admission control of queries.
  uint64_t request_timeout_ms = 60'000;
  uint64_t max_queued_requests = 64;
  // "admission": unset limits follow `threads` (Admission()), so queries
  // never hold every worker.
  std::optional<uint64_t> admission_max_in_flight, admission_max_queue;
  uint64_t admission_max_wait_ms = 2'000;
  // "fallback": the hot-cache fallback index and the store search's breaker.
  bool fallback_enabled = false;
  uint64_t fallback_capacity = 10'000, fallback_refresh_ms = 10'000, fallback_search_timeout_ms = 1'000;
  resilience::BreakerOptions search_breaker;
  // Bounds on POST .../documents (413 naming the bound); max_call_chunks is
  // "max_request_chunks" in the file.
  pipeline::IngestLimits ingest{.max_call_chunks = 8192};
  // "question_batching": concurrent queries' questions share encoder passes
  // (embed/batching_embedder.h; docs/server.md).
  bool question_batching = true;
  embed::BatchingEmbedderOptions question_batch;
  // "probe": the built-in synthetic probe (query/probe.h; docs/operations.md); unset = none.
  std::optional<query::ProbeSpec> probe;
  std::string log_level = "info";
  LlmConfig llm;
  std::vector<ApiKey> api_keys;
  // Background compaction ("compaction": {"min_segments", "max_dead_fraction",
  // "min_growing_rows", "interval_ms"}); min_segments 0 and max_dead_fraction 0
  // turn it off.
  store::CompactorOptions compaction;
  WorkersConfig workers;  // read by `ragline worker`, not by serve

  // Overlays the keys present in `j` onto *this. InvalidArgument names the key.
  Status MergeJson(const nlohmann::json& j);
  // Reads and merges a JSON file.
  Status MergeFile(const std::string& path);
  // Overlays the RAGLINE_LLM_* (and OPENAI_API_KEY) environment variables
  // that are set and non-empty.
  void MergeEnvironment();
  // Checks ranges (port, threads, body size) and that an LLM URL has a model.
  Status Validate() const;
  // Admission control: max_in_flight defaults to threads/2, max_queue to
  // threads/4 (each at least 1).
  resilience::AdmissionOptions Admission() const;
};

}  // namespace ragline::server
