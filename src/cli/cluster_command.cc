#include "cli/cluster_command.h"

#include <memory>
#include <string>

#include "cli/api_client.h"
#include "cli/io.h"

namespace ragline::cli {

void AddClusterCommand(CLI::App& app, int* rc) {
  auto router = std::make_shared<std::string>();
  auto* cluster = app.add_subcommand("cluster", "a distributed deployment (docs/distributed.md)");
  cluster->require_subcommand(1);
  auto* status = cluster->add_subcommand(
      "status",
      "shards, replicas (up or not), their collections' counts and Kafka offsets (exit 1: a shard is down)");
  status->add_option("--router", *router, "the router's base URL, http://HOST:PORT")->required();
  status->callback([router, rc] {
    auto client = ApiClient::Create(*router, "");
    if (!client.ok()) {
      *rc = Fail(client.status());
      return;
    }
    auto reply = (*client)->Call("GET", "/v1/cluster");
    if (!reply.ok()) {
      *rc = Fail(reply.status());
      return;
    }
    PrintJson(reply->body);
    *rc = reply->body.value("all_shards_up", false) ? 0 : 1;
  });
}

}  // namespace ragline::cli
