#include "pipeline/reindex.h"

#include <algorithm>
#include <unordered_set>

#include "core/strings.h"
#include "pipeline/chunk_payload.h"
#include "resilience/token_bucket.h"
#include "store/record_json.h"

namespace ragline::pipeline {
namespace {

using nlohmann::json;

// What re-embedding reads: a chunk's text, else the lexical text field.
Result<std::string> TextOf(const store::StoredRecord& r, const std::string& text_field) {
  if (auto chunk = ChunkPayload::FromJson(r.payload); chunk.ok()) return std::move(chunk->text);
  if (r.payload.is_object()) {
    if (auto it = r.payload.find(text_field); it != r.payload.end() && it->is_string()) {
      return it->get<std::string>();
    }
  }
  return absl::FailedPreconditionError(StrCat("record '", r.id, "' has no text (\"", text_field,
                                              "\") to re-embed; copy its vector instead (no model)"));
}

class Copier {
 public:
  Copier(store::Collection& source, store::Collection& target, const ReindexOptions& options)
      : source_(source), target_(target), options_(options) {
    if (options.rate > 0) bucket_.emplace(options.rate, std::max<double>(options.rate, options.batch));
  }

  // One pass; true when it changed the target.
  Result<bool> Pass() {
    ++progress_.pass;
    const size_t changed_before = progress_.copied + progress_.deleted;
    std::vector<store::StoredRecord> live = source_.ListRecords(nullptr);
    progress_.total = live.size();
    progress_.done = 0;
    std::unordered_set<std::string> ids;
    ids.reserve(live.size());
    std::vector<store::StoredRecord> batch;
    for (store::StoredRecord& r : live) {
      ids.insert(r.id);
      if (auto there = target_.Get(r.id); there && there->version == r.version) {
        ++progress_.skipped;
        ++progress_.done;
        continue;
      }
      batch.push_back(std::move(r));
      if (batch.size() >= options_.batch) RETURN_IF_ERROR(Flush(batch));
    }
    RETURN_IF_ERROR(Flush(batch));
    // Gone from the source since: gone from the target too.
    std::vector<std::string> gone;
    for (const store::StoredRecord& r : target_.ListRecords(nullptr)) {
      if (!ids.contains(r.id)) gone.push_back(r.id);
    }
    if (!gone.empty()) {
      ASSIGN_OR_RETURN(store::DeleteSummary d, target_.Delete(gone));
      progress_.deleted += d.deleted;
    }
    Report();
    return progress_.copied + progress_.deleted > changed_before;
  }

  const ReindexProgress& progress() const { return progress_; }

 private:
  Status Flush(std::vector<store::StoredRecord>& batch) {
    if (batch.empty()) return absl::OkStatus();
    if (options_.cancelled && options_.cancelled()) {
      return absl::CancelledError(
          StrCat("re-index cancelled after ", progress_.copied, " records; run it again to resume"));
    }
    if (bucket_)
      RETURN_IF_ERROR(bucket_->Take(static_cast<double>(batch.size()), resilience::Deadline::Never()));
    std::vector<store::Record> records;
    std::vector<std::string> texts;
    records.reserve(batch.size());
    for (store::StoredRecord& r : batch) {
      store::Record rec{r.id, r.version, {}, r.payload.dump()};
      if (options_.embedder != nullptr) {
        ASSIGN_OR_RETURN(std::string text, TextOf(r, source_.config().lexical.text_field));
        texts.push_back(std::move(text));
      } else {
        auto full = source_.Get(r.id);
        if (!full || full->version != r.version) continue;  // changed since the listing: the next pass has it
        rec.vector = std::move(full->vector);
      }
      records.push_back(std::move(rec));
    }
    if (options_.embedder != nullptr) {
      ASSIGN_OR_RETURN(Matrix m, options_.embedder->Embed(texts));
      for (size_t i = 0; i < records.size(); ++i) {
        auto row = m.row(i);
        records[i].vector.assign(row.begin(), row.end());
      }
    }
    const size_t looked_at = batch.size(), copied = records.size();
    batch.clear();
    RETURN_IF_ERROR(target_.Upsert(std::move(records)).status());
    progress_.copied += copied;
    progress_.done += looked_at;
    Report();
    return absl::OkStatus();
  }

  void Report() {
    if (options_.on_progress) options_.on_progress(progress_);
  }

  store::Collection& source_;
  store::Collection& target_;
  const ReindexOptions& options_;
  std::optional<resilience::TokenBucket> bucket_;
  ReindexProgress progress_;
};

}  // namespace

json ReindexReport::ToJson() const {
  return {{"passes", progress.pass},     {"source_records", progress.total}, {"copied", progress.copied},
          {"skipped", progress.skipped}, {"deleted", progress.deleted},      {"converged", converged}};
}

Result<ReindexReport> CopyCollection(store::Collection& source, store::Collection& target,
                                     const ReindexOptions& options) {
  const auto& s = source.config();
  const auto& t = target.config();
  if (&source == &target)
    return absl::InvalidArgumentError("re-index: source and target are the same collection");
  if (options.embedder != nullptr) {
    if (options.embedder->dim() != t.dim) {
      return absl::InvalidArgumentError(StrCat("re-index: the model ", options.embedder->model_id(),
                                               " embeds to ", options.embedder->dim(),
                                               " dimensions, collection '", t.name, "' has ", t.dim));
    }
  } else if (s.dim != t.dim || s.metric != t.metric) {
    return absl::InvalidArgumentError(StrCat("re-index: collection '", t.name, "' (", t.dim, " dimensions, ",
                                             store::MetricName(t.metric), ") cannot take the vectors of '",
                                             s.name, "' (", s.dim, ", ", store::MetricName(s.metric),
                                             "); re-embed with a model to change them"));
  }
  Copier copier(source, target, options);
  ReindexReport report;
  for (size_t pass = 0; pass < std::max<size_t>(1, options.max_passes); ++pass) {
    ASSIGN_OR_RETURN(const bool changed, copier.Pass());
    if (!changed) {
      report.converged = true;
      break;
    }
  }
  report.progress = copier.progress();
  return report;
}

json VerifyCopy(store::Collection& source, store::Collection& target, size_t samples) {
  std::vector<store::StoredRecord> live = target.ListRecords(nullptr);
  const size_t source_count = source.ListRecords(nullptr).size();
  std::sort(live.begin(), live.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  const size_t step = live.empty() ? 1 : std::max<size_t>(1, live.size() / std::max<size_t>(1, samples));
  size_t sampled = 0, found = 0;
  json missing = json::array();
  for (size_t i = 0; i < live.size() && sampled < samples; i += step, ++sampled) {
    auto rec = target.Get(live[i].id);
    if (!rec) continue;
    auto hits = target.Search(rec->vector, 10, nullptr);
    // Found: the record, or a record with the very same vector (ties may fill the top 10).
    const bool hit = hits.ok() && std::any_of(hits->begin(), hits->end(), [&](const store::SearchHit& h) {
                       if (h.id == rec->id) return true;
                       auto twin = target.Get(h.id);
                       return twin && twin->vector == rec->vector;
                     });
    if (hit) {
      ++found;
    } else {
      missing.push_back(rec->id);
    }
  }
  const bool ok = source_count == live.size() && found == sampled;
  return {{"ok", ok},
          {"source_count", source_count},
          {"target_count", live.size()},
          {"sampled", sampled},
          {"found", found},
          {"missing", missing}};
}

Result<store::CollectionConfig> ReindexTargetConfig(const store::CollectionConfig& source,
                                                    const std::string& target_name, const json& index,
                                                    uint32_t dim) {
  store::CollectionConfig config = source;
  config.name = target_name;
  if (!index.is_null()) {
    config.index_params = {};
    RETURN_IF_ERROR(store::ApplyIndexJson(index, &config));
  }
  if (dim != 0) config.dim = dim;
  RETURN_IF_ERROR(config.Validate());
  return config;
}

}  // namespace ragline::pipeline
