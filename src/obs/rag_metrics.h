// The metric families shared by the query and ingest paths, registered in one
// place so every component that reports into them agrees on name, labels and
// buckets (MetricsRegistry aborts on a conflicting re-registration).
//
//   rag_pipeline_latency_seconds{stage}      one observation per stage run:
//       query stages "embed", "retrieve", "generate" (server/); ingest stages
//       ("extract", "chunk", "embed", "upsert", ...) report into the same family.
//   rag_vectorstore_query_time_seconds{mode} one observation per store search
//       (mode: dense | lexical | hybrid).
//
// Thread safety: as MetricsRegistry; the returned references live as long as
// the registry.
#pragma once

#include "obs/metrics.h"

namespace ragline::obs {

inline constexpr char kPipelineLatencyName[] = "rag_pipeline_latency_seconds";
inline constexpr char kVectorstoreQueryTimeName[] = "rag_vectorstore_query_time_seconds";

// Registers (or returns) rag_pipeline_latency_seconds{stage}.
HistogramFamily& PipelineLatency(MetricsRegistry& registry);
// Registers (or returns) rag_vectorstore_query_time_seconds{mode}.
HistogramFamily& VectorstoreQueryTime(MetricsRegistry& registry);

}  // namespace ragline::obs
