#include "cli/cli.h"

namespace ragline::cli {

int RunCli(int argc, char** argv) { return 0; }

}  // namespace ragline::cli
