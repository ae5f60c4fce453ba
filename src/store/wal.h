// Wal: the write-ahead log of one collection. A sequence of checksummed
// records, each with a log sequence number (LSN) that grows by one per record,
// spread over numbered files in one directory. Format: docs/formats/wal.md.
//
// Record payloads are opaque bytes plus a one-byte type chosen by the caller
// (the store's record codec). An AppendBatch returns only once its records are
// durable under the fsync policy, so the caller may acknowledge them.
//
// Files are `wal-<N>.log` with N zero-padded to 20 digits, where N is the LSN
// of the first record the file holds (or will hold, if empty). A new file is
// started when a batch would take the current one past max_file_bytes (a
// single larger batch still goes whole into one file) or on Rotate.
//
// Recovery: Open replays every record with LSN > `after_lsn` in order. Files
// all of whose records are <= after_lsn (the next file's N <= after_lsn + 1)
// are not read at all. The first record that is torn (short) or corrupt (bad
// checksum, bad length, LSN out of sequence, zero-filled) in the LAST file
// ends the log (a crash can only tear the last file): in read-write mode the
// file is cut back to the last good record; the report says what was cut and
// why. A bad record in an earlier file is damage, not a crash: Open returns
// DataLoss and changes nothing. In read-only mode nothing on disk changes
// (another process may be writing) and a missing directory is an empty log.
// Recovery never crashes on bad bytes. If the oldest file starts after
// after_lsn + 1, records the caller needs are gone: Open returns DataLoss.
// If the whole log ends before after_lsn (its tail was lost but a checkpoint
// covers it), read-write Open removes the old files and the next append gets
// LSN after_lsn + 1.
//
// The file registry (`FILES` in the directory, replaced atomically whenever
// a file is started or removed, before any record in a new file is
// acknowledged) names every live file. Open refuses (DataLoss, naming each)
// when a registered file that holds records above after_lsn is missing, so
// deleting a file never loses acknowledged records silently. Logs written
// before the registry existed get one at their first read-write open.
// With WalOptions::salvage, these refusals become gaps in the report.
//
// Write errors: an Append or Sync error (or one while rotating) puts the Wal
// in a failed state: that AppendBatch returns the error, and every later
// AppendBatch and Rotate returns FailedPrecondition naming the first error.
// Recover by destroying the Wal and opening it again; recovery cuts off any
// partial record. A record that was written completely but whose sync failed
// MAY be replayed after reopening (it was never acknowledged, but its bytes
// may have reached the disk); with LSNs it is replayed in order like any other.
//
// Thread safety: AppendBatch, Rotate and RemoveObsolete must be called by one
// thread at a time (the collection's writer lock); last_lsn() and SizeBytes()
// are safe anywhere.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
  // Recover what is there instead of refusing damage (ragline check and
  // repair): missing files and corrupt regions become gaps in the report,
  // and replay goes on with the next file. Nothing is removed for a gap.
  bool salvage = false;
};

struct WalEntry {
  uint64_t lsn;
  uint8_t type;
  std::string_view payload;  // valid only during the replay callback
};

struct WalRecoveryReport {
  uint64_t records_replayed = 0;
  uint64_t last_lsn = 0;           // = Wal::last_lsn(): max(last good LSN, after_lsn)
  bool tail_cut = false;           // a torn or corrupt tail was found
  std::string cut_file;            // file where the bad record starts
  uint64_t cut_offset = 0;         // offset of the first bad byte in cut_file
  uint64_t bytes_dropped = 0;      // bytes after the last good record (all files)
  std::string reason;              // e.g. "checksum mismatch", "truncated header (5 of 17 bytes)"
  // Read-write mode only: names of files deleted because they followed the
  // cut (or, for a file whose name is out of sequence, the cut file itself).
  std::vector<std::string> removed_files;
  // Salvage mode: LSN ranges above after_lsn that the log should hold and
  // does not (a missing file, or the rest of a file after a corrupt
  // record), and what caused each.
  struct Gap {
    uint64_t first_lsn;
    uint64_t last_lsn;  // UINT64_MAX: unknown (the end of the lost range is not known)
    std::string cause;
  };
  std::vector<Gap> gaps;
};

struct WalRecordRef {
  uint8_t type;  // 1..255; 0 is reserved (never valid on disk)
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
  // the LSN of the last one (last_lsn() unchanged for an empty batch). On
  // error nothing of the batch is acknowledged (a partial write is cut off
  // again at next recovery) and the Wal is failed (see above).
  // FailedPrecondition in read-only mode or when failed; InvalidArgument for
  // type 0 or a payload over 4 GiB - 1 (the Wal stays usable).
  Result<uint64_t> AppendBatch(std::span<const WalRecordRef> records);

  // Syncs and closes the current file and starts a new one, so that files
  // holding only LSN <= some checkpoint can be removed. No-op when the current
  // file is empty.
  Status Rotate();

  // Deletes whole files all of whose records have LSN <= checkpoint_lsn,
  // oldest first; never the current file. Allowed in the failed state.
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
