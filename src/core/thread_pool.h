// ThreadPool: a fixed set of worker threads that run submitted tasks in FIFO
// order. Components that need background work take a ThreadPool& instead of
// starting threads of their own (no hidden threads).
//
// ParallelFor splits [0, n) into contiguous ranges over the workers and the
// calling thread, and returns when all ranges are done.
//
// Thread safety: all methods may be called from any thread. The destructor
// waits for queued tasks to finish; it must not run on a worker thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ragline {

class ThreadPool {
 public:
  // num_threads == 0 means std::thread::hardware_concurrency().
  explicit ThreadPool(size_t num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const { return workers_.size(); }

  // Queues `task`; it runs on some worker thread.
  void Submit(std::function<void()> task);

  // Runs fn(begin, end) over disjoint ranges covering [0, n), using up to
  // `max_parallelism` threads (0 = all workers + the caller). Blocks until done.
  void ParallelFor(size_t n, const std::function<void(size_t begin, size_t end)>& fn,
                   size_t max_parallelism = 0);

 private:
  void WorkerLoop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                    // GUARDED_BY(mu_)
  std::vector<std::thread> workers_;
};

}  // namespace ragline
