// ServerConfig parsing and precedence, API-key scopes, and the one
// status-to-HTTP mapping.
#include "server/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "server/auth.h"
#include "server/http_error.h"

namespace ragline::server {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

TEST(ServerConfigTest, MergesEveryKeyAndRejectsUnknownOnes) {
  ServerConfig c;
  ASSERT_TRUE(c.MergeJson(json::parse(R"({"data": "/d", "port": 0, "threads": 2, "max_body_bytes": 4096,
      "llm": {"url": "http://h:1/v1", "model": "m", "timeout_ms": 5},
      "api_keys": [{"key": "k", "scope": "write"}],
      "compaction": {"min_segments": 0, "max_dead_fraction": 0.5, "min_growing_rows": 64,
                     "interval_ms": 100}})"))
                  .ok());
  EXPECT_EQ(c.compaction.min_segments, 0u);
  EXPECT_EQ(c.compaction.max_dead_fraction, 0.5);
  EXPECT_EQ(c.compaction.min_growing_rows, 64u);
  EXPECT_EQ(c.compaction.interval.count(), 100);
  EXPECT_EQ(c.data_dir, "/d");
  EXPECT_EQ(c.port, 0);
  EXPECT_EQ(c.threads, 2u);
  EXPECT_EQ(c.llm.model, "m");
  ASSERT_EQ(c.api_keys.size(), 1u);
  EXPECT_EQ(c.api_keys[0].scope, Access::kWrite);
  EXPECT_EQ(c.api_keys[0].collections, std::vector<std::string>{"*"});
  EXPECT_TRUE(c.Validate().ok());

  EXPECT_THAT(std::string(ServerConfig().MergeJson(json{{"prot", 1}}).message()),
              HasSubstr("unknown key \"prot\""));
  EXPECT_THAT(std::string(ServerConfig().MergeJson(json{{"port", "x"}}).message()), HasSubstr("\"port\""));
  EXPECT_THAT(std::string(ServerConfig().MergeJson(json{{"llm", {{"urll", "x"}}}}).message()),
              HasSubstr("llm.urll"));
  EXPECT_THAT(
      std::string(ServerConfig().MergeJson(json{{"compaction", {{"max_dead_fraction", 2}}}}).message()),
      HasSubstr("compaction.max_dead_fraction"));
  EXPECT_THAT(std::string(ServerConfig().MergeJson(json{{"compaction", {{"interval_ms", 0}}}}).message()),
              HasSubstr("compaction.interval_ms"));
  EXPECT_THAT(
      std::string(
          ServerConfig().MergeJson(json{{"api_keys", {{{"key", "k"}, {"scope", "admin"}}}}}).message()),
      HasSubstr("unknown scope 'admin'"));
}

TEST(ServerConfigTest, EnvironmentOverridesTheFileAndValidationNamesProblems) {
  ServerConfig c;
  ASSERT_TRUE(
      c.MergeJson(json{{"data", "/d"}, {"llm", {{"url", "http://file/v1"}, {"model", "file-model"}}}}).ok());
  ::setenv("RAGLINE_LLM_URL", "http://env/v1", 1);
  ::setenv("RAGLINE_LLM_API_KEY", "secret", 1);
  c.MergeEnvironment();
  ::unsetenv("RAGLINE_LLM_URL");
  ::unsetenv("RAGLINE_LLM_API_KEY");
  EXPECT_EQ(c.llm.url, "http://env/v1");
  EXPECT_EQ(c.llm.model, "file-model");
  EXPECT_EQ(c.llm.api_key, "secret");

  ServerConfig no_model;
  no_model.data_dir = "/d";
  no_model.llm.url = "http://x/v1";
  EXPECT_THAT(std::string(no_model.Validate().message()), HasSubstr("needs a model name"));
  EXPECT_THAT(std::string(ServerConfig().Validate().message()), HasSubstr("--data"));

  ServerConfig int8;
  ASSERT_TRUE(int8.MergeJson(json{{"data", "/d"}, {"precision", "int8"}}).ok());
  EXPECT_TRUE(int8.Validate().ok());
  int8.precision = "int4";
  EXPECT_THAT(std::string(int8.Validate().message()),
              HasSubstr("precision must be auto, fp32 or int8, not 'int4'"));
}

TEST(ServerConfigTest, TheWorkersSectionIsTheClusterFilesSharedWorkerSettings) {
  ServerConfig c;
  ASSERT_TRUE(c.MergeJson(json::parse(R"({"role": "router", "shards": ["http://a:1"], "kafka": "b:9092",
      "workers": {"topic_partitions": 8, "replication": 3, "batch": 16, "host": "0.0.0.0",
                  "chunk_tokens": 128, "overlap": 16, "collection": "docs", "create": true, "dim": 768}})"))
                  .ok());
  EXPECT_EQ(c.kafka, "b:9092");
  EXPECT_EQ(c.workers.topic_partitions, 8u);
  EXPECT_EQ(c.workers.replication, 3u);
  EXPECT_EQ(c.workers.batch, 16u);
  EXPECT_EQ(c.workers.host, "0.0.0.0");
  EXPECT_EQ(c.workers.chunk_tokens, 128u);
  EXPECT_EQ(c.workers.overlap, 16u);
  EXPECT_EQ(c.workers.collection, "docs");
  EXPECT_TRUE(c.workers.create);
  EXPECT_EQ(c.workers.dim, 768u);
  EXPECT_TRUE(c.workers.Validate().ok());
  EXPECT_TRUE(c.Validate().ok()) << "the router's parse of the cluster file stumbled on the workers' part";
  EXPECT_THAT(std::string(ServerConfig().MergeJson(json{{"workers", {{"bacth", 1}}}}).message()),
              HasSubstr("workers.bacth"));
  EXPECT_THAT(std::string(ServerConfig().MergeJson(json{{"workers", {{"create", "yes"}}}}).message()),
              HasSubstr("workers.create"));
  EXPECT_THAT(std::string(ServerConfig().MergeJson(json{{"workers", 5}}).message()),
              HasSubstr("\"workers\""));
  ServerConfig zero;
  ASSERT_TRUE(zero.MergeJson(json{{"workers", {{"topic_partitions", 0u}}}}).ok());
  EXPECT_THAT(std::string(zero.workers.Validate().message()), HasSubstr("workers.topic_partitions"));
}

TEST(ServerConfigTest, ARouterNeedsShardsAndNoDataDirectory) {
  ServerConfig router;
  ASSERT_TRUE(router
                  .MergeJson(json{{"role", "router"},
                                  {"shards", json::array({"http://a:1,http://b:1", "http://c:1"})},
                                  {"shard_deadline_ms", 500u}})
                  .ok());
  EXPECT_TRUE(router.Validate().ok()) << router.Validate();
  EXPECT_EQ(router.shards.size(), 2u);
  EXPECT_EQ(router.shard_deadline_ms, 500u);
  router.data_dir = "/d";
  EXPECT_THAT(std::string(router.Validate().message()), HasSubstr("leave out --data"));
  ServerConfig empty;
  empty.role = "router";
  EXPECT_THAT(std::string(empty.Validate().message()), HasSubstr("--shard URL"));
  empty.role = "coordinator";
  EXPECT_THAT(std::string(empty.Validate().message()), HasSubstr("role must be"));
  EXPECT_FALSE(ServerConfig().MergeJson(json{{"shards", json::array({1})}}).ok());
  ServerConfig node;
  node.data_dir = "/d";
  node.kafka = "127.0.0.1:9092";
  EXPECT_THAT(std::string(node.Validate().message()), HasSubstr("--kafka is for a router"));
}

TEST(ServerConfigTest, ReliabilitySettingsParseAndAdmissionFollowsThreads) {
  ServerConfig c;
  c.data_dir = "d";
  c.threads = 12;
  EXPECT_EQ(c.Admission().max_in_flight, 6u);
  EXPECT_EQ(c.Admission().max_queue, 3u);
  ASSERT_TRUE(c.MergeJson(json::parse(R"({
      "request_timeout_ms": 1500, "max_queued_requests": 9,
      "admission": {"max_in_flight": 2, "max_wait_ms": 100},
      "llm": {"url": "http://127.0.0.1:1/v1", "model": "m",
              "breaker": {"fail_max": 3, "reset_timeout_ms": 700}, "retry": {"max_attempts": 1}},
      "api_keys": [{"key": "k", "rate_per_s": 5, "burst": 10}]})"))
                  .ok());
  ASSERT_TRUE(c.Validate().ok()) << c.Validate();
  EXPECT_EQ(c.request_timeout_ms, 1500u);
  EXPECT_EQ(c.max_queued_requests, 9u);
  EXPECT_EQ(c.Admission().max_in_flight, 2u);
  EXPECT_EQ(c.Admission().max_queue, 3u);  // still from threads
  EXPECT_EQ(c.Admission().max_wait, std::chrono::milliseconds(100));
  EXPECT_EQ(c.llm.breaker.fail_max, 3);
  EXPECT_EQ(c.llm.breaker.reset_timeout, std::chrono::milliseconds(700));
  EXPECT_EQ(c.llm.retry.max_attempts, 1);
  EXPECT_EQ(c.api_keys[0].rate_per_s, 5);
  EXPECT_EQ(c.api_keys[0].burst, 10);
  EXPECT_THAT(std::string(ServerConfig().MergeJson(json{{"admission", {{"queue", 1}}}}).message()),
              HasSubstr("admission.queue"));
  EXPECT_THAT(
      std::string(ServerConfig().MergeJson(json{{"llm", {{"breaker", {{"fail_max", 0}}}}}}).message()),
      HasSubstr("llm.breaker.fail_max"));
  EXPECT_THAT(
      std::string(ServerConfig().MergeJson(json{{"api_keys", {{{"key", "k"}, {"burst", 3}}}}}).message()),
      HasSubstr("needs a \"rate_per_s\""));
  ServerConfig zero = c;
  zero.request_timeout_ms = 0;
  EXPECT_THAT(std::string(zero.Validate().message()), HasSubstr("request_timeout_ms"));
}

TEST(ServerConfigTest, QuestionBatchingIsOnByDefaultAndItsBoundsAreChecked) {
  ServerConfig c;
  c.data_dir = "d";
  EXPECT_TRUE(c.question_batching);
  EXPECT_EQ(c.question_batch.workers, 0u);  // one per hardware thread
  EXPECT_EQ(c.question_batch.window, std::chrono::microseconds(0));
  ASSERT_TRUE(c.MergeJson(json::parse(R"({"question_batching": {"enabled": false, "workers": 2,
      "max_batch_tokens": 512, "window_us": 250}})"))
                  .ok());
  ASSERT_TRUE(c.Validate().ok()) << c.Validate();
  EXPECT_FALSE(c.question_batching);
  EXPECT_EQ(c.question_batch.workers, 2u);
  EXPECT_EQ(c.question_batch.max_batch_tokens, 512u);
  EXPECT_EQ(c.question_batch.window, std::chrono::microseconds(250));
  EXPECT_THAT(std::string(ServerConfig().MergeJson(json{{"question_batching", {{"size", 1}}}}).message()),
              HasSubstr("question_batching.size"));
  EXPECT_THAT(std::string(ServerConfig().MergeJson(json{{"question_batching", {{"enabled", 1}}}}).message()),
              HasSubstr("true or false"));
  for (const char* bad : {R"({"workers": 257})", R"({"max_batch_tokens": 0})", R"({"window_us": 1000001})"}) {
    ServerConfig b;
    b.data_dir = "d";
    ASSERT_TRUE(b.MergeJson(json{{"question_batching", json::parse(bad)}}).ok()) << bad;
    EXPECT_THAT(std::string(b.Validate().message()), HasSubstr("question_batching")) << bad;
  }
}

TEST(ServerConfigTest, TheProbeSectionIsParsedByTheProbesOwnParser) {
  ServerConfig c;
  EXPECT_FALSE(c.probe.has_value());
  ASSERT_TRUE(c.MergeJson(json::parse(R"({"probe": {"collection": "kb", "question": "q", "interval_ms": 500}})")).ok());
  ASSERT_TRUE(c.probe.has_value());
  EXPECT_EQ(c.probe->collection, "kb");
  EXPECT_EQ(c.probe->interval, std::chrono::milliseconds(500));
  EXPECT_THAT(std::string(ServerConfig().MergeJson(json{{"probe", {{"question", "q"}}}}).message()),
              HasSubstr("needs \"collection\""));
}

TEST(AuthorizerTest, ChecksKeysScopesAndCollections) {
  Authorizer open({});
  EXPECT_TRUE(open.Check("", Access::kWrite, "x").ok());
  Authorizer auth(
      {{"r", Access::kRead, {"docs"}}, {"w", Access::kWrite, {"*"}}, {"wd", Access::kWrite, {"docs"}}});
  EXPECT_TRUE(auth.Check("", Access::kOpen, "").ok());
  EXPECT_TRUE(absl::IsUnauthenticated(auth.Check("", Access::kRead, "docs")));
  EXPECT_TRUE(absl::IsUnauthenticated(auth.Check("Basic r", Access::kRead, "docs")));
  EXPECT_TRUE(absl::IsUnauthenticated(auth.Check("Bearer x", Access::kRead, "docs")));
  EXPECT_TRUE(auth.Check("Bearer r", Access::kRead, "docs").ok());
  EXPECT_TRUE(auth.Check("Bearer r", Access::kRead, "").ok());  // listings
  EXPECT_TRUE(absl::IsPermissionDenied(auth.Check("Bearer r", Access::kRead, "other")));
  EXPECT_TRUE(absl::IsPermissionDenied(auth.Check("Bearer r", Access::kWrite, "docs")));
  EXPECT_TRUE(auth.Check("Bearer wd", Access::kWrite, "docs").ok());
  EXPECT_TRUE(auth.Check("Bearer wd", Access::kRead, "docs").ok());                    // write implies read
  EXPECT_TRUE(absl::IsPermissionDenied(auth.Check("Bearer wd", Access::kWrite, "")));  // needs "*"
  EXPECT_TRUE(auth.Check("Bearer w", Access::kWrite, "").ok());
}

TEST(HttpErrorTest, MapsStatusCodesInOnePlace) {
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kFailedPrecondition), 409);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kDeadlineExceeded), 504);
  EXPECT_EQ(HttpStatusFor(absl::StatusCode::kDataLoss), 500);
  EXPECT_EQ(HttpStatusFor(LimitExceededError("x")), 413);
  EXPECT_EQ(ErrorCodeName(LimitExceededError("x")), "payload_too_large");
  EXPECT_EQ(HttpStatusFor(absl::ResourceExhaustedError("x")), 429);
  EXPECT_EQ(ErrorBody(absl::NotFoundError("no 'x'")),
            json::parse(R"({"error": {"code": "not_found", "message": "no 'x'",
                                      "type": "invalid_request_error", "param": null}})"));
  EXPECT_EQ(ErrorBody(absl::UnavailableError("x"))["error"]["type"], "server_error");
  EXPECT_EQ(ErrorBody(absl::UnauthenticatedError("x"))["error"]["type"], "authentication_error");
  EXPECT_EQ(ErrorBody(absl::ResourceExhaustedError("x"))["error"]["type"], "rate_limit_error");
  EXPECT_EQ(DumpJson(json("caf\xC3")), "\"caf\xEF\xBF\xBD\"");  // invalid UTF-8 replaced, no throw
}

}  // namespace
}  // namespace ragline::server
