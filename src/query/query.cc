#include "query/query.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "core/json_fields.h"
#include "core/strings.h"
#include "index/distance.h"
#include "obs/stage_timer.h"
#include "pipeline/chunk_payload.h"

namespace ragline::query {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxTimeoutMs = 3'600'000;

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t j = 1; j < len; ++j) {
      const unsigned char cc = static_cast<unsigned char>(s[i + j]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

std::string StringField(const json& payload, const char* key) {
  if (!payload.is_object()) return {};
  auto it = payload.find(key);
  return it != payload.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Result<QueryRequest> QueryRequest::FromJson(const json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("request body must be a JSON object");
  RETURN_IF_ERROR(
      RefuseUnknownFields(j, {"query", "k", "mode", "filter", "generate", "stream", "min_similarity", "timeout_ms"},
                          ""));
  QueryRequest r;
  auto q = j.find("query");
  if (q == j.end() || !q->is_string()) return absl::InvalidArgumentError("\"query\" (a string) is required");
  r.question = q->get<std::string>();
  if (r.question.find_first_not_of(" \t\r\n") == std::string::npos) {
    return absl::InvalidArgumentError("\"query\" must not be empty");
  }
  if (!ValidUtf8(r.question)) return absl::InvalidArgumentError("\"query\" is not valid UTF-8");
  if (auto k = j.find("k"); k != j.end() && !k->is_null()) {
    const auto value = JsonUnsigned(*k);
    if (!value || *value == 0 || *value > 1000)
      return absl::InvalidArgumentError("\"k\" must be an integer in [1, 1000]");
    r.k = static_cast<size_t>(*value);
  }
  if (auto m = j.find("mode"); m != j.end() && !m->is_null()) {
    if (!m->is_string())
      return absl::InvalidArgumentError("\"mode\" must be \"dense\", \"lexical\" or \"hybrid\"");
    auto mode = search::ParseMode(m->get<std::string>());
    if (!mode.ok())
      return absl::InvalidArgumentError(StrCat("\"mode\": ", std::string(mode.status().message())));
    r.mode = *mode;
  }
  if (auto f = j.find("filter"); f != j.end() && !f->is_null()) {
    auto filter = store::PayloadFilter::Parse(*f);
    if (!filter.ok())
      return absl::InvalidArgumentError(StrCat("\"filter\": ", std::string(filter.status().message())));
    r.filter = std::move(*filter);
  }
  ASSIGN_OR_RETURN(r.generate, OptionalFlag(j, "generate", r.generate));
  ASSIGN_OR_RETURN(r.stream, OptionalFlag(j, "stream", r.stream));
  if (auto m = j.find("min_similarity"); m != j.end() && !m->is_null()) {
    if (!m->is_number() || m->get<double>() < -1 || m->get<double>() > 1)
      return absl::InvalidArgumentError("\"min_similarity\" must be a number in [-1, 1]");
    r.min_similarity = m->get<double>();
  }
  if (auto t = j.find("timeout_ms"); t != j.end() && !t->is_null()) {
    const auto value = JsonUnsigned(*t);
    if (!value || *value == 0 || *value > kMaxTimeoutMs)
      return absl::InvalidArgumentError(
          StrCat("\"timeout_ms\" must be an integer in [1, ", kMaxTimeoutMs, "]"));
    r.timeout = std::chrono::milliseconds(*value);
  }
  return r;
}

HitFields HitFields::Of(const json& payload, const std::string& text_field) {
  HitFields f;
  if (auto chunk = pipeline::ChunkPayload::FromJson(payload); chunk.ok()) {
    f.doc_id = std::move(chunk->doc_id);
    f.text = std::move(chunk->text);
    f.offsets = {chunk->begin, chunk->end};
    f.metadata = std::move(chunk->metadata);
    f.title = std::move(chunk->title);
    if (f.title.empty()) f.title = StringField(f.metadata, "title");
    f.source = std::move(chunk->source);
    f.heading_path = std::move(chunk->heading_path);
    f.page = chunk->page;
    return f;
  }
  // Not a chunk the pipeline wrote (the vectors API): read what is there.
  f.text = StringField(payload, text_field.c_str());
  f.doc_id = StringField(payload, "doc_id");
  if (payload.is_object() && payload.contains("offsets")) f.offsets = payload["offsets"];
  if (payload.is_object() && payload.contains("metadata") && payload["metadata"].is_object()) {
    f.metadata = payload["metadata"];
  } else if (payload.is_object()) {
    for (const auto& [key, value] : payload.items()) {
      if (key != text_field && key != "doc_id" && key != "offsets") f.metadata[key] = value;
    }
  }
  f.title = StringField(payload, "title");
  if (f.title.empty()) f.title = StringField(f.metadata, "title");
  return f;
}

json HitJson(const store::SearchHit& hit, const HitFields& f) {
  json j = {{"id", hit.id},          {"doc_id", f.doc_id.empty() ? hit.id : f.doc_id},
            {"score", hit.score},    {"version", hit.version},
            {"text", f.text},        {"offsets", f.offsets},
            {"title", f.title},      {"metadata", f.metadata}};
  if (!f.source.empty()) j["source"] = f.source;
  if (!f.heading_path.empty()) j["heading_path"] = f.heading_path;
  if (f.page > 0) j["page"] = f.page;
  return j;
}

namespace {

// Each hit's cosine similarity to the question, where the search had a
// question vector over a cosine collection: a dense score is it; a hybrid
// hit's is its score in the dense list fused from, else (a hit only the
// lexical list found) the dot product with its stored unit vector.
std::vector<std::optional<float>> Similarities(const store::Collection& collection, const search::Query& query,
                                               const std::vector<store::SearchHit>& hits,
                                               const std::vector<store::SearchHit>& dense_list) {
  std::vector<std::optional<float>> out(hits.size());
  if (!query.vector || collection.config().metric != store::DistanceMetric::kCosine) return out;
  if (query.mode == search::Mode::kDense) {
    for (size_t i = 0; i < hits.size(); ++i) out[i] = hits[i].score;
    return out;
  }
  std::unordered_map<std::string_view, float> dense;
  for (const auto& h : dense_list) dense.emplace(h.id, h.score);
  const std::vector<float>& q = *query.vector;
  const float norm = std::sqrt(index::Dot(q.data(), q.data(), q.size()));
  for (size_t i = 0; i < hits.size(); ++i) {
    if (auto it = dense.find(hits[i].id); it != dense.end()) {
      out[i] = it->second;
    } else if (auto record = collection.Get(hits[i].id); record && record->vector.size() == q.size() && norm > 0) {
      out[i] = index::Dot(q.data(), record->vector.data(), q.size()) / norm;
    }
  }
  return out;
}

std::string FormatScore(double x) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", x);
  return buf;
}

// Shows each known similarity on its hit.
void ShowSimilarities(const std::vector<std::optional<float>>& similarity, RetrievedHits* out) {
  for (size_t i = 0; i < similarity.size() && i < out->hits_json.size(); ++i) {
    if (similarity[i]) out->hits_json[i]["similarity"] = *similarity[i];
  }
}

}  // namespace

Result<RetrievedHits> RunRetrieval(const store::Collection& collection, embed::Embedder* embedder,
                                   const QueryRequest& request, const QueryInstruments& ins) {
  search::Query query;
  query.mode = request.mode;
  query.text = request.question;
  query.k = request.k;
  query.filter = request.filter ? &*request.filter : nullptr;
  if (search::Retriever::NeedsEmbedding(query)) {
    if (embedder == nullptr) {
      return absl::UnavailableError(StrCat("no embedding model is loaded, so ", search::ModeName(query.mode),
                                           " queries cannot run; use \"mode\": \"lexical\""));
    }
    if (embedder->dim() != collection.config().dim) {
      // The collection's state, not the request: 409, as for documents.
      return absl::FailedPreconditionError(
          StrCat("the server's model ", embedder->model_id(), " embeds to ", embedder->dim(),
                 " dimensions, collection '", collection.config().name, "' has ", collection.config().dim));
    }
    RETURN_IF_ERROR(request.deadline.Check("the question was embedded"));
    ASSIGN_OR_RETURN(query.vector, EmbedQuestion(*embedder, request.question, ins));
  }
  RETURN_IF_ERROR(request.deadline.Check("the search"));
  RetrievedHits out;
  std::vector<store::SearchHit> dense_list;  // hybrid: what was fused, with cosine scores
  {
    obs::StageTimer timer(ins.retrieve_latency, ins.logger, "retrieve", ins.request_id);
    const auto start = std::chrono::steady_clock::now();
    auto hits = search::Retriever(collection, embedder).Search(query, &dense_list);
    if (ins.vectorstore_time != nullptr) {
      ins.vectorstore_time->WithLabels({search::ModeName(query.mode)})
          .Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    if (!hits.ok()) {
      timer.SetError(hits.status());
      return hits.status();
    }
    out.hits = std::move(*hits);
  }
  std::vector<std::optional<float>> similarity = Similarities(collection, query, out.hits, dense_list);
  // The relevance floor: is anything in the collection close to the question?
  // The dense top hit says (in hybrid mode the dense list's first: the fused
  // list may rank it below k).
  std::optional<float> best;
  if (query.vector && collection.config().metric == store::DistanceMetric::kCosine && !out.hits.empty()) {
    const auto& nearest = query.mode == search::Mode::kDense ? out.hits : dense_list;
    if (!nearest.empty()) best = nearest.front().score;
  }
  out = ShapeHits(std::move(out.hits), collection.config().lexical.text_field);
  ShowSimilarities(similarity, &out);
  if (best && *best < request.min_similarity && !out.passages.empty()) {
    out.passages.clear();
    out.below_floor = StrCat("Nothing in the collection is close enough to the question to answer it: the ",
                             "closest passage's similarity is ", FormatScore(*best), ", under the floor of ",
                             FormatScore(request.min_similarity), " (min_similarity).");
  }
  return out;
}

Result<std::vector<float>> EmbedQuestion(embed::Embedder& embedder, const std::string& question,
                                         const QueryInstruments& ins) {
  obs::StageTimer timer(ins.embed_latency, ins.logger, "embed", ins.request_id);
  std::vector<std::string> texts = {question};
  auto m = embedder.Embed(texts);
  if (!m.ok()) {
    timer.SetError(m.status());
    return m.status();
  }
  auto row = m->row(0);
  return std::vector<float>(row.begin(), row.end());
}

RetrievedHits ShapeHits(std::vector<store::SearchHit> hits, const std::string& text_field) {
  RetrievedHits out;
  out.hits = std::move(hits);
  out.hits_json = json::array();
  for (const auto& h : out.hits) {
    HitFields f = HitFields::Of(h.payload, text_field);
    out.hits_json.push_back(HitJson(h, f));
    if (!f.text.empty()) {
      generate::Passage p;
      p.chunk_id = h.id;
      p.doc_id = f.doc_id.empty() ? h.id : f.doc_id;
      p.title = std::move(f.title);
      p.text = std::move(f.text);
      out.passages.push_back(std::move(p));
    }
  }
  return out;
}

generate::Answer RunAnswer(const QueryRequest& request, const RetrievedHits& retrieved,
                           const generate::ChatClient* client, const generate::AnswerOptions& options,
                           const generate::DeltaCallback* on_delta, const QueryInstruments& ins) {
  if (retrieved.passages.empty() && !retrieved.below_floor.empty()) {  // nothing close: said, no LLM call
    generate::Answer answer;
    answer.text = retrieved.below_floor;
    if (on_delta != nullptr) (*on_delta)(answer.text);
    return answer;
  }
  obs::StageTimer timer(ins.generate_latency, ins.logger, "generate", ins.request_id);
  generate::Answer answer =
      on_delta != nullptr
          ? generate::GenerateStream(request.question, retrieved.passages, client, *on_delta, options,
                                     request.deadline)
          : generate::Generate(request.question, retrieved.passages, client, options, request.deadline);
  if (!answer.llm_status.ok()) timer.SetError(answer.llm_status);
  if (answer.degraded && ins.logger != nullptr && client != nullptr) {
    ins.logger->Warn("answer degraded")
        .RequestId(ins.request_id)
        .Error(answer.llm_status)
        .Field("reason", answer.degraded_reason)
        .Field("detail", answer.degraded_detail);
  }
  return answer;
}

json CitationsJson(const generate::Answer& answer, const RetrievedHits& retrieved) {
  json out = json::array();
  for (const auto& c : answer.citations) {
    json entry = {{"n", c.n}, {"id", c.chunk_id}, {"doc_id", c.chunk_id}};
    for (const auto& p : retrieved.passages) {
      if (p.chunk_id == c.chunk_id) {
        entry["doc_id"] = p.doc_id;
        if (!p.title.empty()) entry["title"] = p.title;
        break;
      }
    }
    for (const auto& hit : retrieved.hits_json) {  // where in the document the passage is
      if (hit["id"] != c.chunk_id) continue;
      for (const char* key : {"source", "heading_path", "page"}) {
        if (hit.contains(key)) entry[key] = hit[key];
      }
      break;
    }
    out.push_back(std::move(entry));
  }
  return out;
}

json QueryResponseJson(const RetrievedHits& retrieved, const generate::Answer* answer) {
  json out = {{"hits", retrieved.hits_json}};
  if (answer == nullptr) {
    out["answer"] = nullptr;
    out["citations"] = json::array();
    out["degraded"] = false;
    out["degraded_reason"] = nullptr;
    out["degraded_detail"] = nullptr;
    return out;
  }
  out["answer"] = answer->text;
  out["citations"] = CitationsJson(*answer, retrieved);
  out["degraded"] = answer->degraded;
  out["degraded_reason"] = answer->degraded ? json(answer->degraded_reason) : json(nullptr);
  out["degraded_detail"] = answer->degraded ? json(answer->degraded_detail) : json(nullptr);
  return out;
}

}  // namespace ragline::query
