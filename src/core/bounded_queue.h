// BoundedQueue<T>: a fixed-capacity FIFO that joins two stages (the
// in-process transport of the ingestion pipeline, pipeline/channel.h).
// Push blocks while the queue is full (back-pressure: a fast producer waits
// for a slow consumer instead of buffering without limit); Pop blocks while
// it is empty. Close() ends the stream: pending Push calls return false and
// drop their item, later Pops drain what is queued and then return nullopt.
// A stage that fails closes its queues so the stages on both sides stop.
//
// Thread safety: every method may be called from any number of threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

namespace ragline {

template <typename T>
class BoundedQueue {
 public:
  // `capacity` items at most (0 is treated as 1).
  explicit BoundedQueue(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}
  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;

  // Waits for room, then appends `item`. False (item dropped) once closed.
  bool Push(T item) {
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }

  // Waits for an item; nullopt when the queue is closed and drained.
  std::optional<T> Pop() {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return item;
  }

  // Waits up to `timeout` for an item: kItem (moved to *out), kTimeout
  // (nothing arrived in time), or kClosed (closed and drained).
  enum class Wait { kItem, kTimeout, kClosed };
  Wait PopFor(std::chrono::nanoseconds timeout, T* out) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!not_empty_.wait_for(lock, timeout, [&] { return closed_ || !items_.empty(); }))
      return Wait::kTimeout;
    if (items_.empty()) return Wait::kClosed;
    *out = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return Wait::kItem;
  }

  // No more items will be accepted; wakes every waiter. Idempotent.
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    not_full_.notify_all();
    not_empty_.notify_all();
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return items_.size();
  }
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable not_full_;
  std::condition_variable not_empty_;
  std::deque<T> items_;  // GUARDED_BY(mu_)
  bool closed_ = false;  // GUARDED_BY(mu_)
};

}  // namespace ragline
