// The `ragline` command: argument parsing and wiring of subcommands.
//
// Thread safety: RunCli is called once, from main.
#pragma once

namespace ragline::cli {

// Runs the command line; returns the process exit code.
int RunCli(int argc, char** argv);

}  // namespace ragline::cli
