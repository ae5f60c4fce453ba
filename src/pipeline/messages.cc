#include "pipeline/messages.h"

#include <cmath>
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
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(Fnv1a64(bytes)));
  return buf;
}

std::string ChunkId(std::string_view doc_id, size_t ordinal) { return StrCat(doc_id, "#", ordinal); }

namespace {

using nlohmann::json;

Status Bad(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(StrCat("\"", field, "\" ", what));
}

}  // namespace

json RawDocumentToJson(const RawDocument& raw) {
  const SourceDocument& d = raw.doc;
  json j = {{"id", d.id}, {"metadata", d.metadata}, {"source", d.source}, {"content_type", d.content_type}};
  if (d.content_type == "text/plain") {
    j["text"] = d.content;
  } else {
    j["content_base64"] = absl::Base64Escape(absl::string_view(d.content.data(), d.content.size()));
  }
  if (d.version) j["version"] = *d.version;
  if (!raw.root.empty()) j["root"] = raw.root;
  if (!raw.collection.empty()) j["collection"] = raw.collection;
  return j;
}

Result<RawDocument> RawDocumentFromJson(const json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("not a JSON object");
  json fields = j;
  RawDocument raw;
  if (auto root = j.find("root"); root != j.end()) {
    if (!root->is_string()) return Bad("root", "must be a string");
    raw.root = root->get<std::string>();
    fields.erase("root");
  }
  auto collection = j.find("collection");
  if (collection == j.end() || !collection->is_string() ||
      collection->get_ref<const std::string&>().empty()) {
    return Bad("collection", "must be a non-empty string");
  }
  raw.collection = collection->get<std::string>();
  fields.erase("collection");
  ASSIGN_OR_RETURN(raw.doc, SourceDocument::FromJson(fields, "document", ""));
  return raw;
}

json ChunkMessageToJson(const ChunkMessage& m) {
  json j = m.chunk.ToJson();
  j["version"] = m.version;
  if (!m.collection.empty()) j["collection"] = m.collection;
  return j;
}

Result<ChunkMessage> ChunkMessageFromJson(const json& j) {
  ChunkMessage m;
  auto version = j.is_object() ? j.find("version") : j.end();
  const std::optional<uint64_t> v = version == j.end() ? std::nullopt : JsonUnsigned(*version);
  if (!v) return Bad("version", "must be a non-negative integer");
  m.version = *v;
  ASSIGN_OR_RETURN(m.chunk, ChunkPayload::FromJson(j));
  if (auto collection = j.find("collection"); collection != j.end()) {
    if (!collection->is_string()) return Bad("collection", "must be a string");
    m.collection = collection->get<std::string>();
  }
  if (m.chunk.doc_id.empty()) return Bad("doc_id", "must not be empty");
  if (m.chunk.chunk_count > 0 && m.chunk.ordinal >= m.chunk.chunk_count) {
    return Bad("ordinal", StrCat("is ", m.chunk.ordinal, ", past chunk_count ", m.chunk.chunk_count));
  }
  return m;
}

json EmbeddedChunkToJson(const EmbeddedChunk& e, uint64_t timestamp_ms) {
  json j = ChunkMessageToJson(e.message);
  j.erase("collection");
  j["vector_store"] = e.message.collection;
  j["timestamp"] = timestamp_ms;
  if (!e.error.empty()) {
    j["error"] = e.error;
  } else {
    j["embedding"] = e.embedding;
  }
  return j;
}

Result<EmbeddedChunk> EmbeddedChunkFromJson(const json& j, size_t dim) {
  EmbeddedChunk e;
  ASSIGN_OR_RETURN(e.message, ChunkMessageFromJson(j));
  std::optional<std::string> collection = UpsertCollection(j);
  if (!collection || collection->empty()) return Bad("vector_store", "must be a non-empty string");
  e.message.collection = std::move(*collection);
  auto error = j.find("error");
  auto embedding = j.find("embedding");
  if ((error == j.end()) == (embedding == j.end()))
    return Bad("embedding", "or \"error\" is required, not both");
  if (error != j.end()) {
    if (!error->is_string() || error->get_ref<const std::string&>().empty()) {
      return Bad("error", "must be a non-empty string");
    }
    e.error = error->get<std::string>();
    return e;
  }
  const size_t expected = e.message.chunk.chunk_count == 0 ? 0 : dim;  // a chunkless document has none
  if (!embedding->is_array() || embedding->size() != expected) {
    return Bad("embedding", StrCat("must be an array of ", expected, " numbers"));
  }
  e.embedding.reserve(expected);
  for (const json& x : *embedding) {
    if (!x.is_number()) return Bad("embedding", "must hold numbers only");
    const double v = x.get<double>();
    if (!std::isfinite(v)) return Bad("embedding", "must hold finite numbers");
    e.embedding.push_back(static_cast<float>(v));
  }
  return e;
}

std::optional<std::string> UpsertCollection(const json& j) {
  auto it = j.is_object() ? j.find("vector_store") : j.end();
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace ragline::pipeline
