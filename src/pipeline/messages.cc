#include "pipeline/messages.h"

#include <cstdio>

#include "absl/strings/escaping.h"
#include "core/json_fields.h"
#include "core/strings.h"

namespace ragline::pipeline {

Result<SourceDocument> SourceDocument::FromJson(const nlohmann::json& j, std::string_view where,
                                                std::string_view default_source) {
  using nlohmann::json;
  if (!j.is_object()) return absl::InvalidArgumentError(StrCat(where, ": must be a JSON object"));
  RETURN_IF_ERROR(RefuseUnknownFields(
      j, {"id", "text", "content_base64", "content_type", "metadata", "version", "source"}, where));
  SourceDocument doc;
  auto id = j.find("id");
  if (id == j.end() || !id->is_string() || id->get<std::string>().empty()) {
    return absl::InvalidArgumentError(StrCat(where, ": missing \"id\" (a non-empty string)"));
  }
  doc.id = id->get<std::string>();
  const bool has_text = j.contains("text"), has_b64 = j.contains("content_base64");
  if (has_text == has_b64)
    return absl::InvalidArgumentError(StrCat(where, ": give either \"text\" or \"content_base64\""));
  if (has_text) {
    if (!j["text"].is_string())
      return absl::InvalidArgumentError(StrCat(where, ": \"text\" must be a string"));
    doc.content = j["text"].get<std::string>();
    doc.content_type = "text/plain";
  } else {
    if (!j["content_base64"].is_string()) {
      return absl::InvalidArgumentError(StrCat(where, ": \"content_base64\" must be a string"));
    }
    const std::string b64 = j["content_base64"].get<std::string>();
    if (!absl::Base64Unescape(absl::string_view(b64.data(), b64.size()), &doc.content)) {
      return absl::InvalidArgumentError(StrCat(where, ": \"content_base64\" is not valid base64"));
    }
  }
  if (j.contains("content_type")) {
    if (!j["content_type"].is_string()) {
      return absl::InvalidArgumentError(StrCat(where, ": \"content_type\" must be a string"));
    }
    doc.content_type = j["content_type"].get<std::string>();
  } else if (has_b64) {
    return absl::InvalidArgumentError(StrCat(where, ": \"content_base64\" needs a \"content_type\""));
  }
  if (j.contains("metadata") && !j["metadata"].is_null()) {
    if (!j["metadata"].is_object())
      return absl::InvalidArgumentError(StrCat(where, ": \"metadata\" must be an object"));
    doc.metadata = j["metadata"];
  }
  if (j.contains("version") && !j["version"].is_null()) {
    const auto v = JsonUnsigned(j["version"]);
    if (!v) return absl::InvalidArgumentError(StrCat(where, ": \"version\" must be a non-negative integer"));
    doc.version = *v;
  }
  doc.source = std::string(default_source);
  if (auto source = j.find("source"); source != j.end() && !source->is_null()) {
    if (!source->is_string())
      return absl::InvalidArgumentError(StrCat(where, ": \"source\" must be a string"));
    doc.source = source->get<std::string>();
  }
  return doc;
}

std::string ContentHash(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string ChunkId(std::string_view doc_id, size_t ordinal) { return StrCat(doc_id, "#", ordinal); }

}  // namespace ragline::pipeline
