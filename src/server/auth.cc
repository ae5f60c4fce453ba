#include "server/auth.h"

#include <algorithm>
#include <optional>

#include "core/strings.h"

namespace ragline::server {
namespace {

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool Covers(const ApiKey& key, std::string_view collection, bool needs_all) {
  for (const std::string& c : key.collections) {
    if (c == "*") return true;
    if (!needs_all && c == collection) return true;
  }
  return false;
}

}  // namespace

Result<ApiKey> ApiKey::FromJson(const nlohmann::json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("api_keys: each entry must be an object");
  ApiKey k;
  auto key = j.find("key");
  if (key == j.end() || !key->is_string() || key->get<std::string>().empty()) {
    return absl::InvalidArgumentError("api_keys: \"key\" must be a non-empty string");
  }
  k.key = key->get<std::string>();
  std::string scope = "read";
  if (auto s = j.find("scope"); s != j.end()) {
    if (!s->is_string())
      return absl::InvalidArgumentError("api_keys: \"scope\" must be \"read\" or \"write\"");
    scope = s->get<std::string>();
  }
  if (scope == "read") {
    k.scope = Access::kRead;
  } else if (scope == "write") {
    k.scope = Access::kWrite;
  } else {
    return absl::InvalidArgumentError(StrCat("api_keys: unknown scope '", scope, "' (read | write)"));
  }
  if (auto c = j.find("collections"); c != j.end()) {
    if (!c->is_array() || c->empty()) {
      return absl::InvalidArgumentError(
          "api_keys: \"collections\" must be a non-empty array of names or \"*\"");
    }
    for (const auto& name : *c) {
      if (!name.is_string())
        return absl::InvalidArgumentError("api_keys: \"collections\" entries must be strings");
      k.collections.push_back(name.get<std::string>());
    }
  } else {
    k.collections = {"*"};
  }
  for (auto [name, field] : {std::pair{"rate_per_s", &k.rate_per_s}, std::pair{"burst", &k.burst}}) {
    if (auto v = j.find(name); v != j.end()) {
      if (!v->is_number() || v->get<double>() < 0 || v->get<double>() > 1e9) {
        return absl::InvalidArgumentError(StrCat("api_keys: \"", name, "\" must be a number in [0, 1e9]"));
      }
      *field = v->get<double>();
    }
  }
  if (k.burst > 0 && k.rate_per_s == 0) {
    return absl::InvalidArgumentError("api_keys: \"burst\" needs a \"rate_per_s\"");
  }
  return k;
}

Authorizer::Authorizer(std::vector<ApiKey> keys) : keys_(std::move(keys)) {
  for (const ApiKey& k : keys_) {
    buckets_.push_back(k.rate_per_s > 0
                           ? std::make_unique<resilience::TokenBucket>(
                                 k.rate_per_s, k.burst > 0 ? k.burst : std::max(1.0, k.rate_per_s))
                           : nullptr);
  }
}

Result<size_t> Authorizer::FindKey(std::string_view authorization) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() || authorization.substr(0, kBearer.size()) != kBearer) {
    return absl::UnauthenticatedError("missing API key: send \"Authorization: Bearer <key>\"");
  }
  const std::string_view token = authorization.substr(kBearer.size());
  std::optional<size_t> found;
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (ConstantTimeEquals(keys_[i].key, token)) found = i;
  }
  if (!found) return absl::UnauthenticatedError("invalid API key");
  return *found;
}

Status Authorizer::CheckScope(const ApiKey& key, Access access, std::string_view collection) {
  if (access == Access::kWrite && key.scope != Access::kWrite) {
    return absl::PermissionDeniedError("this API key has read scope; the request needs write scope");
  }
  // Reads of collection-less routes (listings) need only a valid key; writes
  // to them need "*".
  const bool needs_all = collection.empty() && access == Access::kWrite;
  if ((!collection.empty() || needs_all) && !Covers(key, collection, needs_all)) {
    return absl::PermissionDeniedError(
        needs_all ? std::string("this API key does not cover all collections (\"*\"), which this request needs")
                  : StrCat("this API key does not cover collection '", collection, "'"));
  }
  return absl::OkStatus();
}

Status Authorizer::Check(std::string_view authorization, Access access, std::string_view collection) const {
  if (keys_.empty() || access == Access::kOpen) return absl::OkStatus();
  ASSIGN_OR_RETURN(const size_t i, FindKey(authorization));
  RETURN_IF_ERROR(CheckScope(keys_[i], access, collection));
  if (resilience::TokenBucket* bucket = buckets_[i].get(); bucket != nullptr) {
    const auto wait = bucket->TryTake();
    if (wait.count() > 0) {
      const int64_t seconds = std::chrono::ceil<std::chrono::seconds>(wait).count();
      return WithRetryAfter(absl::ResourceExhaustedError(StrCat("this API key's rate limit (", bucket->rate(),
                                                                " requests/s, burst ", bucket->burst(),
                                                                ") is used up; retry in ", seconds, " s")),
                            seconds);
    }
  }
  return absl::OkStatus();
}

Status Authorizer::CheckCollection(std::string_view authorization, Access access,
                                   std::string_view collection) const {
  if (keys_.empty() || access == Access::kOpen) return absl::OkStatus();
  ASSIGN_OR_RETURN(const size_t i, FindKey(authorization));
  return CheckScope(keys_[i], access, collection);
}

}  // namespace ragline::server
