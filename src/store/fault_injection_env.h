// FaultInjectionEnv: an Env for tests that wraps a real Env (usually
// Env::Default() on a temp dir) and can (1) simulate a crash or power loss by
// dropping whatever was written but never synced, and (2) make the next N
// appends, syncs or atomic writes fail, so error paths can be tested.
// Modelled on leveldb's db/fault_injection_test.cc.
//
// What it tracks: every file opened through NewAppendableFile, with its
// current size and the size at its last successful Sync. Bytes a file had
// before it was first opened here count as synced. A file created here counts
// as "not yet in its directory" until SyncDir on its directory succeeds (or
// WriteFileAtomically wrote it, which syncs the directory itself).
//
// DropUnsyncedData() is the crash: every tracked file is truncated back to its
// last synced size, and files whose creation was never made durable by SyncDir
// are deleted. Destroy (or Close) the objects that write through this Env
// first, as a crash would; then reopen them on the same Env or the base Env.
// Files written only through the base Env, renames and removals are not
// simulated as lost (renames and removals are treated as durable at once).
//
// Injected failures return absl::ErrnoToStatus(EIO, "injected fault: ...")
// (code Unavailable). A failed Append writes nothing unless `torn_bytes` asks
// it to write that many leading bytes of the data first (a torn write). A
// failed Sync makes nothing durable; the appended bytes stay in the file (as
// in the OS page cache) until DropUnsyncedData drops them.
//
// Typical use:
//   FaultInjectionEnv env(*Env::Default());
//   { auto wal = Wal::Open(env, dir, ...); ... AppendBatch ... }
//   ASSERT_TRUE(env.DropUnsyncedData().ok());   // power loss
//   auto wal = Wal::Open(env, dir, ...);           // recovery sees synced data
//
// Thread safety: all methods are thread-safe; each WritableFile is used by one
// thread at a time, as the Env contract says.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/env.h"

namespace ragline::store {

class FaultInjectionEnv final : public Env {
 public:
  // `base` must outlive this Env.
  explicit FaultInjectionEnv(Env& base);
  ~FaultInjectionEnv() override;

  // --- crash simulation ---

  // Truncates every tracked file to its last synced size and deletes tracked
  // files whose creation was never synced into their directory. Returns the
  // first error of the base Env, after trying all files.
  Status DropUnsyncedData();
  // Bytes appended to `path` through this Env and not yet synced (0 if the
  // file is not tracked).
  uint64_t UnsyncedBytes(const std::string& path) const;

  // --- failure injection ---

  // The next `count` WritableFile::Append calls (on any file) fail. Each writes
  // min(torn_bytes, data.size()) leading bytes to the base file first.
  void FailNextAppends(int count, uint64_t torn_bytes = 0);
  // The next `count` WritableFile::Sync calls fail, syncing nothing.
  void FailNextSyncs(int count);
  // The next `count` WriteFileAtomically calls fail, leaving `path` unchanged.
  void FailNextAtomicWrites(int count);
  // The next `count` SyncDir calls fail.
  void FailNextDirSyncs(int count);
  // While full, every Append, Sync and WriteFileAtomically fails as a full
  // disk does (ENOSPC, IsDiskFull), writing nothing; files can still be read.
  void SetDiskFull(bool full);
  // Clears all pending injected failures.
  void ClearFailures();

  // --- counters (successful and failed calls alike) ---
  uint64_t append_calls() const;
  uint64_t sync_calls() const;

  // --- Env ---
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override;
  Result<std::string> ReadFile(const std::string& path) override;
  Status WriteFileAtomically(const std::string& path, std::string_view data) override;
  Status Truncate(const std::string& path, uint64_t size) override;
  Status RemoveFile(const std::string& path) override;
  Status RemoveAll(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  Status CreateDirs(const std::string& path) override;
  Result<std::vector<std::string>> ListDir(const std::string& dir) override;
  bool FileExists(const std::string& path) override;
  Result<uint64_t> FileSize(const std::string& path) override;
  Status SyncDir(const std::string& dir) override;
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override;

 private:
  class File;
  friend class File;

  struct FileState {
    uint64_t size = 0;            // bytes in the file as written through us
    uint64_t synced_size = 0;     // size at the last successful Sync
    bool creation_synced = true;  // false until SyncDir of its directory
  };

  // The disk-full failure for `what` on `path` while SetDiskFull(true); else OK.
  Status DiskFullLocked(std::string_view what, const std::string& path) const;
  // Hooks for File. Each returns the injected failure, or OK to go ahead.
  Status BeforeAppend(const std::string& path, uint64_t* torn_bytes);
  void AfterAppend(const std::string& path, uint64_t new_size);
  Status BeforeSync(const std::string& path);
  void AfterSync(const std::string& path, uint64_t size);

  Env& base_;
  mutable std::mutex mu_;
  std::map<std::string, FileState> files_;  // GUARDED_BY(mu_), by path
  int fail_appends_ = 0;                    // GUARDED_BY(mu_)
  uint64_t torn_bytes_ = 0;                 // GUARDED_BY(mu_)
  int fail_syncs_ = 0;                      // GUARDED_BY(mu_)
  int fail_atomic_writes_ = 0;              // GUARDED_BY(mu_)
  int fail_dir_syncs_ = 0;                  // GUARDED_BY(mu_)
  bool disk_full_ = false;                  // GUARDED_BY(mu_)
  uint64_t append_calls_ = 0;               // GUARDED_BY(mu_)
  uint64_t sync_calls_ = 0;                 // GUARDED_BY(mu_)
};

}  // namespace ragline::store
