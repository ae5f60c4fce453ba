#include "store/record_json.h"

#include <chrono>
#include <cmath>
#include <string>

#include "core/json_fields.h"
#include "core/strings.h"

namespace ragline::store {

using nlohmann::json;

namespace {

std::string Prefix(std::string_view where) { return where.empty() ? std::string() : StrCat(where, ": "); }

}  // namespace

Result<std::vector<float>> VectorFromJson(const json& v, size_t dim, std::string_view where) {
  const std::string at = Prefix(where);
  if (!v.is_array()) return absl::InvalidArgumentError(StrCat(at, "\"vector\" must be an array of numbers"));
  if (v.size() != dim) {
    return absl::InvalidArgumentError(
        StrCat(at, "vector has ", v.size(), " dimensions, the collection expects ", dim));
  }
  std::vector<float> out(dim);
  for (size_t i = 0; i < dim; ++i) {
    if (!v[i].is_number()) return absl::InvalidArgumentError(StrCat(at, "vector[", i, "] is not a number"));
    const double x = v[i].get<double>();
    if (!std::isfinite(x) || std::fabs(x) > 3.4e38) {
      return absl::InvalidArgumentError(StrCat(at, "vector[", i, "] is not a finite float"));
    }
    out[i] = static_cast<float>(x);
  }
  return out;
}

Result<Record> RecordFromJson(const json& j, size_t dim, std::string_view where) {
  if (!j.is_object()) return absl::InvalidArgumentError(StrCat(Prefix(where), "expected a JSON object"));
  RETURN_IF_ERROR(RefuseUnknownFields(j, {"id", "version", "vector", "payload"}, where));
  Record r;
  auto id = j.find("id");
  if (id == j.end() || !id->is_string() || id->get<std::string>().empty()) {
    return absl::InvalidArgumentError(StrCat(Prefix(where), "missing \"id\" (a non-empty string)"));
  }
  r.id = id->get<std::string>();
  const std::string at = StrCat(where, where.empty() ? "" : " ", "(id '", r.id, "')");
  auto version = j.find("version");
  if (version == j.end() || version->is_null()) {
    r.version = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  } else if (const auto v = JsonUnsigned(*version)) {
    r.version = *v;
  } else {
    return absl::InvalidArgumentError(StrCat(at, ": \"version\" must be a non-negative integer"));
  }
  auto vec = j.find("vector");
  if (vec == j.end()) return absl::InvalidArgumentError(StrCat(at, ": missing \"vector\""));
  ASSIGN_OR_RETURN(r.vector, VectorFromJson(*vec, dim, at));
  auto payload = j.find("payload");
  if (payload == j.end() || payload->is_null()) {
    r.payload = "{}";
  } else if (payload->is_object()) {
    r.payload = payload->dump();
  } else {
    return absl::InvalidArgumentError(StrCat(at, ": \"payload\" must be a JSON object"));
  }
  return r;
}

Status ApplyIndexParamsJson(const nlohmann::json& params, index::IndexParams* out) {
  if (!params.is_object()) return absl::InvalidArgumentError("index parameters must be an object");
  for (const auto& [key, value] : params.items()) {
    const auto v = JsonUnsigned(value);
    if (!v) {
      return absl::InvalidArgumentError(StrCat("index parameter '", key, "' must be a non-negative integer"));
    }
    RETURN_IF_ERROR(out->Set(key, std::to_string(*v)));
  }
  return absl::OkStatus();
}

Status ApplyIndexJson(const nlohmann::json& v, CollectionConfig* config) {
  const nlohmann::json* params = nullptr;
  std::string kind;
  if (v.is_string()) {
    kind = v.get<std::string>();
  } else if (v.is_object() && v.contains("kind") && v["kind"].is_string()) {
    RETURN_IF_ERROR(RefuseUnknownFields(v, {"kind", "params"}, "\"index\""));
    kind = v["kind"].get<std::string>();
    if (v.contains("params")) params = &v["params"];
  } else {
    return absl::InvalidArgumentError(
        "\"index\" must be \"flat\", \"hnsw\", \"ivf_pq\" or {\"kind\", \"params\"}");
  }
  ASSIGN_OR_RETURN(config->index_kind, index::ParseIndexKind(kind));
  if (params == nullptr) return absl::OkStatus();
  if (!params->is_object()) return absl::InvalidArgumentError("\"index.params\" must be an object");
  return ApplyIndexParamsJson(*params, &config->index_params);
}

}  // namespace ragline::store
