#include "query/probe.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ragline::query {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

TEST(ProbeSpecTest, ParsesTheConfigAndNamesWhatIsWrong) {
  auto spec = ProbeSpec::FromJson(json::parse(R"({"collection": "kb", "question": "why does the sea rise",
      "expect_docs": ["tides.md"], "min_similarity": 0.3, "k": 5, "mode": "dense", "timeout_ms": 700,
      "interval_ms": 1000})"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->collection, "kb");
  EXPECT_EQ(spec->expect_docs, std::vector<std::string>{"tides.md"});
  EXPECT_EQ(spec->k, 5u);
  EXPECT_EQ(spec->mode, "dense");
  EXPECT_EQ(spec->timeout, std::chrono::milliseconds(700));
  EXPECT_EQ(spec->interval, std::chrono::milliseconds(1000));
  EXPECT_EQ(spec->QueryBody(), json::parse(R"({"query": "why does the sea rise", "k": 5, "mode": "dense",
      "generate": false, "timeout_ms": 700})"));

  const std::pair<const char*, const char*> bad[] = {
      {R"({"question": "q"})", "needs \"collection\" and \"question\""},
      {R"({"collection": "kb", "question": "q", "colour": 1})", "unknown key \"probe.colour\""},
      {R"({"collection": "kb", "question": "q", "mode": "fuzzy"})", "probe.mode"},
      {R"({"collection": "kb", "question": "q", "k": 0})", "probe.k"},
      {R"({"collection": "kb", "question": "q", "min_similarity": 2})", "probe.min_similarity"},
      {R"({"collection": "kb", "question": "q", "expect_docs": [1]})", "probe.expect_docs"},
      {R"({"collection": "", "question": "q"})", "probe.collection"},
      {R"([1])", "must be an object"},
  };
  for (const auto& [text, message] : bad) {
    auto r = ProbeSpec::FromJson(json::parse(text));
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(message)) << text;
  }
}

TEST(ProbeTest, PassesOnlyWithTheExpectedDocumentsSimilarityAndTime) {
  ProbeSpec spec;
  spec.collection = "kb";
  spec.question = "q";
  spec.expect_docs = {"tides.md"};
  spec.min_similarity = 0.3;
  spec.timeout = std::chrono::milliseconds(100);
  const json reply = json::parse(R"({"hits": [{"id": "bread.html#0", "doc_id": "bread.html", "similarity": 0.42},
                                             {"id": "tides.md#0", "doc_id": "tides.md", "similarity": 0.4}]})");
  ProbeResult ok = CheckProbeReply(spec, reply, 0.01);
  EXPECT_TRUE(ok.ok) << ok.reason;
  EXPECT_DOUBLE_EQ(ok.similarity, 0.42);
  EXPECT_EQ(ok.ToJson()["ok"], true);
  EXPECT_FALSE(ok.ToJson().contains("reason"));

  EXPECT_THAT(CheckProbeReply(spec, reply, 0.2).reason, HasSubstr("more than 100"));
  spec.expect_docs = {"moon.md"};
  EXPECT_THAT(CheckProbeReply(spec, reply, 0.01).reason, HasSubstr("expected document moon.md is not among the 2"));
  spec.expect_docs = {"tides.md#0"};  // a chunk id names its document too
  EXPECT_TRUE(CheckProbeReply(spec, reply, 0.01).ok);
  spec.min_similarity = 0.5;
  ProbeResult low = CheckProbeReply(spec, reply, 0.01);
  EXPECT_FALSE(low.ok);
  EXPECT_THAT(low.reason, HasSubstr("below 0.5"));
  EXPECT_EQ(low.ToJson()["reason"], low.reason);
  EXPECT_EQ(CheckProbeReply(spec, json::parse(R"({"hits": []})"), 0.01).reason, "no hits");
  EXPECT_EQ(CheckProbeReply(spec, json::parse("[]"), 0.01).reason, "no hits");

  // Lexical hits carry no similarity: the score stands in.
  spec.expect_docs = {};
  spec.min_similarity = 1;
  ProbeResult lexical =
      CheckProbeReply(spec, json::parse(R"({"hits": [{"id": "a", "similarity": null, "score": 7.5}]})"), 0.01);
  EXPECT_TRUE(lexical.ok) << lexical.reason;
  EXPECT_DOUBLE_EQ(lexical.similarity, 7.5);
}

}  // namespace
}  // namespace ragline::query
