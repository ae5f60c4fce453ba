#include "store/wal.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <functional>
#include <map>
#include <ostream>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_format.h"
#include "core/crc32c.h"
#include "store/fault_injection_env.h"

namespace ragline::store {
namespace {

constexpr size_t kHeaderSize = 17;  // docs/formats/wal.md

struct ReplayedRecord {
  uint64_t lsn;
  uint8_t type;
  std::string payload;
  bool operator==(const ReplayedRecord&) const = default;
};

void PrintTo(const ReplayedRecord& r, std::ostream* os) {
  *os << "{lsn " << r.lsn << ", type " << int{r.type} << ", \"" << r.payload << "\"}";
}

// Deterministic payload for LSN `lsn`: lengths vary from 3 to ~60 bytes.
std::string PayloadFor(uint64_t lsn) {
  std::string out = "rec-" + std::to_string(lsn) + "-";
  out.append(lsn % 47, static_cast<char>('a' + lsn % 26));
  return out;
}

uint8_t TypeFor(uint64_t lsn) { return static_cast<uint8_t>(1 + lsn % 3); }

// An independent encoder of the documented format, for crafting records.
std::string EncodeForTest(uint64_t lsn, uint8_t type, std::string_view payload) {
  std::string body;
  uint32_t len = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; ++i) body.push_back(static_cast<char>(len >> (8 * i)));
  body.push_back(static_cast<char>(type));
  for (int i = 0; i < 8; ++i) body.push_back(static_cast<char>(lsn >> (8 * i)));
  body.append(payload);
  uint32_t masked = crc32c::Mask(crc32c::Value(body));
  std::string out;
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(masked >> (8 * i)));
  return out + body;
}

class WalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/ragline_wal_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/wal";
  }
  void TearDown() override { ASSERT_TRUE(Env::Default()->RemoveAll(root_).ok()); }

  // Opens the log in dir_, collecting replayed records into replayed_.
  Result<std::unique_ptr<Wal>> Open(Env& env, WalOptions options = {}, uint64_t after_lsn = 0) {
    replayed_.clear();
    report_ = WalRecoveryReport{};
    return Wal::Open(
        env, dir_, options, after_lsn,
        [this](const WalEntry& entry) {
          replayed_.push_back({entry.lsn, entry.type, std::string(entry.payload)});
          return absl::OkStatus();
        },
        &report_);
  }
  Result<std::unique_ptr<Wal>> Open(WalOptions options = {}, uint64_t after_lsn = 0) {
    return Open(*Env::Default(), options, after_lsn);
  }

  // Appends records last_lsn()+1 .. last_lsn()+count as one batch.
  static void AppendRecords(Wal& wal, uint64_t count) {
    std::vector<std::string> payloads;
    std::vector<WalRecordRef> refs;
    uint64_t lsn = wal.last_lsn();
    for (uint64_t i = 1; i <= count; ++i) payloads.push_back(PayloadFor(lsn + i));
    for (uint64_t i = 1; i <= count; ++i) refs.push_back({TypeFor(lsn + i), payloads[i - 1]});
    auto last = wal.AppendBatch(refs);
    ASSERT_TRUE(last.ok()) << last.status();
    ASSERT_EQ(*last, lsn + count);
    ASSERT_EQ(wal.last_lsn(), lsn + count);
  }

  static std::vector<ReplayedRecord> Expected(uint64_t first, uint64_t last) {
    std::vector<ReplayedRecord> out;
    for (uint64_t lsn = first; lsn <= last; ++lsn) {
      out.push_back({lsn, TypeFor(lsn), PayloadFor(lsn)});
    }
    return out;
  }

  // The log files (wal-*.log), oldest first.
  std::vector<std::string> LogFiles() {
    auto names = Env::Default()->ListDir(dir_);
    if (!names.ok()) return {};
    std::vector<std::string> out;
    for (const auto& n : *names) {
      if (n.starts_with("wal-")) out.push_back(n);
    }
    return out;
  }
  std::string FilePath(const std::string& name) const { return dir_ + "/" + name; }
  std::string Read(const std::string& name) { return *Env::Default()->ReadFile(FilePath(name)); }
  void Write(const std::string& name, const std::string& bytes) {
    ASSERT_TRUE(Env::Default()->WriteFileAtomically(FilePath(name), bytes).ok());
  }
  // Every file in the directory (the registry too) and its bytes.
  std::map<std::string, std::string> Snapshot() {
    std::map<std::string, std::string> out;
    auto names = Env::Default()->ListDir(dir_);
    for (const std::string& name : names.ok() ? *names : std::vector<std::string>{}) out[name] = Read(name);
    return out;
  }

  std::string root_;
  std::string dir_;
  std::vector<ReplayedRecord> replayed_;
  WalRecoveryReport report_;
};

TEST_F(WalTest, EmptyLogOpensWithNoRecordsAndCreatesTheFirstFile) {
  auto wal = Open();
  ASSERT_TRUE(wal.ok()) << wal.status();
  EXPECT_EQ((*wal)->last_lsn(), 0u);
  EXPECT_TRUE(replayed_.empty());
  EXPECT_FALSE(report_.tail_cut);
  EXPECT_EQ(LogFiles(), std::vector<std::string>{"wal-00000000000000000001.log"});
  EXPECT_EQ((*wal)->SizeBytes(), 0u);
}

TEST_F(WalTest, RoundTripsManyBatches) {
  std::mt19937 rng(7);
  uint64_t total = 0;
  {
    auto wal = Open();
    ASSERT_TRUE(wal.ok());
    for (int batch = 0; batch < 200; ++batch) {
      uint64_t n = rng() % 20 + 1;
      AppendRecords(**wal, n);
      total += n;
    }
    // A batch with an empty payload and an empty batch.
    std::vector<WalRecordRef> one = {{9, ""}};
    ASSERT_EQ(*(*wal)->AppendBatch(one), total + 1);
    ASSERT_EQ(*(*wal)->AppendBatch({}), total + 1);
    uint64_t on_disk = 0;
    for (const auto& name : LogFiles()) on_disk += Read(name).size();
    EXPECT_EQ((*wal)->SizeBytes(), on_disk);
  }
  auto wal = Open();
  ASSERT_TRUE(wal.ok());
  auto expected = Expected(1, total);
  expected.push_back({total + 1, 9, ""});
  EXPECT_EQ(replayed_, expected);
  EXPECT_EQ(report_.records_replayed, total + 1);
  EXPECT_EQ(report_.last_lsn, total + 1);
  EXPECT_FALSE(report_.tail_cut);
}

TEST_F(WalTest, ReopenResumesLsns) {
  {
    auto wal = Open();
    ASSERT_TRUE(wal.ok());
    AppendRecords(**wal, 5);
  }
  {
    auto wal = Open();
    ASSERT_TRUE(wal.ok());
    EXPECT_EQ((*wal)->last_lsn(), 5u);
    AppendRecords(**wal, 3);
    EXPECT_EQ((*wal)->last_lsn(), 8u);
  }
  auto wal = Open();
  ASSERT_TRUE(wal.ok());
  EXPECT_EQ(replayed_, Expected(1, 8));
}

TEST_F(WalTest, AfterLsnFiltersReplay) {
  {
    auto wal = Open();
    ASSERT_TRUE(wal.ok());
    for (int i = 0; i < 10; ++i) AppendRecords(**wal, 10);
  }
  auto wal = Open({}, /*after_lsn=*/57);
  ASSERT_TRUE(wal.ok());
  EXPECT_EQ(replayed_, Expected(58, 100));
  EXPECT_EQ(report_.records_replayed, 43u);
  EXPECT_EQ((*wal)->last_lsn(), 100u);
}

TEST_F(WalTest, ReplayErrorStopsRecoveryAndIsReturned) {
  {
    auto wal = Open();
    ASSERT_TRUE(wal.ok());
    AppendRecords(**wal, 10);
  }
  auto before = Snapshot();
  int calls = 0;
  auto wal = Wal::Open(
      *Env::Default(), dir_, {}, 0,
      [&](const WalEntry& entry) {
        ++calls;
        return entry.lsn == 4 ? absl::InternalError("apply failed") : absl::OkStatus();
      },
      nullptr);
  EXPECT_EQ(wal.status().message(), "apply failed");
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(WalTest, RotatesBySizeAndRemoveObsoleteDeletesOnlyCoveredFiles) {
  WalOptions options;
  options.max_file_bytes = 300;
  {
    auto wal = Open(options);
    ASSERT_TRUE(wal.ok());
    for (int i = 0; i < 40; ++i) AppendRecords(**wal, 1);
    auto files = LogFiles();
    ASSERT_GT(files.size(), 3u);
    uint64_t on_disk = 0;
    for (const auto& name : files) {
      std::string bytes = Read(name);
      on_disk += bytes.size();
      EXPECT_LE(bytes.size(), 300u) << name;
      // Each file is named after the LSN of its first record.
      ASSERT_GE(bytes.size(), kHeaderSize);
      uint64_t first_lsn = 0;
      for (int b = 0; b < 8; ++b) {
        first_lsn |= uint64_t{static_cast<unsigned char>(bytes[9 + b])} << (8 * b);
      }
      EXPECT_EQ(name, absl::StrFormat("wal-%020d.log", first_lsn));
    }
    EXPECT_EQ((*wal)->SizeBytes(), on_disk);

    // Parse file boundaries from the names.
    std::vector<uint64_t> starts;
    for (const auto& name : files) starts.push_back(std::stoull(name.substr(4, 20)));
    // A checkpoint one short of the end of the second file keeps it.
    ASSERT_TRUE((*wal)->RemoveObsolete(starts[2] - 2).ok());
    EXPECT_EQ(LogFiles().size(), files.size() - 1);
    ASSERT_TRUE((*wal)->RemoveObsolete(starts[2] - 1).ok());
    EXPECT_EQ(LogFiles().size(), files.size() - 2);
    EXPECT_EQ(LogFiles().front(), files[2]);
    // Even a checkpoint past everything keeps the current file.
    ASSERT_TRUE((*wal)->RemoveObsolete(1000).ok());
    EXPECT_EQ(LogFiles(), std::vector<std::string>{files.back()});
    EXPECT_EQ((*wal)->SizeBytes(), Read(files.back()).size());
    AppendRecords(**wal, 1);
  }
  auto wal = Open(options, /*after_lsn=*/40);
  ASSERT_TRUE(wal.ok()) << wal.status();
  EXPECT_EQ(replayed_, Expected(41, 41));
  EXPECT_FALSE(report_.tail_cut);

  // The removed records are gone: asking for them is DataLoss, not silence.
  wal->reset();
  auto too_early = Open(options, /*after_lsn=*/0);
  EXPECT_TRUE(absl::IsDataLoss(too_early.status())) << too_early.status();
}

TEST_F(WalTest, RotateStartsANewFileAndIsANoOpOnAnEmptyOne) {
  auto wal = Open();
  ASSERT_TRUE(wal.ok());
  ASSERT_TRUE((*wal)->Rotate().ok());
  EXPECT_EQ(LogFiles().size(), 1u);
  AppendRecords(**wal, 3);
  ASSERT_TRUE((*wal)->Rotate().ok());
  ASSERT_TRUE((*wal)->Rotate().ok());
  EXPECT_EQ(LogFiles(),
            (std::vector<std::string>{"wal-00000000000000000001.log", "wal-00000000000000000004.log"}));
  AppendRecords(**wal, 2);
  ASSERT_TRUE((*wal)->RemoveObsolete(3).ok());
  EXPECT_EQ(LogFiles(), std::vector<std::string>{"wal-00000000000000000004.log"});
}

TEST_F(WalTest, ObsoleteFilesAreNotReadAtRecovery) {
  {
    auto wal = Open();
    ASSERT_TRUE(wal.ok());
    AppendRecords(**wal, 5);
    ASSERT_TRUE((*wal)->Rotate().ok());
    AppendRecords(**wal, 5);
  }
  // Corrupt the first file, which only holds LSNs 1..5.
  std::string first = Read("wal-00000000000000000001.log");
  first[20] ^= 0x10;
  Write("wal-00000000000000000001.log", first);
  auto wal = Open({}, /*after_lsn=*/5);
  ASSERT_TRUE(wal.ok());
  EXPECT_FALSE(report_.tail_cut);
  EXPECT_EQ(replayed_, Expected(6, 10));
}

TEST_F(WalTest, LogEndingBeforeTheCheckpointContinuesAfterIt) {
  {
    auto wal = Open();
    ASSERT_TRUE(wal.ok());
    AppendRecords(**wal, 10);
  }
  {
    auto wal = Open({}, /*after_lsn=*/20);
    ASSERT_TRUE(wal.ok());
    EXPECT_TRUE(replayed_.empty());
    EXPECT_EQ((*wal)->last_lsn(), 20u);
    EXPECT_EQ(LogFiles(), std::vector<std::string>{"wal-00000000000000000021.log"});
    AppendRecords(**wal, 2);
  }
  auto wal = Open({}, /*after_lsn=*/20);
  ASSERT_TRUE(wal.ok());
  EXPECT_EQ(replayed_, Expected(21, 22));
}

TEST_F(WalTest, ReadOnlyOpenOfAMissingDirectoryIsAnEmptyLog) {
  WalOptions options;
  options.read_only = true;
  auto wal = Open(options, /*after_lsn=*/3);
  ASSERT_TRUE(wal.ok()) << wal.status();
  EXPECT_EQ((*wal)->last_lsn(), 3u);
  EXPECT_TRUE(replayed_.empty());
  EXPECT_FALSE(Env::Default()->FileExists(dir_));
  std::vector<WalRecordRef> one = {{1, "x"}};
  EXPECT_TRUE(absl::IsFailedPrecondition((*wal)->AppendBatch(one).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition((*wal)->Rotate()));
  EXPECT_TRUE(absl::IsFailedPrecondition((*wal)->RemoveObsolete(10)));
}

TEST_F(WalTest, ReadOnlyOpenReplaysAndNeverWrites) {
  {
    auto wal = Open();
    ASSERT_TRUE(wal.ok());
    AppendRecords(**wal, 7);
  }
  auto before = Snapshot();
  WalOptions options;
  options.read_only = true;
  auto wal = Open(options);
  ASSERT_TRUE(wal.ok());
  EXPECT_EQ(replayed_, Expected(1, 7));
  EXPECT_EQ((*wal)->SizeBytes(), Read(LogFiles().front()).size());
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(WalTest, RecordTypeZeroIsRejectedAndTheWalStaysUsable) {
  auto wal = Open();
  ASSERT_TRUE(wal.ok());
  std::vector<WalRecordRef> bad = {{1, "a"}, {0, "b"}};
  EXPECT_TRUE(absl::IsInvalidArgument((*wal)->AppendBatch(bad).status()));
  EXPECT_EQ((*wal)->last_lsn(), 0u);
  AppendRecords(**wal, 1);
}

// ---------------------------------------------------------------------------
// Corruption table, in the style of leveldb's db/log_test.cc. The log holds
// three files of records; each case damages the middle or the last file and
// recovery must replay exactly the good prefix, report the cut, cut the file
// back, remove later files, and accept new appends that survive a reopen.

struct RecordSpan {
  uint64_t lsn;
  size_t offset;
  size_t size;
};

// Walks a file written by the Wal (trusting it) to find its records.
std::vector<RecordSpan> SpansOf(const std::string& bytes) {
  std::vector<RecordSpan> out;
  size_t offset = 0;
  while (offset + kHeaderSize <= bytes.size()) {
    uint32_t len = 0;
    uint64_t lsn = 0;
    for (int b = 0; b < 4; ++b) {
      len |= uint32_t{static_cast<unsigned char>(bytes[offset + 4 + b])} << (8 * b);
    }
    for (int b = 0; b < 8; ++b) {
      lsn |= uint64_t{static_cast<unsigned char>(bytes[offset + 9 + b])} << (8 * b);
    }
    out.push_back({lsn, offset, kHeaderSize + len});
    offset += kHeaderSize + len;
  }
  return out;
}

struct CorruptionCase {
  const char* name;
  // Damages `bytes` (the whole target file, whose records are `spans`) and
  // returns the number of leading records of that file that stay good.
  std::function<size_t(std::string& bytes, const std::vector<RecordSpan>& spans)> damage;
  const char* reason;  // substring of report.reason
};

const size_t kVictim = 3;  // index of the damaged record within its file

std::vector<CorruptionCase> CorruptionCases() {
  return {
      {"TruncatedHeader",
       [](std::string& b, const std::vector<RecordSpan>& s) {
         b.resize(s[kVictim].offset + 5);
         return kVictim;
       },
       "truncated header"},
      {"TruncatedPayload",
       [](std::string& b, const std::vector<RecordSpan>& s) {
         b.resize(s[kVictim].offset + kHeaderSize + 2);
         return kVictim;
       },
       "extends past end of file"},
      {"FlippedBitInPayload",
       [](std::string& b, const std::vector<RecordSpan>& s) {
         b[s[kVictim].offset + kHeaderSize + 1] ^= 0x04;
         return kVictim;
       },
       "checksum mismatch"},
      {"FlippedBitInCrc",
       [](std::string& b, const std::vector<RecordSpan>& s) {
         b[s[kVictim].offset + 2] ^= 0x80;
         return kVictim;
       },
       "checksum mismatch"},
      {"FlippedBitInLsn",
       [](std::string& b, const std::vector<RecordSpan>& s) {
         b[s[kVictim].offset + 9] ^= 0x01;
         return kVictim;
       },
       "checksum mismatch"},
      {"LengthFieldBeyondEof",
       [](std::string& b, const std::vector<RecordSpan>& s) {
         b[s[kVictim].offset + 6] = 0x7f;  // length += 0x7f0000
         return kVictim;
       },
       "extends past end of file"},
      {"LengthFieldShrunk",
       [](std::string& b, const std::vector<RecordSpan>& s) {
         b[s[kVictim].offset + 4] = 1;
         return kVictim;
       },
       "checksum mismatch"},
      {"ShortGarbageAppended",
       [](std::string& b, const std::vector<RecordSpan>& s) {
         b += "xyzzy";
         return s.size();
       },
       "truncated header"},
      {"LongGarbageAppended",
       [](std::string& b, const std::vector<RecordSpan>& s) {
         std::mt19937 rng(3);
         for (int i = 0; i < 200; ++i) b.push_back(static_cast<char>(rng() | 1));
         return s.size();
       },
       ""},  // checksum or length, depending on the bytes
      {"ZeroFilledTail",
       [](std::string& b, const std::vector<RecordSpan>& s) {
         b.append(4096, '\0');
         return s.size();
       },
       "zero-filled region"},
      {"ShortZeroFilledTail",
       [](std::string& b, const std::vector<RecordSpan>& s) {
         b.append(9, '\0');
         return s.size();
       },
       "zero-filled region"},
      {"ZeroedRecordInTheMiddle",
       [](std::string& b, const std::vector<RecordSpan>& s) {
         b.replace(s[kVictim].offset, s[kVictim].size, s[kVictim].size, '\0');
         return kVictim;
       },
       "zero-filled region"},
      {"ValidRecordWithSkippedLsn",
       [](std::string& b, const std::vector<RecordSpan>& s) {
         b += EncodeForTest(s.back().lsn + 2, 1, "skipped one");
         return s.size();
       },
       "LSN out of sequence"},
      {"ValidRecordWithRepeatedLsn",
       [](std::string& b, const std::vector<RecordSpan>& s) {
         b += EncodeForTest(s.back().lsn, 1, "again");
         return s.size();
       },
       "LSN out of sequence"},
      {"ValidRecordWithTypeZero",
       [](std::string& b, const std::vector<RecordSpan>& s) {
         b += EncodeForTest(s.back().lsn + 1, 0, "typeless");
         return s.size();
       },
       "invalid record type 0"},
      {"FirstRecordOfFileTruncated",
       [](std::string& b, const std::vector<RecordSpan>& s) {
         b.resize(3);
         return size_t{0};
       },
       "truncated header"},
  };
}

class WalCorruptionTest : public WalTest, public ::testing::WithParamInterface<std::tuple<size_t, int>> {};

TEST_P(WalCorruptionTest, RecoversExactlyTheGoodPrefix) {
  const CorruptionCase c = CorruptionCases()[std::get<0>(GetParam())];
  const int target = std::get<1>(GetParam());  // 1: middle file, 2: last file
  SCOPED_TRACE(c.name);
  {
    auto wal = Open();
    ASSERT_TRUE(wal.ok());
    for (int file = 0; file < 3; ++file) {
      for (int i = 0; i < 8; ++i) AppendRecords(**wal, 1);
      if (file < 2) {
        ASSERT_TRUE((*wal)->Rotate().ok());
      }
    }
  }
  std::vector<std::string> files = LogFiles();
  ASSERT_EQ(files.size(), 3u);
  const std::string victim = files[target];
  std::string bytes = Read(victim);
  std::vector<RecordSpan> spans = SpansOf(bytes);
  ASSERT_EQ(spans.size(), 8u);
  const size_t good_in_file = c.damage(bytes, spans);
  Write(victim, bytes);
  const uint64_t good = 8 * target + good_in_file;
  const uint64_t cut_offset =
      good_in_file < spans.size() ? spans[good_in_file].offset : spans.back().offset + spans.back().size;
  uint64_t bytes_after_cut = bytes.size() - cut_offset;
  for (size_t i = target + 1; i < files.size(); ++i) bytes_after_cut += Read(files[i]).size();

  if (target == 1) {
    // Damage before the last file is not a torn tail: later files hold
    // acknowledged records. Refused, read-only and read-write alike, with
    // nothing changed; salvage keeps everything else and reports the gap.
    auto before = Snapshot();
    WalOptions ro;
    ro.read_only = true;
    for (const WalOptions& options : {ro, WalOptions{}}) {
      auto wal = Open(options);
      ASSERT_FALSE(wal.ok());
      EXPECT_TRUE(absl::IsDataLoss(wal.status())) << wal.status();
      EXPECT_NE(wal.status().message().find(victim + " at offset " + std::to_string(cut_offset)),
                std::string_view::npos)
          << wal.status();
      EXPECT_NE(wal.status().message().find("ragline repair"), std::string_view::npos) << wal.status();
    }
    EXPECT_EQ(Snapshot(), before);
    WalOptions salvage;
    salvage.salvage = true;
    salvage.read_only = true;
    auto wal = Open(salvage);
    ASSERT_TRUE(wal.ok()) << wal.status();
    std::vector<ReplayedRecord> expected = Expected(1, good);
    for (const auto& r : Expected(17, 24)) expected.push_back(r);
    EXPECT_EQ(replayed_, expected);
    ASSERT_EQ(report_.gaps.size(), 1u);
    EXPECT_EQ(report_.gaps[0].first_lsn, good + 1);
    EXPECT_EQ(report_.gaps[0].last_lsn, 16u);
    EXPECT_NE(report_.gaps[0].cause.find(victim), std::string::npos) << report_.gaps[0].cause;
    EXPECT_FALSE(report_.tail_cut);
    EXPECT_EQ(Snapshot(), before);
    return;
  }

  // Read-only first: same verdict, no bytes changed.
  auto before = Snapshot();
  {
    WalOptions ro;
    ro.read_only = true;
    auto wal = Open(ro);
    ASSERT_TRUE(wal.ok()) << wal.status();
    EXPECT_EQ(replayed_, Expected(1, good));
    EXPECT_TRUE(report_.tail_cut);
    EXPECT_EQ(report_.cut_file, FilePath(victim));
    EXPECT_EQ(report_.cut_offset, cut_offset);
    EXPECT_TRUE(report_.removed_files.empty());
    EXPECT_EQ((*wal)->last_lsn(), good);
  }
  EXPECT_EQ(Snapshot(), before);

  // Read-write: the same prefix, and the damage is cut off.
  {
    auto wal = Open();
    ASSERT_TRUE(wal.ok()) << wal.status();
    EXPECT_EQ(replayed_, Expected(1, good));
    EXPECT_EQ(report_.records_replayed, good);
    EXPECT_EQ(report_.last_lsn, good);
    EXPECT_TRUE(report_.tail_cut);
    EXPECT_NE(report_.reason.find(c.reason), std::string::npos) << report_.reason;
    EXPECT_FALSE(report_.reason.empty());
    EXPECT_EQ(report_.cut_file, FilePath(victim));
    EXPECT_EQ(report_.cut_offset, cut_offset);
    EXPECT_EQ(report_.bytes_dropped, bytes_after_cut);
    EXPECT_EQ(report_.removed_files.size(), files.size() - 1 - target);
    std::vector<std::string> expected_files(files.begin(), files.begin() + target + 1);
    EXPECT_EQ(LogFiles(), expected_files);
    EXPECT_EQ(Read(victim).size(), cut_offset);
    EXPECT_EQ(Read(victim), bytes.substr(0, cut_offset));
    AppendRecords(**wal, 3);
  }
  auto wal = Open();
  ASSERT_TRUE(wal.ok());
  EXPECT_FALSE(report_.tail_cut) << report_.reason;
  EXPECT_EQ(replayed_, Expected(1, good + 3));
}

INSTANTIATE_TEST_SUITE_P(Table, WalCorruptionTest,
                         ::testing::Combine(::testing::Range(size_t{0}, CorruptionCases().size()),
                                            ::testing::Values(1, 2)),
                         [](const ::testing::TestParamInfo<std::tuple<size_t, int>>& info) {
                           return std::string(CorruptionCases()[std::get<0>(info.param)].name) +
                                  (std::get<1>(info.param) == 1 ? "InMiddleFile" : "InLastFile");
                         });

TEST_F(WalTest, MisnamedLaterFileIsRemovedAsOutOfSequence) {
  {
    auto wal = Open();
    ASSERT_TRUE(wal.ok());
    AppendRecords(**wal, 4);
    ASSERT_TRUE((*wal)->Rotate().ok());
    AppendRecords(**wal, 4);
  }
  // A file whose name leaves a gap after LSN 4, in a log from before the
  // file registry (with one, the registered wal-5 is missing: refused, below).
  ASSERT_TRUE(Env::Default()->RemoveFile(FilePath("FILES")).ok());
  ASSERT_TRUE(
      Env::Default()
          ->RenameFile(FilePath("wal-00000000000000000005.log"), FilePath("wal-00000000000000000007.log"))
          .ok());
  auto wal = Open();
  ASSERT_TRUE(wal.ok());
  EXPECT_EQ(replayed_, Expected(1, 4));
  EXPECT_TRUE(report_.tail_cut);
  EXPECT_NE(report_.reason.find("expected 5"), std::string::npos) << report_.reason;
  EXPECT_EQ(LogFiles(), std::vector<std::string>{"wal-00000000000000000001.log"});
  AppendRecords(**wal, 1);
  EXPECT_EQ((*wal)->last_lsn(), 5u);
}

TEST_F(WalTest, ADeletedFileIsRefusedByNameUnlessBelowTheCheckpoint) {
  {
    auto wal = Open();
    ASSERT_TRUE(wal.ok());
    for (int file = 0; file < 3; ++file) {
      AppendRecords(**wal, 5);
      ASSERT_TRUE((*wal)->Rotate().ok());
    }
  }
  EXPECT_EQ(Read("FILES"),
            "wal-00000000000000000001.log\nwal-00000000000000000006.log\n"
            "wal-00000000000000000011.log\nwal-00000000000000000016.log\n");
  for (const char* victim : {"wal-00000000000000000006.log", "wal-00000000000000000016.log"}) {
    SCOPED_TRACE(victim);
    auto saved = Snapshot();
    ASSERT_TRUE(Env::Default()->RemoveFile(FilePath(victim)).ok());
    auto before = Snapshot();
    for (bool read_only : {true, false}) {
      WalOptions options;
      options.read_only = read_only;
      auto wal = Open(options);
      ASSERT_FALSE(wal.ok());
      EXPECT_TRUE(absl::IsDataLoss(wal.status())) << wal.status();
      EXPECT_NE(wal.status().message().find(std::string(victim) + " is missing"), std::string_view::npos)
          << wal.status();
    }
    EXPECT_EQ(Snapshot(), before) << "a refused open changed the log";
    // A checkpoint that covers the file: nothing is missing.
    if (std::string(victim) == "wal-00000000000000000006.log") {
      auto wal = Open({}, 10);
      ASSERT_TRUE(wal.ok()) << wal.status();
      EXPECT_EQ(replayed_, Expected(11, 15));
    }
    for (const auto& [name, bytes] : saved) Write(name, bytes);
  }
  // Salvage (ragline check / repair): everything else, and the gap.
  ASSERT_TRUE(Env::Default()->RemoveFile(FilePath("wal-00000000000000000006.log")).ok());
  WalOptions salvage;
  salvage.salvage = true;
  auto wal = Open(salvage);
  ASSERT_TRUE(wal.ok()) << wal.status();
  std::vector<ReplayedRecord> expected = Expected(1, 5);
  for (const auto& r : Expected(11, 15)) expected.push_back(r);
  EXPECT_EQ(replayed_, expected);
  ASSERT_EQ(report_.gaps.size(), 1u);
  EXPECT_EQ(report_.gaps[0].first_lsn, 6u);
  EXPECT_EQ(report_.gaps[0].last_lsn, 10u);
  EXPECT_NE(report_.gaps[0].cause.find("wal-00000000000000000006.log is missing"), std::string::npos);
  // The registry now names what is there.
  EXPECT_EQ(Read("FILES"),
            "wal-00000000000000000001.log\nwal-00000000000000000011.log\n"
            "wal-00000000000000000016.log\n");
}

TEST_F(WalTest, FilesWithOtherNamesAreIgnored) {
  ASSERT_TRUE(Env::Default()->CreateDirs(dir_).ok());
  Write("wal-1.log", "junk");
  Write("wal-00000000000000000001.log.tmp-1-0", "junk");
  Write("README", "junk");
  auto wal = Open();
  ASSERT_TRUE(wal.ok()) << wal.status();
  EXPECT_FALSE(report_.tail_cut);
  AppendRecords(**wal, 2);
}

// ---------------------------------------------------------------------------
// Crashes and I/O errors through FaultInjectionEnv.

TEST_F(WalTest, BatchPolicyLosesNothingAcknowledgedOnPowerLoss) {
  FaultInjectionEnv env(*Env::Default());
  WalOptions options;
  options.max_file_bytes = 500;  // rotations too
  {
    auto wal = Open(env, options);
    ASSERT_TRUE(wal.ok());
    for (int i = 0; i < 30; ++i) {
      uint64_t syncs = env.sync_calls();
      AppendRecords(**wal, 2);
      EXPECT_GE(env.sync_calls(), syncs + 1);
    }
  }
  ASSERT_TRUE(env.DropUnsyncedData().ok());
  auto wal = Open(env, options);
  ASSERT_TRUE(wal.ok());
  EXPECT_EQ(replayed_, Expected(1, 60));
  EXPECT_FALSE(report_.tail_cut);
}

TEST_F(WalTest, NonePolicyLosesOnlyUnsyncedRecordsOnPowerLoss) {
  FaultInjectionEnv env(*Env::Default());
  {
    auto wal = Open(env);  // kBatch
    ASSERT_TRUE(wal.ok());
    AppendRecords(**wal, 5);
  }
  WalOptions none;
  none.fsync = FsyncPolicy::kNone;
  {
    auto wal = Open(env, none);
    ASSERT_TRUE(wal.ok());
    uint64_t syncs = env.sync_calls();
    AppendRecords(**wal, 5);
    AppendRecords(**wal, 5);
    EXPECT_EQ(env.sync_calls(), syncs);  // kNone never syncs a batch
    // Without a crash the records are all there.
    auto ro_options = none;
    ro_options.read_only = true;
    auto peek = Wal::Open(
        env, dir_, ro_options, 0, [](const WalEntry&) { return absl::OkStatus(); }, nullptr);
    ASSERT_TRUE(peek.ok());
    EXPECT_EQ((*peek)->last_lsn(), 15u);
  }
  ASSERT_TRUE(env.DropUnsyncedData().ok());
  auto wal = Open(env, none);
  ASSERT_TRUE(wal.ok());
  EXPECT_EQ(replayed_, Expected(1, 5));
  EXPECT_FALSE(report_.tail_cut);  // dropped at a record boundary
  AppendRecords(**wal, 1);
  EXPECT_EQ((*wal)->last_lsn(), 6u);
}

TEST_F(WalTest, RotationSyncsTheOldFileUnderNonePolicy) {
  FaultInjectionEnv env(*Env::Default());
  WalOptions none;
  none.fsync = FsyncPolicy::kNone;
  {
    auto wal = Open(env, none);
    ASSERT_TRUE(wal.ok());
    AppendRecords(**wal, 4);
    ASSERT_TRUE((*wal)->Rotate().ok());
    AppendRecords(**wal, 4);
  }
  ASSERT_TRUE(env.DropUnsyncedData().ok());
  auto wal = Open(env, none);
  ASSERT_TRUE(wal.ok());
  EXPECT_EQ(replayed_, Expected(1, 4));
  EXPECT_FALSE(report_.tail_cut);
}

// A full disk is not a broken disk: the failed batch is cut off the file
// and the log takes the next one once space returns, without a reopen.
TEST_F(WalTest, ADiskFullBatchIsCutOffAndTheNextOneLands) {
  FaultInjectionEnv env(*Env::Default());
  {
    auto wal = Open(env);
    ASSERT_TRUE(wal.ok());
    AppendRecords(**wal, 3);
    env.SetDiskFull(true);
    const std::string p4 = PayloadFor(4);
    std::vector<WalRecordRef> batch = {{TypeFor(4), p4}};
    auto refused = (*wal)->AppendBatch(batch);
    ASSERT_FALSE(refused.ok());
    EXPECT_TRUE(IsDiskFull(refused.status())) << refused.status();
    EXPECT_EQ((*wal)->last_lsn(), 3u);
    env.SetDiskFull(false);
    auto landed = (*wal)->AppendBatch(batch);
    ASSERT_TRUE(landed.ok()) << landed.status();
    EXPECT_EQ(*landed, 4u);
  }
  ASSERT_TRUE(env.DropUnsyncedData().ok());
  replayed_.clear();
  auto wal = Open(env);
  ASSERT_TRUE(wal.ok());
  EXPECT_EQ(replayed_, Expected(1, 4));  // no trace of the refused attempt
}

TEST_F(WalTest, SyncFailureFailsTheBatchAndTheWalUntilReopened) {
  FaultInjectionEnv env(*Env::Default());
  {
    auto wal = Open(env);
    ASSERT_TRUE(wal.ok());
    AppendRecords(**wal, 3);
    env.FailNextSyncs(1);
    const std::string p4 = PayloadFor(4), p5 = PayloadFor(5);
    std::vector<WalRecordRef> batch = {{1, p4}, {1, p5}};
    auto result = (*wal)->AppendBatch(batch);
    ASSERT_FALSE(result.ok());
    EXPECT_NE(result.status().message().find("injected fault"), std::string::npos);
    EXPECT_EQ((*wal)->last_lsn(), 3u);  // not acknowledged
    auto again = (*wal)->AppendBatch(batch);
    EXPECT_TRUE(absl::IsFailedPrecondition(again.status())) << again.status();
    EXPECT_NE(again.status().message().find("earlier write error"), std::string::npos);
    EXPECT_TRUE(absl::IsFailedPrecondition((*wal)->Rotate()));
  }
  // Without a crash, the written-but-unsynced batch MAY be replayed; with
  // this Env its bytes are in the file, so here it is.
  {
    auto ro = WalOptions{};
    ro.read_only = true;
    auto wal = Open(env, ro);
    ASSERT_TRUE(wal.ok());
    ASSERT_GE(replayed_.size(), 3u);
    replayed_.resize(3);
    EXPECT_EQ(replayed_, Expected(1, 3));
  }
  // After power loss it is gone, and the log continues from LSN 4.
  ASSERT_TRUE(env.DropUnsyncedData().ok());
  auto wal = Open(env);
  ASSERT_TRUE(wal.ok());
  EXPECT_EQ(replayed_, Expected(1, 3));
  AppendRecords(**wal, 2);
}

TEST_F(WalTest, TornAppendIsCutAtRecoveryAndAppendsContinue) {
  FaultInjectionEnv env(*Env::Default());
  {
    auto wal = Open(env);
    ASSERT_TRUE(wal.ok());
    AppendRecords(**wal, 3);
    env.FailNextAppends(1, /*torn_bytes=*/20);  // record 4 is 27 bytes
    const std::string p4 = PayloadFor(4), p5 = PayloadFor(5);
    std::vector<WalRecordRef> batch = {{1, p4}, {1, p5}};
    EXPECT_FALSE((*wal)->AppendBatch(batch).ok());
    EXPECT_EQ((*wal)->last_lsn(), 3u);
    EXPECT_TRUE(absl::IsFailedPrecondition((*wal)->AppendBatch(batch).status()));
  }
  auto wal = Open(env);
  ASSERT_TRUE(wal.ok());
  EXPECT_EQ(replayed_, Expected(1, 3));
  EXPECT_TRUE(report_.tail_cut);
  EXPECT_EQ(report_.bytes_dropped, 20u);
  EXPECT_NE(report_.reason.find("extends past end of file"), std::string::npos) << report_.reason;
  AppendRecords(**wal, 2);
  wal->reset();
  auto reopened = Open(env);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(replayed_, Expected(1, 5));
}

TEST_F(WalTest, FailedRotationFailsTheWal) {
  FaultInjectionEnv env(*Env::Default());
  WalOptions options;
  options.max_file_bytes = 100;
  auto wal = Open(env, options);
  ASSERT_TRUE(wal.ok());
  AppendRecords(**wal, 5);  // > 100 bytes: the next batch rotates
  env.FailNextDirSyncs(1);
  std::vector<WalRecordRef> batch = {{1, "x"}};
  EXPECT_FALSE((*wal)->AppendBatch(batch).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition((*wal)->AppendBatch(batch).status()));
  wal->reset();
  auto reopened = Open(env, options);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(replayed_, Expected(1, 5));
  AppendRecords(**reopened, 1);
}

}  // namespace
}  // namespace ragline::store
