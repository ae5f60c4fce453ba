// Answers over a real chat-completions peer, and the extractive fallback.
#include "generate/answer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "generate/chat_peer_for_test.h"

namespace ragline::generate {
namespace {

using nlohmann::json;
using testing::ChatPeer;
using testing::ChunkEvent;
using testing::CompletionJson;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::SseBody;
using testing::StreamPieces;

const std::vector<Passage> kPassages = {
    {"paris#0", "paris", "Paris",
     "Paris has many museums. Paris is the capital of France. It lies on the Seine."},
    {"lyon#2", "lyon", "Lyon", "Lyon is known for its food.\n\nThe city is the third largest in France."},
    {"rhone#1", "rhone", "Rhône", "The Rhône flows through Lyon! It reaches the sea."},
    {"nice#0", "nice", "Nice", "Nice is on the coast."}};

ChatClientOptions Options(const ChatPeer& peer) {
  ChatClientOptions o;
  o.base_url = peer.base_url();
  o.model = "test-model";
  o.timeout = std::chrono::milliseconds(3000);
  return o;
}

std::unique_ptr<ChatClient> MakeClient(const ChatClientOptions& options) {
  auto client = ChatClient::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? std::move(*client) : nullptr;
}

TEST(AnswerTest, UsesTheLlmAnswerAndMapsItsCitationsToChunkIds) {
  ChatPeer peer;
  peer.set_behaviour([](const json& request, httplib::Response& res) {
    // The prompt the model sees numbers the passages in rank order.
    std::string user = request["messages"][1]["content"];
    EXPECT_THAT(user, HasSubstr("[2] Lyon\nLyon is known"));
    res.set_content(CompletionJson("Paris is the capital [1]; Lyon is third [2][9]."), "application/json");
  });
  auto client = MakeClient(Options(peer));
  Answer answer = Generate("What is the capital of France?", kPassages, client.get());
  EXPECT_EQ(answer.text, "Paris is the capital [1]; Lyon is third [2][9].");
  EXPECT_THAT(answer.citations, ElementsAre(Citation{1, "paris#0"}, Citation{2, "lyon#2"}));
  EXPECT_FALSE(answer.degraded);
  EXPECT_TRUE(answer.llm_status.ok());
  EXPECT_EQ(answer.finish_reason, "stop");
  EXPECT_EQ(answer.usage.total_tokens, 49);
  EXPECT_EQ(answer.passages_used, 4u);
}

TEST(AnswerTest, WithoutAnLlmAnswersExtractivelyAndSaysItIsDegraded) {
  Answer answer = Generate("What is the capital of France?", kPassages, nullptr);
  // Per passage, the sentence sharing most question terms ("capital", "france").
  EXPECT_EQ(answer.text,
            "Paris is the capital of France. [1] "
            "The city is the third largest in France. [2] "
            "The Rhône flows through Lyon! [3]");
  EXPECT_THAT(answer.citations,
              ElementsAre(Citation{1, "paris#0"}, Citation{2, "lyon#2"}, Citation{3, "rhone#1"}));
  EXPECT_TRUE(answer.degraded);
  EXPECT_EQ(answer.degraded_reason, kDegradedNoLlm);
  EXPECT_EQ(answer.degraded_detail, "no LLM configured");
  EXPECT_TRUE(answer.llm_status.ok());
  EXPECT_EQ(answer.passages_used, 3u);
}

TEST(AnswerTest, ExtractiveAnswerCanTakeTwoSentencesPerPassageInTextOrder) {
  AnswerOptions options;
  options.extractive_passages = 1;
  options.extractive_sentences_per_passage = 2;
  Answer answer = ExtractiveAnswer("What museums lie on the Seine?", kPassages, options, "test", "");
  EXPECT_EQ(answer.text, "Paris has many museums. [1] It lies on the Seine. [1]");
  EXPECT_THAT(answer.citations, ElementsAre(Citation{1, "paris#0"}));
}

TEST(AnswerTest, ExtractiveAnswerCutsLongSentencesAtAWord) {
  std::vector<Passage> passages = {{"x#0", "x", "", "word word word word word word"}};
  AnswerOptions options;
  options.extractive_max_sentence_bytes = 12;
  Answer answer = ExtractiveAnswer("q", passages, options, "test", "");
  EXPECT_EQ(answer.text, "word word ... [1]");
}

TEST(AnswerTest, ExtractiveAnswerCollapsesWhitespaceAndSkipsRepeatedSentences) {
  std::vector<Passage> passages = {{"a#0", "a", "", "Same  line\nwrapped here. Other."},
                                   {"a#1", "a", "", "Same line wrapped here. Second."}};
  Answer answer = ExtractiveAnswer("wrapped line", passages, {}, "test", "");
  EXPECT_EQ(answer.text, "Same line wrapped here. [1] Second. [2]");
}

TEST(AnswerTest, ExtractiveAnswerJoinsShortFragmentsToTheNextSentence) {
  // A dictionary entry: the headword line alone would be a useless answer.
  std::vector<Passage> passages = {
      {"c#0", "c", "",
       "CYNIC, n.\n\nA blackguard whose faulty vision sees things as they are. Other words here."}};
  Answer answer = ExtractiveAnswer("What is a cynic?", passages, {}, "test", "");
  EXPECT_EQ(answer.text, "CYNIC, n. A blackguard whose faulty vision sees things as they are. [1]");
}

TEST(AnswerTest, ExtractiveAnswerPrefersWholeSentencesToAChunksCutEnds) {
  // A chunk cut mid-sentence at both ends, and a heading: none share a term with "x".
  std::vector<Passage> passages = {
      {"x#3", "x", "",
       "value, admirably adapted to this climate. The letter X is a needless letter with an added "
       "invincibility.\n\nThe Devil's Dictionary: X\n\nand it was then that the"}};
  Answer answer = ExtractiveAnswer("x", passages, {}, "test", "");
  EXPECT_EQ(answer.text, "The letter X is a needless letter with an added invincibility. [1]");
  // A fragment that shares more question terms still wins.
  Answer climate = ExtractiveAnswer("climate value", passages, {}, "test", "");
  EXPECT_EQ(climate.text, "value, admirably adapted to this climate. [1]");
}

TEST(AnswerTest, NoPassagesAnswersSoWithoutAskingTheLlm) {
  ChatPeer peer;
  auto client = MakeClient(Options(peer));
  Answer answer = Generate("q", {}, client.get());
  EXPECT_EQ(answer.text, kNoPassagesAnswer);
  EXPECT_TRUE(answer.citations.empty());
  EXPECT_FALSE(answer.degraded);
  EXPECT_EQ(peer.requests(), 0);
}

TEST(AnswerTest, FallsBackToExtractiveWhenTheLlmFails) {
  ChatPeer peer;
  peer.set_behaviour([](const json&, httplib::Response& res) {
    res.status = 503;
    res.set_content("loading model", "text/plain");
  });
  auto client = MakeClient(Options(peer));
  Answer answer = Generate("What is the capital of France?", kPassages, client.get());
  EXPECT_TRUE(answer.degraded);
  EXPECT_THAT(answer.text, ::testing::StartsWith("Paris is the capital of France. [1]"));
  EXPECT_EQ(answer.llm_status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(answer.degraded_reason, kDegradedLlmUnavailable);
  EXPECT_THAT(answer.degraded_detail, HasSubstr("LLM failed"));
  EXPECT_THAT(answer.degraded_detail, HasSubstr("HTTP 503: loading model"));
}

TEST(AnswerTest, FallsBackToExtractiveWhenTheLlmTimesOut) {
  ChatPeer peer;
  peer.set_behaviour([](const json&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    res.set_content(CompletionJson("late"), "application/json");
  });
  ChatClientOptions options = Options(peer);
  options.timeout = std::chrono::milliseconds(150);
  auto client = MakeClient(options);
  Answer answer = Generate("capital?", kPassages, client.get());
  EXPECT_TRUE(answer.degraded);
  EXPECT_EQ(answer.llm_status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(answer.citations.size(), 3u);
}

TEST(AnswerTest, FallsBackToExtractiveWhenTheLlmAnswersNothing) {
  ChatPeer peer;
  peer.set_behaviour([](const json&, httplib::Response& res) {
    res.set_content(CompletionJson("  \n"), "application/json");
  });
  auto client = MakeClient(Options(peer));
  Answer answer = Generate("capital?", kPassages, client.get());
  EXPECT_TRUE(answer.degraded);
  EXPECT_EQ(answer.degraded_reason, kDegradedLlmEmpty);
}

TEST(AnswerTest, StreamsTheLlmAnswerAndParsesItsCitations) {
  ChatPeer peer;
  peer.set_behaviour([](const json&, httplib::Response& res) {
    StreamPieces(res, testing::SplitEvery(SseBody({"Paris [1]", " and Lyon [2-3]."}), 5));
  });
  auto client = MakeClient(Options(peer));
  std::string streamed;
  Answer answer = GenerateStream("q", kPassages, client.get(), [&](std::string_view d) {
    streamed.append(d);
    return true;
  });
  EXPECT_EQ(streamed, "Paris [1] and Lyon [2-3].");
  EXPECT_EQ(answer.text, streamed);
  EXPECT_THAT(answer.citations,
              ElementsAre(Citation{1, "paris#0"}, Citation{2, "lyon#2"}, Citation{3, "rhone#1"}));
  EXPECT_FALSE(answer.degraded);
  EXPECT_EQ(answer.finish_reason, "stop");
}

TEST(AnswerTest, StreamFailingBeforeAnyTextSendsTheExtractiveAnswerInstead) {
  ChatPeer peer;
  peer.set_behaviour([](const json&, httplib::Response& res) {
    res.status = 500;
    res.set_content("boom", "text/plain");
  });
  auto client = MakeClient(Options(peer));
  std::vector<std::string> deltas;
  Answer answer = GenerateStream("capital of France", kPassages, client.get(), [&](std::string_view d) {
    deltas.emplace_back(d);
    return true;
  });
  EXPECT_TRUE(answer.degraded);
  EXPECT_EQ(answer.llm_status.code(), absl::StatusCode::kUnavailable);
  ASSERT_EQ(deltas.size(), 1u);
  EXPECT_EQ(deltas[0], answer.text);
  EXPECT_THAT(answer.text, ::testing::StartsWith("Paris is the capital of France. [1]"));
}

TEST(AnswerTest, StreamCutMidwayKeepsWhatArrivedAndIsMarkedDegraded) {
  ChatPeer peer;
  peer.set_behaviour([](const json&, httplib::Response& res) {
    StreamPieces(res, {ChunkEvent({{"role", "assistant"}}), ChunkEvent({{"content", "Paris [1] is"}})},
                 std::chrono::milliseconds(0), /*cut=*/true);
  });
  auto client = MakeClient(Options(peer));
  std::string streamed;
  Answer answer = GenerateStream("q", kPassages, client.get(), [&](std::string_view d) {
    streamed.append(d);
    return true;
  });
  EXPECT_EQ(streamed, "Paris [1] is");
  EXPECT_EQ(answer.text, "Paris [1] is");
  EXPECT_THAT(answer.citations, ElementsAre(Citation{1, "paris#0"}));
  EXPECT_TRUE(answer.degraded);
  EXPECT_EQ(answer.degraded_reason, kDegradedLlmIncomplete);
  EXPECT_THAT(answer.degraded_detail, HasSubstr("incomplete"));
  EXPECT_FALSE(answer.llm_status.ok());
}

TEST(AnswerTest, StreamStalledMidwayIsCutAtTheDeadlineAndMarkedDegraded) {
  ChatPeer peer;
  peer.set_behaviour([](const json&, httplib::Response& res) {
    StreamPieces(res, {ChunkEvent({{"content", "Partial"}}), ChunkEvent({{"content", " late"}})},
                 std::chrono::milliseconds(400));
  });
  ChatClientOptions options = Options(peer);
  options.timeout = std::chrono::milliseconds(600);
  auto client = MakeClient(options);
  Answer answer = GenerateStream("q", kPassages, client.get(), [](std::string_view) { return true; });
  EXPECT_EQ(answer.text, "Partial");
  EXPECT_TRUE(answer.degraded);
  EXPECT_EQ(answer.llm_status.code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(AnswerTest, CallerCancellingAStreamIsNotDegraded) {
  ChatPeer peer;
  auto client = MakeClient(Options(peer));
  Answer answer = GenerateStream("q", kPassages, client.get(), [](std::string_view) { return false; });
  EXPECT_EQ(answer.text, "Paris is ");
  EXPECT_FALSE(answer.degraded);
  EXPECT_EQ(answer.llm_status.code(), absl::StatusCode::kCancelled);
}

TEST(AnswerTest, StreamWithoutAnLlmSendsTheExtractiveAnswerAsOneDelta) {
  std::vector<std::string> deltas;
  Answer answer = GenerateStream("capital", kPassages, nullptr, [&](std::string_view d) {
    deltas.emplace_back(d);
    return true;
  });
  EXPECT_TRUE(answer.degraded);
  EXPECT_THAT(deltas, ElementsAre(answer.text));
}

}  // namespace
}  // namespace ragline::generate
