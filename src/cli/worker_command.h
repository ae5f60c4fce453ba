// `ragline worker chunk|embed|index`: the roles of distributed mode
// (pipeline/workers.h) as processes, each running until SIGINT/SIGTERM.
//
// Thread safety: registration and the commands run on the CLI's one thread.
#pragma once

#include "CLI/CLI.hpp"

namespace ragline::cli {

// Adds the `worker` subcommand group to `app`; its exit code goes to *rc.
void AddWorkerCommand(CLI::App& app, int* rc);

}  // namespace ragline::cli
