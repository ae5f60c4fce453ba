// API keys and their scopes.
//
// A key has a scope (read | write) and the collections it covers (names or
// aliases as they appear in the URL, or "*" for all). A write key may also
// read. Requests carry "Authorization: Bearer KEY" (or "Api-Key: KEY", as
// Pinecone's clients send it: Server reads it as the same).
//
//   read  = GET requests and the search/query POSTs
//   write = everything else (create/drop, upserts, deletes, aliases)
//
// Routes that name no collection (GET /v1/collections, GET /v1/aliases) need
// any key with read scope; changes to them (POST /v1/collections, alias
// PUT/DELETE) need a write key covering "*". With no keys configured every
// request is allowed. Health and metrics endpoints are always open.
//
// Keys are compared in constant time per candidate.
//
// A key may carry a request rate limit ("rate_per_s", "burst"): a token
// bucket per key; a request beyond it gets ResourceExhausted with a
// Retry-After (429), before its handler runs.
//
// Thread safety: the keys are immutable after construction; the buckets lock
// internally. Check may run from any thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "nlohmann/json.hpp"
#include "resilience/token_bucket.h"

namespace ragline::server {

enum class Access { kOpen, kRead, kWrite };

struct ApiKey {
  std::string key;
  Access scope = Access::kRead;          // kRead or kWrite
  std::vector<std::string> collections;  // names/aliases, or "*"
  double rate_per_s = 0;                 // requests per second; 0 = no limit
  double burst = 0;                      // requests at once above the rate; 0 = max(1, rate_per_s)

  // {"key": "...", "scope": "read"|"write", "collections": ["*"],
  //  "rate_per_s": 10, "burst": 20} (collections defaults to ["*"], no
  // rate to no limit). InvalidArgument says what is wrong.
  static Result<ApiKey> FromJson(const nlohmann::json& j);
};

class Authorizer {
 public:
  explicit Authorizer(std::vector<ApiKey> keys);

  bool enabled() const { return !keys_.empty(); }

  // OK when `authorization` (the header's value, possibly empty) grants
  // `access` on `collection` (empty = a route that names no collection).
  // Unauthenticated: no or unknown key; PermissionDenied: outside its scope;
  // ResourceExhausted with Retry-After: over the key's rate.
  Status Check(std::string_view authorization, Access access, std::string_view collection) const;
  // The scope part of Check alone (no rate taken): for a route whose
  // collection is in its body, which Check already admitted as a
  // collection-less read.
  Status CheckCollection(std::string_view authorization, Access access, std::string_view collection) const;

 private:
  Result<size_t> FindKey(std::string_view authorization) const;  // index into keys_
  static Status CheckScope(const ApiKey& key, Access access, std::string_view collection);

  std::vector<ApiKey> keys_;
  std::vector<std::unique_ptr<resilience::TokenBucket>> buckets_;  // per key; null: no limit
};

}  // namespace ragline::server
