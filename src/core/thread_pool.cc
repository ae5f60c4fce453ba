#include "core/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <latch>

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
  // Ranges are claimed dynamically so a slow range does not stall the rest.
  const size_t chunk = std::max<size_t>(1, n / (parts * 4));
  std::atomic<size_t> next{0};
  auto run = [&] {
    for (;;) {
      size_t begin = next.fetch_add(chunk);
      if (begin >= n) return;
      fn(begin, std::min(n, begin + chunk));
    }
  };
  std::latch done(static_cast<std::ptrdiff_t>(parts - 1));
  for (size_t i = 0; i + 1 < parts; ++i) {
    Submit([&] {
      run();
      done.count_down();
    });
  }
  run();
  done.wait();
}

}  // namespace ragline
