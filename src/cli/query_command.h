// `ragline query`: one RAG query, run directly on a data directory
// (query/, read-only) or sent to a server's /query route.
//
// Thread safety: registration and the command run on the CLI's one thread.
#pragma once

#include "CLI/CLI.hpp"

namespace ragline::cli {

// Adds the `query` subcommand to `app`; its exit code goes to *rc.
void AddQueryCommand(CLI::App& app, int* rc);

}  // namespace ragline::cli
