#include "generate/sse_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ragline::generate {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> ParseInPieces(const std::vector<std::string_view>& pieces,
                                       bool finish = true) {
  std::vector<std::string> events;
  SseParser parser([&](std::string_view data) {
    events.emplace_back(data);
    return true;
  });
  for (std::string_view p : pieces) parser.Feed(p);
  if (finish) parser.Finish();
  return events;
}

TEST(SseParserTest, DispatchesDataAtBlankLinesAndSkipsComments) {
  EXPECT_THAT(ParseInPieces({": ping\n\ndata: {\"a\":1}\n\ndata:b\n\n"}),
              ElementsAre("{\"a\":1}", "b"));
}

TEST(SseParserTest, JoinsMultipleDataLinesWithNewlines) {
  EXPECT_THAT(ParseInPieces({"data: one\ndata:  two\nevent: x\nid: 3\n\n"}),
              ElementsAre("one\n two"));
}

TEST(SseParserTest, AcceptsCrLfAndLoneCrLineEndings) {
  EXPECT_THAT(ParseInPieces({"data: a\r\n\r\ndata: b\r\rdata: c\n\n"}),
              ElementsAre("a", "b", "c"));
}

TEST(SseParserTest, GivesTheSameEventsForEveryTwoWaySplitOfTheStream) {
  const std::string stream =
      ": hi\r\n\r\ndata: {\"x\": \"é\"}\r\n\r\ndata: second\n\ndata: [DONE]\r\n\r\n";
  const std::vector<std::string> want = {"{\"x\": \"é\"}", "second", "[DONE]"};
  for (size_t i = 0; i <= stream.size(); ++i) {
    std::string_view s = stream;
    EXPECT_EQ(ParseInPieces({s.substr(0, i), s.substr(i)}), want) << "split at " << i;
  }
}

TEST(SseParserTest, GivesTheSameEventsWhenFedOneByteAtATime) {
  const std::string stream = "data: a\r\n\r\n:c\r\ndata: b\r\n\r\n";
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < stream.size(); ++i) bytes.push_back(std::string_view(stream).substr(i, 1));
  EXPECT_THAT(ParseInPieces(bytes), ElementsAre("a", "b"));
}

TEST(SseParserTest, FinishDispatchesAnEventMissingItsBlankLine) {
  EXPECT_THAT(ParseInPieces({"data: a\n\ndata: tail"}, /*finish=*/false), ElementsAre("a"));
  EXPECT_THAT(ParseInPieces({"data: a\n\ndata: tail"}), ElementsAre("a", "tail"));
}

TEST(SseParserTest, EmptyDataLineIsAnEmptyEvent) {
  EXPECT_THAT(ParseInPieces({"data\n\ndata:\n\n"}), ElementsAre("", ""));
}

TEST(SseParserTest, StopsWhenTheHandlerSaysSo) {
  int calls = 0;
  SseParser parser([&](std::string_view) { return ++calls < 2; });
  EXPECT_FALSE(parser.Feed("data: 1\n\ndata: 2\n\ndata: 3\n\n"));
  EXPECT_EQ(calls, 2);
  EXPECT_FALSE(parser.Feed("data: 4\n\n"));
  EXPECT_FALSE(parser.Finish());
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace ragline::generate
