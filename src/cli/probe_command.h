// `ragline probe`: a synthetic check of a running server (query/probe.h): it
// asks a known question (POST /v1/collections/{c}/query, retrieve only) and
// passes when the reply comes in time, the expected documents are among the
// hits and the best hit's similarity reaches a minimum. Prints one JSON line;
// exit 0 pass, 1 fail.
//
// `ragline serve` runs the same check against itself every interval when its
// config has a "probe" section (ProbeLoop), exported as rag_probe_success,
// rag_probe_similarity, rag_probe_duration_seconds and rag_probe_runs_total.
//
// Thread safety: RunProbe may run on any thread; each call uses its own client.
#pragma once

#include <atomic>
#include <string>

#include "CLI/CLI.hpp"
#include "obs/log.h"
#include "obs/metrics.h"
#include "query/probe.h"

namespace ragline::cli {

// Runs the probe against `server_url` (http://HOST:PORT) with `api_key`
// (empty: $RAGLINE_API_KEY, if set).
query::ProbeResult RunProbe(const std::string& server_url, const std::string& api_key,
                            const query::ProbeSpec& spec);

// Probes every spec.interval until *stop, recording each result in `metrics`
// (label probe="builtin") and logging failures at warn.
void ProbeLoop(const std::string& server_url, const query::ProbeSpec& spec, obs::MetricsRegistry& metrics,
               obs::Logger& logger, const std::atomic<bool>* stop);

// Adds the `probe` subcommand to `app`; its exit code goes to *rc.
void AddProbeCommand(CLI::App& app, int* rc);

}  // namespace ragline::cli
