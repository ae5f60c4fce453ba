#include "store/compactor.h"

namespace ragline::store {
namespace {

std::vector<uint64_t> SealedIds(const CollectionStats& stats) {
  std::vector<uint64_t> ids;
  for (const auto& s : stats.segments) {
    if (s.sealed) ids.push_back(s.id);
  }
  return ids;
}

}  // namespace

bool NeedsCompaction(const CollectionStats& stats, const CompactorOptions& options) {
  size_t sealed = 0, rows = 0, dead = 0;
  for (const auto& s : stats.segments) {
    if (!s.sealed) continue;
    ++sealed;
    rows += s.rows;
    dead += s.deleted;
  }
  if (options.min_segments > 0 && sealed >= std::max<size_t>(options.min_segments, 2)) return true;
  const double f = options.max_dead_fraction;
  return f > 0 && f < 1 && dead > 0 && double(dead) >= f * double(rows);
}

Compactor::Compactor(Database* db, std::shared_mutex* catalog, CompactorOptions options, Callback on_compaction)
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
    const std::vector<uint64_t> sealed = SealedIds(stats);
    if (auto it = failed_.find(name); it != failed_.end()) {
      if (it->second == sealed) continue;
      failed_.erase(it);
    }
    if (!NeedsCompaction(stats, options_)) continue;
    CompactionReport report;
    report.collection = name;
    report.sealed_segments = sealed.size();
    for (const auto& s : stats.segments) report.dead_rows += s.sealed ? s.deleted : 0;
    const auto start = std::chrono::steady_clock::now();
    report.status = (*collection)->Compact();
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (report.status.ok()) {
      ++compacted;
    } else {
      failed_[name] = sealed;
    }
    if (on_compaction_) on_compaction_(report);
  }
  return compacted;
}

}  // namespace ragline::store
