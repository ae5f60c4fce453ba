#include "embed/batching_embedder.h"

#include <algorithm>

namespace ragline::embed {

BatchingEmbedder::BatchingEmbedder(LocalEmbedder& inner, BatchingEmbedderOptions options,
                                   obs::MetricsRegistry* metrics)
    : inner_(inner), options_(options) {
  if (metrics != nullptr) {
    batch_texts_ = &metrics
                        ->Histogram("rag_embed_batch_texts",
                                    "Texts (query questions) per batched encoder forward pass.", {},
                                    {1, 2, 4, 8, 16, 32, 64, 128})
                        .WithLabels({});
    batch_wait_ = &metrics
                       ->Histogram("rag_embed_batch_wait_seconds",
                                   "Time a question waited for its batched encoder pass to start, in seconds.",
                                   {}, obs::ExponentialBuckets(0.0001, 2, 14))
                       .WithLabels({});
  }
  const size_t workers = options_.workers > 0 ? options_.workers
                                              : std::max<unsigned>(1, std::thread::hardware_concurrency());
  for (size_t i = 0; i < workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

BatchingEmbedder::~BatchingEmbedder() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

Result<Matrix> BatchingEmbedder::Embed(std::span<const std::string> texts) {
  Call call;
  call.ids.reserve(texts.size());
  for (const std::string& text : texts) {
    call.ids.push_back(inner_.InputIds(text));
    call.tokens += call.ids.back().size();
  }
  if (texts.empty() || call.tokens > options_.max_batch_tokens) {
    return inner_.EmbedInputIds(std::move(call.ids));
  }
  call.queued = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(&call);
    queued_tokens_ += call.tokens;
  }
  work_cv_.notify_one();
  call.done.acquire();
  return std::move(call.result);
}

std::vector<BatchingEmbedder::Call*> BatchingEmbedder::TakeBatch() {
  std::vector<Call*> batch;
  size_t tokens = 0;
  while (!queue_.empty() &&
         (batch.empty() || tokens + queue_.front()->tokens <= options_.max_batch_tokens)) {
    tokens += queue_.front()->tokens;
    batch.push_back(queue_.front());
    queue_.pop_front();
  }
  queued_tokens_ -= tokens;
  return batch;
}

void BatchingEmbedder::WorkerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    if (options_.window.count() > 0 && !stopping_) {
      const auto until = queue_.front()->queued + options_.window;
      work_cv_.wait_until(lock, until, [&] {
        return stopping_ || queue_.empty() || queued_tokens_ >= options_.max_batch_tokens;
      });
      if (queue_.empty()) continue;  // another worker took them
    }
    std::vector<Call*> batch = TakeBatch();
    lock.unlock();

    const auto started = std::chrono::steady_clock::now();
    std::vector<std::vector<int32_t>> ids;
    for (Call* call : batch) {
      for (auto& seq : call->ids) ids.push_back(std::move(seq));
      if (batch_wait_ != nullptr) {
        batch_wait_->Observe(std::chrono::duration<double>(started - call->queued).count());
      }
    }
    if (batch_texts_ != nullptr) batch_texts_->Observe(static_cast<double>(ids.size()));
    Result<Matrix> rows = inner_.EmbedInputIds(std::move(ids), /*pool=*/nullptr);
    size_t next_row = 0;
    for (Call* call : batch) {
      if (!rows.ok()) {
        call->result = rows.status();
        continue;
      }
      Matrix m(call->ids.size(), rows->cols());
      for (size_t r = 0; r < m.rows(); ++r, ++next_row) {
        std::copy(rows->row(next_row).begin(), rows->row(next_row).end(), m.row(r).begin());
      }
      call->result = std::move(m);
    }
    for (Call* call : batch) call->done.release();  // `call` may be gone after this
    lock.lock();
  }
}

}  // namespace ragline::embed
