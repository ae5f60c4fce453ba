// ChatClient against an in-process peer speaking the OpenAI chat-completions
// protocol (chat_peer_for_test.h), whole and streamed, and its failure modes.
#include "generate/chat_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "generate/chat_peer_for_test.h"

namespace ragline::generate {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using nlohmann::json;
using testing::ChatPeer;
using testing::ChunkEvent;
using testing::CompletionJson;
using testing::SplitEvery;
using testing::SseBody;
using testing::StreamPieces;

const std::vector<ChatMessage> kMessages = {{"system", "Answer from the passages."},
                                            {"user", "Passages:\n\n[1] x\ny\n\nQuestion: q"}};

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

std::string Message(const Status& s) { return std::string(s.message()); }

// Streams and collects the deltas; the result's status and the deltas.
struct Streamed {
  Result<ChatResponse> result;
  std::vector<std::string> deltas;
};
Streamed StreamAll(const ChatClient& client) {
  std::vector<std::string> deltas;
  auto result = client.Stream(kMessages, [&](std::string_view d) {
    deltas.emplace_back(d);
    return true;
  });
  return {std::move(result), std::move(deltas)};
}

TEST(ChatClientTest, CompletesWithContentFinishReasonAndUsage) {
  ChatPeer peer;
  auto client = MakeClient(Options(peer));
  auto response = client->Complete(kMessages);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->content, "Paris is the capital of France [1].");
  EXPECT_EQ(response->finish_reason, "stop");
  EXPECT_EQ(response->model, "peer-model");
  EXPECT_EQ(response->usage.prompt_tokens, 42);
  EXPECT_EQ(response->usage.completion_tokens, 7);
  EXPECT_EQ(response->usage.total_tokens, 49);
}

TEST(ChatClientTest, SendsModelMessagesAndSamplingOptions) {
  ChatPeer peer;
  ChatClientOptions options = Options(peer);
  options.api_key = "sk-secret";
  options.max_tokens = 99;
  options.temperature = 0.5;
  auto client = MakeClient(options);
  ASSERT_TRUE(client->Complete(kMessages).ok());
  json request = peer.last_request();
  EXPECT_EQ(request["model"], "test-model");
  EXPECT_EQ(request["max_tokens"], 99);
  EXPECT_DOUBLE_EQ(request["temperature"].get<double>(), 0.5);
  EXPECT_FALSE(request.contains("stream"));
  ASSERT_EQ(request["messages"].size(), 2u);
  EXPECT_EQ(request["messages"][0]["role"], "system");
  EXPECT_EQ(request["messages"][1]["content"], kMessages[1].content);
  EXPECT_EQ(peer.last_authorization(), "Bearer sk-secret");
}

TEST(ChatClientTest, LeavesUnsetSamplingOptionsAndKeyOut) {
  ChatPeer peer;
  ChatClientOptions options = Options(peer);
  options.max_tokens = 0;
  options.temperature = std::nullopt;
  auto client = MakeClient(options);
  ASSERT_TRUE(client->Complete(kMessages).ok());
  json request = peer.last_request();
  EXPECT_FALSE(request.contains("max_tokens"));
  EXPECT_FALSE(request.contains("temperature"));
  EXPECT_EQ(peer.last_authorization(), "");
}

TEST(ChatClientTest, StreamsDeltasInOrderAndAsksForAnEventStream) {
  ChatPeer peer;
  auto client = MakeClient(Options(peer));
  Streamed s = StreamAll(*client);
  ASSERT_TRUE(s.result.ok()) << s.result.status();
  EXPECT_THAT(s.deltas, ::testing::ElementsAre("Paris is ", "the capital ", "of France [1]."));
  EXPECT_EQ(s.result->content, "Paris is the capital of France [1].");
  EXPECT_EQ(s.result->finish_reason, "stop");
  EXPECT_EQ(peer.last_request()["stream"], true);
  EXPECT_EQ(peer.last_accept(), "text/event-stream");
}

// The body split into pieces of every awkward size, with LF or CRLF endings:
// the text must come out the same.
struct SplitCase {
  size_t piece_size;
  const char* eol;
  const char* name;
};
class ChatClientSplitStreamTest : public ::testing::TestWithParam<SplitCase> {};

TEST_P(ChatClientSplitStreamTest, ReassemblesTheTextWhereverTheBodyIsSplit) {
  ChatPeer peer;
  // Multi-byte characters, an empty delta and a usage-only chunk on the way.
  std::vector<std::string> deltas = {"Zürich ", "", "liegt am ", "See — 湖 [2]", "."};
  std::string body = SseBody(deltas, /*done=*/false, GetParam().eol);
  std::string eol = GetParam().eol;
  body += "data: " +
          json({{"choices", json::array()}, {"usage", {{"prompt_tokens", 5}, {"total_tokens", 9}}}})
              .dump() +
          eol + eol + "data: [DONE]" + eol + eol;
  size_t piece = GetParam().piece_size == 0 ? body.size() : GetParam().piece_size;
  peer.set_behaviour([&](const json&, httplib::Response& res) {
    StreamPieces(res, SplitEvery(body, piece));
  });
  auto client = MakeClient(Options(peer));
  Streamed s = StreamAll(*client);
  ASSERT_TRUE(s.result.ok()) << s.result.status();
  EXPECT_EQ(s.result->content, "Zürich liegt am See — 湖 [2].");
  std::string joined;
  for (const auto& d : s.deltas) {
    EXPECT_FALSE(d.empty());
    joined += d;
  }
  EXPECT_EQ(joined, s.result->content);
  EXPECT_EQ(s.result->usage.prompt_tokens, 5);
  EXPECT_EQ(s.result->usage.total_tokens, 9);
  EXPECT_EQ(s.result->finish_reason, "stop");
}

INSTANTIATE_TEST_SUITE_P(Pieces, ChatClientSplitStreamTest,
                         ::testing::Values(SplitCase{1, "\n", "EveryByteLf"},
                                           SplitCase{1, "\r\n", "EveryByteCrlf"},
                                           SplitCase{2, "\r\n", "TwoBytesCrlf"},
                                           SplitCase{3, "\n", "ThreeBytesLf"},
                                           SplitCase{7, "\r\n", "SevenBytesCrlf"},
                                           SplitCase{61, "\n", "SixtyOneBytesLf"},
                                           SplitCase{0, "\r\n", "WholeBodyCrlf"}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ChatClientTest, StreamAcceptsAServerThatAnswersWithOneJsonCompletion) {
  ChatPeer peer;
  peer.set_behaviour([](const json&, httplib::Response& res) {
    res.set_content(CompletionJson("Whole answer [1]."), "application/json");
  });
  auto client = MakeClient(Options(peer));
  Streamed s = StreamAll(*client);
  ASSERT_TRUE(s.result.ok()) << s.result.status();
  EXPECT_THAT(s.deltas, ::testing::ElementsAre("Whole answer [1]."));
  EXPECT_EQ(s.result->usage.total_tokens, 49);
}

TEST(ChatClientTest, CallerCanCancelAStream) {
  ChatPeer peer;
  auto client = MakeClient(Options(peer));
  std::vector<std::string> deltas;
  auto result = client->Stream(kMessages, [&](std::string_view d) {
    deltas.emplace_back(d);
    return false;
  });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(deltas, ::testing::ElementsAre("Paris is "));
}

TEST(ChatClientTest, IgnoresEventsAfterDone) {
  ChatPeer peer;
  peer.set_behaviour([](const json&, httplib::Response& res) {
    StreamPieces(res, {SseBody({"a"}) + "data: not json\n\n" + ChunkEvent({{"content", "b"}})});
  });
  auto client = MakeClient(Options(peer));
  Streamed s = StreamAll(*client);
  ASSERT_TRUE(s.result.ok()) << s.result.status();
  EXPECT_EQ(s.result->content, "a");
}

// Failures, whole and streamed: the status code and words each must carry.
struct FailureCase {
  const char* name;
  std::function<void(httplib::Response&)> answer;
  absl::StatusCode code;
  const char* words;
};

class ChatClientFailureTest : public ::testing::TestWithParam<FailureCase> {};

TEST_P(ChatClientFailureTest, CompleteFailsWithTheRightCodeNamingTheServer) {
  ChatPeer peer;
  peer.set_behaviour([](const json&, httplib::Response& res) { GetParam().answer(res); });
  auto client = MakeClient(Options(peer));
  auto result = client->Complete(kMessages);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), GetParam().code) << result.status();
  EXPECT_THAT(Message(result.status()), HasSubstr(GetParam().words));
  EXPECT_THAT(Message(result.status()), HasSubstr(client->url()));
}

TEST_P(ChatClientFailureTest, StreamFailsWithTheRightCodeNamingTheServer) {
  ChatPeer peer;
  peer.set_behaviour([](const json&, httplib::Response& res) { GetParam().answer(res); });
  auto client = MakeClient(Options(peer));
  Streamed s = StreamAll(*client);
  ASSERT_FALSE(s.result.ok());
  EXPECT_EQ(s.result.status().code(), GetParam().code) << s.result.status();
  EXPECT_THAT(Message(s.result.status()), HasSubstr(GetParam().words));
  EXPECT_THAT(Message(s.result.status()), HasSubstr(client->url()));
}

void Reply(httplib::Response& res, int status, const std::string& body,
           const char* type = "application/json") {
  res.status = status;
  res.set_content(body, type);
}

INSTANTIATE_TEST_SUITE_P(
    Answers, ChatClientFailureTest,
    ::testing::Values(
        FailureCase{"ServerError",
                    [](httplib::Response& res) { Reply(res, 500, "boom", "text/plain"); },
                    absl::StatusCode::kUnavailable, "HTTP 500: boom"},
        FailureCase{"Overloaded",
                    [](httplib::Response& res) {
                      Reply(res, 429, R"({"error": {"message": "Rate limit reached"}})");
                    },
                    absl::StatusCode::kUnavailable, "HTTP 429: Rate limit reached"},
        FailureCase{"BadKey",
                    [](httplib::Response& res) {
                      Reply(res, 401,
                            R"({"error": {"message": "Incorrect API key provided: sk-***",
                                "type": "invalid_request_error", "param": null,
                                "code": "invalid_api_key"}})");
                    },
                    absl::StatusCode::kFailedPrecondition,
                    "HTTP 401: Incorrect API key provided"},
        FailureCase{"UnknownModel",
                    [](httplib::Response& res) {
                      Reply(res, 404, R"({"error": "model 'x' not found"})");
                    },
                    absl::StatusCode::kFailedPrecondition, "HTTP 404: model 'x' not found"},
        FailureCase{"HtmlFromAProxy",
                    [](httplib::Response& res) {
                      Reply(res, 200, "<html>gateway</html>", "application/json");
                    },
                    absl::StatusCode::kDataLoss, "not JSON"},
        FailureCase{"NoChoices",
                    [](httplib::Response& res) { Reply(res, 200, R"({"choices": []})"); },
                    absl::StatusCode::kDataLoss, "no choices"},
        FailureCase{"NullContent",
                    [](httplib::Response& res) {
                      Reply(res, 200,
                            R"({"choices": [{"message": {"role": "assistant", "content": null}}]})");
                    },
                    absl::StatusCode::kDataLoss, "content is not a string"},
        FailureCase{"ErrorObjectWithStatus200",
                    [](httplib::Response& res) {
                      Reply(res, 200, R"({"error": {"message": "context length exceeded"}})");
                    },
                    absl::StatusCode::kUnavailable, "context length exceeded"}),
    [](const auto& info) { return std::string(info.param.name); });

// Failures only a stream has.
struct StreamFailureCase {
  const char* name;
  std::vector<std::string> pieces;
  bool cut;  // drop the connection instead of ending the body
  absl::StatusCode code;
  const char* words;
  std::string delivered;  // text the callback got before the failure
};

class ChatClientStreamFailureTest : public ::testing::TestWithParam<StreamFailureCase> {};

TEST_P(ChatClientStreamFailureTest, FailsWithTheRightCodeKeepingDeliveredDeltas) {
  ChatPeer peer;
  peer.set_behaviour([](const json&, httplib::Response& res) {
    StreamPieces(res, GetParam().pieces, std::chrono::milliseconds(0), GetParam().cut);
  });
  auto client = MakeClient(Options(peer));
  Streamed s = StreamAll(*client);
  ASSERT_FALSE(s.result.ok());
  EXPECT_EQ(s.result.status().code(), GetParam().code) << s.result.status();
  EXPECT_THAT(Message(s.result.status()), HasSubstr(GetParam().words));
  EXPECT_THAT(Message(s.result.status()), HasSubstr(client->url()));
  std::string joined;
  for (const auto& d : s.deltas) joined += d;
  EXPECT_EQ(joined, GetParam().delivered);
}

INSTANTIATE_TEST_SUITE_P(
    Streams, ChatClientStreamFailureTest,
    ::testing::Values(
        StreamFailureCase{"EndsBeforeDone", {SseBody({"half ", "an answer"}, false)}, false,
                          absl::StatusCode::kDataLoss, "ended without data: [DONE]",
                          "half an answer"},
        StreamFailureCase{"EmptyBody", {}, false, absl::StatusCode::kDataLoss,
                          "ended without data: [DONE]", ""},
        StreamFailureCase{"ConnectionDroppedMidStream",
                          {ChunkEvent({{"content", "half "}}), "data: {\"choi"}, true,
                          absl::StatusCode::kUnavailable, "connection lost", "half "},
        StreamFailureCase{"MalformedEvent",
                          {ChunkEvent({{"content", "ok "}}), "data: {\"choices\": [\n\n"}, false,
                          absl::StatusCode::kDataLoss, "stream event 2 is not JSON", "ok "},
        StreamFailureCase{"DeltaIsNotAnObject",
                          {"data: {\"choices\": [{\"delta\": \"text\"}]}\n\n"}, false,
                          absl::StatusCode::kDataLoss, "delta is not an object", ""},
        StreamFailureCase{"ContentIsNotAString",
                          {"data: {\"choices\": [{\"delta\": {\"content\": 7}}]}\n\n"}, false,
                          absl::StatusCode::kDataLoss, "delta.content is not a string", ""},
        StreamFailureCase{"ErrorEventMidStream",
                          {ChunkEvent({{"content", "so far"}}),
                           "data: {\"error\": {\"message\": \"model crashed\"}}\n\n"},
                          false, absl::StatusCode::kUnavailable, "model crashed", "so far"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ChatClientTest, TimesOutOnASilentServer) {
  ChatPeer peer;
  peer.set_behaviour([](const json&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    res.set_content(CompletionJson("late"), "application/json");
  });
  ChatClientOptions options = Options(peer);
  options.timeout = std::chrono::milliseconds(200);
  auto client = MakeClient(options);
  auto start = std::chrono::steady_clock::now();
  auto result = client->Complete(kMessages);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded) << result.status();
  EXPECT_THAT(Message(result.status()), HasSubstr("within 200 ms"));
  EXPECT_LT(took, std::chrono::milliseconds(650));
}

TEST(ChatClientTest, StreamStopsAtTheDeadlineEvenWhileDataKeepsTrickling) {
  ChatPeer peer;
  std::vector<std::string> pieces;
  for (int i = 0; i < 40; ++i) pieces.push_back(ChunkEvent({{"content", "x"}}));
  pieces.push_back("data: [DONE]\n\n");
  peer.set_behaviour([&](const json&, httplib::Response& res) {
    StreamPieces(res, pieces, std::chrono::milliseconds(25));  // 1 s in all
  });
  ChatClientOptions options = Options(peer);
  options.timeout = std::chrono::milliseconds(300);
  auto client = MakeClient(options);
  Streamed s = StreamAll(*client);
  ASSERT_FALSE(s.result.ok());
  EXPECT_EQ(s.result.status().code(), absl::StatusCode::kDeadlineExceeded) << s.result.status();
  EXPECT_GT(s.deltas.size(), 0u);
  EXPECT_LT(s.deltas.size(), 40u);
}

TEST(ChatClientTest, DeadPortIsUnavailableNamingTheServer) {
  std::string dead_url;
  {
    ChatPeer peer;  // take a free port, then close it
    dead_url = peer.base_url();
  }
  ChatClientOptions options;
  options.base_url = dead_url;
  options.model = "m";
  auto client = MakeClient(options);
  auto result = client->Complete(kMessages);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable) << result.status();
  EXPECT_THAT(Message(result.status()), HasSubstr(dead_url + "/chat/completions"));
  EXPECT_THAT(Message(result.status()), HasSubstr("cannot connect"));
  Streamed s = StreamAll(*client);
  EXPECT_EQ(s.result.status().code(), absl::StatusCode::kUnavailable);
}

TEST(ChatClientTest, RejectsBadOptions) {
  ChatClientOptions o;
  o.model = "m";
  o.base_url = "localhost:8080/v1";
  EXPECT_THAT(Message(ChatClient::Create(o).status()), HasSubstr("no scheme"));
  o.base_url = "ftp://host/v1";
  EXPECT_THAT(Message(ChatClient::Create(o).status()), HasSubstr("http or https"));
  o.base_url = "http:///v1";
  EXPECT_THAT(Message(ChatClient::Create(o).status()), HasSubstr("no host"));
  o.base_url = "http://host/v1/";
  o.model = "";
  EXPECT_THAT(Message(ChatClient::Create(o).status()), HasSubstr("model"));
  o.model = "m";
  o.timeout = std::chrono::milliseconds(0);
  EXPECT_THAT(Message(ChatClient::Create(o).status()), HasSubstr("timeouts"));
  o.timeout = std::chrono::milliseconds(10);
  auto client = ChatClient::Create(o);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->url(), "http://host/v1/chat/completions");
}

}  // namespace
}  // namespace ragline::generate
