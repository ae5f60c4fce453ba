// `ragline cluster status --router URL`: what GET /v1/cluster on a router
// says (router/router.h): shards, replicas, up/down, per collection the
// record count and the Kafka offsets each replica holds.
//
// Thread safety: registration and the command run on the CLI's one thread.
#pragma once

#include "CLI/CLI.hpp"

namespace ragline::cli {

// Adds the `cluster` subcommand group to `app`; its exit code goes to *rc.
void AddClusterCommand(CLI::App& app, int* rc);

}  // namespace ragline::cli
