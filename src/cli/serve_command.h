// `ragline serve`: the HTTP server (server/) on a data directory.
//
// Thread safety: registration and the commands run on the CLI's one thread;
// `serve` starts the server's worker threads and one signal-waiting thread.
#pragma once

#include "CLI/CLI.hpp"

namespace ragline::cli {

// Adds the `serve` subcommand to `app`; its exit code goes to *rc.
void AddServeCommand(CLI::App& app, int* rc);

}  // namespace ragline::cli
