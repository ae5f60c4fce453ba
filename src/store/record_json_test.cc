#include "store/record_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ragline::store {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

std::string ErrorOf(const json& j, std::string_view where = "line 3") {
  auto r = RecordFromJson(j, 2, where);
  EXPECT_FALSE(r.ok()) << j.dump();
  return std::string(r.status().message());
}

TEST(RecordJsonTest, ReadsAFullRecordAndDefaultsTheRest) {
  auto r = RecordFromJson({{"id", "a"}, {"version", 7}, {"vector", {1, 2.5}}, {"payload", {{"k", 1}}}}, 2, "x");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->id, "a");
  EXPECT_EQ(r->version, 7u);
  EXPECT_EQ(r->vector, (std::vector<float>{1, 2.5f}));
  EXPECT_EQ(json::parse(r->payload), (json{{"k", 1}}));
  r = RecordFromJson({{"id", "b"}, {"vector", {0, 0}}}, 2, "x");
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->version, 1'600'000'000'000u);  // now, in ms
  EXPECT_EQ(r->payload, "{}");
}

TEST(RecordJsonTest, ErrorsNameThePlaceTheIdAndTheProblem) {
  EXPECT_EQ(ErrorOf(json::array()), "line 3: expected a JSON object");
  EXPECT_EQ(ErrorOf({{"vector", {1, 2}}}), "line 3: missing \"id\" (a non-empty string)");
  EXPECT_EQ(ErrorOf({{"id", "a"}, {"version", -1}, {"vector", {1, 2}}}),
            "line 3 (id 'a'): \"version\" must be a non-negative integer");
  EXPECT_EQ(ErrorOf({{"id", "a"}}), "line 3 (id 'a'): missing \"vector\"");
  EXPECT_EQ(ErrorOf({{"id", "a"}, {"vector", {1, 2, 3}}}),
            "line 3 (id 'a'): vector has 3 dimensions, the collection expects 2");
  EXPECT_EQ(ErrorOf({{"id", "a"}, {"vector", {1, "x"}}}), "line 3 (id 'a'): vector[1] is not a number");
  EXPECT_EQ(ErrorOf({{"id", "a"}, {"vector", {1, 1e39}}}), "line 3 (id 'a'): vector[1] is not a finite float");
  EXPECT_EQ(ErrorOf({{"id", "a"}, {"vector", {1, 2}}, {"payload", 5}}),
            "line 3 (id 'a'): \"payload\" must be a JSON object");
  EXPECT_THAT(std::string(VectorFromJson(json(5), 2, "").status().message()),
              ::testing::StartsWith("\"vector\" must be"));
}

}  // namespace
}  // namespace ragline::store
