// BatchingEmbedder: gathers the texts of concurrent Embed() calls (a query's
// question each) into one encoder forward pass, as TEI's dynamic batching
// does, so N concurrent questions cost one pass over the weights instead of N.
//
// Each caller tokenizes its own texts (in parallel, on its own thread) and
// queues them. A small, fixed set of batch threads (`workers`, not one per
// request) each take what is queued, oldest first, up to `max_batch_tokens`
// tokens, and run LocalEmbedder::EmbedInputIds on it on that thread alone;
// rows go back to their callers. While a pass runs, new questions queue up and
// form the next batch, so batching costs a lone question nothing. `window`
// optionally holds a batch open a little longer for more questions (until the
// budget is full).
//
// Passes run on one thread each, not on the embedder's pool: a question-sized
// pass split over a pool re-reads every weight matrix per block and pays a
// hand-off per layer. Measured on 2 vCPUs (docs/BENCHMARKS.md, query-bench),
// a lone short question took 1.9 ms on one thread against 2.8 ms on the pool,
// and concurrency comes from the batch threads instead.
// A call whose own texts exceed `max_batch_tokens` (a bulk embedding request)
// runs directly on the caller's thread, as LocalEmbedder would run it.
//
// Rows are exactly what LocalEmbedder::Embed returns for the same text (the
// encoder's result for a sequence does not depend on its batch-mates).
//
// The queue needs no bound of its own: every queued call is a caller blocked
// in Embed(), and callers are the server's bounded HTTP workers.
//
// Thread safety: Embed() may be called concurrently. The destructor finishes
// the queued calls, then joins the batch threads; no Embed() may start
// during or after it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <semaphore>
#include <thread>
#include <vector>

#include "embed/local_embedder.h"
#include "obs/metrics.h"

namespace ragline::embed {

struct BatchingEmbedderOptions {
  size_t workers = 0;                   // batch threads; 0 = the machine's hardware threads
  size_t max_batch_tokens = 4096;       // tokens per pass (a 10-token question: ~400 per pass)
  std::chrono::microseconds window{0};  // extra wait for more questions after the first
};

class BatchingEmbedder final : public Embedder {
 public:
  // `inner` must outlive *this. With `metrics`, exports
  // rag_embed_batch_texts (texts per forward pass) and
  // rag_embed_batch_wait_seconds (queued until its pass started).
  BatchingEmbedder(LocalEmbedder& inner, BatchingEmbedderOptions options,
                   obs::MetricsRegistry* metrics = nullptr);
  ~BatchingEmbedder() override;
  BatchingEmbedder(const BatchingEmbedder&) = delete;
  BatchingEmbedder& operator=(const BatchingEmbedder&) = delete;

  size_t dim() const override { return inner_.dim(); }
  const std::string& model_id() const override { return inner_.model_id(); }
  std::string description() const override { return inner_.description(); }
  Result<Matrix> Embed(std::span<const std::string> texts) override;

 private:
  struct Call {
    std::vector<std::vector<int32_t>> ids;
    size_t tokens = 0;
    std::chrono::steady_clock::time_point queued;
    Result<Matrix> result = absl::UnknownError("not run");
    std::binary_semaphore done{0};  // released once `result` is set
  };

  void WorkerLoop();
  // Removes the calls of the next pass from the queue; requires mu_ held.
  std::vector<Call*> TakeBatch();

  LocalEmbedder& inner_;
  const BatchingEmbedderOptions options_;
  obs::Histogram* batch_texts_ = nullptr;
  obs::Histogram* batch_wait_ = nullptr;

  std::mutex mu_;
  std::condition_variable work_cv_;  // a call was queued, or stopping_
  std::deque<Call*> queue_;          // GUARDED_BY(mu_)
  size_t queued_tokens_ = 0;         // GUARDED_BY(mu_)
  bool stopping_ = false;            // GUARDED_BY(mu_)
  std::vector<std::thread> workers_;
};

}  // namespace ragline::embed
