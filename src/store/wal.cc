// Wal implementation. Byte format and recovery rules: docs/formats/wal.md.

#include "store/wal.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/crc32c.h"

namespace ragline::store {
namespace {

// [masked crc32c u32][payload length u32][type u8][lsn u64], little-endian.
constexpr size_t kHeaderSize = 4 + 4 + 1 + 8;
constexpr uint64_t kMaxPayloadBytes = std::numeric_limits<uint32_t>::max();
constexpr std::string_view kFilePrefix = "wal-";
constexpr std::string_view kFileSuffix = ".log";
constexpr size_t kFileNumberDigits = 20;

std::string WalFileName(uint64_t number) { return absl::StrFormat("wal-%020d.log", number); }

constexpr char kRegistryFile[] = "FILES";

// Parses "wal-<20 digits>.log"; false for any other name.
bool ParseWalFileName(std::string_view name, uint64_t* number) {
  if (name.size() != kFilePrefix.size() + kFileNumberDigits + kFileSuffix.size()) return false;
  if (!name.starts_with(kFilePrefix) || !name.ends_with(kFileSuffix)) return false;
  std::string_view digits = name.substr(kFilePrefix.size(), kFileNumberDigits);
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  uint64_t value = 0;
  for (char c : digits) {
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    value = value * 10 + digit;
  }
  *number = value;
  return true;
}

void PutFixed32(std::string* out, uint32_t v) {
  char buf[4];
  for (int i = 0; i < 4; ++i) buf[i] = static_cast<char>(v >> (8 * i));
  out->append(buf, 4);
}

void PutFixed64(std::string* out, uint64_t v) {
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(v >> (8 * i));
  out->append(buf, 8);
}

uint32_t DecodeFixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= uint32_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

uint64_t DecodeFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

void EncodeRecord(uint64_t lsn, uint8_t type, std::string_view payload, std::string* out) {
  size_t start = out->size();
  PutFixed32(out, 0);  // crc, filled in below
  PutFixed32(out, static_cast<uint32_t>(payload.size()));
  out->push_back(static_cast<char>(type));
  PutFixed64(out, lsn);
  out->append(payload);
  uint32_t crc = crc32c::Value(std::string_view(out->data() + start + 4, out->size() - start - 4));
  uint32_t masked = crc32c::Mask(crc);
  for (int i = 0; i < 4; ++i) (*out)[start + i] = static_cast<char>(masked >> (8 * i));
}

struct ParsedRecord {
  uint8_t type = 0;
  uint64_t lsn = 0;
  std::string_view payload;
};

// Parses the record starting at data[offset]. On failure returns false and
// says why; the caller treats it as the end of the log.
bool ParseRecord(std::string_view data, size_t offset, ParsedRecord* record, std::string* reason) {
  std::string_view rest = data.substr(offset);
  std::string_view head = rest.substr(0, kHeaderSize);
  if (std::all_of(head.begin(), head.end(), [](char c) { return c == 0; })) {
    *reason = "zero-filled region";
    return false;
  }
  if (rest.size() < kHeaderSize) {
    *reason = absl::StrCat("truncated header (", rest.size(), " of ", kHeaderSize, " bytes)");
    return false;
  }
  uint32_t length = DecodeFixed32(rest.data() + 4);
  if (length > rest.size() - kHeaderSize) {
    *reason = absl::StrCat("record length ", length, " extends past end of file (", rest.size() - kHeaderSize,
                           " bytes left)");
    return false;
  }
  uint32_t expected_crc = crc32c::Unmask(DecodeFixed32(rest.data()));
  uint32_t actual_crc = crc32c::Value(rest.substr(4, kHeaderSize - 4 + length));
  if (expected_crc != actual_crc) {
    *reason = "checksum mismatch";
    return false;
  }
  record->type = static_cast<uint8_t>(rest[8]);
  if (record->type == 0) {
    *reason = "invalid record type 0";
    return false;
  }
  record->lsn = DecodeFixed64(rest.data() + 9);
  record->payload = rest.substr(kHeaderSize, length);
  return true;
}

struct LogFile {
  uint64_t number;  // LSN of the first record it holds
  std::string path;
  uint64_t size;  // bytes; for the current file see Impl::current
};

}  // namespace

struct Wal::Impl {
  Impl(Env& env, std::string dir, WalOptions options) : env(env), dir(std::move(dir)), options(options) {}

  // Syncs and closes the current file, then creates wal-<last_lsn+1>.log.
  // Any error fails the Wal.
  Status StartNewFile(uint64_t number);
  // Replaces the registry with the names of `files`. An error fails the Wal.
  Status WriteRegistry();
  Status Fail(Status status) {
    failed = status;
    return status;
  }
  // After a write that failed because the disk is full: cut the current
  // file back to `size` (its length before the failed batch, durable once
  // cut) and reopen it, so the log takes the next batch once space returns.
  // Returns `cause`; a cut that fails too fails the Wal.
  Status UndoAppend(uint64_t size, Status cause) {
    const std::string path = files.back().path;
    (void)current->Close();
    current.reset();
    if (Status s = env.Truncate(path, size); !s.ok()) return Fail(cause);
    auto reopened = env.NewAppendableFile(path);
    if (!reopened.ok()) return Fail(cause);
    current = std::move(*reopened);
    current_bytes.store(current->Size(), std::memory_order_relaxed);
    return cause;
  }
  Status CheckWritable() const {
    if (options.read_only) {
      return absl::FailedPreconditionError(absl::StrCat("WAL in ", dir, " is open read-only"));
    }
    if (!failed.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("WAL in ", dir,
                                                        " is unusable after an earlier write error (",
                                                        failed.ToString(), "); reopen it to recover"));
    }
    return absl::OkStatus();
  }

  Env& env;
  const std::string dir;
  const WalOptions options;
  // Live files, oldest first. In read-write mode back() is the current file.
  std::vector<LogFile> files;
  std::unique_ptr<WritableFile> current;   // null in read-only mode
  Status failed;                           // the first write error, if any
  std::atomic<uint64_t> sealed_bytes{0};   // bytes in files other than current
  std::atomic<uint64_t> current_bytes{0};  // bytes in current
};

Status Wal::Impl::StartNewFile(uint64_t number) {
  if (current != nullptr) {
    if (Status s = current->Sync(); !s.ok()) return Fail(s);
    if (Status s = current->Close(); !s.ok()) return Fail(s);
    files.back().size = current->Size();
    sealed_bytes.fetch_add(current->Size(), std::memory_order_relaxed);
    current_bytes.store(0, std::memory_order_relaxed);
    current.reset();
  }
  std::string path = absl::StrCat(dir, "/", WalFileName(number));
  auto file = env.NewAppendableFile(path);
  if (!file.ok()) return Fail(file.status());
  current = std::move(file).value();
  files.push_back(LogFile{number, path, current->Size()});
  current_bytes.store(current->Size(), std::memory_order_relaxed);
  // The new name must be durable, and registered, before records in it are
  // acknowledged.
  if (Status s = env.SyncDir(dir); !s.ok()) return Fail(s);
  return WriteRegistry();
}

Status Wal::Impl::WriteRegistry() {
  std::string text;
  for (const LogFile& file : files) absl::StrAppend(&text, WalFileName(file.number), "\n");
  if (Status s = env.WriteFileAtomically(absl::StrCat(dir, "/", kRegistryFile), text); !s.ok())
    return Fail(s);
  return absl::OkStatus();
}

Wal::Wal(Env& env, std::string dir, WalOptions options)
    : impl_(std::make_unique<Impl>(env, std::move(dir), options)) {}

Wal::~Wal() {
  if (impl_->current != nullptr) (void)impl_->current->Close();
}

Result<std::unique_ptr<Wal>> Wal::Open(Env& env, const std::string& dir, const WalOptions& options,
                                       uint64_t after_lsn, const ReplayFn& replay,
                                       WalRecoveryReport* report_out) {
  WalRecoveryReport local_report;
  WalRecoveryReport& report = report_out != nullptr ? *report_out : local_report;
  report = WalRecoveryReport{};
  if (options.max_file_bytes == 0) {
    return absl::InvalidArgumentError("WalOptions.max_file_bytes must be > 0");
  }
  if (after_lsn == std::numeric_limits<uint64_t>::max()) {
    return absl::InvalidArgumentError("after_lsn must be < 2^64 - 1");
  }

  std::unique_ptr<Wal> wal(new Wal(env, dir, options));
  Impl& impl = *wal->impl_;
  const bool read_only = options.read_only;

  if (!read_only) RETURN_IF_ERROR(env.CreateDirs(dir));
  auto names = env.ListDir(dir);
  if (!names.ok()) {
    if (read_only && absl::IsNotFound(names.status())) {
      wal->last_lsn_.store(after_lsn, std::memory_order_release);
      report.last_lsn = after_lsn;
      return wal;
    }
    return names.status();
  }
  std::vector<LogFile> files;
  for (const std::string& name : *names) {
    uint64_t number;
    if (ParseWalFileName(name, &number)) files.push_back(LogFile{number, dir + "/" + name, 0});
  }
  // Names are zero-padded, so ListDir's order is numeric order.

  // Registered files that would hold records above after_lsn must be there.
  std::vector<uint64_t> missing;  // first LSNs of registered files that are gone
  uint64_t registered_end = 0;    // the last registered file's first LSN (0: no registry)
  if (auto registry = env.ReadFile(absl::StrCat(dir, "/", kRegistryFile)); registry.ok()) {
    std::vector<uint64_t> listed;
    std::string_view rest = *registry;
    while (!rest.empty()) {
      const size_t end = std::min(rest.find('\n'), rest.size());
      const std::string_view line = rest.substr(0, end);
      rest.remove_prefix(std::min(end + 1, rest.size()));
      uint64_t number;
      if (line.empty()) continue;
      if (!ParseWalFileName(line, &number)) {
        if (options.salvage) continue;
        return absl::DataLossError(absl::StrCat("WAL in ", dir, ": the file registry ", kRegistryFile,
                                                " is corrupt (line '", std::string(line), "')"));
      }
      listed.push_back(number);
    }
    std::sort(listed.begin(), listed.end());
    for (size_t i = 0; i < listed.size(); ++i) {
      const bool present =
          std::any_of(files.begin(), files.end(), [&](const LogFile& f) { return f.number == listed[i]; });
      const bool obsolete = i + 1 < listed.size() && listed[i + 1] - 1 <= after_lsn;
      if (!present && !obsolete) missing.push_back(listed[i]);
    }
    if (!listed.empty()) registered_end = listed.back();
    if (!missing.empty() && !options.salvage) {
      std::string names;
      for (uint64_t m : missing) absl::StrAppend(&names, names.empty() ? "" : ", ", WalFileName(m));
      return absl::DataLossError(absl::StrCat(
          "WAL in ", dir, ": ", missing.size() == 1 ? "file " : "files ", names,
          missing.size() == 1 ? " is" : " are",
          " missing (registered, holding records after the checkpoint LSN ", after_lsn,
          "): acknowledged writes in it are lost; `ragline check` describes the damage and `ragline repair` "
          "keeps what remains"));
    }
  } else if (!absl::IsNotFound(registry.status())) {
    return registry.status();
  }
  auto missing_cause = [&](uint64_t first_lsn) {
    const bool registered = std::find(missing.begin(), missing.end(), first_lsn) != missing.end();
    return registered ? absl::StrCat("registered file ", WalFileName(first_lsn), " is missing")
                      : std::string("no file holds them");
  };

  if (!files.empty() && files.front().number > after_lsn + 1) {
    if (!options.salvage) {
      return absl::DataLossError(absl::StrCat("WAL in ", dir, " starts at LSN ", files.front().number,
                                              " but recovery needs LSN ", after_lsn + 1,
                                              " onwards: records were removed or lost"));
    }
    report.gaps.push_back({after_lsn + 1, files.front().number - 1, missing_cause(after_lsn + 1)});
  }
  // The newest file that may hold LSN after_lsn + 1; older ones are obsolete
  // and not read.
  size_t first = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    if (files[i].number <= after_lsn + 1) first = i;
  }
  for (size_t i = 0; i < first; ++i) {
    ASSIGN_OR_RETURN(files[i].size, env.FileSize(files[i].path));
  }

  uint64_t expected = files.empty() ? after_lsn + 1 : files[first].number;
  size_t cut_index = files.size();  // file holding the first bad byte
  uint64_t cut_offset = 0;
  bool cut_removes_file = false;  // the cut file's name itself is out of sequence
  // Damage before the last file is not a torn tail: refuse it (salvage: a gap).
  auto damaged = [&](size_t i, uint64_t offset, const std::string& reason) -> Status {
    const std::string where =
        absl::StrCat(WalFileName(files[i].number), " at offset ", offset, " (", reason, ")");
    if (!options.salvage) {
      return absl::DataLossError(absl::StrCat(
          "WAL in ", dir, " is damaged in ", where, " and later files hold acknowledged records: ",
          "`ragline check` describes the damage and `ragline repair` keeps what remains"));
    }
    report.gaps.push_back({expected, files[i + 1].number - 1, absl::StrCat("damaged record in ", where)});
    return absl::OkStatus();
  };
  for (size_t i = first; i < files.size() && cut_index == files.size(); ++i) {
    LogFile& file = files[i];
    if (file.number != expected) {
      if (options.salvage && file.number > expected) {
        report.gaps.push_back({expected, file.number - 1, missing_cause(expected)});
        expected = file.number;
      } else if (i + 1 < files.size()) {
        RETURN_IF_ERROR(
            damaged(i, 0, absl::StrCat("file starts at LSN ", file.number, ", expected ", expected)));
        expected = files[i + 1].number;
        continue;
      } else {
        ASSIGN_OR_RETURN(file.size, env.FileSize(file.path));
        cut_index = i;
        cut_removes_file = true;
        report.reason = absl::StrCat("file starts at LSN ", file.number, ", expected ", expected);
        break;
      }
    }
    ASSIGN_OR_RETURN(std::string data, env.ReadFile(file.path));
    file.size = data.size();
    size_t offset = 0;
    while (offset < data.size()) {
      ParsedRecord record;
      std::string reason;
      bool ok = ParseRecord(data, offset, &record, &reason);
      if (ok && record.lsn != expected) {
        ok = false;
        reason = absl::StrCat("LSN out of sequence (expected ", expected, ", found ", record.lsn, ")");
      }
      if (!ok) {
        if (i + 1 < files.size()) {
          RETURN_IF_ERROR(damaged(i, offset, reason));
          expected = files[i + 1].number;
          break;
        }
        cut_index = i;
        cut_offset = offset;
        report.reason = std::move(reason);
        break;
      }
      if (record.lsn > after_lsn) {
        RETURN_IF_ERROR(replay(WalEntry{record.lsn, record.type, record.payload}));
        ++report.records_replayed;
      }
      ++expected;
      offset += kHeaderSize + record.payload.size();
    }
  }
  const uint64_t last_good = expected - 1;
  // A registered file past the last one present: its records are gone.
  if (options.salvage && registered_end > last_good &&
      (files.empty() || registered_end > files.back().number)) {
    report.gaps.push_back(
        {std::max(registered_end, last_good + 1), UINT64_MAX, missing_cause(registered_end)});
  }

  if (cut_index < files.size()) {
    report.tail_cut = true;
    report.cut_file = files[cut_index].path;
    report.cut_offset = cut_offset;
    report.bytes_dropped = files[cut_index].size - cut_offset;
    for (size_t j = cut_index + 1; j < files.size(); ++j) {
      ASSIGN_OR_RETURN(files[j].size, env.FileSize(files[j].path));
      report.bytes_dropped += files[j].size;
    }
    if (!read_only) {
      // Newest first, so a crash part-way leaves a log that recovers the same.
      for (size_t j = files.size(); j-- > cut_index + 1;) {
        RETURN_IF_ERROR(env.RemoveFile(files[j].path));
        report.removed_files.push_back(files[j].path);
      }
      if (cut_removes_file) {
        RETURN_IF_ERROR(env.RemoveFile(files[cut_index].path));
        report.removed_files.push_back(files[cut_index].path);
        files.resize(cut_index);
      } else {
        RETURN_IF_ERROR(env.Truncate(files[cut_index].path, cut_offset));
        files[cut_index].size = cut_offset;
        files.resize(cut_index + 1);
      }
      RETURN_IF_ERROR(env.SyncDir(dir));
    }
  }

  const uint64_t last_lsn = std::max(last_good, after_lsn);
  if (!read_only && last_good < after_lsn && !files.empty()) {
    // The log ends before the checkpoint: everything in it is covered, and
    // appends must continue at after_lsn + 1 without a gap on disk.
    for (const LogFile& file : files) {
      RETURN_IF_ERROR(env.RemoveFile(file.path));
      report.removed_files.push_back(file.path);
    }
    files.clear();
    RETURN_IF_ERROR(env.SyncDir(dir));
  }

  wal->last_lsn_.store(last_lsn, std::memory_order_release);
  report.last_lsn = last_lsn;
  impl.files = std::move(files);
  if (read_only) {
    uint64_t total = 0;
    for (const LogFile& file : impl.files) total += file.size;
    impl.sealed_bytes.store(total, std::memory_order_relaxed);
    return wal;
  }
  if (impl.files.empty()) {
    RETURN_IF_ERROR(impl.StartNewFile(last_lsn + 1));  // registers it
  } else {
    ASSIGN_OR_RETURN(impl.current, env.NewAppendableFile(impl.files.back().path));
    impl.current_bytes.store(impl.current->Size(), std::memory_order_relaxed);
    // What recovery kept (and, for a log from before the registry, a first one).
    RETURN_IF_ERROR(impl.WriteRegistry());
  }
  uint64_t sealed = 0;
  for (size_t i = 0; i + 1 < impl.files.size(); ++i) sealed += impl.files[i].size;
  impl.sealed_bytes.store(sealed, std::memory_order_relaxed);
  return wal;
}

Result<uint64_t> Wal::AppendBatch(std::span<const WalRecordRef> records) {
  Impl& impl = *impl_;
  RETURN_IF_ERROR(impl.CheckWritable());
  const uint64_t first_lsn = last_lsn() + 1;
  if (records.empty()) return first_lsn - 1;

  size_t bytes = 0;
  for (const WalRecordRef& record : records) {
    if (record.type == 0) {
      return absl::InvalidArgumentError("WAL record type 0 is reserved");
    }
    if (record.payload.size() > kMaxPayloadBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("WAL record payload of ", record.payload.size(), " bytes exceeds ", kMaxPayloadBytes));
    }
    bytes += kHeaderSize + record.payload.size();
  }
  std::string buffer;
  buffer.reserve(bytes);
  uint64_t lsn = first_lsn;
  for (const WalRecordRef& record : records) {
    EncodeRecord(lsn++, record.type, record.payload, &buffer);
  }
  const uint64_t batch_last = lsn - 1;

  const uint64_t size = impl.current->Size();
  if (size > 0 && size + buffer.size() > impl.options.max_file_bytes) {
    RETURN_IF_ERROR(impl.StartNewFile(first_lsn));
  }
  const uint64_t before = impl.current->Size();  // after any rotation
  Status status = impl.current->Append(buffer);
  if (status.ok() && impl.options.fsync == FsyncPolicy::kBatch) status = impl.current->Sync();
  impl.current_bytes.store(impl.current->Size(), std::memory_order_relaxed);
  if (!status.ok() && IsDiskFull(status)) return impl.UndoAppend(before, status);
  if (!status.ok()) return impl.Fail(status);
  last_lsn_.store(batch_last, std::memory_order_release);
  return batch_last;
}

Status Wal::Rotate() {
  Impl& impl = *impl_;
  RETURN_IF_ERROR(impl.CheckWritable());
  if (impl.current->Size() == 0) return absl::OkStatus();
  return impl.StartNewFile(last_lsn() + 1);
}

Status Wal::RemoveObsolete(uint64_t checkpoint_lsn) {
  Impl& impl = *impl_;
  if (impl.options.read_only) {
    return absl::FailedPreconditionError(absl::StrCat("WAL in ", impl.dir, " is open read-only"));
  }
  // File i holds LSNs [files[i].number, files[i + 1].number - 1].
  size_t removable = 0;
  while (removable + 1 < impl.files.size() && impl.files[removable + 1].number - 1 <= checkpoint_lsn) {
    ++removable;
  }
  if (removable == 0) return absl::OkStatus();
  size_t removed = 0;
  Status status;
  for (; removed < removable; ++removed) {
    status = impl.env.RemoveFile(impl.files[removed].path);
    if (!status.ok()) break;
    impl.sealed_bytes.fetch_sub(impl.files[removed].size, std::memory_order_relaxed);
  }
  impl.files.erase(impl.files.begin(), impl.files.begin() + static_cast<std::ptrdiff_t>(removed));
  RETURN_IF_ERROR(status);
  RETURN_IF_ERROR(impl.env.SyncDir(impl.dir));
  // A crash before this leaves removed files registered: below the
  // checkpoint, so Open does not miss them.
  return impl.WriteRegistry();
}

uint64_t Wal::SizeBytes() const {
  return impl_->sealed_bytes.load(std::memory_order_relaxed) +
         impl_->current_bytes.load(std::memory_order_relaxed);
}

}  // namespace ragline::store
