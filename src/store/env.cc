// PosixEnv: the Env of a real POSIX file system (Env::Default()).

#include "store/env.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ragline::store {

Status PosixError(std::string_view context, int errno_value) {
  // Debian's abseil has its own string_view, not std::string_view.
  Status st = absl::ErrnoToStatus(errno_value, absl::string_view(context.data(), context.size()));
  return errno_value == ENOSPC || errno_value == EDQUOT ? MarkDiskFull(std::move(st)) : st;
}

namespace {

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Writes all of `data` to `fd`, retrying on EINTR and short writes.
Status WriteAll(int fd, std::string_view data, const std::string& path) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError(absl::StrCat("write ", path), errno);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

int OpenRetry(const char* path, int flags, mode_t mode = 0) {
  int fd;
  do {
    fd = ::open(path, flags, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd, uint64_t size) : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Append(std::string_view data) override {
    if (fd_ < 0) {
      return absl::FailedPreconditionError(absl::StrCat("append to closed file ", path_));
    }
    // Even a failed write may have written a prefix; count what is there.
    Status status = WriteAll(fd_, data, path_);
    if (status.ok()) {
      size_ += data.size();
    } else {
      struct stat st;
      if (::fstat(fd_, &st) == 0) size_ = static_cast<uint64_t>(st.st_size);
    }
    return status;
  }

  Status Sync() override {
    if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat("sync of closed file ", path_));
    if (::fdatasync(fd_) != 0) return PosixError(absl::StrCat("fdatasync ", path_), errno);
    return absl::OkStatus();
  }

  Status Close() override {
    if (fd_ < 0) return absl::OkStatus();
    int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) return PosixError(absl::StrCat("close ", path_), errno);
    return absl::OkStatus();
  }

  uint64_t Size() const override { return size_; }

 private:
  const std::string path_;
  int fd_;
  uint64_t size_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override { ::close(fd_); }  // closing releases the flock

 private:
  int fd_;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override {
    int fd = OpenRetry(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return PosixError(absl::StrCat("open ", path), errno);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      Status status = PosixError(absl::StrCat("stat ", path), errno);
      ::close(fd);
      return status;
    }
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd, static_cast<uint64_t>(st.st_size)));
  }

  Result<std::string> ReadFile(const std::string& path) override {
    int fd = OpenRetry(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError(absl::StrCat("open ", path), errno);
    std::string out;
    struct stat st;
    if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(static_cast<size_t>(st.st_size));
    char buf[1 << 16];
    while (true) {
      ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n < 0) {
        if (errno == EINTR) continue;
        Status status = PosixError(absl::StrCat("read ", path), errno);
        ::close(fd);
        return status;
      }
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return out;
  }

  Status WriteFileAtomically(const std::string& path, std::string_view data) override {
    static std::atomic<uint64_t> counter{0};
    std::string tmp = absl::StrFormat("%s.tmp-%d-%d", path, static_cast<int>(::getpid()),
                                      counter.fetch_add(1, std::memory_order_relaxed));
    int fd = OpenRetry(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return PosixError(absl::StrCat("open ", tmp), errno);
    Status status = WriteAll(fd, data, tmp);
    if (status.ok() && ::fdatasync(fd) != 0) {
      status = PosixError(absl::StrCat("fdatasync ", tmp), errno);
    }
    if (::close(fd) != 0 && status.ok()) status = PosixError(absl::StrCat("close ", tmp), errno);
    if (status.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
      status = PosixError(absl::StrCat("rename ", tmp, " to ", path), errno);
    }
    if (!status.ok()) {
      ::unlink(tmp.c_str());
      return status;
    }
    return SyncDir(DirName(path));
  }

  Status Truncate(const std::string& path, uint64_t size) override {
    int fd = OpenRetry(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return PosixError(absl::StrCat("open ", path), errno);
    Status status;
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
      status = PosixError(absl::StrCat("truncate ", path, " to ", size, " bytes"), errno);
    } else if (::fdatasync(fd) != 0) {
      status = PosixError(absl::StrCat("fdatasync ", path), errno);
    }
    ::close(fd);
    return status;
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return PosixError(absl::StrCat("remove ", path), errno);
    return absl::OkStatus();
  }

  Status RemoveAll(const std::string& path) override {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec) return PosixError(absl::StrCat("remove all of ", path), ec.value());
    return absl::OkStatus();
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return PosixError(absl::StrCat("rename ", from, " to ", to), errno);
    }
    return absl::OkStatus();
  }

  Status CreateDirs(const std::string& path) override {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return PosixError(absl::StrCat("create directory ", path), ec.value());
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return PosixError(absl::StrCat("stat ", path), errno);
    if (!S_ISDIR(st.st_mode)) {
      return PosixError(absl::StrCat("create directory ", path), ENOTDIR);
    }
    return absl::OkStatus();
  }

  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return PosixError(absl::StrCat("list ", dir), errno);
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* entry = ::readdir(d)) {
      std::string_view name = entry->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
      errno = 0;
    }
    int read_errno = errno;
    ::closedir(d);
    if (read_errno != 0) return PosixError(absl::StrCat("list ", dir), read_errno);
    std::sort(names.begin(), names.end());
    return names;
  }

  bool FileExists(const std::string& path) override {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
  }

  Result<uint64_t> FileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return PosixError(absl::StrCat("stat ", path), errno);
    return static_cast<uint64_t>(st.st_size);
  }

  Status SyncDir(const std::string& dir) override {
    int fd = OpenRetry(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return PosixError(absl::StrCat("open directory ", dir), errno);
    Status status;
    if (::fsync(fd) != 0) status = PosixError(absl::StrCat("fsync directory ", dir), errno);
    ::close(fd);
    return status;
  }

  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    int fd = OpenRetry(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return PosixError(absl::StrCat("open lock file ", path), errno);
    int rc;
    do {
      rc = ::flock(fd, LOCK_EX | LOCK_NB);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return absl::FailedPreconditionError(
            absl::StrCat("data directory is locked by another ragline process (lock file ", path,
                         " is held; is another server running on this directory?)"));
      }
      return PosixError(absl::StrCat("lock ", path), err);
    }
    return std::unique_ptr<FileLock>(new PosixFileLock(fd));
  }
};

}  // namespace

Env* Env::Default() {
  static Env* const env = new PosixEnv();
  return env;
}

}  // namespace ragline::store
