// Collection: a named set of versioned records (id, version, vector, payload)
// with a fixed dimension, metric and index kind. Owns its WAL, one growing
// segment, frozen segments waiting for their index, and sealed segments.
//
// Durability: Upsert/Delete return only after their WAL batch is durable under
// the fsync policy. A sealed segment is written to its own file and recorded
// in the manifest together with the checkpoint LSN it covers; WAL files fully
// below the checkpoint are then removed. Recovery = load the manifest's
// segments + replay the WAL tail (docs/formats/).
//
// Versions: an upsert older than the stored version (or than the version a
// delete removed) is discarded and counted as stale; an equal one is a no-op;
// a newer one replaces. Deletes remember the version they removed so replays
// of older upserts stay discarded.
//
// Lexical search: each record's payload field `lexical.text_field` (a string,
// or an array of strings) is analysed (text/analyzer.h) when it is written,
// and LexicalSearch ranks records by BM25 over those terms with statistics
// summed over all segments (docs/lexical.md).
//
// Thread safety: all public methods are thread-safe. Writers (Upsert, Delete,
// Compact's swap, seal completion) are serialised by write_mu_; searches take
// a snapshot of the segment list and never wait for writes, index builds or
// compaction. Background seals run on the ThreadPool passed in, which must
// outlive the collection.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/status.h"
#include "core/thread_pool.h"
#include "index/lexical_index.h"
#include "index/vector_index.h"
#include "nlohmann/json.hpp"
#include "store/env.h"
#include "store/filter.h"
#include "store/record.h"
#include "store/segment.h"
#include "store/wal.h"
#include "text/analyzer.h"

namespace ragline::store {

// The rule for collection and alias names, which become directory names:
// 1-64 characters of A-Z a-z 0-9 _ - (so never "", ".", ".." or a "/").
// InvalidArgument starts with `what` ("collection name", "alias").
Status ValidateName(std::string_view what, std::string_view name);

enum class DistanceMetric { kCosine, kDot, kL2 };
std::string_view MetricName(DistanceMetric metric);
Result<DistanceMetric> ParseMetric(std::string_view name);

// How records are indexed for lexical (BM25) search. Fixed at creation: the
// sealed segments' postings depend on it.
struct LexicalConfig {
  std::string text_field = "text";  // top-level payload key holding the text
  text::AnalyzerOptions analyzer;
  index::Bm25Params bm25;  // query-time only, but fixed with the rest

  nlohmann::json ToJson() const;
  // Missing keys keep their defaults; InvalidArgument for bad values.
  static Result<LexicalConfig> FromJson(const nlohmann::json& j);
  Status Validate() const;
};

struct CollectionConfig {
  std::string name;
  uint32_t dim = 0;
  DistanceMetric metric = DistanceMetric::kCosine;
  index::IndexKind index_kind = index::IndexKind::kHnsw;
  index::IndexParams index_params;
  uint32_t seal_threshold = 32768;  // rows per growing segment before it is sealed
  FsyncPolicy fsync = FsyncPolicy::kBatch;
  LexicalConfig lexical;  // absent from configs written before it: defaults

  nlohmann::json ToJson() const;
  static Result<CollectionConfig> FromJson(const nlohmann::json& j);
  // Checks name, dim, index parameters; InvalidArgument says what is wrong.
  Status Validate() const;
};

struct UpsertSummary {
  size_t inserted = 0;
  size_t replaced = 0;
  size_t stale = 0;      // older than the stored (or deleted) version: discarded
  size_t unchanged = 0;  // same version as stored: idempotent no-op
  size_t total() const { return inserted + replaced + stale + unchanged; }
};

struct DeleteSummary {
  size_t deleted = 0;
  size_t not_found = 0;
};

// One all-or-nothing part of a Write: say, a document's chunks and the
// deletes of its old ones.
struct WriteGroup {
  std::vector<Record> upserts;       // classified in order by the version rules
  std::vector<std::string> deletes;  // ids deleted at their stored version (absent ones: not_found)
};

struct WriteSummary {
  UpsertSummary upserts;
  DeleteSummary deletes;
  std::vector<bool> dropped;  // per group: its check refused it (Aborted); nothing of it was written
};

class Collection;
// Runs under the writer lock, before anything is logged, once per group:
// reads the collection (Get) as the write will find it and may add ids to
// `deletes`. Aborted drops the group; any other error fails the whole Write.
using GroupCheck =
    std::function<Status(const Collection& c, size_t group, std::vector<std::string>* deletes)>;

struct SearchHit {
  std::string id;
  // cosine: similarity, dot: inner product (higher is closer);
  // l2: squared Euclidean distance (lower is closer). Hits are closest first.
  float score = 0;
  uint64_t version = 0;
  nlohmann::json payload;
};

struct StoredRecord {
  std::string id;
  uint64_t version = 0;
  std::vector<float> vector;  // as stored (unit length for cosine)
  nlohmann::json payload;
};

struct SegmentStats {
  uint64_t id;
  size_t rows;
  size_t deleted;
  bool sealed;
  size_t memory_bytes;
};

// BM25 statistics for one query's terms: summed over shards by a router.
struct LexicalTermStats {
  uint64_t doc_count = 0;         // documents with at least one term (BM25's N)
  uint64_t total_doc_length = 0;  // Σ their lengths
  // Each unique query term's hash (index::HashTerm) and document frequency.
  std::map<index::TermHash, uint64_t> doc_freq;
};

struct LexicalStats {
  size_t documents = 0;         // live records with at least one term
  uint64_t bm25_documents = 0;  // rows counted in BM25's N (dead rows until compaction)
  uint64_t bm25_terms = 0;      // Σ their lengths (avgdl = bm25_terms / bm25_documents)
  size_t memory_bytes = 0;      // term vectors + inverted indexes (within memory_bytes)
};

// A sealed segment the manifest names that could not be loaded (corrupt or
// missing). The collection serves the rest, marked degraded, until
// `ragline repair`.
struct QuarantinedSegment {
  uint64_t id = 0;
  std::string file;              // relative to the collection directory: "segments/seg-….seg"
  std::string reason;            // what was wrong ("checksum mismatch", "missing")
  std::optional<uint64_t> rows;  // from the file's header, when readable
};

struct CollectionStats {
  std::vector<QuarantinedSegment> quarantined;  // non-empty: degraded
  size_t vector_count = 0;                      // live records
  size_t deleted = 0;                           // dead rows not yet compacted away
  size_t unindexed = 0;                         // live rows not yet covered by an ANN index
  size_t memory_bytes = 0;
  uint64_t wal_bytes = 0;
  uint64_t last_lsn = 0;
  uint64_t checkpoint_lsn = 0;
  uint64_t stale_discarded = 0;  // since this process opened the collection
  std::vector<SegmentStats> segments;
  LexicalStats lexical;
};

struct OpenOptions {
  bool read_only = false;  // no lock, no writes, no WAL repair, no background work
  // A segment named by the manifest is missing: Unavailable (the caller may
  // retry: a writer's compaction can replace segments under a read-only
  // opener) instead of quarantining it. Read-only opens only.
  bool retry_missing_segments = false;
  // ragline check / repair: read around a damaged WAL (missing files and
  // corrupt records in earlier files become gaps, WalOptions::salvage)
  // instead of refusing to open.
  bool salvage = false;
};

// What Collection::Repair did. Rows of a removed segment that the log still
// held (above the checkpoint: a write larger than a segment) are back, and
// vector_count counts them; the rest are lost.
struct RepairReport {
  std::vector<QuarantinedSegment> removed_segments;     // moved to quarantine/ (kept for inspection)
  std::vector<WalRecoveryReport::Gap> lost_log_ranges;  // LSNs above the checkpoint the log no longer had
  size_t vector_count = 0;                              // live records after the repair
};

class Collection {
 public:
  // Creates the collection directory and config. AlreadyExists if present.
  static Result<std::unique_ptr<Collection>> Create(Env& env, const std::string& dir,
                                                    const CollectionConfig& config, ThreadPool& pool);
  // Opens and recovers. FailedPrecondition if another process writes it.
  static Result<std::unique_ptr<Collection>> Open(Env& env, const std::string& dir, ThreadPool& pool,
                                                  const OpenOptions& options = {});
  ~Collection();

  // Waits for background seals, then closes the WAL. Idempotent.
  Status Close();

  const CollectionConfig& config() const { return config_; }
  const WalRecoveryReport& recovery_report() const { return recovery_report_; }
  // Segments that failed to load; non-empty = degraded (see QuarantinedSegment).
  std::vector<QuarantinedSegment> quarantined() const;
  bool degraded() const { return !quarantined().empty(); }
  // WAL LSN ranges above the checkpoint that a salvage open could not read.
  std::vector<WalRecoveryReport::Gap> LostLogRanges() const;

  // Makes a collection opened with OpenOptions::salvage (read-write) whole
  // again: what the salvage open recovered is sealed, the checkpoint then
  // covers the whole log and its damaged files are removed, and quarantined
  // segment files move to quarantine/ and leave the manifest. The report
  // says what was lost. Like leveldb's RepairDB.
  Result<RepairReport> Repair();

  // Applies `groups` atomically: one WAL record, so after a crash all of
  // the write is there or none of it; Get and Stats see all of it or none
  // (a search may see its rows land one by one for an instant). Deletes
  // apply before upserts; an id both deleted and upserted is refused.
  // InvalidArgument (naming the record's position and id) if any record is
  // malformed; then nothing is applied.
  //
  // `positions` (optional): how far an outside source (Kafka offsets) has
  // been consumed once this write is in. They are logged in the same WAL
  // record as the data and checkpointed with the segments that cover it, so
  // after any crash SourcePositions() and the data agree (exactly once). A
  // write with positions but no data changes (all superseded) still logs them.
  Result<WriteSummary> Write(std::vector<WriteGroup> groups, const GroupCheck& check = {},
                             const SourcePositions* positions = nullptr);
  // Write of one group: the records in order, per the version rules; or
  // deletes of the ids' stored versions. All-or-nothing like Write.
  Result<UpsertSummary> Upsert(std::vector<Record> records);
  Result<DeleteSummary> Delete(std::span<const std::string> ids);
  // Deletes the live records that pass `filter`. InvalidArgument for the
  // empty filter: deleting everything is DeleteAll, asked for by name.
  Result<DeleteSummary> DeleteByFilter(const PayloadFilter& filter);
  Result<DeleteSummary> DeleteAll();

  // Top-k live records closest to `query` (dim floats) that pass `filter`
  // (null = all).
  Result<std::vector<SearchHit>> Search(std::span<const float> query, size_t k, const PayloadFilter* filter,
                                        const index::SearchOptions& options = {}) const;
  // Top-k live records by BM25 score of their text against `query_text`
  // (analysed like the records), that pass `filter` (null = all); score =
  // BM25 score, higher is better, hits best first. Only records sharing a
  // term with the query match; a query with no terms left after analysis
  // (empty, all stop words) returns no hits.
  // `bm25`: parameters for this query only; null = the collection's.
  // `global`: N, Σ lengths and document frequencies to score with instead of
  // this collection's own (a router sums them over shards, so that scores from
  // different shards are comparable); null = this collection's.
  Result<std::vector<SearchHit>> LexicalSearch(std::string_view query_text, size_t k,
                                               const PayloadFilter* filter,
                                               const index::Bm25Params* bm25 = nullptr,
                                               const LexicalTermStats* global = nullptr) const;
  // The BM25 statistics LexicalSearch would score `query_text` with here.
  LexicalTermStats LexicalQueryStats(std::string_view query_text) const;
  // The analyzer records and queries go through (for callers that fuse
  // lexical results with others and want the same terms).
  const text::Analyzer& analyzer() const { return *analyzer_; }
  std::optional<StoredRecord> Get(const std::string& id) const;
  // The source positions every acknowledged Write carried, merged (the
  // largest per key); empty when no write carried any. Where a consumer
  // resumes after a restart.
  SourcePositions source_positions() const;
  // Every live record that passes `filter` (null = all): id, version and
  // payload, vectors left empty; in no particular order. Holds the writer
  // lock while it scans (like DeleteByFilter), so the list is consistent:
  // each live record exactly once. O(rows) payload evaluations.
  std::vector<StoredRecord> ListRecords(const PayloadFilter* filter);
  CollectionStats Stats() const;

  // Merges the sealed segments into one (once there are two, or one with
  // dead rows), dropping superseded and deleted rows, so a search walks one
  // graph instead of one per sealed segment. When the largest has no dead
  // rows its ANN graph is kept and only the other rows are inserted into it
  // (as Lucene merges HNSW segments); otherwise the index is built anew.
  // Blocks until done; searches go on meanwhile.
  Status Compact();
  // Blocks until every frozen segment is sealed; returns a background error.
  Status WaitForIndexing();
  // Freezes the growing segment (if it has rows) so it gets an ANN index now
  // rather than when it fills; pair with WaitForIndexing to block until done.
  Status Seal();

 private:
  struct Location {
    uint64_t segment_id;
    Row row;
    uint64_t version;
  };
  struct Frozen {
    std::shared_ptr<GrowingSegment> segment;
    uint64_t checkpoint_lsn;
    absl::flat_hash_map<std::string, uint64_t> graveyard;
    SourcePositions positions;  // as of checkpoint_lsn
  };
  using SegmentList = std::vector<std::shared_ptr<Segment>>;

  Collection(Env& env, std::string dir, CollectionConfig config, ThreadPool& pool,
             const OpenOptions& options);
  Status Recover(const OpenOptions& options);
  Status ValidateRecord(const Record& r, size_t position) const;
  // True for an all-zero vector in a cosine collection (it has no direction).
  bool IsZeroUnderCosine(std::span<const float> v) const;
  // Validates, canonicalises (payload), normalises (cosine) and analyses one
  // upsert of a Write; `position` counts records across the write.
  Status PrepareUpsert(Record& r, size_t position, index::TermVector* terms) const;
  // Write with write_mu_ held; `terms` parallel to the groups' upserts.
  Result<WriteSummary> WriteLocked(std::vector<WriteGroup> groups,
                                   std::vector<std::vector<index::TermVector>> terms, const GroupCheck& check,
                                   const SourcePositions* positions);
  // Applies one logged batch to memory under one exclusive state lock.
  // Caller holds write_mu_.
  void ApplyBatch(std::span<const DeleteEntry> deletes, std::vector<Record> upserts,
                  std::vector<index::TermVector> terms, uint64_t lsn, const SourcePositions& positions);
  // Caller holds state_mu_ exclusively.
  void ApplyUpsertLocked(Record record, index::TermVector terms);
  void ApplyDeleteLocked(const std::string& id, uint64_t version);
  // The TermVector of a payload's text field (empty without one).
  index::TermVector AnalyzePayload(const nlohmann::json& payload) const;
  Status ApplyWalEntry(const WalEntry& entry);
  // Moves the full growing segment to the frozen queue. Caller holds state_mu_.
  void FreezeGrowing();
  void PublishSnapshot();  // caller holds state_mu_
  std::shared_ptr<const SegmentList> snapshot() const;
  void ScheduleSeal();
  void SealLoop();
  Status WriteManifest(uint64_t checkpoint_lsn, const absl::flat_hash_map<std::string, uint64_t>& graveyard,
                       const SourcePositions& positions);
  Result<DeleteSummary> DeleteMatching(const PayloadFilter* filter);  // null: every record
  std::string SegmentPath(uint64_t id) const;
  index::Metric IndexMetric() const;

  Env& env_;
  const std::string dir_;
  const CollectionConfig config_;
  std::unique_ptr<text::Analyzer> analyzer_;  // from config_.lexical; immutable
  ThreadPool& pool_;
  const bool read_only_;
  std::unique_ptr<FileLock> lock_;
  std::unique_ptr<Wal> wal_;
  WalRecoveryReport recovery_report_;
  const bool salvage_;
  uint64_t manifest_checkpoint_ = 0;             // the checkpoint this open started from
  std::vector<QuarantinedSegment> quarantined_;  // GUARDED_BY(state_mu_)

  std::mutex write_mu_;  // serialises writers and WAL use; taken before state_mu_
  mutable std::shared_mutex state_mu_;
  absl::flat_hash_map<std::string, Location> id_map_;      // GUARDED_BY(state_mu_)
  absl::flat_hash_map<std::string, uint64_t> graveyard_;   // GUARDED_BY(state_mu_)
  SourcePositions source_positions_;                       // GUARDED_BY(state_mu_): as applied
  SourcePositions checkpoint_positions_;                   // GUARDED_BY(write_mu_): as of checkpoint_lsn_
  std::map<uint64_t, std::shared_ptr<Segment>> segments_;  // GUARDED_BY(state_mu_)
  std::shared_ptr<GrowingSegment> growing_;                // GUARDED_BY(state_mu_)
  std::deque<Frozen> frozen_;                              // GUARDED_BY(state_mu_)
  uint64_t next_segment_id_ = 1;                           // GUARDED_BY(state_mu_)
  uint64_t applied_lsn_ = 0;                               // GUARDED_BY(write_mu_)
  std::atomic<uint64_t> checkpoint_lsn_{0};                // written under write_mu_

  mutable std::mutex snapshot_mu_;
  std::shared_ptr<const SegmentList> snapshot_;  // GUARDED_BY(snapshot_mu_)

  std::mutex compact_mu_;  // one compaction at a time

  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool seal_running_ = false;  // GUARDED_BY(bg_mu_)
  Status bg_error_;            // GUARDED_BY(bg_mu_)
  bool closed_ = false;        // GUARDED_BY(write_mu_)

  std::atomic<uint64_t> stale_discarded_{0};
};

// The collection's stats as the CLI (`ragline stats`) and the HTTP API
// (`GET .../stats`) print them: name, dimension, metric, degraded and its
// quarantined segments, counts, segments, memory, WAL positions, index kind
// and params, lexical stats, and "wal_recovery" when the last open cut a
// torn tail or (salvage) read around lost log ranges. Names, never paths.
nlohmann::json StatsJson(const Collection& c);
// [{"id", "file", "reason", "rows"}]
nlohmann::json QuarantineJson(const std::vector<QuarantinedSegment>& segments);
// {"tail_cut": {...}, "lost_ranges": [...]}, or null when neither happened.
nlohmann::json RecoveryJson(const Collection& c);

}  // namespace ragline::store
