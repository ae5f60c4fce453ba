#include "core/http_peer.h"

#include <gtest/gtest.h>

namespace ragline {
namespace {

TEST(SplitBaseUrlTest, SplitsHostFromPathAndDropsTrailingSlashes) {
  auto u = SplitBaseUrl("http://127.0.0.1:8080/v1/", "base_url");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->scheme_host_port, "http://127.0.0.1:8080");
  EXPECT_EQ(u->path, "/v1");
  u = SplitBaseUrl("https://api.example.com", "base_url");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->scheme_host_port, "https://api.example.com");
  EXPECT_EQ(u->path, "");
}

TEST(SplitBaseUrlTest, RefusesWhatItCannotUseAndNamesTheSetting) {
  for (const char* bad : {"localhost:8080/v1", "ftp://host/v1", "http:///v1", "http://"}) {
    auto u = SplitBaseUrl(bad, "chat base_url");
    EXPECT_EQ(u.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(u.status().message().find("chat base_url"), std::string_view::npos) << bad;
  }
}

TEST(PeerErrorMessageTest, ReadsOpenAiAndPlainErrors) {
  EXPECT_EQ(PeerErrorMessage(R"({"error": {"message": "model not found", "type": "x"}})"), "model not found");
  EXPECT_EQ(PeerErrorMessage(R"({"error": "overloaded"})"), "overloaded");
  EXPECT_EQ(PeerErrorMessage(R"({"message": "bad key"})"), "bad key");
  EXPECT_EQ(PeerErrorMessage("Bad Gateway"), "Bad Gateway");
  const std::string long_body(1000, 'x');
  EXPECT_EQ(PeerErrorMessage(long_body), std::string(300, 'x') + "...");
}

}  // namespace
}  // namespace ragline
