// `ragline eval`: measures retrieval quality and latency of each query mode
// on a BEIR-format dataset (docs/retrieval.md).
//
// Thread safety: registration and the command run on the CLI's one thread.
#pragma once

#include "CLI/CLI.hpp"

namespace ragline::cli {

// Adds the `eval` subcommand to `app`; its exit code goes to *rc.
void AddEvalCommand(CLI::App& app, int* rc);

}  // namespace ragline::cli
