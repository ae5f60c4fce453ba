// Fusion by hand-computed examples: weighted RRF, convex combination of
// min-max normalised scores, ties, duplicates and empty inputs.
#include "search/fusion.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>

namespace ragline::search {
namespace {

using store::SearchHit;
using ::testing::ElementsAre;

std::vector<SearchHit> Hits(std::initializer_list<std::pair<const char*, float>> hits) {
  std::vector<SearchHit> out;
  for (const auto& [id, score] : hits) out.push_back(SearchHit{id, score, 1, {{"from", id}}});
  return out;
}

std::vector<std::string> Ids(const std::vector<SearchHit>& hits) {
  std::vector<std::string> out;
  for (const auto& h : hits) out.push_back(h.id);
  return out;
}

TEST(FuseRrfTest, SumsReciprocalRanksOverLists) {
  const auto dense = Hits({{"a", 0.9f}, {"b", 0.8f}, {"c", 0.7f}});
  const auto lexical = Hits({{"c", 12.f}, {"a", 7.f}, {"d", 3.f}});
  const std::array<RankedList, 2> lists = {RankedList{dense}, RankedList{lexical}};
  const auto fused = FuseRrf(lists, 60, 10);
  // a = 1/61 + 1/62, c = 1/63 + 1/61, b = 1/62, d = 1/63.
  ASSERT_THAT(Ids(fused), ElementsAre("a", "c", "b", "d"));
  EXPECT_FLOAT_EQ(fused[0].score, 1.0 / 61 + 1.0 / 62);
  EXPECT_FLOAT_EQ(fused[1].score, 1.0 / 63 + 1.0 / 61);
  EXPECT_FLOAT_EQ(fused[2].score, 1.0 / 62);
  EXPECT_FLOAT_EQ(fused[3].score, 1.0 / 63);
}

TEST(FuseRrfTest, WeightsAndKChangeTheOrder) {
  const auto dense = Hits({{"a", 0.9f}, {"b", 0.8f}});
  const auto lexical = Hits({{"b", 5.f}, {"a", 4.f}});
  // k = 1, dense weight 2: a = 2/2 + 1/3 = 1.333, b = 2/3 + 1/2 = 1.167.
  std::array<RankedList, 2> lists = {RankedList{dense, 2.0}, RankedList{lexical, 1.0}};
  auto fused = FuseRrf(lists, 1, 10);
  ASSERT_THAT(Ids(fused), ElementsAre("a", "b"));
  EXPECT_FLOAT_EQ(fused[0].score, 2.0 / 2 + 1.0 / 3);
  EXPECT_FLOAT_EQ(fused[1].score, 2.0 / 3 + 1.0 / 2);
  // Lexical weight 2 instead: b wins by the same margin.
  lists = {RankedList{dense, 1.0}, RankedList{lexical, 2.0}};
  EXPECT_THAT(Ids(FuseRrf(lists, 1, 10)), ElementsAre("b", "a"));
}

TEST(FuseRrfTest, BreaksTiesById) {
  const auto dense = Hits({{"y", 0.9f}});
  const auto lexical = Hits({{"x", 3.f}});
  const std::array<RankedList, 2> lists = {RankedList{dense}, RankedList{lexical}};
  const auto fused = FuseRrf(lists, 60, 10);
  ASSERT_THAT(Ids(fused), ElementsAre("x", "y"));
  EXPECT_EQ(fused[0].score, fused[1].score);
}

TEST(FuseRrfTest, KeepsTheFirstOccurrenceOfARepeatedId) {
  const auto dense = Hits({{"a", 0.9f}, {"a", 0.8f}, {"b", 0.7f}});
  const std::array<RankedList, 1> lists = {RankedList{dense}};
  const auto fused = FuseRrf(lists, 60, 10);
  ASSERT_THAT(Ids(fused), ElementsAre("a", "b"));
  EXPECT_FLOAT_EQ(fused[0].score, 1.0 / 61);
  EXPECT_FLOAT_EQ(fused[1].score, 1.0 / 62);  // rank 2 once the repeat is dropped
}

TEST(FuseRrfTest, EmptyListsGiveNoHits) {
  const std::vector<SearchHit> none;
  const std::array<RankedList, 2> lists = {RankedList{none}, RankedList{none}};
  EXPECT_TRUE(FuseRrf(lists, 60, 10).empty());
  EXPECT_TRUE(FuseRrf({}, 60, 10).empty());
}

TEST(FuseRrfTest, OneEmptyListKeepsTheOtherOrder) {
  const std::vector<SearchHit> none;
  const auto lexical = Hits({{"c", 12.f}, {"a", 7.f}});
  const std::array<RankedList, 2> lists = {RankedList{none}, RankedList{lexical}};
  const auto fused = FuseRrf(lists, 60, 10);
  ASSERT_THAT(Ids(fused), ElementsAre("c", "a"));
  EXPECT_FLOAT_EQ(fused[0].score, 1.0 / 61);
}

TEST(FuseRrfTest, TopKCutsAndKLargerThanCandidatesReturnsAll) {
  const auto dense = Hits({{"a", 0.9f}, {"b", 0.8f}, {"c", 0.7f}});
  const std::array<RankedList, 1> lists = {RankedList{dense}};
  EXPECT_THAT(Ids(FuseRrf(lists, 60, 2)), ElementsAre("a", "b"));
  EXPECT_THAT(Ids(FuseRrf(lists, 60, 1000)), ElementsAre("a", "b", "c"));
  EXPECT_TRUE(FuseRrf(lists, 60, 0).empty());
}

TEST(FuseRrfTest, KeepsVersionAndPayloadOfTheFirstListHoldingTheHit) {
  auto dense = Hits({{"a", 0.9f}});
  auto lexical = Hits({{"b", 2.f}, {"a", 1.f}});
  dense[0].version = 7;
  dense[0].payload = {{"text", "dense copy"}};
  lexical[1].version = 8;
  const std::array<RankedList, 2> lists = {RankedList{dense}, RankedList{lexical}};
  const auto fused = FuseRrf(lists, 60, 10);
  ASSERT_EQ(fused[0].id, "a");
  EXPECT_EQ(fused[0].version, 7u);
  EXPECT_EQ(fused[0].payload["text"], "dense copy");
  EXPECT_EQ(fused[1].payload["from"], "b");
}

TEST(FuseConvexTest, CombinesMinMaxNormalisedScores) {
  const auto dense = Hits({{"a", 0.9f}, {"b", 0.7f}, {"c", 0.5f}});    // norm 1, .5, 0
  const auto lexical = Hits({{"c", 10.f}, {"a", 6.f}, {"d", 2.f}});    // norm 1, .5, 0
  const std::array<RankedList, 2> lists = {RankedList{dense, 0.5}, RankedList{lexical, 0.5}};
  const auto fused = FuseConvex(lists, 10);
  // a = .5·1 + .5·.5 = .75, c = 0 + .5·1 = .5, b = .5·.5 = .25, d = 0.
  ASSERT_THAT(Ids(fused), ElementsAre("a", "c", "b", "d"));
  EXPECT_NEAR(fused[0].score, 0.75, 1e-6);
  EXPECT_NEAR(fused[1].score, 0.5, 1e-6);
  EXPECT_NEAR(fused[2].score, 0.25, 1e-6);
  EXPECT_NEAR(fused[3].score, 0.0, 1e-6);
}

TEST(FuseConvexTest, AlphaMovesTheBalance) {
  const auto dense = Hits({{"a", 0.9f}, {"b", 0.7f}, {"c", 0.5f}});
  const auto lexical = Hits({{"c", 10.f}, {"a", 6.f}, {"d", 2.f}});
  // alpha 0.2: a = .2 + .8·.5 = .6, c = .8, b = .1, d = 0.
  const std::array<RankedList, 2> lists = {RankedList{dense, 0.2}, RankedList{lexical, 0.8}};
  const auto fused = FuseConvex(lists, 10);
  ASSERT_THAT(Ids(fused), ElementsAre("c", "a", "b", "d"));
  EXPECT_NEAR(fused[0].score, 0.8, 1e-6);
  EXPECT_NEAR(fused[1].score, 0.6, 1e-6);
}

TEST(FuseConvexTest, ReversesDistances) {
  const auto dense = Hits({{"a", 1.f}, {"b", 2.f}, {"c", 5.f}});  // l2: lower is closer
  const std::array<RankedList, 1> lists = {RankedList{dense, 1.0, /*lower_is_better=*/true}};
  const auto fused = FuseConvex(lists, 10);
  ASSERT_THAT(Ids(fused), ElementsAre("a", "b", "c"));
  EXPECT_NEAR(fused[0].score, 1.0, 1e-6);
  EXPECT_NEAR(fused[1].score, 0.75, 1e-6);
  EXPECT_NEAR(fused[2].score, 0.0, 1e-6);
}

TEST(FuseConvexTest, EqualScoresNormaliseToOne) {
  const auto dense = Hits({{"b", 0.5f}, {"a", 0.5f}});
  const auto lexical = Hits({{"c", 3.f}});
  const std::array<RankedList, 2> lists = {RankedList{dense, 0.5}, RankedList{lexical, 0.5}};
  const auto fused = FuseConvex(lists, 10);
  ASSERT_THAT(Ids(fused), ElementsAre("a", "b", "c"));  // all .5: by id
  for (const auto& h : fused) EXPECT_NEAR(h.score, 0.5, 1e-6);
}

TEST(FuseConvexTest, EmptyAndDuplicateInputs) {
  const std::vector<SearchHit> none;
  const auto dense = Hits({{"a", 0.9f}, {"a", 0.1f}, {"b", 0.5f}});
  const std::array<RankedList, 2> lists = {RankedList{dense, 0.5}, RankedList{none, 0.5}};
  const auto fused = FuseConvex(lists, 10);
  // The repeat of a (0.1) is dropped, so the range is [0.5, 0.9].
  ASSERT_THAT(Ids(fused), ElementsAre("a", "b"));
  EXPECT_NEAR(fused[0].score, 0.5, 1e-6);
  EXPECT_NEAR(fused[1].score, 0.0, 1e-6);
  const std::array<RankedList, 2> empty = {RankedList{none}, RankedList{none}};
  EXPECT_TRUE(FuseConvex(empty, 10).empty());
}

TEST(FusionOptionsTest, ParsesAndValidates) {
  FusionOptions o;
  EXPECT_TRUE(o.Validate().ok());
  EXPECT_EQ(o.method, FusionMethod::kConvex);  // measured best (docs/retrieval.md)
  EXPECT_EQ(o.alpha, 0.5);
  EXPECT_EQ(o.rrf_k, 60);
  ASSERT_TRUE(o.SetWeights("dense=2,lexical=0.5").ok());
  EXPECT_EQ(o.dense_weight, 2);
  EXPECT_EQ(o.lexical_weight, 0.5);
  EXPECT_FALSE(o.SetWeights("sparse=1").ok());
  EXPECT_FALSE(o.SetWeights("dense=x").ok());
  EXPECT_FALSE(o.SetWeights("dense=-1").ok());
  o.alpha = 1.5;
  EXPECT_FALSE(o.Validate().ok());
  o.alpha = 0.5;
  o.rrf_k = 0;
  EXPECT_FALSE(o.Validate().ok());
  EXPECT_EQ(*ParseFusionMethod("convex"), FusionMethod::kConvex);
  EXPECT_FALSE(ParseFusionMethod("borda").ok());
}

}  // namespace
}  // namespace ragline::search
