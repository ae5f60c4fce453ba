#include "store/filter.h"

#include <gtest/gtest.h>

namespace ragline::store {
namespace {

using nlohmann::json;

bool Match(const json& filter, const json& payload) {
  auto f = PayloadFilter::Parse(filter);
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() && f->Matches(payload);
}

TEST(PayloadFilterTest, EmptyFilterMatchesEverything) {
  EXPECT_TRUE(Match(json::object(), json::object()));
  EXPECT_TRUE(PayloadFilter::Parse(json::object())->MatchesAll());
}

TEST(PayloadFilterTest, ShorthandIsEquality) {
  EXPECT_TRUE(Match({{"lang", "en"}}, {{"lang", "en"}}));
  EXPECT_FALSE(Match({{"lang", "en"}}, {{"lang", "de"}}));
  EXPECT_FALSE(Match({{"lang", "en"}}, json::object()));
  EXPECT_TRUE(Match({{"n", 3}}, {{"n", 3.0}}));  // numbers compare by value
}

TEST(PayloadFilterTest, NumericRangeIsInclusiveOrExclusiveAsWritten) {
  json f = {{"year", {{"$gte", 2000}, {"$lt", 2010}}}};
  EXPECT_TRUE(Match(f, {{"year", 2000}}));
  EXPECT_TRUE(Match(f, {{"year", 2009.5}}));
  EXPECT_FALSE(Match(f, {{"year", 2010}}));
  EXPECT_FALSE(Match(f, {{"year", "2005"}}));  // strings never satisfy a range
  EXPECT_FALSE(Match(f, json::object()));
}

TEST(PayloadFilterTest, SetMembershipAndArrays) {
  json in = {{"tag", {{"$in", {"a", "b"}}}}};
  EXPECT_TRUE(Match(in, {{"tag", "b"}}));
  EXPECT_FALSE(Match(in, {{"tag", "c"}}));
  EXPECT_TRUE(Match(in, {{"tag", {"x", "a"}}}));  // any element of an array
  json nin = {{"tag", {{"$nin", {"a", "b"}}}}};
  EXPECT_TRUE(Match(nin, {{"tag", "c"}}));
  EXPECT_TRUE(Match(nin, json::object()));
  EXPECT_FALSE(Match(nin, {{"tag", {"c", "a"}}}));
}

TEST(PayloadFilterTest, LogicalOperatorsAndNestedPaths) {
  json f = {{"$or", {{{"a.b", 1}}, {{"c", {{"$exists", true}}}}}}};
  EXPECT_TRUE(Match(f, {{"a", {{"b", 1}}}}));
  EXPECT_TRUE(Match(f, {{"c", nullptr}}));
  EXPECT_FALSE(Match(f, {{"a", {{"b", 2}}}}));
  EXPECT_TRUE(Match({{"$not", {{"x", 1}}}}, {{"x", 2}}));
  EXPECT_TRUE(Match({{"lang", {{"$ne", "en"}}}}, json::object()));
  EXPECT_FALSE(Match({{"a", 1}, {"b", 2}}, {{"a", 1}, {"b", 3}}));  // keys are ANDed
}

TEST(PayloadFilterTest, AFieldMissingAtTheTopIsLookedUpInMetadata) {
  // A chunk keeps the caller's metadata under "metadata"; hits show it there.
  const json chunk = {{"doc_id", "bash"}, {"text", "..."}, {"metadata", {{"package", "bash"}, {"v", {{"major", 5}}}}}};
  EXPECT_TRUE(Match({{"package", "bash"}}, chunk));
  EXPECT_TRUE(Match({{"metadata.package", "bash"}}, chunk));
  EXPECT_TRUE(Match({{"v.major", {{"$gte", 5}}}}, chunk));
  EXPECT_FALSE(Match({{"package", "zsh"}}, chunk));
  EXPECT_TRUE(Match({{"package", {{"$exists", true}}}}, chunk));
  EXPECT_TRUE(Match({{"release", {{"$exists", false}}}}, chunk));
  EXPECT_TRUE(Match({{"release", {{"$ne", "x"}}}}, chunk));
  // A top-level field wins: "doc_id" is the chunk's, not a metadata key's.
  EXPECT_FALSE(Match({{"doc_id", "other"}}, {{"doc_id", "bash"}, {"metadata", {{"doc_id", "other"}}}}));
  // A payload without metadata: only its top level.
  EXPECT_FALSE(Match({{"package", "bash"}}, {{"text", "x"}}));
  EXPECT_FALSE(Match({{"package", "bash"}}, {{"metadata", "not an object"}}));
}

TEST(PayloadFilterTest, RejectsMalformedFiltersWithAClearMessage) {
  struct Case {
    json filter;
    std::string needle;
  };
  const Case cases[] = {
      {json::array(), "must be a JSON object"},
      {{{"x", {{"$regex", "a"}}}}, "unknown operator"},
      {{{"x", {{"$gt", "a"}}}}, "needs a number"},
      {{{"x", {{"$in", 3}}}}, "needs a list"},
      {{{"x", {1, 2}}}, "needs an operator"},
      {{{"$or", json::array()}}, "non-empty list"},
      {{{"$xor", json::array()}}, "unknown logical operator"},
      {{{"x", {{"$exists", 1}}}}, "true or false"},
      {{{"a..b", 1}}, "empty path component"},
  };
  for (const auto& c : cases) {
    auto f = PayloadFilter::Parse(c.filter);
    ASSERT_FALSE(f.ok()) << c.filter.dump();
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(f.status().message()).find(c.needle), std::string::npos)
        << c.filter.dump() << " -> " << f.status();
  }
}

}  // namespace
}  // namespace ragline::store
