#include "cli/cli.h"

int main(int argc, char** argv) { return ragline::cli::RunCli(argc, argv); }
