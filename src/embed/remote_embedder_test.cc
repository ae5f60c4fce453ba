// RemoteEmbedder against an in-process HTTP peer that speaks the OpenAI
// /v1/embeddings protocol (cpp-httplib server), including its failure modes.
#include "embed/remote_embedder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

namespace ragline::embed {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

constexpr size_t kDim = 8;

// The peer's embedding of a text: deterministic, so tests can check rows.
std::vector<float> PeerVector(const std::string& text) {
  std::vector<float> v(kDim);
  size_t h = std::hash<std::string>{}(text);
  for (size_t d = 0; d < kDim; ++d) v[d] = static_cast<float>((h >> (d * 4)) & 0xF) - 7.5f;
  return v;
}

// An OpenAI-compatible embeddings server on a free local port. `behaviour`
// may replace the answer for a request (return true when it has answered).
class EmbeddingsPeer {
 public:
  using Behaviour = std::function<bool(const json& request, httplib::Response& res)>;

  EmbeddingsPeer() {
    server_.Post("/v1/embeddings", [this](const httplib::Request& req, httplib::Response& res) {
      ++requests_;
      {
        std::lock_guard lock(mu_);
        last_authorization_ = req.get_header_value("Authorization");
      }
      json request = json::parse(req.body);
      if (behaviour_ && behaviour_(request, res)) return;
      json data = json::array();
      const json& input = request["input"];
      // Answer in reverse order: clients must use "index", not position.
      for (size_t i = input.size(); i-- > 0;) {
        data.push_back(
            {{"object", "embedding"}, {"index", i}, {"embedding", PeerVector(input[i].get<std::string>())}});
      }
      json body = {{"object", "list"},
                   {"data", data},
                   {"model", request["model"]},
                   {"usage", {{"prompt_tokens", 1}, {"total_tokens", 1}}}};
      res.set_content(body.dump(), "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~EmbeddingsPeer() {
    server_.stop();
    thread_.join();
  }

  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  void set_behaviour(Behaviour b) { behaviour_ = std::move(b); }
  int requests() const { return requests_; }
  std::string last_authorization() {
    std::lock_guard lock(mu_);
    return last_authorization_;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  Behaviour behaviour_;
  std::atomic<int> requests_{0};
  std::mutex mu_;
  std::string last_authorization_;
};

RemoteEmbedderOptions Options(const EmbeddingsPeer& peer) {
  RemoteEmbedderOptions o;
  o.base_url = peer.base_url();
  o.model = "test-model";
  o.dim = kDim;
  o.timeout = std::chrono::milliseconds(2000);
  o.retry.initial_backoff = std::chrono::milliseconds(1);
  return o;
}

std::vector<std::string> Texts(size_t n) {
  std::vector<std::string> texts;
  for (size_t i = 0; i < n; ++i) texts.push_back("text number " + std::to_string(i));
  return texts;
}

TEST(RemoteEmbedderTest, EmbedsInInputOrderAcrossBatches) {
  EmbeddingsPeer peer;
  RemoteEmbedderOptions options = Options(peer);
  options.max_batch = 3;
  auto embedder = RemoteEmbedder::Create(options);
  ASSERT_TRUE(embedder.ok()) << embedder.status();
  std::vector<std::string> texts = Texts(10);
  auto m = (*embedder)->Embed(texts);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(m->rows(), 10u);
  ASSERT_EQ(m->cols(), kDim);
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<float> want = PeerVector(texts[i]);
    EXPECT_EQ(std::vector<float>(m->row(i).begin(), m->row(i).end()), want) << "row " << i;
  }
  EXPECT_EQ(peer.requests(), 4);  // 3 + 3 + 3 + 1
  EXPECT_EQ((*embedder)->model_id(), "test-model");
}

TEST(RemoteEmbedderTest, LearnsTheWidthWithOneProbeWhenNotGiven) {
  EmbeddingsPeer peer;
  RemoteEmbedderOptions options = Options(peer);
  options.dim = 0;
  auto embedder = RemoteEmbedder::Create(options);
  ASSERT_TRUE(embedder.ok()) << embedder.status();
  EXPECT_EQ((*embedder)->dim(), kDim);
  EXPECT_EQ(peer.requests(), 1);
}

TEST(RemoteEmbedderTest, SendsTheApiKeyAsBearerToken) {
  EmbeddingsPeer peer;
  RemoteEmbedderOptions options = Options(peer);
  options.api_key = "sk-secret";
  auto embedder = RemoteEmbedder::Create(options);
  ASSERT_TRUE(embedder.ok());
  ASSERT_TRUE((*embedder)->Embed(Texts(1)).ok());
  EXPECT_EQ(peer.last_authorization(), "Bearer sk-secret");
}

TEST(RemoteEmbedderTest, EmptyInputSendsNoRequest) {
  EmbeddingsPeer peer;
  auto embedder = RemoteEmbedder::Create(Options(peer));
  ASSERT_TRUE(embedder.ok());
  auto m = (*embedder)->Embed({});
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->rows(), 0u);
  EXPECT_EQ(peer.requests(), 0);
}

TEST(RemoteEmbedderTest, ClientErrorFailsAtOnceWithTheServersMessage) {
  EmbeddingsPeer peer;
  peer.set_behaviour([](const json&, httplib::Response& res) {
    res.status = 401;
    res.set_content(R"({"error": {"message": "Incorrect API key provided"}})", "application/json");
    return true;
  });
  auto embedder = RemoteEmbedder::Create(Options(peer));
  ASSERT_TRUE(embedder.ok());
  auto m = (*embedder)->Embed(Texts(2));
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("HTTP 401"));
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("Incorrect API key provided"));
  EXPECT_EQ(peer.requests(), 1);  // no retry for a 4xx other than 429
}

TEST(RemoteEmbedderTest, RetriesServerErrorsAndThenSucceeds) {
  EmbeddingsPeer peer;
  std::atomic<int> failures{2};
  peer.set_behaviour([&](const json&, httplib::Response& res) {
    if (failures-- <= 0) return false;
    res.status = 503;
    res.set_content("overloaded", "text/plain");
    return true;
  });
  auto embedder = RemoteEmbedder::Create(Options(peer));
  ASSERT_TRUE(embedder.ok());
  auto m = (*embedder)->Embed(Texts(2));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(peer.requests(), 3);
}

TEST(RemoteEmbedderTest, GivesUpAfterMaxRetriesNamingTheStatus) {
  EmbeddingsPeer peer;
  peer.set_behaviour([](const json&, httplib::Response& res) {
    res.status = 500;
    res.set_content("boom", "text/plain");
    return true;
  });
  RemoteEmbedderOptions options = Options(peer);
  options.retry.max_attempts = 2;
  auto embedder = RemoteEmbedder::Create(options);
  ASSERT_TRUE(embedder.ok());
  auto m = (*embedder)->Embed(Texts(1));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("HTTP 500: boom (after 2 attempts)"));
}

struct BadAnswer {
  const char* name;
  const char* body;
  const char* expected;
};

class RemoteEmbedderBadAnswerTest : public ::testing::TestWithParam<BadAnswer> {};

TEST_P(RemoteEmbedderBadAnswerTest, IsRejectedWithAClearError) {
  EmbeddingsPeer peer;
  peer.set_behaviour([](const json&, httplib::Response& res) {
    res.set_content(GetParam().body, "application/json");
    return true;
  });
  auto embedder = RemoteEmbedder::Create(Options(peer));
  ASSERT_TRUE(embedder.ok());
  auto m = (*embedder)->Embed(Texts(2));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(m.status().message()), HasSubstr(GetParam().expected));
}

INSTANTIATE_TEST_SUITE_P(
    Answers, RemoteEmbedderBadAnswerTest,
    ::testing::Values(BadAnswer{"NotJson", "<html>gateway</html>", "not an embeddings list"},
                      BadAnswer{"TooFew", R"({"data": [{"index": 0, "embedding": [1,2,3,4,5,6,7,8]}]})",
                                "sent 2 inputs, got 1"},
                      BadAnswer{
                          "WrongWidth",
                          R"({"data": [{"index": 0, "embedding": [1,2]}, {"index": 1, "embedding": [1,2]}]})",
                          "width 2, expected 8"},
                      BadAnswer{"IndexOutOfRange",
                                R"({"data": [{"index": 0, "embedding": [1,2,3,4,5,6,7,8]},
                               {"index": 7, "embedding": [1,2,3,4,5,6,7,8]}]})",
                                "not an input position"},
                      BadAnswer{"DuplicateIndex",
                                R"({"data": [{"index": 1, "embedding": [1,2,3,4,5,6,7,8]},
                               {"index": 1, "embedding": [1,2,3,4,5,6,7,8]}]})",
                                "two embeddings for input 1"},
                      BadAnswer{"Base64", R"({"data": [{"index": 0, "embedding": "AAAA"},
                                         {"index": 1, "embedding": "AAAA"}]})",
                                "no embedding array"},
                      BadAnswer{"NotANumber",
                                R"({"data": [{"index": 0, "embedding": [1,2,3,4,5,6,7,"x"]},
                               {"index": 1, "embedding": [1,2,3,4,5,6,7,8]}]})",
                                "not a number"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(RemoteEmbedderTest, TimesOutOnASilentServer) {
  EmbeddingsPeer peer;
  peer.set_behaviour([](const json&, httplib::Response&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    return false;
  });
  RemoteEmbedderOptions options = Options(peer);
  options.timeout = std::chrono::milliseconds(150);
  options.retry.max_attempts = 1;
  auto embedder = RemoteEmbedder::Create(options);
  ASSERT_TRUE(embedder.ok());
  auto m = (*embedder)->Embed(Texts(1));
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnavailable);
}

TEST(RemoteEmbedderTest, ItsBreakerOpensAfterFailedRequestsAndSparesTheServer) {
  EmbeddingsPeer peer;
  RemoteEmbedderOptions options = Options(peer);
  options.retry.max_attempts = 1;
  options.breaker = {.fail_max = 2, .reset_timeout = std::chrono::milliseconds(200)};
  auto embedder = RemoteEmbedder::Create(options);
  ASSERT_TRUE(embedder.ok());
  peer.set_behaviour([](const json&, httplib::Response& res) {
    res.status = 503;
    res.set_content("overloaded", "text/plain");
    return true;
  });
  const int before = peer.requests();
  for (int i = 0; i < 5; ++i) EXPECT_FALSE((*embedder)->Embed(Texts(1)).ok());
  EXPECT_EQ(peer.requests() - before, 2);  // then the breaker answered
  auto refused = (*embedder)->Embed(Texts(1));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("embedder is unavailable"));
  EXPECT_EQ((*embedder)->breaker().state(), resilience::BreakerState::kOpen);
  peer.set_behaviour(nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  EXPECT_TRUE((*embedder)->Embed(Texts(1)).ok());
  EXPECT_EQ((*embedder)->breaker().state(), resilience::BreakerState::kClosed);
}

TEST(RemoteEmbedderTest, DeadPortIsUnavailable) {
  std::string dead_url;
  {
    EmbeddingsPeer peer;  // take a free port, then close it
    dead_url = peer.base_url();
  }
  RemoteEmbedderOptions o;
  o.base_url = dead_url;
  o.model = "m";
  o.retry.max_attempts = 2;
  o.retry.initial_backoff = std::chrono::milliseconds(1);
  auto embedder = RemoteEmbedder::Create(o);  // the probe fails
  ASSERT_FALSE(embedder.ok());
  EXPECT_EQ(embedder.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(embedder.status().message()), HasSubstr(dead_url));
}

TEST(RemoteEmbedderTest, RejectsBadOptions) {
  RemoteEmbedderOptions o;
  o.model = "m";
  o.dim = 4;
  o.base_url = "localhost:8080/v1";
  EXPECT_THAT(std::string(RemoteEmbedder::Create(o).status().message()), HasSubstr("no scheme"));
  o.base_url = "ftp://host/v1";
  EXPECT_THAT(std::string(RemoteEmbedder::Create(o).status().message()), HasSubstr("http or https"));
  o.base_url = "http://host/v1";
  o.model = "";
  EXPECT_THAT(std::string(RemoteEmbedder::Create(o).status().message()), HasSubstr("model"));
}

}  // namespace
}  // namespace ragline::embed
