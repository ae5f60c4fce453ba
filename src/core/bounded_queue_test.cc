#include "core/bounded_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace ragline {
namespace {

using namespace std::chrono_literals;

TEST(BoundedQueueTest, DeliversItemsInOrder) {
  BoundedQueue<int> q(4);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(q.Push(i));
  EXPECT_EQ(q.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(q.Pop(), i);
}

TEST(BoundedQueueTest, PushBlocksWhileFull) {
  BoundedQueue<int> q(2);
  ASSERT_TRUE(q.Push(1));
  ASSERT_TRUE(q.Push(2));
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    EXPECT_TRUE(q.Push(3));
    pushed = true;
  });
  std::this_thread::sleep_for(50ms);
  EXPECT_FALSE(pushed) << "push into a full queue returned before a pop";
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.Pop(), 1);
  producer.join();
  EXPECT_TRUE(pushed);
  EXPECT_EQ(q.Pop(), 2);
  EXPECT_EQ(q.Pop(), 3);
}

TEST(BoundedQueueTest, CloseDrainsThenEnds) {
  BoundedQueue<int> q(3);
  ASSERT_TRUE(q.Push(1));
  ASSERT_TRUE(q.Push(2));
  q.Close();
  EXPECT_FALSE(q.Push(3));
  EXPECT_EQ(q.Pop(), 1);
  EXPECT_EQ(q.Pop(), 2);
  EXPECT_EQ(q.Pop(), std::nullopt);
  q.Close();  // idempotent
}

TEST(BoundedQueueTest, CloseWakesBlockedProducersAndConsumers) {
  BoundedQueue<int> full(1);
  ASSERT_TRUE(full.Push(1));
  BoundedQueue<int> empty(1);
  std::thread producer([&] { EXPECT_FALSE(full.Push(2)); });
  std::thread consumer([&] { EXPECT_EQ(empty.Pop(), std::nullopt); });
  std::this_thread::sleep_for(20ms);
  full.Close();
  empty.Close();
  producer.join();
  consumer.join();
}

TEST(BoundedQueueTest, PopForTellsATimeoutFromTheEnd) {
  BoundedQueue<int> q(2);
  int out = 0;
  EXPECT_EQ(q.PopFor(5ms, &out), BoundedQueue<int>::Wait::kTimeout);
  std::thread producer([&] {
    std::this_thread::sleep_for(20ms);
    q.Push(7);
  });
  EXPECT_EQ(q.PopFor(10s, &out), BoundedQueue<int>::Wait::kItem);
  EXPECT_EQ(out, 7);
  producer.join();
  q.Push(8);
  q.Close();
  EXPECT_EQ(q.PopFor(0ms, &out), BoundedQueue<int>::Wait::kItem);  // drains after Close
  EXPECT_EQ(out, 8);
  EXPECT_EQ(q.PopFor(10s, &out), BoundedQueue<int>::Wait::kClosed);  // at once, not after 10 s
}

TEST(BoundedQueueTest, ManyProducersAndConsumersLoseNothing) {
  BoundedQueue<int> q(8);
  constexpr int kPerProducer = 5000, kProducers = 4, kConsumers = 3;
  std::atomic<long> sum{0};
  std::atomic<int> count{0};
  std::atomic<size_t> max_size{0};
  std::vector<std::thread> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([&] {
      while (auto v = q.Pop()) {
        sum += *v;
        ++count;
        size_t s = q.size();
        if (s > max_size) max_size = s;
      }
    });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) ASSERT_TRUE(q.Push(p * kPerProducer + i));
    });
  }
  for (auto& t : producers) t.join();
  q.Close();
  for (auto& t : consumers) t.join();
  const long n = kPerProducer * kProducers;
  EXPECT_EQ(count, n);
  EXPECT_EQ(sum, n * (n - 1) / 2);
  EXPECT_LE(max_size, q.capacity());
}

}  // namespace
}  // namespace ragline
