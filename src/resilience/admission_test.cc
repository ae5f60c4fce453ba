#include "resilience/admission.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace ragline::resilience {
namespace {

using std::chrono::milliseconds;

TEST(AdmissionControllerTest, AdmitsUpToTheLimitThenQueuesThenRefuses) {
  AdmissionController admission({.max_in_flight = 2, .max_queue = 1, .max_wait = milliseconds(5'000)});
  auto a = admission.Admit(Deadline::Never());
  auto b = admission.Admit(Deadline::Never());
  ASSERT_TRUE(a.ok() && b.ok());
  std::atomic<bool> third_in{false};
  std::thread waiter([&] {
    auto c = admission.Admit(Deadline::Never());
    EXPECT_TRUE(c.ok()) << c.status();
    third_in = true;
  });
  while (admission.counts().queued == 0) std::this_thread::sleep_for(milliseconds(1));
  // The queue is full: the fourth is refused at once, with a Retry-After.
  auto d = admission.Admit(Deadline::Never());
  EXPECT_TRUE(absl::IsUnavailable(d.status()));
  EXPECT_EQ(RetryAfterSeconds(d.status()), 1);
  EXPECT_FALSE(third_in);
  *a = AdmissionController::Ticket();  // releases a slot: the waiter gets it
  waiter.join();
  EXPECT_TRUE(third_in);
  const auto counts = admission.counts();
  EXPECT_EQ(counts.admitted, 3u);
  EXPECT_EQ(counts.rejected, 1u);
  EXPECT_EQ(counts.in_flight, 1u);  // b; the waiter's ticket ended with its thread
}

TEST(AdmissionControllerTest, AWaiterGivesUpAtItsDeadline) {
  AdmissionController admission({.max_in_flight = 1, .max_queue = 4, .max_wait = milliseconds(10'000)});
  auto held = admission.Admit(Deadline::Never());
  ASSERT_TRUE(held.ok());
  const auto start = std::chrono::steady_clock::now();
  auto late = admission.Admit(Deadline::After(milliseconds(50)));
  EXPECT_TRUE(absl::IsUnavailable(late.status()));
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2'000));
  EXPECT_EQ(admission.counts().queued, 0u);
}

TEST(AdmissionControllerTest, ManyThreadsNeverExceedTheLimit) {
  AdmissionController admission({.max_in_flight = 3, .max_queue = 100, .max_wait = milliseconds(10'000)});
  std::atomic<int> running{0}, most{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 20; ++j) {
        auto t = admission.Admit(Deadline::Never());
        ASSERT_TRUE(t.ok()) << t.status();
        const int now = ++running;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        --running;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(most.load(), 3);
  EXPECT_EQ(admission.counts().admitted, 320u);
}

}  // namespace
}  // namespace ragline::resilience
