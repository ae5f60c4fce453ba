#include "obs/rag_metrics.h"

namespace ragline::obs {

HistogramFamily& PipelineLatency(MetricsRegistry& registry) {
  return registry.Histogram(kPipelineLatencyName, "Latency of one pipeline stage (query and ingest), in seconds.",
                            {"stage"});
}

HistogramFamily& VectorstoreQueryTime(MetricsRegistry& registry) {
  return registry.Histogram(kVectorstoreQueryTimeName, "Time one vector store search took, in seconds.", {"mode"});
}

}  // namespace ragline::obs
