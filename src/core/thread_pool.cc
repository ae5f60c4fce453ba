#include "core/thread_pool.h"

#include <algorithm>
#include <atomic>

namespace ragline {

ThreadPool::ThreadPool(size_t num_threads) {
  if (num_threads == 0) num_threads = std::max(1u, std::thread::hardware_concurrency());
  workers_.reserve(num_threads);
  for (size_t i = 0; i < num_threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::Submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void ThreadPool::WorkerLoop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping and drained
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

void ThreadPool::ParallelFor(size_t n, const std::function<void(size_t, size_t)>& fn,
                             size_t max_parallelism) {
  if (n == 0) return;
  size_t parts = max_parallelism == 0 ? workers_.size() + 1 : max_parallelism;
  parts = std::max<size_t>(1, std::min(parts, n));
  if (parts == 1) {
    fn(0, n);
    return;
  }
  // Ranges are claimed dynamically, so a slow range does not stall the rest,
  // and the caller claims ranges too. The caller waits only for helpers that
  // actually claimed work: a helper still queued behind busy workers (e.g. when
  // ParallelFor runs on a worker of this pool) finds nothing left and returns
  // without touching `fn`, so nested use cannot deadlock.
  struct State {
    std::atomic<size_t> next{0};
    std::atomic<size_t> active{0};
    std::mutex mu;
    std::condition_variable cv;
  };
  auto state = std::make_shared<State>();
  const size_t chunk = std::max<size_t>(1, n / (parts * 4));
  const auto* fn_ptr = &fn;
  auto run = [state, chunk, n, fn_ptr](bool helper) {
    if (helper) state->active.fetch_add(1);
    for (;;) {
      const size_t begin = state->next.fetch_add(chunk);
      if (begin >= n) break;
      (*fn_ptr)(begin, std::min(n, begin + chunk));
    }
    if (helper && state->active.fetch_sub(1) == 1) {
      std::lock_guard<std::mutex> lock(state->mu);
      state->cv.notify_all();
    }
  };
  for (size_t i = 0; i + 1 < parts; ++i) Submit([run] { run(true); });
  run(false);
  std::unique_lock<std::mutex> lock(state->mu);
  state->cv.wait(lock, [&] { return state->active.load() == 0; });
}

}  // namespace ragline
