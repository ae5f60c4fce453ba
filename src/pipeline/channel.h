// The seam between ingestion stages: a stage pulls its input from a
// Source<T> and hands its output to a Sink<T>, and never knows what carries
// them. The transport is chosen where the stages are wired, at start-up
// (DESIGN.md §1): Channel<T>, a bounded in-process queue, in embedded mode;
// Kafka topics in distributed mode. A stage written against these runs
// unchanged on either.
//
// Thread safety: Channel and VectorSource may be used from any number of
// threads; implementations of Source and Sink say what they allow.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <utility>
#include <vector>

#include "core/bounded_queue.h"

namespace ragline::pipeline {

enum class Pulled {
  kItem,  // *out holds the next item
  kIdle,  // nothing arrived within the wait; more may come
  kEnd,   // the stream has ended (or was stopped): nothing more will come
};

template <typename T>
class Source {
 public:
  virtual ~Source() = default;
  // Waits up to `wait` for the next item.
  virtual Pulled Pull(T* out, std::chrono::milliseconds wait) = 0;
};

template <typename T>
class Sink {
 public:
  virtual ~Sink() = default;
  // Hands `item` on, waiting while the transport is full (back-pressure).
  // False: the consumer side has stopped; the producing stage stops too.
  virtual bool Put(T item) = 0;
};

// A bounded in-process queue seen from both sides. Close() ends the stream
// (Pull drains what is queued, then kEnd; Put returns false).
template <typename T>
class Channel final : public Source<T>, public Sink<T> {
 public:
  explicit Channel(size_t capacity) : queue_(capacity) {}
  bool Put(T item) override { return queue_.Push(std::move(item)); }
  Pulled Pull(T* out, std::chrono::milliseconds wait) override {
    switch (queue_.PopFor(wait, out)) {
      case BoundedQueue<T>::Wait::kItem:
        return Pulled::kItem;
      case BoundedQueue<T>::Wait::kTimeout:
        return Pulled::kIdle;
      case BoundedQueue<T>::Wait::kClosed:
        break;
    }
    return Pulled::kEnd;
  }
  void Close() { queue_.Close(); }

 private:
  BoundedQueue<T> queue_;
};

// A finite list, read once (a call's documents, or a planned call's chunks).
template <typename T>
class VectorSource final : public Source<T> {
 public:
  explicit VectorSource(std::vector<T> items) : items_(std::move(items)) {}
  Pulled Pull(T* out, std::chrono::milliseconds) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (next_ == items_.size()) return Pulled::kEnd;
    *out = std::move(items_[next_++]);
    return Pulled::kItem;
  }

 private:
  std::mutex mu_;
  std::vector<T> items_;  // GUARDED_BY(mu_)
  size_t next_ = 0;       // GUARDED_BY(mu_)
};

// Collects everything put into it (a planned call's chunks).
template <typename T>
class VectorSink final : public Sink<T> {
 public:
  bool Put(T item) override {
    std::lock_guard<std::mutex> lock(mu_);
    items_.push_back(std::move(item));
    return true;
  }
  // The items collected; call once every producer has finished.
  std::vector<T> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(items_);
  }

 private:
  std::mutex mu_;
  std::vector<T> items_;  // GUARDED_BY(mu_)
};

}  // namespace ragline::pipeline
