// Compactor: merges a Database's open collections in the background when
// their sealed segments pile up, so a long-running server keeps one graph walk
// per query and drops the rows that updates and deletes left dead. (Compact()
// needs the collection's writer, which the server holds, so `ragline compact`
// cannot run beside it.)
//
// Every `interval`, each open collection is compacted when it has at least
// `min_segments` sealed segments, or when dead rows reach `max_dead_fraction`
// of its sealed rows. A growing segment whose dead rows reach that fraction
// (with at least `min_growing_rows` rows) is sealed first, so updates do not
// pile up in memory until the seal threshold. One collection at a time, on
// the Compactor's thread; the merge's index build runs on the Database's pool. A collection whose
// compaction failed is not tried again until its segments change.
//
// `catalog` (may be null) is held shared around each collection's check and
// compaction, so a collection is not dropped under it (the server's catalog
// mutex: dropping takes it exclusively and waits for a merge in progress).
//
// Thread safety: RunOnce may be called from any thread; the destructor stops
// the thread, waiting for a compaction in progress to finish.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>

#include "store/collection.h"
#include "store/database.h"

namespace ragline::store {

struct CompactorOptions {
  std::chrono::milliseconds interval{5000};
  size_t min_segments = 4;         // 0: segment count never triggers
  double max_dead_fraction = 0.2;  // outside (0, 1): dead rows never trigger
  // A growing segment of at least this many rows, max_dead_fraction of them
  // dead (updated or deleted since), is sealed early so that compaction can
  // drop them: memory stays bounded under updates.
  size_t min_growing_rows = 1024;

  bool dead_rows_trigger() const { return max_dead_fraction > 0 && max_dead_fraction < 1; }
  // False when neither trigger is on: nothing would ever be compacted.
  bool enabled() const { return min_segments > 0 || dead_rows_trigger(); }
};

// One compaction's outcome, for logs and metrics.
struct CompactionReport {
  std::string collection;
  size_t sealed_segments = 0;  // before
  size_t dead_rows = 0;        // before
  double seconds = 0;
  Status status;
};

// Whether `stats` calls for a compaction under `options`.
bool NeedsCompaction(const CollectionStats& stats, const CompactorOptions& options);

class Compactor {
 public:
  using Callback = std::function<void(const CompactionReport&)>;

  // Starts the background thread. `db` must outlive the Compactor.
  Compactor(Database* db, std::shared_mutex* catalog, CompactorOptions options, Callback on_compaction);
  ~Compactor();
  Compactor(const Compactor&) = delete;
  Compactor& operator=(const Compactor&) = delete;

  // One pass over the open collections; returns how many were compacted.
  size_t RunOnce();

 private:
  void Loop();

  Database* const db_;
  std::shared_mutex* const catalog_;
  const CompactorOptions options_;
  const Callback on_compaction_;
  std::mutex run_mu_;  // one pass at a time
  // Per collection: the segment ids a failed compaction saw (not retried while equal).
  std::map<std::string, std::vector<uint64_t>> failed_;  // GUARDED_BY(run_mu_)
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;  // GUARDED_BY(stop_mu_)
  std::thread thread_;
};

}  // namespace ragline::store
