#include "cli/io.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/strings.h"

namespace ragline::cli {

int Fail(const Status& st) {
  std::fprintf(stderr, "error: %s\n", std::string(st.message()).c_str());
  return kExitError;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return kExitError;
}

void PrintJson(const nlohmann::json& j) {
  std::string line = j.dump();
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

std::string DefaultModelDir() {
  const char* env = std::getenv("RAGLINE_MODEL_DIR");
  return env != nullptr && *env != '\0' ? env : "models/all-MiniLM-L6-v2";
}

Result<int> OpenInput(const std::string& file) {
  if (file.empty() || file == "-") return 0;
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(StrCat("cannot open ", file, ": ", std::strerror(errno)));
  return fd;
}

}  // namespace ragline::cli
