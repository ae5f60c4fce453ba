// Wal: the write-ahead log of one collection. A sequence of checksummed
// records, each with a log sequence number (LSN) that grows by one per record,
// spread over numbered files in one directory. Format: docs/formats/wal.md.
//
// Record payloads are opaque bytes plus a one-byte type chosen by the caller
// (the store's record codec). An AppendBatch returns only once its records are
// durable under the fsync policy, so the caller may acknowledge them.
//
// Recovery: Open replays every record with LSN > `after_lsn` in order. The
// first record that is torn (short) or corrupt (bad checksum, bad length, LSN
// out of sequence) ends the log: in read-write mode the file is cut back to the
// last good record and any later files are removed; the report says what was
// cut and why. In read-only mode nothing on disk changes (another process may
// be writing). Recovery never crashes on bad bytes.
//
// Thread safety: AppendBatch, Rotate and RemoveObsolete must be called by one
// thread at a time (the collection's writer lock); last_lsn() is safe anywhere.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "core/status.h"
#include "store/env.h"

namespace ragline::store {

enum class FsyncPolicy {
  kBatch,  // fdatasync after every AppendBatch (default): acked means durable
  kNone,   // leave flushing to the OS: acked records may be lost on power loss
};

struct WalOptions {
  FsyncPolicy fsync = FsyncPolicy::kBatch;
  uint64_t max_file_bytes = 64ull << 20;  // start a new file past this size
  bool read_only = false;
};

struct WalEntry {
  uint64_t lsn;
  uint8_t type;
  std::string_view payload;  // valid only during the replay callback
};

struct WalRecoveryReport {
  uint64_t records_replayed = 0;
  uint64_t last_lsn = 0;
  bool tail_cut = false;           // a torn or corrupt tail was found
  std::string cut_file;            // file where the bad record starts
  uint64_t cut_offset = 0;         // offset of the first bad byte in cut_file
  uint64_t bytes_dropped = 0;      // bytes after the last good record (all files)
  std::string reason;              // e.g. "checksum mismatch", "truncated record"
};

struct WalRecordRef {
  uint8_t type;
  std::string_view payload;
};

class Wal {
 public:
  using ReplayFn = std::function<Status(const WalEntry&)>;

  // Opens (creating if needed, unless read-only) the log in `dir` and replays
  // records with LSN > after_lsn through `replay`. An error from `replay`
  // stops recovery and is returned. `report` may be null.
  static Result<std::unique_ptr<Wal>> Open(Env& env, const std::string& dir,
                                           const WalOptions& options, uint64_t after_lsn,
                                           const ReplayFn& replay, WalRecoveryReport* report);
  ~Wal();

  // Appends the records with consecutive LSNs and syncs per policy. Returns
  // the LSN of the last one. On error nothing of the batch is acknowledged
  // (a partial write is cut off again at next recovery). FailedPrecondition
  // in read-only mode.
  Result<uint64_t> AppendBatch(std::span<const WalRecordRef> records);

  // Closes the current file and starts a new one, so that files holding only
  // LSN <= some checkpoint can be removed.
  Status Rotate();

  // Deletes whole files all of whose records have LSN <= checkpoint_lsn.
  Status RemoveObsolete(uint64_t checkpoint_lsn);

  uint64_t last_lsn() const { return last_lsn_.load(std::memory_order_acquire); }
  // Bytes in all live log files.
  uint64_t SizeBytes() const;

 private:
  Wal(Env& env, std::string dir, WalOptions options);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<uint64_t> last_lsn_{0};
};

}  // namespace ragline::store
