#include "pipeline/chunk_payload.h"

#include "core/json_fields.h"
#include "core/strings.h"

namespace ragline::pipeline {

using nlohmann::json;

json ChunkPayload::ToJson() const {
  json j = {{"doc_id", doc_id},
            {"title", title},
            {"source", source},
            {"content_type", content_type},
            {"content_hash", content_hash},
            {"fingerprint", fingerprint},
            {"chunk_count", chunk_count},
            {"extracted", extracted},
            {"metadata", metadata},
            {"text", text},
            {"ordinal", ordinal},
            {"offsets", {begin, end}},
            {"token_count", token_count},
            {"heading_path", heading_path}};
  if (!root.empty()) j["root"] = root;
  if (page > 0) j["page"] = page;
  return j;
}

namespace {

Status Missing(const char* key, const char* type) {
  return absl::InvalidArgumentError(StrCat("not a chunk payload: \"", key, "\" is not ", type));
}

Status ReadString(const json& j, const char* key, std::string* out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return Missing(key, "a string");
  *out = it->get<std::string>();
  return absl::OkStatus();
}

template <typename T>
Status ReadUnsigned(const json& j, const char* key, T* out) {
  auto it = j.find(key);
  const std::optional<uint64_t> v = it == j.end() ? std::nullopt : JsonUnsigned(*it);
  if (!v) return Missing(key, "a non-negative integer");
  *out = static_cast<T>(*v);
  return absl::OkStatus();
}

Status ReadObject(const json& j, const char* key, json* out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_object()) return Missing(key, "an object");
  *out = *it;
  return absl::OkStatus();
}

}  // namespace

Result<ChunkPayload> ChunkPayload::FromJson(const json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("not a chunk payload: not a JSON object");
  ChunkPayload p;
  RETURN_IF_ERROR(ReadString(j, "doc_id", &p.doc_id));
  RETURN_IF_ERROR(ReadString(j, "title", &p.title));
  RETURN_IF_ERROR(ReadString(j, "source", &p.source));
  RETURN_IF_ERROR(ReadString(j, "content_type", &p.content_type));
  RETURN_IF_ERROR(ReadString(j, "content_hash", &p.content_hash));
  RETURN_IF_ERROR(ReadString(j, "fingerprint", &p.fingerprint));
  RETURN_IF_ERROR(ReadUnsigned(j, "chunk_count", &p.chunk_count));
  RETURN_IF_ERROR(ReadObject(j, "extracted", &p.extracted));
  RETURN_IF_ERROR(ReadObject(j, "metadata", &p.metadata));
  RETURN_IF_ERROR(ReadString(j, "text", &p.text));
  RETURN_IF_ERROR(ReadUnsigned(j, "ordinal", &p.ordinal));
  auto offsets = j.find("offsets");
  if (offsets == j.end() || !offsets->is_array() || offsets->size() != 2 || !JsonUnsigned((*offsets)[0]) ||
      !JsonUnsigned((*offsets)[1])) {
    return Missing("offsets", "[begin, end]");
  }
  p.begin = *JsonUnsigned((*offsets)[0]);
  p.end = *JsonUnsigned((*offsets)[1]);
  RETURN_IF_ERROR(ReadUnsigned(j, "token_count", &p.token_count));
  RETURN_IF_ERROR(ReadString(j, "heading_path", &p.heading_path));
  if (j.contains("root")) RETURN_IF_ERROR(ReadString(j, "root", &p.root));
  if (j.contains("page")) RETURN_IF_ERROR(ReadUnsigned(j, "page", &p.page));
  return p;
}

}  // namespace ragline::pipeline
