#include "store/compactor.h"

namespace ragline::store {
namespace {

// What the policy and the report read from a collection's sealed segments.
struct SealedSummary {
  std::vector<uint64_t> ids;
  size_t rows = 0;
  size_t dead = 0;
};

SealedSummary Summarize(const CollectionStats& stats) {
  SealedSummary s;
  for (const auto& seg : stats.segments) {
    if (!seg.sealed) continue;
    s.ids.push_back(seg.id);
    s.rows += seg.rows;
    s.dead += seg.deleted;
  }
  return s;
}

bool Needs(const SealedSummary& s, const CompactorOptions& options) {
  if (options.min_segments > 0 && s.ids.size() >= std::max<size_t>(options.min_segments, 2)) return true;
  return options.dead_rows_trigger() && s.dead > 0 &&
         double(s.dead) >= options.max_dead_fraction * double(s.rows);
}

// The growing segment (the newest unsealed one) holds dead rows until it is
// sealed; with many updates and no seal threshold in sight that is memory
// nothing reclaims. True when it should be sealed now, so that compaction
// can drop them.
bool GrowingNeedsSeal(const CollectionStats& stats, const CompactorOptions& options) {
  const SegmentStats* growing = nullptr;
  for (const auto& seg : stats.segments) {
    if (!seg.sealed && (growing == nullptr || seg.id > growing->id)) growing = &seg;
  }
  return growing != nullptr && options.dead_rows_trigger() && growing->rows >= options.min_growing_rows &&
         double(growing->deleted) >= options.max_dead_fraction * double(growing->rows);
}

}  // namespace

bool NeedsCompaction(const CollectionStats& stats, const CompactorOptions& options) {
  return Needs(Summarize(stats), options);
}

Compactor::Compactor(Database* db, std::shared_mutex* catalog, CompactorOptions options,
                     Callback on_compaction)
    : db_(db), catalog_(catalog), options_(options), on_compaction_(std::move(on_compaction)) {
  thread_ = std::thread([this] { Loop(); });
}

Compactor::~Compactor() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  thread_.join();
}

void Compactor::Loop() {
  std::unique_lock<std::mutex> lock(stop_mu_);
  while (!stop_cv_.wait_for(lock, options_.interval, [this] { return stop_; })) {
    lock.unlock();
    RunOnce();
    lock.lock();
  }
}

size_t Compactor::RunOnce() {
  std::lock_guard<std::mutex> run_lock(run_mu_);
  size_t compacted = 0;
  for (const std::string& name : db_->OpenCollectionNames()) {
    {
      std::lock_guard<std::mutex> lock(stop_mu_);
      if (stop_) break;
    }
    std::shared_lock<std::shared_mutex> catalog_lock;
    if (catalog_ != nullptr) catalog_lock = std::shared_lock<std::shared_mutex>(*catalog_);
    auto collection = db_->GetCollection(name);
    if (!collection.ok()) continue;  // dropped since the listing
    const CollectionStats stats = (*collection)->Stats();
    if (GrowingNeedsSeal(stats, options_)) {
      // Sealed in the background; a later round compacts it (dead rows).
      if (Status st = (*collection)->Seal(); !st.ok() && on_compaction_) {
        on_compaction_(CompactionReport{name, 0, 0, 0, st});
      }
    }
    const SealedSummary sealed = Summarize(stats);
    if (auto it = failed_.find(name); it != failed_.end()) {
      if (it->second == sealed.ids) continue;
      failed_.erase(it);
    }
    if (!Needs(sealed, options_)) continue;
    CompactionReport report;
    report.collection = name;
    report.sealed_segments = sealed.ids.size();
    report.dead_rows = sealed.dead;
    const auto start = std::chrono::steady_clock::now();
    report.status = (*collection)->Compact();
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (report.status.ok()) {
      ++compacted;
    } else {
      failed_[name] = sealed.ids;
    }
    if (on_compaction_) on_compaction_(report);
  }
  return compacted;
}

}  // namespace ragline::store
