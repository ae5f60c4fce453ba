// Fallback retrieval for a node (docs/reliability.md "Fallback retrieval"):
// when the store's search fails, its circuit breaker (dependency "search")
// is open, or an operator turned fallback mode on, a query is answered from
// the hot cache (query/hot_cache.h: the most-hit records) and says so:
// "degraded": true, "degraded_reason": "fallback_index". With nothing
// relevant in the cache the answer says the knowledge is limited right now;
// it is never an error.
//
// The breaker counts a search that fails inside the store (Internal,
// DataLoss, Unknown) or that takes longer than `search_timeout` (its hits
// are still used) as a failure. A background thread refreshes the cache
// every `refresh` and saves the hit counts to DATA/hot_cache.json, so a
// restart keeps what was hot.
//
// Routes: GET /v1/admin/fallback (state), PUT /v1/admin/fallback
// {"enabled": bool} (a write key covering "*").
//
// Thread safety: every method may be called from request threads; the
// refresher runs on its own thread until destruction.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "query/hot_cache.h"
#include "query/query.h"
#include "resilience/circuit_breaker.h"
#include "server/server.h"

namespace ragline::server {

class Fallback {
 public:
  // Borrows `server` (its options().fallback, deps, catalog lock); starts the refresher.
  explicit Fallback(Server& server);
  ~Fallback();
  Fallback(const Fallback&) = delete;
  Fallback& operator=(const Fallback&) = delete;

  // Retrieval for one query on `collection` (held under the catalog lock by
  // the caller): the primary search through the breaker, else the hot
  // cache. `extra` gets the degraded fields (and the knowledge-limited
  // answer) when the cache answered. Errors are the request's own (bad
  // filter, no model for a dense query, its deadline).
  Result<query::RetrievedHits> Retrieve(store::Collection& collection, const query::QueryRequest& request,
                                        const query::QueryInstruments& ins, nlohmann::json* extra);

  // The admin routes.
  void RegisterRoutes();
  // Refreshes the cache now and saves the counts (the refresher's step).
  Status Refresh();

 private:
  // nullopt: use the cache (`why` says why).
  Result<std::optional<query::RetrievedHits>> Primary(store::Collection& c,
                                                      const query::QueryRequest& request,
                                                      const query::QueryInstruments& ins, std::string* why);
  void RefreshLoop();

  Server& server_;
  const FallbackOptions options_;
  query::HotCache cache_;
  resilience::CircuitBreaker breaker_;
  std::atomic<bool> forced_;
  obs::CounterFamily* answered_;  // rag_fallback_queries_total{reason}
  obs::GaugeFamily* cached_;      // rag_hot_cache_records{collection}
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread refresher_;
};

}  // namespace ragline::server
