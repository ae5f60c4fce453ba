// IR metrics against hand-computed values (trec_eval definitions).
#include "search/metrics.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ragline::search {
namespace {

const std::vector<std::string> kRanked = {"d1", "d2", "d3", "d4", "d5"};

TEST(MetricsTest, RecallCountsRelevantInTopK) {
  const Judgments j = {{"d2", 1}, {"d5", 2}, {"d9", 1}, {"d3", 0}};  // 3 relevant; d3 judged non-relevant
  EXPECT_DOUBLE_EQ(RecallAt(kRanked, j, 1), 0.0);
  EXPECT_DOUBLE_EQ(RecallAt(kRanked, j, 2), 1.0 / 3);
  EXPECT_DOUBLE_EQ(RecallAt(kRanked, j, 5), 2.0 / 3);
  EXPECT_DOUBLE_EQ(RecallAt(kRanked, j, 100), 2.0 / 3);  // k beyond the list
  EXPECT_EQ(CountRelevant(j), 3u);
}

TEST(MetricsTest, NdcgUsesLinearGainsAndTheIdealFromQrels) {
  const Judgments j = {{"d2", 1}, {"d5", 2}, {"d9", 1}};
  // DCG@5 = 1/log2(3) + 2/log2(6); IDCG@5 = 2/log2(2) + 1/log2(3) + 1/log2(4).
  const double dcg = 1 / std::log2(3.0) + 2 / std::log2(6.0);
  const double idcg = 2 + 1 / std::log2(3.0) + 0.5;
  EXPECT_NEAR(NdcgAt(kRanked, j, 5), dcg / idcg, 1e-12);
  EXPECT_NEAR(NdcgAt(kRanked, j, 5), 0.4486, 1e-4);
  // @2: DCG = 1/log2(3); IDCG = 2 + 1/log2(3).
  EXPECT_NEAR(NdcgAt(kRanked, j, 2), (1 / std::log2(3.0)) / (2 + 1 / std::log2(3.0)), 1e-12);
  EXPECT_DOUBLE_EQ(NdcgAt(std::vector<std::string>{"d5", "d2", "d9"}, j, 10), 1.0);
}

TEST(MetricsTest, ReciprocalRankOfTheFirstRelevantHit) {
  const Judgments j = {{"d3", 1}, {"d4", 2}};
  EXPECT_DOUBLE_EQ(ReciprocalRankAt(kRanked, j, 10), 1.0 / 3);
  EXPECT_DOUBLE_EQ(ReciprocalRankAt(kRanked, j, 2), 0.0);
}

TEST(MetricsTest, QueriesWithoutRelevantJudgmentsScoreZero) {
  const Judgments j = {{"d1", 0}};
  EXPECT_EQ(RecallAt(kRanked, j, 10), 0);
  EXPECT_EQ(NdcgAt(kRanked, j, 10), 0);
  EXPECT_EQ(ReciprocalRankAt(kRanked, j, 10), 0);
  EXPECT_EQ(NdcgAt({}, {}, 10), 0);
}

TEST(MetricsTest, NearestRankPercentile) {
  EXPECT_EQ(Percentile({}, 50), 0);
  EXPECT_EQ(Percentile({5, 1, 3, 2, 4}, 50), 3);  // ⌈2.5⌉ = 3rd smallest
  EXPECT_EQ(Percentile({5, 1, 3, 2, 4}, 99), 5);
  EXPECT_EQ(Percentile({1, 2, 3, 4}, 50), 2);
  std::vector<double> v;
  for (int i = 1; i <= 200; ++i) v.push_back(i);
  EXPECT_EQ(Percentile(v, 99), 198);
  EXPECT_EQ(Percentile(v, 100), 200);
}

}  // namespace
}  // namespace ragline::search
