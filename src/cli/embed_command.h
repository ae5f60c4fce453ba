// `ragline embed`: texts in, embeddings out, with the native encoder or a
// remote OpenAI-compatible embeddings server.
//
// Thread safety: registration and the command run on the CLI's one thread.
#pragma once

#include "CLI/CLI.hpp"

namespace ragline::cli {

// Adds the `embed` subcommand to `app`; its exit code goes to *rc.
void AddEmbedCommand(CLI::App& app, int* rc);

}  // namespace ragline::cli
