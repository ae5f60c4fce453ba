// Env: the file-system operations the store uses, behind an interface so tests
// can inject faults (see fault_injection_env.h) the way leveldb's tests do.
//
// Paths are plain POSIX paths. Every error names the path and the errno text
// (see PosixError): ENOENT is NotFound, ENOSPC ResourceExhausted, EIO
// Unavailable, and so on, as absl::ErrnoToStatus maps them.
//
// Thread safety: Env methods are thread-safe. A WritableFile is used by one
// thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ragline::store {

// Returns absl::ErrnoToStatus(errno_value, context): the message reads
// "<context>: <strerror text>". `context` should name the operation and path,
// e.g. "open /data/wal/wal-1.log".
Status PosixError(std::string_view context, int errno_value);

class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Appends bytes; they may sit in OS or process buffers until Sync.
  virtual Status Append(std::string_view data) = 0;
  // Makes everything appended so far durable (fdatasync).
  virtual Status Sync() = 0;
  virtual Status Close() = 0;
  // Bytes in the file, including appended-but-unsynced ones.
  virtual uint64_t Size() const = 0;
};

// An advisory exclusive lock on a file (flock); released on destruction.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide POSIX Env. Never null; never deleted.
  static Env* Default();

  // Opens `path` for appending, creating it if missing; Size() starts at the
  // current length.
  virtual Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) = 0;
  // Whole file contents. NotFound if missing.
  virtual Result<std::string> ReadFile(const std::string& path) = 0;
  // Writes `data` to a temp file, syncs it, renames over `path` and syncs the
  // directory: readers see the old or the new content, never a mix. The temp
  // file is `<path>.tmp-<pid>-<n>` in the same directory; it is removed on
  // failure, but a crash can leave one behind (callers may delete `*.tmp-*`).
  virtual Status WriteFileAtomically(const std::string& path, std::string_view data) = 0;
  // Cuts the file to `size` bytes and syncs it, so the cut is durable.
  virtual Status Truncate(const std::string& path, uint64_t size) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  // Removes a directory and everything under it; OK if it does not exist.
  virtual Status RemoveAll(const std::string& path) = 0;
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  // Creates the directory and missing parents; OK if it exists.
  virtual Status CreateDirs(const std::string& path) = 0;
  // Names (not paths) of the entries in `dir`, sorted. NotFound if missing.
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  // fsyncs a directory so renames/creates/removes in it are durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  // Takes an exclusive advisory lock (flock(LOCK_EX|LOCK_NB) on the file,
  // created if missing); FailedPrecondition if another process (or another
  // lock in this process) holds it. The lock lasts until the FileLock is
  // destroyed; the file itself is never removed.
  virtual Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;
};

}  // namespace ragline::store
