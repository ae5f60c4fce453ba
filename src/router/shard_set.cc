#include "router/shard_set.h"

#include <httplib.h>

#include <functional>
#include <future>
#include <optional>
#include <sstream>

#include "core/http_peer.h"
#include "core/strings.h"

namespace ragline::router {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

Status StatusOfReply(int code, const std::string& message) {
  switch (code) {
    case 400:
      return absl::InvalidArgumentError(message);
    case 401:
      return absl::UnauthenticatedError(message);
    case 403:
      return absl::PermissionDeniedError(message);
    case 404:
      return absl::NotFoundError(message);
    case 409:
      return absl::FailedPreconditionError(message);
    case 413:
      return absl::ResourceExhaustedError(message);
    case 504:
      return absl::DeadlineExceededError(message);
    default:
      return absl::UnavailableError(message);
  }
}

}  // namespace

bool ReplicaFault(const Status& st) {
  return absl::IsUnavailable(st) || absl::IsDeadlineExceeded(st) || absl::IsDataLoss(st) ||
         absl::IsInternal(st);
}

Result<std::vector<std::string>> ShardSetOptions::ParseShard(const std::string& spec) {
  std::vector<std::string> replicas;
  std::stringstream ss(spec);
  std::string url;
  while (std::getline(ss, url, ',')) {
    ASSIGN_OR_RETURN(BaseUrl base, SplitBaseUrl(url, "shard"));
    if (!base.path.empty()) {
      return absl::InvalidArgumentError(
          StrCat("shard replica '", url, "': give http://HOST:PORT without a path"));
    }
    replicas.push_back(base.scheme_host_port);
  }
  if (replicas.empty()) return absl::InvalidArgumentError(StrCat("shard '", spec, "' names no replica"));
  return replicas;
}

Result<std::unique_ptr<ShardSet>> ShardSet::Create(ShardSetOptions options, obs::MetricsRegistry* metrics) {
  if (options.shards.empty()) return absl::InvalidArgumentError("a router needs at least one shard");
  for (size_t i = 0; i < options.shards.size(); ++i) {
    if (options.shards[i].empty()) return absl::InvalidArgumentError(StrCat("shard ", i, " has no replica"));
    for (const auto& url : options.shards[i]) RETURN_IF_ERROR(SplitBaseUrl(url, "shard").status());
  }
  if (options.deadline.count() <= 0) return absl::InvalidArgumentError("the shard deadline must be positive");
  return std::unique_ptr<ShardSet>(new ShardSet(std::move(options), metrics));
}

ShardSet::ShardSet(ShardSetOptions options, obs::MetricsRegistry* metrics)
    : options_(std::move(options)), shards_(options_.shards.size()) {
  for (size_t i = 0; i < options_.shards.size(); ++i) {
    for (const auto& url : options_.shards[i]) {
      auto replica = std::make_unique<Replica>();
      replica->url = url;
      replica->breaker =
          std::make_unique<resilience::CircuitBreaker>(StrCat("shard", i, " ", url), options_.breaker);
      shards_[i].replicas.push_back(std::move(replica));
    }
  }
  if (metrics != nullptr) {
    requests_ = &metrics->Counter("rag_router_shard_requests_total",
                                  "Router requests to index nodes by shard and outcome (ok, error, down).",
                                  {"shard", "result"});
  }
}

ShardSet::~ShardSet() = default;

Result<json> ShardSet::Send(const Replica& replica, const std::string& method, const std::string& path,
                            const json* body, Clock::duration budget) const {
  // A pooled keep-alive connection, or a new one.
  std::unique_ptr<httplib::Client> client;
  {
    std::lock_guard<std::mutex> lock(replica.idle_mu);
    if (!replica.idle.empty()) {
      client = std::move(replica.idle.back());
      replica.idle.pop_back();
    }
  }
  if (!client) {
    client = std::make_unique<httplib::Client>(replica.url);
    client->set_keep_alive(true);
    client->set_tcp_nodelay(true);  // small requests: no Nagle wait for the delayed ACK
  }
  const auto us =
      std::max<int64_t>(1000, std::chrono::duration_cast<std::chrono::microseconds>(budget).count());
  client->set_connection_timeout(us / 1'000'000, us % 1'000'000);
  client->set_read_timeout(us / 1'000'000, us % 1'000'000);
  client->set_write_timeout(us / 1'000'000, us % 1'000'000);
  httplib::Headers headers;
  if (!options_.api_key.empty()) headers.emplace("Authorization", "Bearer " + options_.api_key);
  // The node bounds its own work by what is left (a query's deadline, server.h).
  headers.emplace("X-Request-Timeout-Ms", std::to_string(std::max<int64_t>(1, us / 1000)));
  const std::string content = body != nullptr ? body->dump() : "{}";
  httplib::Result res = method == "POST"  ? client->Post(path.c_str(), headers, content, "application/json")
                        : method == "PUT" ? client->Put(path.c_str(), headers, content, "application/json")
                        : method == "DELETE" ? client->Delete(path.c_str(), headers)
                                             : client->Get(path.c_str(), headers);
  if (!res) {
    // The connection is in an unknown state: drop it.
    if (res.error() == httplib::Error::Read || res.error() == httplib::Error::ConnectionTimeout) {
      return absl::DeadlineExceededError(
          StrCat(replica.url, " did not answer within the deadline (", httplib::to_string(res.error()), ")"));
    }
    return absl::UnavailableError(
        StrCat("cannot reach ", replica.url, ": ", httplib::to_string(res.error())));
  }
  {
    std::lock_guard<std::mutex> lock(replica.idle_mu);
    if (replica.idle.size() < 16) replica.idle.push_back(std::move(client));
  }
  if (res->status < 200 || res->status >= 300) {
    return StatusOfReply(res->status,
                         StrCat(replica.url, " answered ", res->status, ": ", PeerErrorMessage(res->body)));
  }
  json parsed = json::parse(res->body, nullptr, false);
  if (parsed.is_discarded()) return absl::DataLossError(StrCat(replica.url, path, ": malformed JSON reply"));
  return parsed;
}

ShardReply ShardSet::Call(size_t shard_index, const std::string& method, const std::string& path,
                          const json* body, const resilience::Deadline& request) const {
  const Shard& shard = shards_.at(shard_index);
  const auto shard_deadline = Clock::now() + options_.deadline;
  // Cut short by the client's deadline, a late replica is not at fault.
  const bool cut_by_request = request.at() < shard_deadline;
  const auto deadline = std::min(shard_deadline, request.at());
  const size_t n = shard.replicas.size();
  const size_t first = shard.next.fetch_add(1, std::memory_order_relaxed);
  // Replicas whose breaker is not open first (in round-robin order), then the others.
  std::vector<const Replica*> order;
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < n; ++i) {
      const Replica* r = shard.replicas[(first + i) % n].get();
      const bool up = r->breaker->state() != resilience::BreakerState::kOpen;
      if (up == (pass == 0)) order.push_back(r);
    }
  }
  ShardReply reply;
  const std::string label = std::to_string(shard_index);
  for (const Replica* r : order) {
    const auto budget = deadline - Clock::now();
    if (budget <= Clock::duration::zero()) break;
    reply.replica = r->url;
    reply.body = Send(*r, method, path, body, budget);
    if (reply.body.ok() || !ReplicaFault(reply.body.status())) {
      r->breaker->Succeeded();
      if (requests_ != nullptr) requests_->WithLabels({label, reply.body.ok() ? "ok" : "error"}).Increment();
      return reply;
    }
    if (cut_by_request && absl::IsDeadlineExceeded(reply.body.status())) {
      if (requests_ != nullptr) requests_->WithLabels({label, "late"}).Increment();
      reply.out_of_time = true;  // the request ran out of time, not the replica
      return reply;
    }
    r->breaker->Failed();
    if (requests_ != nullptr) requests_->WithLabels({label, "down"}).Increment();
  }
  if (reply.replica.empty()) {
    reply.body = absl::DeadlineExceededError(StrCat("shard ", shard_index, ": no time left for any replica"));
    reply.out_of_time = cut_by_request;
  }
  return reply;
}

std::vector<resilience::CircuitBreaker*> ShardSet::breakers() const {
  std::vector<resilience::CircuitBreaker*> out;
  for (const Shard& shard : shards_) {
    for (const auto& r : shard.replicas) out.push_back(r->breaker.get());
  }
  return out;
}

std::vector<ShardReply> ShardSet::FanOut(const std::string& method, const std::string& path, const json* body,
                                         const std::vector<bool>* only,
                                         const resilience::Deadline& request) const {
  std::vector<std::function<ShardReply()>> calls(shards_.size());
  for (size_t i = 0; i < shards_.size(); ++i) {
    if (only != nullptr && !(*only)[i]) continue;
    calls[i] = [this, i, &method, &path, body, &request] { return Call(i, method, path, body, request); };
  }
  return RunAll(std::move(calls));
}

std::vector<ShardReply> ShardSet::FanOutEach(const std::string& path, const std::vector<const json*>& bodies,
                                             const resilience::Deadline& request) const {
  std::vector<std::function<ShardReply()>> calls(shards_.size());
  for (size_t i = 0; i < shards_.size() && i < bodies.size(); ++i) {
    if (bodies[i] == nullptr) continue;
    calls[i] = [this, i, &path, body = bodies[i], &request] { return Call(i, "POST", path, body, request); };
  }
  return RunAll(std::move(calls));
}

std::vector<ShardReply> ShardSet::OnEveryReplica(const std::string& method, const std::string& path,
                                                 const json* body) const {
  std::vector<std::function<ShardReply()>> calls;
  for (const auto& shard : shards_) {
    for (const auto& r : shard.replicas) {
      calls.push_back([this, replica = r.get(), &method, &path, body] {
        return ShardReply{Send(*replica, method, path, body, options_.deadline), replica->url};
      });
    }
  }
  return RunAll(std::move(calls));
}

// Runs the calls at once (the first on this thread); an empty call is "not asked".
std::vector<ShardReply> ShardSet::RunAll(std::vector<std::function<ShardReply()>> calls) {
  std::vector<ShardReply> replies(calls.size());
  std::vector<std::future<ShardReply>> pending(calls.size());
  std::optional<size_t> here;
  for (size_t i = 0; i < calls.size(); ++i) {
    if (!calls[i]) {
      replies[i].body = absl::UnavailableError("not asked");
    } else if (!here) {
      here = i;
    } else {
      pending[i] = std::async(std::launch::async, std::move(calls[i]));
    }
  }
  if (here) replies[*here] = calls[*here]();
  for (size_t i = 0; i < calls.size(); ++i) {
    if (pending[i].valid()) replies[i] = pending[i].get();
  }
  return replies;
}

Result<json> ShardSet::At(const std::string& replica, const std::string& method, const std::string& path,
                          const json* body) const {
  for (const auto& shard : shards_) {
    for (const auto& r : shard.replicas) {
      if (r->url == replica) return Send(*r, method, path, body, options_.deadline);
    }
  }
  return absl::NotFoundError(StrCat("no replica ", replica));
}

}  // namespace ragline::router
