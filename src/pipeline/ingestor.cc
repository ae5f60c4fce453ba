#include "pipeline/ingestor.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <unordered_set>

#include "absl/strings/escaping.h"
#include "core/json_fields.h"
#include "core/strings.h"
#include "pipeline/bounded_queue.h"

namespace ragline::pipeline {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Bump when the payload written for a chunk changes, so every document is
// re-ingested once by the next run.
constexpr int kPayloadSchema = 1;

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
  if (has_text == has_b64) return absl::InvalidArgumentError(StrCat(where, ": give either \"text\" or \"content_base64\""));
  if (has_text) {
    if (!j["text"].is_string()) return absl::InvalidArgumentError(StrCat(where, ": \"text\" must be a string"));
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
    if (!j["metadata"].is_object()) return absl::InvalidArgumentError(StrCat(where, ": \"metadata\" must be an object"));
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

Status IngestOptions::Validate(size_t special_tokens) const {
  RETURN_IF_ERROR(chunker.Validate(special_tokens));
  if (embed_batch_chunks == 0) return absl::InvalidArgumentError("embed_batch_chunks must be at least 1");
  if (queue_capacity == 0) return absl::InvalidArgumentError("queue_capacity must be at least 1");
  if (extract_threads == 0 || extract_threads > 256) {
    return absl::InvalidArgumentError("extract_threads must be between 1 and 256");
  }
  if (limits.max_document_bytes == 0 || limits.max_document_chunks == 0) {
    return absl::InvalidArgumentError("max_document_bytes and max_document_chunks must be at least 1");
  }
  return absl::OkStatus();
}

void IngestReport::Merge(const IngestReport& o) {
  documents_added += o.documents_added;
  documents_replaced += o.documents_replaced;
  documents_unchanged += o.documents_unchanged;
  documents_deleted += o.documents_deleted;
  documents_failed += o.documents_failed;
  documents_superseded += o.documents_superseded;
  chunks_upserted += o.chunks_upserted;
  chunks_deleted += o.chunks_deleted;
  failures.insert(failures.end(), o.failures.begin(), o.failures.end());
}

json IngestReport::ToJson() const {
  json f = json::array();
  for (const auto& x : failures) f.push_back({{"id", x.id}, {"error", x.error}});
  return {{"documents_added", documents_added},
          {"documents_replaced", documents_replaced},
          {"documents_unchanged", documents_unchanged},
          {"documents_deleted", documents_deleted},
          {"documents_failed", documents_failed},
          {"documents_superseded", documents_superseded},
          {"chunks_upserted", chunks_upserted},
          {"chunks_deleted", chunks_deleted},
          {"failures", f}};
}

json DocumentInfo::ToJson() const {
  return {{"id", id},
          {"version", version},
          {"content_hash", content_hash},
          {"fingerprint", fingerprint},
          {"chunk_count", chunk_count},
          {"chunk_ids", chunk_ids},
          {"title", title},
          {"source", source},
          {"content_type", content_type},
          {"metadata", metadata}};
}

namespace {

uint64_t NowMs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

template <typename T>
T PayloadValue(const json& payload, const char* key, T fallback) {
  auto it = payload.find(key);
  if (it == payload.end()) return fallback;
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    return fallback;
  }
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Result<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(StrCat("cannot open ", path.string(), ": ", std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::DataLossError(StrCat("reading ", path.string(), " failed"));
  return ss.str();
}

bool IsIngestibleFile(const fs::path& path) {
  std::string ext = path.extension().string();
  if (ext.empty()) return false;
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::set<std::string> kExtensions = {".txt",  ".text", ".md",    ".markdown",
                                                     ".html", ".htm",  ".xhtml", ".pdf"};
  return kExtensions.count(ext) > 0;
}

// A document on its way through the stages. Written by one extract worker,
// then read by the embed and upsert stages (handed over through the queues).
struct PreparedDoc {
  size_t index = 0;  // position in the call's input
  std::string id;
  uint64_t version = 0;
  bool had_commit = false;  // a chunk #0 existed when it was prepared
  std::string text;         // extracted text
  std::vector<text::Chunk> chunks;
  json common;                      // payload fields shared by every chunk
  std::atomic<bool> failed{false};  // set by the embed stage
};
using DocPtr = std::shared_ptr<PreparedDoc>;

constexpr size_t kEmptyDocument = static_cast<size_t>(-1);

// One chunk to write (ordinal), or an empty document to commit (kEmptyDocument).
struct ChunkRef {
  DocPtr doc;
  size_t ordinal;
};

struct EmbeddedBatch {
  std::vector<ChunkRef> chunks;
  Matrix vectors;  // one row per chunk, in order; no row for kEmptyDocument refs
};

}  // namespace

struct Ingestor::WorkItem {
  SourceDocument doc;
  fs::path file;     // non-empty: the content is read from this file
  std::string root;  // payload "root": the directory the file was found under
};

Ingestor::Ingestor(store::Collection& collection, embed::LocalEmbedder& embedder, IngestOptions options)
    : collection_(collection),
      embedder_(embedder),
      owned_tokenizer_(std::make_unique<WordPieceChunkTokenizer>(embedder.tokenizer())),
      tokenizer_(*owned_tokenizer_),
      options_(std::move(options)) {}

Ingestor::Ingestor(store::Collection& collection, embed::Embedder& embedder, const text::ChunkTokenizer& tokenizer,
                   IngestOptions options)
    : collection_(collection), embedder_(embedder), tokenizer_(tokenizer), options_(std::move(options)) {}

std::string Ingestor::Signature() const {
  const auto& c = options_.chunker;
  return StrCat("schema=", kPayloadSchema, ";model=", embedder_.model_id(), ";max_tokens=", c.max_tokens,
                ";overlap=", c.overlap_tokens, ";lookback=", c.lookback_tokens);
}

std::vector<std::string> Ingestor::ExistingChunkIds(const std::string& doc_id, size_t from,
                                                    size_t known_count) const {
  std::vector<std::string> ids;
  for (size_t k = from;; ++k) {
    std::string id = ChunkId(doc_id, k);
    const bool exists = collection_.Get(id).has_value();
    if (exists) {
      ids.push_back(std::move(id));
    } else if (k >= known_count) {
      break;
    }
  }
  return ids;
}

Result<IngestReport> Ingestor::Ingest(std::vector<SourceDocument> docs, const ProgressCallback& progress,
                                      const CancelCheck& cancelled) {
  std::vector<WorkItem> items;
  items.reserve(docs.size());
  for (auto& d : docs) items.push_back(WorkItem{std::move(d), {}, {}});
  return IngestItems(std::move(items), progress, cancelled);
}

Result<IngestReport> Ingestor::IngestItems(std::vector<WorkItem> items, const ProgressCallback& progress,
                                           const CancelCheck& cancelled_by_caller) {
  RETURN_IF_ERROR(options_.Validate(tokenizer_.special_tokens()));
  if (embedder_.dim() != collection_.config().dim) {
    return absl::InvalidArgumentError(StrCat("model ", embedder_.model_id(), " embeds to ", embedder_.dim(),
                                             " dimensions, collection '", collection_.config().name, "' has ",
                                             collection_.config().dim));
  }
  const std::string signature = Signature();
  const size_t total = items.size();
  const IngestLimits& limits = options_.limits;
  // A call limit needs the call's whole chunk count before anything is
  // embedded: extract and chunk every document first.
  const bool plan_first = limits.max_call_chunks > 0;

  // Shared by the stages. report_mu_ also serialises the callbacks.
  std::mutex report_mu;
  IngestReport report;
  size_t docs_done = 0;
  Status fatal;                             // GUARDED_BY(report_mu): the first error that stops the call
  std::vector<std::string> limit_failures;  // GUARDED_BY(report_mu): documents over a limit (plan_first)

  auto observe = [&](std::string_view stage, double seconds) {
    if (!options_.stage_observer) return;
    std::lock_guard<std::mutex> l(report_mu);
    options_.stage_observer(stage, seconds);
  };
  // Caller holds report_mu.
  auto finish_locked = [&]() {
    ++docs_done;
    if (progress) progress(docs_done, total, report.chunks_upserted);
  };
  auto fail_doc = [&](const std::string& id, const std::string& error) {
    std::lock_guard<std::mutex> l(report_mu);
    report.documents_failed++;
    report.failures.push_back({id, error});
    finish_locked();
  };
  auto fail_limit = [&](const std::string& id, const std::string& error) {
    {
      std::lock_guard<std::mutex> l(report_mu);
      limit_failures.push_back(StrCat("document '", id, "' ", error));
    }
    fail_doc(id, error);
  };

  // Ids must be unique within a call: two in-flight versions of one document
  // would race each other's commit.
  std::vector<bool> duplicate(items.size(), false);
  {
    std::unordered_set<std::string> seen;
    for (size_t i = 0; i < items.size(); ++i) duplicate[i] = !seen.insert(items[i].doc.id).second;
  }

  BoundedQueue<size_t> todo(options_.queue_capacity);
  BoundedQueue<DocPtr> prepared(plan_first ? std::max<size_t>(items.size(), 1) : options_.queue_capacity);
  BoundedQueue<EmbeddedBatch> embedded(options_.queue_capacity);
  std::atomic<bool> stopped{false};
  auto abort_all = [&](const Status& st) {
    stopped = true;
    {
      std::lock_guard<std::mutex> l(report_mu);
      if (fatal.ok()) fatal = st;
    }
    todo.Close();
    prepared.Close();
    embedded.Close();
  };
  // Checked before each unit of work (a document, a batch, a commit).
  auto should_stop = [&]() -> bool {
    if (stopped) return true;
    if (cancelled_by_caller && cancelled_by_caller()) {
      abort_all(
          absl::CancelledError("ingest cancelled (the client went away, or the server is shutting down)"));
      return true;
    }
    return false;
  };

  // ---- read + hash + freshness check + limits + extract + chunk
  auto prepare = [&](size_t index) -> void {
    WorkItem& item = items[index];
    SourceDocument& doc = item.doc;
    if (doc.id.empty()) return fail_doc(doc.id, "document id is empty");
    if (duplicate[index]) return fail_doc(doc.id, "duplicate document id in this batch");
    if (!item.file.empty()) {
      const auto t = Clock::now();
      auto bytes = ReadFile(item.file);
      observe("read", SecondsSince(t));
      if (!bytes.ok()) return fail_doc(doc.id, std::string(bytes.status().message()));
      doc.content = std::move(*bytes);
    }
    if (!doc.metadata.is_object()) return fail_doc(doc.id, "metadata must be a JSON object");
    if (doc.content.size() > limits.max_document_bytes) {
      return fail_limit(doc.id, StrCat("has ", doc.content.size(), " bytes; the limit max_document_bytes is ",
                                       limits.max_document_bytes));
    }
    const std::string content_hash = ContentHash(doc.content);
    const std::string fingerprint =
        ContentHash(StrCat(signature, ";hash=", content_hash, ";type=", doc.content_type, ";source=", doc.source,
                           ";root=", item.root, ";metadata=", doc.metadata.dump()));

    auto head = collection_.Get(ChunkId(doc.id, 0));
    auto out = std::make_shared<PreparedDoc>();
    out->index = index;
    out->id = doc.id;
    if (head) {
      out->had_commit = true;
      if (PayloadValue<std::string>(head->payload, "fingerprint", "") == fingerprint) {
        std::lock_guard<std::mutex> l(report_mu);
        report.documents_unchanged++;
        finish_locked();
        return;
      }
    }
    if (doc.version) {
      if (head && *doc.version <= head->version) {
        return fail_doc(doc.id, StrCat("version ", *doc.version, " is not newer than the stored version ",
                                       head->version, " of a different content"));
      }
      out->version = *doc.version;
    } else {
      out->version = std::max(NowMs(), head ? head->version + 1 : 0);
    }

    auto t = Clock::now();
    auto extracted = text::Extract(doc.content, doc.content_type, options_.extract);
    observe("extract", SecondsSince(t));
    if (!extracted.ok()) {
      if (IsLimitExceeded(extracted.status()))
        return fail_limit(doc.id, std::string(extracted.status().message()));
      return fail_doc(doc.id, std::string(extracted.status().message()));
    }
    doc.content.clear();
    doc.content.shrink_to_fit();
    t = Clock::now();
    auto chunks = text::ChunkDocument(*extracted, tokenizer_, options_.chunker);
    observe("chunk", SecondsSince(t));
    if (!chunks.ok()) return fail_doc(doc.id, std::string(chunks.status().message()));
    if (chunks->size() > limits.max_document_chunks) {
      return fail_limit(doc.id, StrCat("makes ", chunks->size(), " chunks; the limit max_document_chunks is ",
                                       limits.max_document_chunks));
    }

    json extracted_meta = json::object();
    for (const auto& [k, v] : extracted->metadata) extracted_meta[k] = v;
    out->common = {{"doc_id", doc.id},
                   {"title", extracted->title},
                   {"source", doc.source},
                   {"content_type", doc.content_type},
                   {"content_hash", content_hash},
                   {"fingerprint", fingerprint},
                   {"chunk_count", chunks->size()},
                   {"extracted", std::move(extracted_meta)},
                   {"metadata", doc.metadata}};
    if (!item.root.empty()) out->common["root"] = item.root;
    out->text = std::move(extracted->text);
    out->chunks = std::move(*chunks);
    if (!prepared.Push(std::move(out))) todo.Close();
  };

  std::vector<std::thread> extract_workers;
  std::atomic<size_t> extract_running{options_.extract_threads};
  for (size_t w = 0; w < options_.extract_threads; ++w) {
    extract_workers.emplace_back([&] {
      while (auto index = todo.Pop()) {
        if (!should_stop()) prepare(*index);
      }
      if (--extract_running == 0) prepared.Close();
    });
  }

  // ---- embed: chunks of consecutive documents, in batches
  std::thread embed_stage([&] {
    std::vector<DocPtr> planned;
    if (plan_first) {
      // Every document is extracted and chunked (the queue holds them all)
      // before one is embedded: a call over a limit fails whole.
      while (auto doc = prepared.Pop()) planned.push_back(std::move(*doc));
      size_t call_chunks = 0;
      for (const auto& d : planned) call_chunks += d->chunks.size();
      std::string over;
      {
        std::lock_guard<std::mutex> l(report_mu);
        if (!limit_failures.empty()) over = limit_failures.front();
      }
      if (over.empty() && call_chunks > limits.max_call_chunks) {
        over = StrCat("the documents make ", call_chunks,
                      " chunks; the limit per request (max_request_chunks) is ", limits.max_call_chunks);
      }
      if (!over.empty()) {
        abort_all(LimitExceededError(StrCat(over, "; nothing was ingested")));
        return;
      }
    }
    size_t next_planned = 0;
    auto next_doc = [&]() -> std::optional<DocPtr> {
      if (!plan_first) return prepared.Pop();
      if (next_planned == planned.size()) return std::nullopt;
      return std::move(planned[next_planned++]);
    };
    std::vector<ChunkRef> pending;
    auto flush = [&]() -> bool {
      // Drop chunks of documents an earlier batch failed.
      std::erase_if(pending, [](const ChunkRef& c) { return c.doc->failed.load(); });
      if (pending.empty()) return true;
      if (should_stop()) return false;
      EmbeddedBatch batch;
      std::vector<std::string> texts;
      for (const auto& c : pending) {
        if (c.ordinal != kEmptyDocument) texts.emplace_back(c.doc->chunks[c.ordinal].TextIn(c.doc->text));
      }
      if (!texts.empty()) {
        const auto t = Clock::now();
        auto vectors = embedder_.Embed(texts);
        observe("embed", SecondsSince(t));
        if (!vectors.ok() || vectors->rows() != texts.size() || vectors->cols() != collection_.config().dim) {
          const std::string why = vectors.ok() ? "embedder returned a matrix of the wrong shape"
                                               : std::string(vectors.status().message());
          std::set<PreparedDoc*> hit;
          for (const auto& c : pending) {
            if (c.ordinal != kEmptyDocument && hit.insert(c.doc.get()).second) {
              c.doc->failed = true;
              fail_doc(c.doc->id, StrCat("embedding failed: ", why));
            }
          }
          // Empty documents in the batch need no vectors: pass them on.
          std::erase_if(pending, [](const ChunkRef& c) { return c.ordinal != kEmptyDocument; });
          if (pending.empty()) return true;
          texts.clear();
        }
        if (!texts.empty()) batch.vectors = std::move(*vectors);
      }
      batch.chunks = std::move(pending);
      pending.clear();
      return embedded.Push(std::move(batch));
    };
    bool ok = true;
    while (ok) {
      auto doc = next_doc();
      if (!doc) break;
      const size_t n = (*doc)->chunks.size();
      if (n == 0) {
        pending.push_back({*doc, kEmptyDocument});
      } else {
        for (size_t k = 0; k < n && ok; ++k) {
          pending.push_back({*doc, k});
          if (pending.size() >= options_.embed_batch_chunks) ok = flush();
        }
      }
    }
    if (ok) ok = flush();
    if (!ok) prepared.Close();
    embedded.Close();
  });

  // ---- commit: each complete document in one atomic write (its chunks,
  // and the deletes of its old chunks past the new count), the documents of
  // a batch together.
  std::thread commit_stage([&] {
    std::map<PreparedDoc*, std::vector<store::Record>> open_docs;  // chunks embedded so far
    std::vector<DocPtr> ready;
    std::vector<std::vector<store::Record>> ready_records;
    auto commit = [&]() -> Status {
      if (ready.empty()) return absl::OkStatus();
      if (should_stop()) return absl::OkStatus();  // abort_all recorded why
      std::vector<store::WriteGroup> groups(ready.size());
      for (size_t g = 0; g < ready.size(); ++g) groups[g].upserts = std::move(ready_records[g]);
      // Under the collection's writer lock: a newer version committed
      // meanwhile (another call) wins; else the old chunks past the new
      // count go in the same write.
      auto check = [&](const store::Collection& c, size_t g, std::vector<std::string>* deletes) -> Status {
        const PreparedDoc& d = *ready[g];
        auto head = c.Get(ChunkId(d.id, 0));
        if (head && head->version >= d.version) return absl::AbortedError("superseded");
        const size_t old_count = head ? PayloadValue<size_t>(head->payload, "chunk_count", 0) : 0;
        *deletes = ExistingChunkIds(d.id, d.chunks.size(), old_count);
        return absl::OkStatus();
      };
      const auto t = Clock::now();
      auto summary = collection_.Write(std::move(groups), check);
      observe("upsert", SecondsSince(t));
      if (!summary.ok()) return summary.status();
      std::lock_guard<std::mutex> l(report_mu);
      report.chunks_deleted += summary->deletes.deleted;
      for (size_t g = 0; g < ready.size(); ++g) {
        if (summary->dropped[g]) {
          report.documents_superseded++;
        } else {
          report.chunks_upserted += ready[g]->chunks.size();
          (ready[g]->had_commit ? report.documents_replaced : report.documents_added)++;
        }
        finish_locked();
      }
      ready.clear();
      ready_records.clear();
      return absl::OkStatus();
    };
    Status st;
    while (st.ok()) {
      auto batch = embedded.Pop();
      if (!batch) break;
      size_t row = 0;
      for (auto& c : batch->chunks) {
        PreparedDoc& d = *c.doc;
        if (c.ordinal == kEmptyDocument) {
          ready.push_back(c.doc);
          ready_records.emplace_back();
          continue;
        }
        auto vec = batch->vectors.row(row++);
        if (d.failed) continue;  // an embedding batch of this document failed
        const text::Chunk& chunk = d.chunks[c.ordinal];
        json payload = d.common;
        payload["text"] = std::string(chunk.TextIn(d.text));
        payload["ordinal"] = c.ordinal;
        payload["offsets"] = {chunk.begin, chunk.end};
        payload["token_count"] = chunk.token_count;
        payload["heading_path"] = chunk.heading_path;
        auto& records = open_docs[&d];
        records.push_back(store::Record{ChunkId(d.id, c.ordinal), d.version,
                                        std::vector<float>(vec.begin(), vec.end()), payload.dump()});
        if (records.size() == d.chunks.size()) {
          ready.push_back(c.doc);
          ready_records.push_back(std::move(records));
          open_docs.erase(&d);
        }
      }
      // Documents whose later chunks failed to embed never complete: drop them.
      std::erase_if(open_docs, [](const auto& entry) { return entry.first->failed.load(); });
      st = commit();
    }
    if (!st.ok()) abort_all(st);
  });

  for (size_t i = 0; i < items.size(); ++i) {
    if (!todo.Push(i)) break;
  }
  todo.Close();
  for (auto& w : extract_workers) w.join();
  embed_stage.join();
  commit_stage.join();

  if (!fatal.ok()) {
    if (absl::IsCancelled(fatal)) {
      return absl::CancelledError(
          StrCat(std::string(fatal.message()), "; ", report.documents_added + report.documents_replaced,
                 " documents were committed whole before it stopped, the rest not at all"));
    }
    return fatal;
  }
  return report;
}

Result<IngestReport> Ingestor::IngestPath(const fs::path& root, const ProgressCallback& progress) {
  std::lock_guard<std::mutex> lock(path_mu_);
  return IngestPathLocked(root, progress);
}

Result<std::string> ReadSourceFile(const fs::path& path) { return ReadFile(path); }

Result<SourceFiles> ListSourceFiles(const fs::path& path) {
  std::error_code ec;
  SourceFiles out;
  out.root = fs::weakly_canonical(fs::absolute(path, ec), ec);
  if (ec || !fs::exists(out.root)) return absl::NotFoundError(StrCat(path.string(), ": no such file or directory"));
  if (!fs::is_directory(out.root)) {
    out.files.push_back({out.root.filename().string(), out.root});
    out.root = out.root.parent_path();
    return out;
  }
  std::vector<fs::path> files;
  fs::recursive_directory_iterator it(out.root, fs::directory_options::skip_permission_denied, ec);
  if (ec) return absl::FailedPreconditionError(StrCat("cannot scan ", out.root.string(), ": ", ec.message()));
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) return absl::FailedPreconditionError(StrCat("scanning ", out.root.string(), ": ", ec.message()));
    const fs::path& p = it->path();
    if (p.filename().string().starts_with(".")) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec) && IsIngestibleFile(p)) files.push_back(p);
  }
  std::sort(files.begin(), files.end());
  for (const auto& p : files) out.files.push_back({p.lexically_relative(out.root).generic_string(), p});
  out.directory = true;
  return out;
}

Result<IngestReport> Ingestor::IngestPathLocked(const fs::path& root_arg, const ProgressCallback& progress) {
  ASSIGN_OR_RETURN(SourceFiles listed, ListSourceFiles(root_arg));
  const fs::path& root = listed.root;
  std::vector<WorkItem> items;
  std::set<std::string> present;
  for (const auto& f : listed.files) {
    WorkItem item;
    item.doc.id = f.id;
    item.doc.content_type = f.path.extension().string();
    item.doc.source = f.path.string();
    item.file = f.path;
    item.root = root.string();
    present.insert(item.doc.id);
    items.push_back(std::move(item));
  }
  if (!listed.directory) return IngestItems(std::move(items), progress, {});
  ASSIGN_OR_RETURN(IngestReport report, IngestItems(std::move(items), progress, {}));

  // Documents of this root whose file is gone: every chunk, committed or not.
  ASSIGN_OR_RETURN(auto filter, store::PayloadFilter::Parse({{"root", root.string()}}));
  std::map<std::string, std::vector<std::string>> gone;  // doc_id -> chunk ids
  for (auto& r : collection_.ListRecords(&filter)) {
    std::string doc_id = PayloadValue<std::string>(r.payload, "doc_id", "");
    if (!present.count(doc_id)) gone[doc_id].push_back(std::move(r.id));
  }
  if (gone.empty()) return report;
  std::vector<store::WriteGroup> groups;
  for (auto& [doc_id, ids] : gone) groups.push_back(store::WriteGroup{{}, std::move(ids)});
  ASSIGN_OR_RETURN(auto deleted, collection_.Write(std::move(groups)));
  report.chunks_deleted += deleted.deletes.deleted;
  report.documents_deleted += gone.size();
  return report;
}

Result<IngestReport> Ingestor::DeleteDocument(const std::string& doc_id) {
  if (doc_id.empty()) return absl::InvalidArgumentError("document id is empty");
  IngestReport report;
  // Every chunk in one write, the chunk count read under the writer lock
  // (chunks left by a crash of a version before atomic writes too: the
  // probe goes on past the count while ordinals exist).
  std::vector<store::WriteGroup> groups(1);
  auto check = [&](const store::Collection& c, size_t, std::vector<std::string>* deletes) -> Status {
    auto head = c.Get(ChunkId(doc_id, 0));
    *deletes = ExistingChunkIds(doc_id, 0, head ? PayloadValue<size_t>(head->payload, "chunk_count", 0) : 0);
    return absl::OkStatus();
  };
  ASSIGN_OR_RETURN(auto deleted, collection_.Write(std::move(groups), check));
  report.chunks_deleted = deleted.deletes.deleted;
  report.documents_deleted = deleted.deletes.deleted > 0 ? 1 : 0;
  return report;
}

Result<std::optional<DocumentInfo>> Ingestor::GetDocument(const std::string& doc_id) {
  auto head = collection_.Get(ChunkId(doc_id, 0));
  if (!head) return std::optional<DocumentInfo>();
  const json& p = head->payload;
  DocumentInfo info;
  info.id = doc_id;
  info.version = head->version;
  info.content_hash = PayloadValue<std::string>(p, "content_hash", "");
  info.fingerprint = PayloadValue<std::string>(p, "fingerprint", "");
  info.chunk_count = PayloadValue<size_t>(p, "chunk_count", 0);
  for (size_t k = 0; k < info.chunk_count; ++k) info.chunk_ids.push_back(ChunkId(doc_id, k));
  info.title = PayloadValue<std::string>(p, "title", "");
  info.source = PayloadValue<std::string>(p, "source", "");
  info.content_type = PayloadValue<std::string>(p, "content_type", "");
  if (auto m = p.find("metadata"); m != p.end() && m->is_object()) info.metadata = *m;
  return std::optional<DocumentInfo>(std::move(info));
}

namespace {

// inotify watches on a directory tree. Re-adding a watched directory is
// harmless (inotify returns the same descriptor).
class TreeWatcher {
 public:
  static Result<std::unique_ptr<TreeWatcher>> Open() {
    int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return absl::InternalError(StrCat("inotify_init1: ", std::strerror(errno)));
    return std::unique_ptr<TreeWatcher>(new TreeWatcher(fd));
  }
  ~TreeWatcher() { ::close(fd_); }

  Status AddTree(const fs::path& root) {
    RETURN_IF_ERROR(Add(root));
    std::error_code ec;
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_directory(ec)) continue;
      if (it->path().filename().string().starts_with(".")) {
        it.disable_recursion_pending();
        continue;
      }
      RETURN_IF_ERROR(Add(it->path()));
    }
    return absl::OkStatus();
  }

  // Waits up to `timeout_ms` for events; true if any arrived (all drained).
  Result<bool> Wait(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, timeout_ms);
    if (r < 0) {
      if (errno == EINTR) return false;
      return absl::InternalError(StrCat("poll: ", std::strerror(errno)));
    }
    if (r == 0) return false;
    alignas(inotify_event) char buf[64 * 1024];
    bool any = false;
    for (;;) {
      ssize_t n = ::read(fd_, buf, sizeof(buf));
      if (n <= 0) break;
      any = true;
    }
    return any;
  }

 private:
  explicit TreeWatcher(int fd) : fd_(fd) {}
  Status Add(const fs::path& dir) {
    constexpr uint32_t kMask = IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                               IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB;
    if (::inotify_add_watch(fd_, dir.c_str(), kMask) < 0 && errno != ENOENT) {
      return absl::InternalError(StrCat("watching ", dir.string(), ": ", std::strerror(errno)));
    }
    return absl::OkStatus();
  }
  int fd_;
};

}  // namespace

Status Ingestor::Watch(const fs::path& root, std::stop_token stop,
                       const std::function<void(const IngestReport&)>& on_batch) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return absl::InvalidArgumentError(StrCat(root.string(), " is not a directory"));
  ASSIGN_OR_RETURN(auto watcher, TreeWatcher::Open());
  constexpr int kPollMs = 200, kSettleMs = 300;
  bool dirty = true;  // the first pass ingests everything
  while (!stop.stop_requested()) {
    if (dirty) {
      // Watch before scanning, so a change during the pass triggers another.
      RETURN_IF_ERROR(watcher->AddTree(root));
      Result<IngestReport> report = [&] {
        std::lock_guard<std::mutex> lock(path_mu_);
        return IngestPathLocked(root, {});
      }();
      if (!report.ok()) return report.status();
      if (on_batch) on_batch(*report);
      dirty = false;
    }
    ASSIGN_OR_RETURN(bool changed, watcher->Wait(kPollMs));
    if (!changed) continue;
    // Let a burst of writes settle before rescanning.
    auto quiet_since = Clock::now();
    while (!stop.stop_requested() &&
           std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - quiet_since).count() < kSettleMs) {
      ASSIGN_OR_RETURN(bool more, watcher->Wait(50));
      if (more) quiet_since = Clock::now();
    }
    dirty = true;
  }
  return absl::OkStatus();
}

}  // namespace ragline::pipeline
