// `ragline ingest`: files, directories or JSONL documents into a collection
// through the ingestion pipeline (pipeline/ingestor.h), working directly on a
// data directory; optionally watching a directory for changes.
//
// Thread safety: registration and the command run on the CLI's one thread
// (the pipeline starts and joins its own stage threads).
#pragma once

#include "CLI/CLI.hpp"

namespace ragline::cli {

// Adds the `ingest` subcommand to `app`; its exit code goes to *rc.
void AddIngestCommand(CLI::App& app, int* rc);

}  // namespace ragline::cli
