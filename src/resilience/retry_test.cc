#include "resilience/retry.h"

#include <gtest/gtest.h>

#include <vector>

namespace ragline::resilience {
namespace {

using std::chrono::milliseconds;

TEST(RetryTest, RetriesTransientFailuresWithGrowingBackoff) {
  RetryPolicy policy{
      .max_attempts = 4, .initial_backoff = milliseconds(100), .max_backoff = milliseconds(250), .jitter = 0};
  std::vector<milliseconds> slept;
  int calls = 0;
  Result<int> r = Retry(
      policy, Deadline::Never(),
      [&](int attempt) -> Result<int> {
        ++calls;
        if (attempt < 4) return absl::UnavailableError("refused");
        return 42;
      },
      IsTransient, [&](milliseconds d) { slept.push_back(d); });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 42);
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(slept, (std::vector<milliseconds>{milliseconds(100), milliseconds(200), milliseconds(250)}));
}

TEST(RetryTest, GivesUpAfterMaxAttemptsAndSaysHowMany) {
  int calls = 0;
  Status st = Retry(
      RetryPolicy{.max_attempts = 3}, Deadline::Never(),
      [&](int) {
        ++calls;
        return absl::UnavailableError("HTTP 503");
      },
      IsTransient, [](milliseconds) {});
  EXPECT_EQ(calls, 3);
  EXPECT_TRUE(absl::IsUnavailable(st));
  EXPECT_EQ(st.message(), "HTTP 503 (after 3 attempts)");
}

TEST(RetryTest, NeverRetriesAPermanentError) {
  int calls = 0;
  Status st = Retry(
      RetryPolicy{}, Deadline::Never(),
      [&](int) {
        ++calls;
        return absl::FailedPreconditionError("HTTP 401");
      },
      IsTransient, [](milliseconds) {});
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(st.message(), "HTTP 401");
}

TEST(RetryTest, StopsWhenTheDeadlineLeavesNoRoomForTheBackoff) {
  int calls = 0;
  RetryPolicy policy{.max_attempts = 10, .initial_backoff = milliseconds(500), .jitter = 0};
  Status st = Retry(
      policy, Deadline::After(milliseconds(200)),
      [&](int) {
        ++calls;
        return absl::UnavailableError("refused");
      },
      IsTransient, [](milliseconds) { ADD_FAILURE() << "slept past the deadline"; });
  EXPECT_EQ(calls, 1);
  EXPECT_NE(st.message().find("deadline"), std::string_view::npos) << st;
}

TEST(RetryTest, JitterTakesAtMostItsShare) {
  RetryPolicy policy{.initial_backoff = milliseconds(1000), .max_backoff = milliseconds(1000), .jitter = 0.5};
  for (int i = 0; i < 200; ++i) {
    const auto d = policy.Backoff(1);
    EXPECT_GE(d, milliseconds(500));
    EXPECT_LE(d, milliseconds(1000));
  }
}

TEST(RetryPolicyTest, ParsesAndRefusesBadValues) {
  auto p = RetryPolicy::FromJson({{"max_attempts", 1}, {"initial_backoff_ms", 5}}, "retry");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->max_attempts, 1);
  EXPECT_EQ(p->initial_backoff, milliseconds(5));
  EXPECT_FALSE(RetryPolicy::FromJson({{"max_attempts", 0}}, "retry").ok());
  EXPECT_FALSE(RetryPolicy::FromJson({{"initial_backoff_ms", 10}, {"max_backoff_ms", 5}}, "retry").ok());
  EXPECT_FALSE(RetryPolicy::FromJson({{"tries", 3}}, "retry").ok());
}

TEST(DeadlineTest, CapsAndExpires) {
  EXPECT_FALSE(Deadline::Never().Expired());
  EXPECT_EQ(Deadline::Never().Cap(milliseconds(5)), milliseconds(5));
  const Deadline d = Deadline::After(milliseconds(50));
  EXPECT_LE(d.Cap(milliseconds(60'000)), milliseconds(50));
  EXPECT_TRUE(d.Check("search").ok());
  const Deadline past = Deadline::After(milliseconds(-1));
  EXPECT_TRUE(past.Expired());
  EXPECT_EQ(past.Remaining(), milliseconds(0));
  EXPECT_TRUE(absl::IsDeadlineExceeded(past.Check("search")));
  EXPECT_EQ(d.Min(past).at(), past.at());
}

}  // namespace
}  // namespace ragline::resilience
