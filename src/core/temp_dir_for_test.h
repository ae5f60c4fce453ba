#pragma once

// Tests only: a fresh directory under /tmp, removed with everything in it when
// the object goes away.

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace ragline {

class TempDir {
 public:
  explicit TempDir(std::string prefix = "ragline_test") {
    std::string tmpl = "/tmp/" + prefix + "_XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `contents` to `name` inside the directory; returns its path.
  std::string Write(const std::string& name, const std::string& contents) const {
    const std::string file = path_ + "/" + name;
    std::ofstream(file, std::ios::binary | std::ios::trunc) << contents;
    return file;
  }

 private:
  std::string path_;
};

}  // namespace ragline
