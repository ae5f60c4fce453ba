#include "resilience/token_bucket.h"

#include <gtest/gtest.h>

namespace ragline::resilience {
namespace {

using std::chrono::milliseconds;

TEST(TokenBucketTest, AllowsTheBurstThenTheRate) {
  ManualClock clock;
  TokenBucket bucket(/*rate=*/10, /*burst=*/3, &clock);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(bucket.TryTake().count(), 0) << i;
  const auto wait = bucket.TryTake();
  EXPECT_GT(wait, std::chrono::nanoseconds(0));
  EXPECT_LE(wait, milliseconds(100));
  clock.Advance(milliseconds(100));
  EXPECT_EQ(bucket.TryTake().count(), 0);
  EXPECT_GT(bucket.TryTake().count(), 0);
  clock.Advance(milliseconds(10'000));  // refills to the burst, not beyond
  for (int i = 0; i < 3; ++i) EXPECT_EQ(bucket.TryTake().count(), 0) << i;
  EXPECT_GT(bucket.TryTake().count(), 0);
}

TEST(TokenBucketTest, TakeWaitsForTokensAndRefusesPastTheDeadline) {
  TokenBucket bucket(/*rate=*/100, /*burst=*/1);
  ASSERT_TRUE(bucket.Take(1, Deadline::Never()).ok());
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(bucket.Take(1, Deadline::Never()).ok());  // ~10 ms
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(5));
  EXPECT_TRUE(absl::IsDeadlineExceeded(bucket.Take(1, Deadline::After(milliseconds(0)))));
}

}  // namespace
}  // namespace ragline::resilience
