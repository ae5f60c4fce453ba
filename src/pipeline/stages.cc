#include "pipeline/stages.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "core/strings.h"
#include "resilience/retry.h"
#include "text/sniff.h"

namespace ragline::pipeline {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// How long an idle stage waits between checks of ShouldStop.
constexpr std::chrono::milliseconds kPollWait{100};

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

uint64_t NowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

Result<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(StrCat("cannot open ", path.string(), ": ", std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::DataLossError(StrCat("reading ", path.string(), " failed"));
  return ss.str();
}

// chunk_count of a committed chunk #0 (0 when it is not a pipeline payload).
size_t ChunkCountOf(const store::StoredRecord& head) {
  auto payload = ChunkPayload::FromJson(head.payload);
  return payload.ok() ? payload->chunk_count : 0;
}

}  // namespace

Result<std::string> ReadSourceFile(const fs::path& path, size_t max_bytes) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  if (absl::AsciiStrToLower(path.extension().string()) != ".gz" || !text::IsGzip(bytes)) return bytes;
  auto plain = text::Gunzip(bytes, max_bytes);
  if (!plain.ok()) {
    const std::string message = StrCat(path.string(), ": ", std::string(plain.status().message()));
    return IsLimitExceeded(plain.status()) ? LimitExceededError(message) : Status(plain.status().code(), message);
  }
  return plain;
}

HeadLookup CollectionHeads(const store::Collection& collection) {
  return [&collection](const std::string& doc_id) -> std::optional<DocumentHead> {
    auto head = collection.Get(ChunkId(doc_id, 0));
    if (!head) return std::nullopt;
    auto payload = ChunkPayload::FromJson(head->payload);
    return DocumentHead{head->version, payload.ok() ? payload->fingerprint : std::string()};
  };
}

std::vector<std::string> ExistingChunkIds(const store::Collection& collection, const std::string& doc_id,
                                          size_t from, size_t known_count) {
  std::vector<std::string> ids;
  for (size_t k = from;; ++k) {
    std::string id = ChunkId(doc_id, k);
    if (collection.Get(id).has_value()) {
      ids.push_back(std::move(id));
    } else if (k >= known_count) {
      break;
    }
  }
  return ids;
}

// ---------------------------------------------------------------- chunk

ChunkStage::ChunkStage(const text::ChunkTokenizer& tokenizer, ChunkStageOptions options, HeadLookup heads)
    : tokenizer_(tokenizer), options_(std::move(options)), heads_(std::move(heads)) {}

void ChunkStage::Run(Source<RawDocument>& in, Sink<ChunkMessage>& out, StageEvents& events) const {
  while (!events.ShouldStop()) {
    RawDocument doc;
    const Pulled pulled = in.Pull(&doc, kPollWait);
    if (pulled == Pulled::kEnd) return;
    if (pulled == Pulled::kIdle) continue;
    if (events.ShouldStop() || !Process(std::move(doc), out, events)) return;
  }
}

bool ChunkStage::Process(RawDocument raw, Sink<ChunkMessage>& out, StageEvents& events) const {
  SourceDocument& doc = raw.doc;
  const IngestLimits& limits = options_.limits;
  auto fail = [&](std::string error, bool over_limit = false) {
    events.Failed(doc.id, error, over_limit);
    return true;
  };
  if (doc.id.empty()) return fail("document id is empty");
  if (!raw.file.empty()) {
    const auto t = Clock::now();
    auto bytes = ReadSourceFile(raw.file, limits.max_document_bytes);
    events.StageTime("read", SecondsSince(t));
    if (IsLimitExceeded(bytes.status())) {
      return fail(StrCat(std::string(bytes.status().message()), "; the limit max_document_bytes is ",
                         limits.max_document_bytes),
                  true);
    }
    if (!bytes.ok()) return fail(std::string(bytes.status().message()));
    doc.content = std::move(*bytes);
  }
  if (!doc.metadata.is_object()) return fail("metadata must be a JSON object");
  if (doc.content.size() > limits.max_document_bytes) {
    return fail(StrCat("has ", doc.content.size(), " bytes; the limit max_document_bytes is ",
                       limits.max_document_bytes),
                true);
  }
  ChunkPayload common;
  common.doc_id = doc.id;
  common.source = doc.source;
  common.root = raw.root;
  common.content_type = doc.content_type;
  common.content_hash = ContentHash(doc.content);
  common.fingerprint =
      ContentHash(StrCat(options_.signature, ";hash=", common.content_hash, ";type=", doc.content_type,
                         ";source=", doc.source, ";root=", raw.root, ";metadata=", doc.metadata.dump()));
  common.metadata = std::move(doc.metadata);

  const std::optional<DocumentHead> head = heads_ ? heads_(doc.id) : std::nullopt;
  if (head && head->fingerprint == common.fingerprint) {
    events.Unchanged(doc.id);
    return true;
  }
  uint64_t version;
  if (doc.version) {
    if (head && *doc.version <= head->version) {
      return fail(StrCat("version ", *doc.version, " is not newer than the stored version ", head->version,
                         " of a different content"));
    }
    version = *doc.version;
  } else {
    version = std::max(NowMs(), head ? head->version + 1 : 0);
  }

  auto t = Clock::now();
  auto extracted = text::Extract(doc.content, doc.content_type, options_.extract);
  events.StageTime("extract", SecondsSince(t));
  if (!extracted.ok())
    return fail(std::string(extracted.status().message()), IsLimitExceeded(extracted.status()));
  doc.content.clear();
  doc.content.shrink_to_fit();
  t = Clock::now();
  auto chunks = text::ChunkDocument(*extracted, tokenizer_, options_.chunker);
  events.StageTime("chunk", SecondsSince(t));
  if (!chunks.ok()) return fail(std::string(chunks.status().message()));
  if (chunks->size() > limits.max_document_chunks) {
    return fail(StrCat("makes ", chunks->size(), " chunks; the limit max_document_chunks is ",
                       limits.max_document_chunks),
                true);
  }
  common.title = extracted->title;
  for (const auto& [k, v] : extracted->metadata) common.extracted[k] = v;
  common.chunk_count = chunks->size();
  if (chunks->empty()) return out.Put(ChunkMessage{version, std::move(common), raw.collection});
  for (const text::Chunk& c : *chunks) {
    ChunkMessage m{version, common, raw.collection};
    m.chunk.text = std::string(c.TextIn(extracted->text));
    m.chunk.ordinal = c.ordinal;
    m.chunk.begin = c.begin;
    m.chunk.end = c.end;
    m.chunk.token_count = c.token_count;
    m.chunk.heading_path = c.heading_path;
    const auto& pages = extracted->page_starts;
    if (!pages.empty()) {
      m.chunk.page = static_cast<size_t>(std::upper_bound(pages.begin(), pages.end(), c.begin) - pages.begin());
      m.chunk.page = std::max<size_t>(m.chunk.page, 1);
    }
    if (!out.Put(std::move(m))) return false;
  }
  return true;
}

// ---------------------------------------------------------------- embed

EmbedStage::EmbedStage(embed::Embedder& embedder, size_t dim, size_t batch_chunks,
                       std::chrono::milliseconds linger)
    : embedder_(embedder), dim_(dim), batch_chunks_(std::max<size_t>(batch_chunks, 1)), linger_(linger) {}

Status EmbedStage::Run(Source<ChunkMessage>& in, Sink<EmbeddedChunk>& out, StageEvents& events) const {
  using DocKey = std::pair<std::string, uint64_t>;  // doc_id, version
  std::set<DocKey> failed;  // documents a batch failed; forgotten after their last chunk
  std::vector<ChunkMessage> pending;
  size_t pending_texts = 0;
  Status unavailable;  // set by flush when the embedder is

  // Hands on `m` as failed, without embedding it.
  auto pass_failed = [&](ChunkMessage m, const std::string& why) {
    const DocKey key{m.chunk.doc_id, m.version};
    if (m.chunk.ordinal + 1 >= m.chunk.chunk_count) failed.erase(key);
    return out.Put(EmbeddedChunk{std::move(m), {}, why, std::nullopt});
  };
  auto flush = [&]() -> bool {
    if (pending.empty()) return true;
    if (events.ShouldStop()) return false;
    std::vector<std::string> texts;
    texts.reserve(pending_texts);
    for (const auto& m : pending) {
      if (m.chunk.chunk_count > 0) texts.push_back(m.chunk.text);
    }
    Result<Matrix> vectors = Matrix();
    if (!texts.empty()) {
      const auto t = Clock::now();
      vectors = embedder_.Embed(texts);
      events.StageTime("embed", SecondsSince(t));
    }
    std::string why;
    if (!vectors.ok() && resilience::IsTransient(vectors.status())) {
      unavailable = vectors.status();  // no document's fault: the caller retries or fails the call
      return false;
    }
    if (!vectors.ok()) {
      why = std::string(vectors.status().message());
    } else if (!texts.empty() && (vectors->rows() != texts.size() || vectors->cols() != dim_)) {
      why = "embedder returned a matrix of the wrong shape";
    }
    if (why.empty() && !texts.empty()) events.ChunksEmbedded(texts.size());
    std::vector<ChunkMessage> batch = std::move(pending);
    pending.clear();
    pending_texts = 0;
    if (!why.empty()) {
      for (const auto& m : batch) {
        if (m.chunk.chunk_count > 0) failed.insert({m.chunk.doc_id, m.version});
      }
    }
    size_t row = 0;
    for (auto& m : batch) {
      if (m.chunk.chunk_count == 0) {  // nothing to embed, nothing to fail
        if (!out.Put(EmbeddedChunk{std::move(m), {}, {}, std::nullopt})) return false;
      } else if (!why.empty()) {
        if (!pass_failed(std::move(m), why)) return false;
      } else {
        auto v = vectors->row(row++);
        if (!out.Put(EmbeddedChunk{std::move(m), std::vector<float>(v.begin(), v.end()), {}, std::nullopt}))
          return false;
      }
    }
    return true;
  };

  while (!events.ShouldStop()) {
    ChunkMessage m;
    const Pulled pulled = in.Pull(&m, pending.empty() ? kPollWait : linger_);
    if (pulled == Pulled::kEnd) {
      flush();
      return unavailable;
    }
    if (pulled == Pulled::kIdle) {
      if (!flush()) return unavailable;
      continue;
    }
    if (failed.count({m.chunk.doc_id, m.version})) {
      if (!pass_failed(std::move(m), "an earlier batch of this document failed")) return unavailable;
      continue;
    }
    if (m.chunk.chunk_count > 0) ++pending_texts;
    pending.push_back(std::move(m));
    if (pending_texts >= batch_chunks_ && !flush()) return unavailable;
  }
  return unavailable;
}

// ---------------------------------------------------------------- index

IndexStage::IndexStage(store::Collection& collection) : collection_(collection) {}

Status IndexStage::Run(Source<EmbeddedChunk>& in, StageEvents& events) const {
  struct OpenDocument {
    std::string id;
    uint64_t version = 0;
    size_t chunk_count = 0;
    size_t expected = 0;     // messages: chunk_count, or 1 for a chunkless document
    size_t arrived = 0;      // distinct ordinals
    std::vector<bool> seen;  // per ordinal: arrived (a redelivered message is ignored)
    bool failed = false;
    std::vector<store::Record> records;
    std::map<std::string, uint64_t> first_offset;  // per source key: its earliest message
  };
  std::map<std::pair<std::string, uint64_t>, OpenDocument> open;
  std::vector<OpenDocument> ready;
  constexpr size_t kMaxReady = 256;           // documents per write at most
  std::map<std::string, uint64_t> read_past;  // per source key: one past the last offset read
  store::SourcePositions written;             // what the last write carried
  // Documents finished lately, so that a late redelivery of one of their
  // messages (at-least-once transports) does not open them again.
  std::set<std::pair<std::string, uint64_t>> finished;
  std::deque<std::pair<std::string, uint64_t>> finished_order;
  constexpr size_t kFinishedMemory = 1 << 16;

  // Per key: the first offset of a document still open, else past the last read.
  auto positions_now = [&]() {
    store::SourcePositions p(read_past.begin(), read_past.end());
    for (const auto& [key, d] : open) {
      for (const auto& [source, offset] : d.first_offset) p[source] = std::min(p[source], offset);
    }
    return p;
  };
  auto commit = [&]() -> Status {
    if (events.ShouldStop()) return absl::OkStatus();
    const store::SourcePositions positions = positions_now();
    if (ready.empty() && positions == written) return absl::OkStatus();
    std::vector<store::WriteGroup> groups(ready.size());
    for (size_t g = 0; g < ready.size(); ++g) groups[g].upserts = std::move(ready[g].records);
    std::vector<bool> had_head(ready.size(), false);
    // Under the collection's writer lock: a newer version committed
    // meanwhile wins; else the old chunks past the new count go in the same
    // write.
    auto check = [&](const store::Collection& c, size_t g, std::vector<std::string>* deletes) -> Status {
      const OpenDocument& d = ready[g];
      auto head = c.Get(ChunkId(d.id, 0));
      if (head && head->version >= d.version) return absl::AbortedError("superseded");
      had_head[g] = head.has_value();
      *deletes = ExistingChunkIds(c, d.id, d.chunk_count, head ? ChunkCountOf(*head) : 0);
      return absl::OkStatus();
    };
    const auto t = Clock::now();
    auto summary = collection_.Write(std::move(groups), check, positions.empty() ? nullptr : &positions);
    events.StageTime("upsert", SecondsSince(t));
    if (!summary.ok()) return summary.status();
    written = positions;
    events.ChunksDeleted(summary->deletes.deleted);
    for (size_t g = 0; g < ready.size(); ++g) {
      const OpenDocument& d = ready[g];
      if (summary->dropped[g]) {
        events.Committed(d.id, CommitOutcome::kSuperseded, 0);
      } else {
        events.Committed(d.id, had_head[g] ? CommitOutcome::kReplaced : CommitOutcome::kAdded, d.chunk_count);
      }
    }
    ready.clear();
    return absl::OkStatus();
  };

  while (!events.ShouldStop()) {
    EmbeddedChunk e;
    const Pulled pulled = in.Pull(&e, ready.empty() ? kPollWait : std::chrono::milliseconds(0));
    if (pulled == Pulled::kEnd) return commit();
    if (pulled == Pulled::kIdle) {
      RETURN_IF_ERROR(commit());
      continue;
    }
    ChunkPayload& chunk = e.message.chunk;
    const std::pair<std::string, uint64_t> key{chunk.doc_id, e.message.version};
    if (e.from) {
      uint64_t& past = read_past[e.from->key];
      past = std::max(past, e.from->offset + 1);
    }
    if (e.passing) continue;
    if (finished.count(key)) continue;  // a redelivery of a document already written or failed
    OpenDocument& d = open[key];
    if (d.seen.empty()) {
      d.id = chunk.doc_id;
      d.version = e.message.version;
      d.chunk_count = chunk.chunk_count;
      d.expected = std::max<size_t>(chunk.chunk_count, 1);
      d.seen.assign(d.expected, false);
    }
    const size_t slot = chunk.chunk_count == 0 ? 0 : chunk.ordinal;
    if (slot >= d.expected || d.seen[slot]) continue;  // redelivered (or not of this version's shape)
    d.seen[slot] = true;
    ++d.arrived;
    if (e.from) {
      auto [it, inserted] = d.first_offset.emplace(e.from->key, e.from->offset);
      if (!inserted) it->second = std::min(it->second, e.from->offset);
    }
    if (!e.error.empty()) {
      if (!d.failed) events.Failed(d.id, StrCat("embedding failed: ", e.error), false);
      d.failed = true;
      d.records.clear();
    } else if (!d.failed && chunk.chunk_count > 0) {
      std::string id = ChunkId(chunk.doc_id, chunk.ordinal);
      d.records.push_back(
          store::Record{std::move(id), d.version, std::move(e.embedding), chunk.ToJson().dump()});
    }
    if (d.arrived == d.expected) {
      auto node = open.extract(key);
      if (!node.mapped().failed) ready.push_back(std::move(node.mapped()));
      finished.insert(key);
      finished_order.push_back(key);
      if (finished_order.size() > kFinishedMemory) {
        finished.erase(finished_order.front());
        finished_order.pop_front();
      }
    }
    if (ready.size() >= kMaxReady) RETURN_IF_ERROR(commit());
  }
  return absl::OkStatus();
}

}  // namespace ragline::pipeline
