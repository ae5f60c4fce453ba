#include "cli/probe_command.h"

#include <algorithm>
#include <memory>
#include <thread>

#include "cli/api_client.h"
#include "cli/io.h"
#include "core/http_peer.h"
#include "core/strings.h"

namespace ragline::cli {

using nlohmann::json;

query::ProbeResult RunProbe(const std::string& server_url, const std::string& api_key,
                            const query::ProbeSpec& spec) {
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  auto failed = [&](const Status& status) {
    query::ProbeResult r;
    r.reason = std::string(status.message());
    r.seconds = elapsed();
    return r;
  };
  auto client = ApiClient::Create(server_url, api_key);
  if (!client.ok()) return failed(client.status());
  (*client)->set_timeout(spec.timeout);
  const json body = spec.QueryBody();
  auto reply = (*client)->Call("POST", StrCat("/v1/collections/", UrlSegment(spec.collection), "/query"), &body);
  if (!reply.ok()) return failed(reply.status());
  return query::CheckProbeReply(spec, reply->body, elapsed());
}

void ProbeLoop(const std::string& server_url, const query::ProbeSpec& spec, obs::MetricsRegistry& metrics,
               obs::Logger& logger, const std::atomic<bool>* stop) {
  obs::Gauge& success =
      metrics.Gauge("rag_probe_success", "1 if the last synthetic probe passed, else 0.", {"probe"}).WithLabels({"builtin"});
  obs::Gauge& similarity = metrics.Gauge("rag_probe_similarity", "Best hit's similarity in the last synthetic probe.",
                                         {"probe"}).WithLabels({"builtin"});
  obs::Histogram& duration =
      metrics.Histogram("rag_probe_duration_seconds", "Synthetic probe round trip, in seconds.", {"probe"})
          .WithLabels({"builtin"});
  auto& runs = metrics.Counter("rag_probe_runs_total", "Synthetic probes run, by result (pass, fail).",
                               {"probe", "result"});
  runs.WithLabels({"builtin", "pass"});
  runs.WithLabels({"builtin", "fail"});
  const std::string api_key = std::getenv("RAGLINE_PROBE_API_KEY") ? std::getenv("RAGLINE_PROBE_API_KEY") : "";
  while (!stop->load()) {
    const query::ProbeResult r = RunProbe(server_url, api_key, spec);
    success.Set(r.ok ? 1 : 0);
    similarity.Set(r.similarity);
    duration.Observe(r.seconds);
    runs.WithLabels({"builtin", r.ok ? "pass" : "fail"}).Increment();
    if (!r.ok) logger.Warn("synthetic probe failed").Field("reason", r.reason).Field("collection", spec.collection);
    for (auto waited = std::chrono::milliseconds(0); waited < spec.interval && !stop->load();
         waited += std::chrono::milliseconds(50)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

void AddProbeCommand(CLI::App& app, int* rc) {
  struct Args {
    std::string server, api_key;
    query::ProbeSpec spec;  // its defaults are the flags' defaults
    uint64_t timeout_ms = static_cast<uint64_t>(spec.timeout.count());
  };
  auto args = std::make_shared<Args>();
  query::ProbeSpec& spec = args->spec;
  auto* cmd = app.add_subcommand("probe",
                                 "synthetic check of a running server: ask a known question, expect documents and a "
                                 "minimum similarity; one JSON line, exit 0 pass / 1 fail");
  cmd->add_option("--server", args->server, "http://HOST:PORT of `ragline serve`")->required();
  cmd->add_option("--collection", spec.collection, "collection or alias to ask")->required();
  cmd->add_option("--question", spec.question, "the question")->required();
  cmd->add_option("--expect-doc", spec.expect_docs, "a document id the hits must contain (repeatable)");
  cmd->add_option("--min-similarity", spec.min_similarity, "the best hit's similarity must reach this (default 0)")
      ->check(CLI::Range(-1.0, 1.0));
  cmd->add_option("--k", spec.k, "hits to ask for (default 10)")->check(CLI::Range(uint64_t{1}, uint64_t{1000}));
  cmd->add_option("--mode", spec.mode, "hybrid | dense | lexical (default hybrid)")
      ->check(CLI::IsMember({"hybrid", "dense", "lexical"}));
  cmd->add_option("--timeout-ms", args->timeout_ms, "fail when the reply takes longer (default 5000)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{3'600'000}));
  cmd->add_option("--api-key", args->api_key, "API key (default $RAGLINE_API_KEY)");
  cmd->callback([args, rc] {
    args->spec.timeout = std::chrono::milliseconds(args->timeout_ms);
    const query::ProbeResult r = RunProbe(args->server, args->api_key, args->spec);
    PrintJson(r.ToJson());
    *rc = r.ok ? 0 : 1;
  });
}

}  // namespace ragline::cli
