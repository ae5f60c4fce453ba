// A synthetic probe of the query service (docs/operations.md): a known
// question, the documents its hits must contain and the similarity the best
// hit must reach. `ragline probe` sends it to a server; `ragline serve` runs it
// against itself periodically (config "probe"). This file holds what both
// share: the spec, its config parser, the request body and the verdict on a
// reply.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "nlohmann/json.hpp"

namespace ragline::query {

struct ProbeSpec {
  std::string collection;                // collection or alias
  std::string question;
  std::vector<std::string> expect_docs;  // each must be a hit's doc_id (or id)
  double min_similarity = 0;             // of the best hit
  uint64_t k = 10;
  std::string mode = "hybrid";
  std::chrono::milliseconds timeout{5000};
  std::chrono::milliseconds interval{30000};  // the server's built-in probe

  // From a config's "probe" object: "collection", "question" (required),
  // "expect_docs", "min_similarity", "k", "mode", "timeout_ms", "interval_ms".
  // InvalidArgument names the key.
  static Result<ProbeSpec> FromJson(const nlohmann::json& j);
  // The POST /v1/collections/{collection}/query body (retrieve only).
  nlohmann::json QueryBody() const;
};

struct ProbeResult {
  bool ok = false;
  std::string reason;  // why it failed ("" when ok)
  double similarity = 0;
  double seconds = 0;
  nlohmann::json ToJson() const;
};

// The verdict on a query reply that took `seconds`.
ProbeResult CheckProbeReply(const ProbeSpec& spec, const nlohmann::json& reply, double seconds);

}  // namespace ragline::query
