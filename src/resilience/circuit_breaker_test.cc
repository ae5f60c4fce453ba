#include "resilience/circuit_breaker.h"

#include <gtest/gtest.h>

#include <vector>

namespace ragline::resilience {
namespace {

using std::chrono::milliseconds;

struct Transition {
  BreakerState from, to;
  bool operator==(const Transition&) const = default;
};

class CircuitBreakerTest : public ::testing::Test {
 protected:
  CircuitBreakerTest() : breaker_("llm", {.fail_max = 3, .reset_timeout = milliseconds(1000)}, &clock_) {
    breaker_.SetListener([this](const CircuitBreaker&, BreakerState from, BreakerState to) {
      seen_.push_back({from, to});
    });
  }
  void FailOnce() {
    ASSERT_TRUE(breaker_.Allow().ok());
    breaker_.Record(absl::UnavailableError("down"));
  }

  ManualClock clock_;
  CircuitBreaker breaker_;
  std::vector<Transition> seen_;
};

TEST_F(CircuitBreakerTest, OpensAfterFailMaxConsecutiveFailures) {
  FailOnce();
  FailOnce();
  EXPECT_EQ(breaker_.state(), BreakerState::kClosed);
  FailOnce();
  EXPECT_EQ(breaker_.state(), BreakerState::kOpen);
  const Status refused = breaker_.Allow();
  EXPECT_TRUE(absl::IsUnavailable(refused));
  EXPECT_NE(refused.message().find("llm"), std::string_view::npos) << refused;
  EXPECT_EQ(RetryAfterSeconds(refused), 1);
  EXPECT_EQ(seen_, (std::vector<Transition>{{BreakerState::kClosed, BreakerState::kOpen}}));
}

TEST_F(CircuitBreakerTest, ASuccessResetsTheCount) {
  FailOnce();
  FailOnce();
  ASSERT_TRUE(breaker_.Allow().ok());
  breaker_.Record(absl::OkStatus());
  FailOnce();
  FailOnce();
  EXPECT_EQ(breaker_.state(), BreakerState::kClosed);
}

TEST_F(CircuitBreakerTest, TheCallersOwnMistakesAreNotFailures) {
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(breaker_.Allow().ok());
    breaker_.Record(i % 2 ? absl::CancelledError("client left") : absl::InvalidArgumentError("bad"));
  }
  EXPECT_EQ(breaker_.state(), BreakerState::kClosed);
}

TEST_F(CircuitBreakerTest, HalfOpenAfterTheResetTimeoutLetsOneTrialThrough) {
  for (int i = 0; i < 3; ++i) FailOnce();
  clock_.Advance(milliseconds(999));
  EXPECT_FALSE(breaker_.Allow().ok());
  clock_.Advance(milliseconds(1));
  EXPECT_EQ(breaker_.state(), BreakerState::kHalfOpen);
  ASSERT_TRUE(breaker_.Allow().ok());   // the trial
  EXPECT_FALSE(breaker_.Allow().ok());  // others wait for it
  breaker_.Record(absl::OkStatus());
  EXPECT_EQ(breaker_.state(), BreakerState::kClosed);
  EXPECT_TRUE(breaker_.Allow().ok());
  EXPECT_EQ(seen_, (std::vector<Transition>{{BreakerState::kClosed, BreakerState::kOpen},
                                            {BreakerState::kOpen, BreakerState::kHalfOpen},
                                            {BreakerState::kHalfOpen, BreakerState::kClosed}}));
  EXPECT_EQ(breaker_.transitions(), 3u);
}

TEST_F(CircuitBreakerTest, AFailedTrialReopensForAnotherResetTimeout) {
  for (int i = 0; i < 3; ++i) FailOnce();
  clock_.Advance(milliseconds(1000));
  FailOnce();  // the trial fails
  EXPECT_EQ(breaker_.state(), BreakerState::kOpen);
  clock_.Advance(milliseconds(500));
  EXPECT_FALSE(breaker_.Allow().ok());
  EXPECT_EQ(breaker_.ToJson()["state"], "open");
  EXPECT_EQ(breaker_.ToJson()["retry_after_ms"], 500);
  clock_.Advance(milliseconds(500));
  EXPECT_TRUE(breaker_.Allow().ok());
}

TEST_F(CircuitBreakerTest, CallWrapsAllowAndRecord) {
  int calls = 0;
  for (int i = 0; i < 5; ++i) {
    Result<int> r = breaker_.Call([&]() -> Result<int> {
      ++calls;
      return absl::UnavailableError("down");
    });
    EXPECT_FALSE(r.ok());
  }
  EXPECT_EQ(calls, 3);  // the last two were refused without calling
  clock_.Advance(milliseconds(1000));
  Result<int> r = breaker_.Call([&]() -> Result<int> { return 7; });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 7);
  EXPECT_EQ(breaker_.state(), BreakerState::kClosed);
}

TEST(BreakerOptionsTest, ParsesAndRefusesBadValues) {
  auto o = BreakerOptions::FromJson({{"fail_max", 2}, {"reset_timeout_ms", 50}}, "llm.breaker");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->fail_max, 2);
  EXPECT_EQ(o->reset_timeout, milliseconds(50));
  for (const auto& bad : {nlohmann::json{{"fail_max", 0}}, nlohmann::json{{"reset_timeout_ms", -1}},
                          nlohmann::json{{"open", 1}}, nlohmann::json(3)}) {
    auto r = BreakerOptions::FromJson(bad, "llm.breaker");
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << bad;
    EXPECT_NE(r.status().message().find("llm.breaker"), std::string_view::npos) << r.status();
  }
}

}  // namespace
}  // namespace ragline::resilience
