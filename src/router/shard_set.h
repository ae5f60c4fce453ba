// ShardSet: the index nodes behind a router (docs/distributed.md), as shards
// each served by one or more replicas (index nodes reading the same
// partitions), and the calls the router makes to them.
//
// FanOut sends one request to every shard at once. Per shard it asks one
// replica (round robin over those whose circuit breaker is not open, then
// the open ones as a last resort); a replica that cannot be reached,
// answers 5xx or misses the deadline counts as a failure of its breaker
// (resilience/circuit_breaker.h, dependency "shard N URL"; by default open
// after one failure for 2 s) and the shard's next replica is asked while the
// deadline lasts. An answer closes the breaker again.
// Connections are kept alive and reused (up to 16 idle per replica).
// A shard whose every replica failed comes back as Unavailable or
// DeadlineExceeded: the caller answers without it (partial). A 4xx is the
// request's fault, not the replica's: it comes back as its status (400 ->
// InvalidArgument, 404 -> NotFound, ...) without trying other replicas.
//
// Ownership: owns its options; borrows `metrics` (may be null), which must
// outlive it.
//
// Thread safety: FanOut, FanOutEach, Call and Get may run concurrently (replica state
// is atomic).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "nlohmann/json.hpp"
#include "obs/metrics.h"
#include "resilience/circuit_breaker.h"
#include "resilience/deadline.h"

namespace httplib {
class Client;
}

namespace ragline::router {

struct ShardSetOptions {
  // shards[i]: the base URLs (http://host:port) of shard i's replicas.
  std::vector<std::vector<std::string>> shards;
  std::chrono::milliseconds deadline{2000};  // per request, over all of a shard's replicas
  // Per replica: open after fail_max failures in a row; while open, the
  // replica is asked only after the shard's others failed.
  resilience::BreakerOptions breaker{.fail_max = 1, .reset_timeout = std::chrono::milliseconds(2000)};
  std::string api_key;  // sent to index nodes as a Bearer token; "" = none

  // Parses "URL[,URL...]" (one shard, its replicas). InvalidArgument naming the bad URL.
  static Result<std::vector<std::string>> ParseShard(const std::string& spec);
};

struct ShardReply {
  Result<nlohmann::json> body = absl::UnknownError("not called");
  std::string replica;       // the URL that answered (or the last one tried)
  bool out_of_time = false;  // the request's deadline, not the shard's, cut the call short
};

// The replica, not the request, is at fault (unreachable, 5xx, late,
// malformed reply): the shard counts as missing when no replica answers.
bool ReplicaFault(const Status& status);

class ShardSet {
 public:
  // InvalidArgument without shards, with a shard without replicas or a bad URL.
  static Result<std::unique_ptr<ShardSet>> Create(ShardSetOptions options, obs::MetricsRegistry* metrics);
  ~ShardSet();

  size_t size() const { return shards_.size(); }
  const ShardSetOptions& options() const { return options_; }

  // `method` "GET", "POST", "PUT" or "DELETE" (`body` sent as JSON; null = none) on every shard
  // at once; replies in shard order. Returns once every shard has answered or
  // failed, within about the deadline.
  // `only`: the shards to call (null = all); the others come back
  // Unavailable ("not asked").
  // `request`: the client request's own deadline (a query's, server.h):
  // each shard gets the earlier of it and the shard deadline, and is told
  // what is left in X-Request-Timeout-Ms. A replica cut off by the request's
  // deadline rather than the shard's is not counted against its breaker.
  std::vector<ShardReply> FanOut(const std::string& method, const std::string& path,
                                 const nlohmann::json* body, const std::vector<bool>* only = nullptr,
                                 const resilience::Deadline& request = resilience::Deadline::Never()) const;
  // POSTs each shard its own body (null: that shard is not asked).
  std::vector<ShardReply> FanOutEach(
      const std::string& path, const std::vector<const nlohmann::json*>& bodies,
      const resilience::Deadline& request = resilience::Deadline::Never()) const;
  // The same on one shard.
  ShardReply Call(size_t shard, const std::string& method, const std::string& path,
                  const nlohmann::json* body,
                  const resilience::Deadline& request = resilience::Deadline::Never()) const;
  // `method` ("GET", "POST", "PUT", "DELETE") on every replica of every shard
  // at once, each within the deadline (no failover, no marking): catalog
  // changes, which every index node makes. Replies in shard, then replica order.
  std::vector<ShardReply> OnEveryReplica(const std::string& method, const std::string& path,
                                         const nlohmann::json* body) const;
  // One request to one replica (no failover, no marking): status pages, undoing a catalog change.
  Result<nlohmann::json> At(const std::string& replica, const std::string& method, const std::string& path,
                            const nlohmann::json* body = nullptr) const;
  Result<nlohmann::json> Get(const std::string& replica, const std::string& path) const {
    return At(replica, "GET", path);
  }
  // Every replica's breaker (for metrics and /readyz), shard by shard.
  std::vector<resilience::CircuitBreaker*> breakers() const;

 private:
  struct Replica {
    std::string url;
    std::unique_ptr<resilience::CircuitBreaker> breaker;  // thread-safe
    // Idle keep-alive connections (a client serves one call at a time).
    mutable std::mutex idle_mu;
    mutable std::vector<std::unique_ptr<httplib::Client>> idle;  // GUARDED_BY(idle_mu)
  };
  struct Shard {
    std::vector<std::unique_ptr<Replica>> replicas;
    mutable std::atomic<size_t> next{0};
  };
  ShardSet(ShardSetOptions options, obs::MetricsRegistry* metrics);
  static std::vector<ShardReply> RunAll(std::vector<std::function<ShardReply()>> calls);
  Result<nlohmann::json> Send(const Replica& replica, const std::string& method, const std::string& path,
                              const nlohmann::json* body, std::chrono::steady_clock::duration budget) const;

  ShardSetOptions options_;
  std::vector<Shard> shards_;
  obs::CounterFamily* requests_ = nullptr;  // rag_router_shard_requests_total{shard,result}
};

}  // namespace ragline::router
