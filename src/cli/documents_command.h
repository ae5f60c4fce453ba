// `ragline documents list`: the documents of a collection (those the
// ingestion pipeline wrote: id, title, version, chunks, source, metadata),
// one JSON line each in id order, from a data directory (read-only) or a
// running server (GET /v1/collections/{name}/documents, page by page).
//
// Thread safety: registration and the command run on the CLI's one thread.
#pragma once

#include "CLI/CLI.hpp"

namespace ragline::cli {

// Adds the `documents` subcommand to `app`; its exit code goes to *rc.
void AddDocumentsCommand(CLI::App& app, int* rc);

}  // namespace ragline::cli
