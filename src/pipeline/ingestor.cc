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
#include <thread>
#include <unordered_set>

#include "absl/strings/ascii.h"
#include "core/strings.h"
#include "pipeline/channel.h"
#include "pipeline/chunk_payload.h"
#include "resilience/retry.h"
#include "text/sniff.h"

namespace ragline::pipeline {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

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
  skipped.insert(skipped.end(), o.skipped.begin(), o.skipped.end());
}

json IngestReport::ToJson() const {
  json f = json::array();
  for (const auto& x : failures) f.push_back({{"id", x.id}, {"error", x.error}});
  json k = json::array();
  for (const auto& x : skipped) k.push_back({{"id", x.id}, {"reason", x.error}});
  return {{"documents_added", documents_added},
          {"documents_replaced", documents_replaced},
          {"documents_unchanged", documents_unchanged},
          {"documents_deleted", documents_deleted},
          {"documents_failed", documents_failed},
          {"documents_superseded", documents_superseded},
          {"chunks_upserted", chunks_upserted},
          {"chunks_deleted", chunks_deleted},
          {"files_skipped", skipped.size()},
          {"failures", f},
          {"skipped", k}};
}

json DocumentInfo::SummaryJson() const {
  return {{"id", id},       {"title", title},   {"version", version},          {"chunk_count", chunk_count},
          {"source", source}, {"content_type", content_type}, {"metadata", metadata}};
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

// A finished call's counts, progress and stop, shared by its stage threads.
class CallLedger final : public StageEvents {
 public:
  CallLedger(size_t total, const ProgressCallback& progress, const CancelCheck& cancelled,
             const std::function<void(std::string_view, double)>& observer)
      : total_(total), progress_(progress), cancelled_(cancelled), observer_(observer) {}

  // Run when the call stops early (closes the channels, so every stage wakes).
  void OnAbort(std::function<void()> f) { on_abort_.push_back(std::move(f)); }

  void Unchanged(const std::string&) override {
    std::lock_guard<std::mutex> l(mu_);
    report_.documents_unchanged++;
    FinishLocked();
  }
  void Failed(const std::string& doc_id, const std::string& error, bool over_limit) override {
    std::lock_guard<std::mutex> l(mu_);
    report_.documents_failed++;
    report_.failures.push_back({doc_id, error});
    if (over_limit) limit_failures_.push_back(StrCat("document '", doc_id, "' ", error));
    FinishLocked();
  }
  void Committed(const std::string&, CommitOutcome outcome, size_t chunks) override {
    std::lock_guard<std::mutex> l(mu_);
    switch (outcome) {
      case CommitOutcome::kAdded:
        report_.documents_added++;
        break;
      case CommitOutcome::kReplaced:
        report_.documents_replaced++;
        break;
      case CommitOutcome::kSuperseded:
        report_.documents_superseded++;
        break;
    }
    report_.chunks_upserted += chunks;
    FinishLocked();
  }
  void ChunksDeleted(size_t n) override {
    std::lock_guard<std::mutex> l(mu_);
    report_.chunks_deleted += n;
  }
  void ChunksEmbedded(size_t n) override {
    std::lock_guard<std::mutex> l(mu_);
    chunks_embedded_ += n;
    if (progress_) progress_(docs_done_, total_, chunks_embedded_);
  }
  void StageTime(std::string_view stage, double seconds) override {
    if (!observer_) return;
    std::lock_guard<std::mutex> l(mu_);
    observer_(stage, seconds);
  }
  bool ShouldStop() override {
    if (stopped_) return true;
    if (cancelled_ && cancelled_()) {
      Abort(absl::CancelledError("ingest cancelled (the client went away, or the server is shutting down)"));
    }
    return stopped_;
  }

  // Stops every stage; the first status wins.
  void Abort(const Status& st) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (fatal_.ok()) fatal_ = st;
    }
    stopped_ = true;
    for (auto& f : on_abort_) f();
  }
  bool stopped() const { return stopped_; }
  Status fatal() const {
    std::lock_guard<std::mutex> l(mu_);
    return fatal_;
  }
  // The first document over a limit ("document 'x' has N bytes; ..."), or "".
  std::string FirstLimitFailure() const {
    std::lock_guard<std::mutex> l(mu_);
    return limit_failures_.empty() ? std::string() : limit_failures_.front();
  }
  IngestReport report() const {
    std::lock_guard<std::mutex> l(mu_);
    return report_;
  }

 private:
  void FinishLocked() {
    ++docs_done_;
    if (progress_) progress_(docs_done_, total_, chunks_embedded_);
  }

  const size_t total_;
  const ProgressCallback& progress_;
  const CancelCheck& cancelled_;
  const std::function<void(std::string_view, double)>& observer_;
  std::vector<std::function<void()>> on_abort_;  // set before the stages start
  mutable std::mutex mu_;                        // also serialises the callbacks
  IngestReport report_;                          // GUARDED_BY(mu_)
  size_t docs_done_ = 0;                         // GUARDED_BY(mu_)
  size_t chunks_embedded_ = 0;                   // GUARDED_BY(mu_)
  Status fatal_;                                 // GUARDED_BY(mu_)
  std::vector<std::string> limit_failures_;      // GUARDED_BY(mu_)
  std::atomic<bool> stopped_{false};
};

// Embedded mode knows where its input ends: an embed batch waits to fill up
// rather than leave after a pause.
constexpr std::chrono::milliseconds kNoLinger = std::chrono::hours(24);

// How a listed file is extracted: its extension when ragline reads that
// format (".md"; "x.html.gz" → ".html"), else the format its first bytes show
// (SniffFormat: "text/plain", "text/html", "application/pdf"). Any error is
// the reason it is skipped.
Result<std::string> ContentTypeOfFile(const fs::path& path) {
  const bool gz = absl::AsciiStrToLower(path.extension().string()) == ".gz";
  const std::string ext = absl::AsciiStrToLower((gz ? path.stem() : path).extension().string());
  if (ext.size() > 1 && text::FormatFromContentType(ext).ok()) return ext;
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(StrCat("cannot read (", std::strerror(errno), ")"));
  // A compressed head: enough input for kSniffBytes of output, whatever the ratio.
  std::string head(gz ? 64 * text::kSniffBytes : text::kSniffBytes, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  bool complete = in.eof();
  if (gz && text::IsGzip(head)) {
    ASSIGN_OR_RETURN(head, text::Gunzip(head, text::kSniffBytes, /*prefix_only=*/true));
    complete = complete && head.size() < text::kSniffBytes;
  }
  ASSIGN_OR_RETURN(text::DocumentFormat format, text::SniffFormat(head, complete));
  return std::string(text::ContentTypeOf(format));
}

std::string DocIdOf(const store::StoredRecord& r) {
  auto payload = ChunkPayload::FromJson(r.payload);
  return payload.ok() ? payload->doc_id : std::string();
}

}  // namespace

Ingestor::Ingestor(store::Collection& collection, embed::LocalEmbedder& embedder, IngestOptions options)
    : collection_(collection),
      embedder_(embedder),
      owned_tokenizer_(std::make_unique<WordPieceChunkTokenizer>(embedder.tokenizer())),
      tokenizer_(*owned_tokenizer_),
      options_(std::move(options)) {}

Ingestor::Ingestor(store::Collection& collection, embed::Embedder& embedder,
                   const text::ChunkTokenizer& tokenizer, IngestOptions options)
    : collection_(collection), embedder_(embedder), tokenizer_(tokenizer), options_(std::move(options)) {}

std::string Ingestor::Signature() const {
  const auto& c = options_.chunker;
  return StrCat("schema=", ChunkPayload::kSchema, ";model=", embedder_.model_id(),
                ";max_tokens=", c.max_tokens, ";overlap=", c.overlap_tokens, ";lookback=", c.lookback_tokens);
}

Result<IngestReport> Ingestor::Ingest(std::vector<SourceDocument> docs, const ProgressCallback& progress,
                                      const CancelCheck& cancelled) {
  std::vector<RawDocument> raw;
  raw.reserve(docs.size());
  for (auto& d : docs) raw.push_back(RawDocument{std::move(d), {}, {}, {}});
  return IngestRaw(std::move(raw), progress, cancelled);
}

Result<IngestReport> Ingestor::IngestRaw(std::vector<RawDocument> docs, const ProgressCallback& progress,
                                         const CancelCheck& cancelled) {
  RETURN_IF_ERROR(options_.Validate(tokenizer_.special_tokens()));
  const size_t dim = collection_.config().dim;
  if (embedder_.dim() != dim) {
    return absl::InvalidArgumentError(StrCat("model ", embedder_.model_id(), " embeds to ", embedder_.dim(),
                                             " dimensions, collection '", collection_.config().name, "' has ",
                                             dim));
  }
  const IngestLimits& limits = options_.limits;
  CallLedger ledger(docs.size(), progress, cancelled, options_.stage_observer);

  // Ids must be unique within a call: two in-flight versions of one document
  // would race each other's commit.
  {
    std::unordered_set<std::string> seen;
    std::vector<RawDocument> unique;
    unique.reserve(docs.size());
    for (auto& d : docs) {
      if (!d.doc.id.empty() && !seen.insert(d.doc.id).second) {
        ledger.Failed(d.doc.id, "duplicate document id in this batch", false);
      } else {
        unique.push_back(std::move(d));
      }
    }
    docs = std::move(unique);
  }

  const ChunkStage chunk_stage(tokenizer_, {limits, options_.chunker, options_.extract, Signature()},
                               CollectionHeads(collection_));
  const EmbedStage embed_stage(embedder_, dim, options_.embed_batch_chunks, kNoLinger);
  const IndexStage index_stage(collection_);
  const size_t channel_chunks = options_.queue_capacity * options_.embed_batch_chunks;
  VectorSource<RawDocument> input(std::move(docs));
  Channel<ChunkMessage> chunks(channel_chunks);
  Channel<EmbeddedChunk> embedded(channel_chunks);
  ledger.OnAbort([&] {
    chunks.Close();
    embedded.Close();
  });

  // Chunk-stage workers into `sink`; returns once all have finished.
  auto run_chunkers = [&](Sink<ChunkMessage>& sink) {
    std::vector<std::thread> workers;
    for (size_t w = 0; w < options_.extract_threads; ++w) {
      workers.emplace_back([&] { chunk_stage.Run(input, sink, ledger); });
    }
    for (auto& w : workers) w.join();
  };

  std::unique_ptr<Source<ChunkMessage>> planned;
  std::thread chunkers;
  if (limits.max_call_chunks > 0) {
    // A call limit needs the call's whole chunk count before anything is
    // embedded: every document is extracted and chunked first.
    VectorSink<ChunkMessage> plan;
    run_chunkers(plan);
    std::vector<ChunkMessage> all = plan.Take();
    if (ledger.stopped()) return ledger.fatal();
    size_t call_chunks = 0;
    for (const auto& m : all) call_chunks += m.chunk.chunk_count > 0 ? 1 : 0;
    std::string over = ledger.FirstLimitFailure();
    if (over.empty() && call_chunks > limits.max_call_chunks) {
      over = StrCat("the documents make ", call_chunks,
                    " chunks; the limit per request (max_request_chunks) is ", limits.max_call_chunks);
    }
    if (!over.empty()) return LimitExceededError(StrCat(over, "; nothing was ingested"));
    planned = std::make_unique<VectorSource<ChunkMessage>>(std::move(all));
  } else {
    chunkers = std::thread([&] {
      run_chunkers(chunks);
      chunks.Close();
    });
  }
  std::thread embedder([&] {
    // An unavailable embedder fails the call, not its documents: the caller retries it.
    Status st = embed_stage.Run(planned ? *planned : static_cast<Source<ChunkMessage>&>(chunks), embedded, ledger);
    if (!st.ok()) ledger.Abort(st);
    embedded.Close();
  });
  Status indexed = index_stage.Run(embedded, ledger);
  if (!indexed.ok()) ledger.Abort(indexed);
  embedder.join();
  if (chunkers.joinable()) chunkers.join();

  const IngestReport report = ledger.report();
  if (Status fatal = ledger.fatal(); !fatal.ok()) {
    if (absl::IsCancelled(fatal) || resilience::IsTransient(fatal)) {
      return Status(fatal.code(),
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

Result<SourceFiles> ListSourceFiles(const fs::path& path, const std::string& content_type) {
  std::error_code ec;
  SourceFiles out;
  out.root = fs::weakly_canonical(fs::absolute(path, ec), ec);
  if (ec || !fs::exists(out.root))
    return absl::NotFoundError(StrCat(path.string(), ": no such file or directory"));
  auto add = [&](const fs::path& p, std::string id) {
    Result<std::string> type = content_type.empty() ? ContentTypeOfFile(p) : Result<std::string>(content_type);
    if (type.ok()) {
      out.files.push_back({std::move(id), p, std::move(*type)});
    } else {
      out.skipped.push_back({std::move(id), std::string(type.status().message())});
    }
  };
  if (!fs::is_directory(out.root)) {
    add(out.root, out.root.filename().string());
    if (!out.skipped.empty()) {
      return absl::InvalidArgumentError(StrCat(path.string(), ": skipped: ", out.skipped[0].error,
                                               "; not a txt, md, html or pdf document"));
    }
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
    if (it->is_regular_file(ec)) files.push_back(p);
  }
  std::sort(files.begin(), files.end());
  for (const auto& p : files) add(p, p.lexically_relative(out.root).generic_string());
  out.directory = true;
  return out;
}

Result<IngestReport> Ingestor::IngestPathLocked(const fs::path& root_arg, const ProgressCallback& progress) {
  ASSIGN_OR_RETURN(SourceFiles listed, ListSourceFiles(root_arg, options_.file_content_type));
  const fs::path& root = listed.root;
  std::vector<RawDocument> items;
  std::set<std::string> present;
  for (const auto& f : listed.files) {
    RawDocument item;
    item.doc.id = f.id;
    item.doc.content_type = f.content_type;
    item.doc.source = f.path.string();
    item.file = f.path;
    item.root = root.string();
    present.insert(item.doc.id);
    items.push_back(std::move(item));
  }
  if (!listed.directory) return IngestRaw(std::move(items), progress, {});
  ASSIGN_OR_RETURN(IngestReport report, IngestRaw(std::move(items), progress, {}));
  report.skipped = std::move(listed.skipped);

  // Documents of this root whose file is gone: every chunk, committed or not.
  ASSIGN_OR_RETURN(auto filter, store::PayloadFilter::Parse({{"root", root.string()}}));
  std::map<std::string, std::vector<std::string>> gone;  // doc_id -> chunk ids
  for (auto& r : collection_.ListRecords(&filter)) {
    std::string doc_id = DocIdOf(r);
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
    size_t count = 0;
    if (head) {
      auto payload = ChunkPayload::FromJson(head->payload);
      if (payload.ok()) count = payload->chunk_count;
    }
    *deletes = ExistingChunkIds(c, doc_id, 0, count);
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
  return DocumentInfoFromHead(doc_id, head->version, head->payload);
}

std::optional<DocumentInfo> DocumentInfoFromHead(const std::string& doc_id, uint64_t version,
                                                 const nlohmann::json& head_payload) {
  // A record under that id that the pipeline did not write (the vectors
  // API) is no document.
  auto payload = ChunkPayload::FromJson(head_payload);
  if (!payload.ok()) return std::nullopt;
  DocumentInfo info;
  info.id = doc_id;
  info.version = version;
  info.content_hash = payload->content_hash;
  info.fingerprint = payload->fingerprint;
  info.chunk_count = payload->chunk_count;
  for (size_t k = 0; k < info.chunk_count; ++k) info.chunk_ids.push_back(ChunkId(doc_id, k));
  info.title = payload->title;
  info.source = payload->source;
  info.content_type = payload->content_type;
  info.metadata = std::move(payload->metadata);
  return info;
}

DocumentPage ListDocuments(store::Collection& collection, const std::string& after, size_t limit) {
  static const store::PayloadFilter heads = *store::PayloadFilter::Parse({{"ordinal", 0}});
  std::vector<store::StoredRecord> records = collection.ListRecords(&heads);
  std::map<std::string, const store::StoredRecord*> by_doc;  // id order
  for (const auto& r : records) {
    const auto doc_id = r.payload.find("doc_id");
    if (doc_id == r.payload.end() || !doc_id->is_string()) continue;
    const std::string& id = doc_id->get_ref<const std::string&>();
    if (id > after && r.id == ChunkId(id, 0)) by_doc.emplace(id, &r);
  }
  DocumentPage page;
  for (const auto& [id, r] : by_doc) {
    if (page.documents.size() == std::max<size_t>(limit, 1)) {
      page.next = page.documents.back().id;
      break;
    }
    if (auto info = DocumentInfoFromHead(id, r->version, r->payload)) page.documents.push_back(std::move(*info));
  }
  return page;
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
  if (!fs::is_directory(root, ec))
    return absl::InvalidArgumentError(StrCat(root.string(), " is not a directory"));
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
           std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - quiet_since).count() <
               kSettleMs) {
      ASSIGN_OR_RETURN(bool more, watcher->Wait(50));
      if (more) quiet_since = Clock::now();
    }
    dirty = true;
  }
  return absl::OkStatus();
}

}  // namespace ragline::pipeline
