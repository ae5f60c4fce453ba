// `ragline reindex SRC DST`: copies a collection into a new one with another
// index (or re-embedded with another model), verifies it and optionally flips
// an alias to it; the old collection stays for `ragline alias rollback`
// (pipeline/reindex.h, docs/reliability.md "Re-index with rollback").
//
//   --data DIR [--model DIR]   on a data directory (the collections must not be
//                              open in a running server: use --server then)
//   --server URL [--reembed]   through POST /v1/collections/SRC/reindex
//   --index KIND [--param K=V]... --rate OPS/S --alias NAME
//
// Resumable: run it again after a kill and it skips what was copied.
//
// Thread safety: registration and the command run on the CLI's one thread.
#pragma once

#include "CLI/CLI.hpp"

namespace ragline::cli {

// Adds the `reindex` subcommand to `app`; its exit code goes to *rc.
void AddReindexCommand(CLI::App& app, int* rc);

}  // namespace ragline::cli
