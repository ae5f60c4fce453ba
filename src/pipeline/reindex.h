// Reindex: brings one collection up to another's live records, the core of a
// rolling re-index and of an embedding-model migration (docs/reliability.md
// "Re-index with rollback"): create the new collection (another index kind
// or parameters, or another model's dimension), copy, verify, flip the alias,
// keep the old collection for a rollback.
//
// CopyCollection makes passes over the source's live records: a record the
// target already holds at the same version is skipped, others are upserted
// with their id, version and payload (and the source's vector, or one
// re-embedded from the record's text by `embedder`); ids live in the target
// but not in the source are deleted there. It stops after a pass that
// changed nothing, so writes made to the source during a pass reach the
// target in the next. Everything is idempotent: a copy that was killed or
// cancelled resumes where it stopped when run again (done records are
// skipped). To close the gap between the last pass and a flip, run a final
// pass while the source takes no writes (server/: under the catalog lock).
//
// The upsert rate into the target is throttled by a token bucket (`rate`
// records per second; 0 = unthrottled).
//
// Thread safety: the collections are used through their thread-safe methods;
// callbacks run on the calling thread.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "core/status.h"
#include "embed/embedder.h"
#include "nlohmann/json.hpp"
#include "store/collection.h"

namespace ragline::pipeline {

struct ReindexProgress {
  size_t pass = 0;     // 1, 2, ...
  size_t total = 0;    // live records in the source at the start of this pass
  size_t done = 0;     // of them, looked at in this pass
  size_t copied = 0;   // upserted into the target, all passes
  size_t skipped = 0;  // already there at the same version, all passes
  size_t deleted = 0;  // removed from the target (gone from the source), all passes
};

struct ReindexOptions {
  // Re-embed each record's text (a chunk's text, else the payload's lexical
  // text field) with this model instead of copying the vector. Its dim must
  // be the target's.
  embed::Embedder* embedder = nullptr;
  double rate = 0;        // records per second upserted into the target; 0 = unthrottled
  size_t batch = 256;     // records per upsert
  size_t max_passes = 8;  // a source written faster than it copies stops here (not converged)
  std::function<void(const ReindexProgress&)> on_progress;  // after each batch
  std::function<bool()> cancelled;                          // checked between batches: Cancelled
};

struct ReindexReport {
  ReindexProgress progress;
  bool converged = false;  // the last pass changed nothing
  nlohmann::json ToJson() const;
};

// See the file comment. InvalidArgument when the collections' dimensions or
// metrics cannot match (or the embedder's dimension is not the target's);
// FailedPrecondition for a record with no text to re-embed.
Result<ReindexReport> CopyCollection(store::Collection& source, store::Collection& target,
                                     const ReindexOptions& options);

// Checks a copy before a flip: the live counts are equal and, for up to
// `samples` records (spread over the ids), a dense search of the target with
// the record's own stored vector finds it (or a record with the same vector)
// in the top 10. {"ok", "source_count",
// "target_count", "sampled", "found", "missing": [ids]}.
nlohmann::json VerifyCopy(store::Collection& source, store::Collection& target, size_t samples = 50);

// The target's config: the source's with another name, and the index kind and
// parameters (`index`: "hnsw" or {"kind", "params"}; null keeps the
// source's) and dim (0 keeps it) given.
Result<store::CollectionConfig> ReindexTargetConfig(const store::CollectionConfig& source,
                                                    const std::string& target_name,
                                                    const nlohmann::json& index, uint32_t dim);

}  // namespace ragline::pipeline
