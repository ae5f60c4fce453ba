#include "store/fault_injection_env.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace ragline::store {
namespace {

Status Injected(std::string_view what, const std::string& path) {
  return absl::ErrnoToStatus(EIO, absl::StrCat("injected fault: ", std::string(what), " ", path));
}

std::string DirName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Strips trailing slashes so "a/b/" and "a/b" name the same directory.
std::string NormalizeDir(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

}  // namespace

class FaultInjectionEnv::File final : public WritableFile {
 public:
  File(FaultInjectionEnv& env, std::string path, std::unique_ptr<WritableFile> base)
      : env_(env), path_(std::move(path)), base_(std::move(base)) {}

  Status Append(std::string_view data) override {
    uint64_t torn = 0;
    Status injected = env_.BeforeAppend(path_, &torn);
    if (!injected.ok()) {
      if (torn > 0) {
        (void)base_->Append(data.substr(0, std::min<uint64_t>(torn, data.size())));
        env_.AfterAppend(path_, base_->Size());
      }
      return injected;
    }
    Status status = base_->Append(data);
    env_.AfterAppend(path_, base_->Size());
    return status;
  }

  Status Sync() override {
    RETURN_IF_ERROR(env_.BeforeSync(path_));
    RETURN_IF_ERROR(base_->Sync());
    env_.AfterSync(path_, base_->Size());
    return absl::OkStatus();
  }

  Status Close() override { return base_->Close(); }
  uint64_t Size() const override { return base_->Size(); }

 private:
  FaultInjectionEnv& env_;
  const std::string path_;
  std::unique_ptr<WritableFile> base_;
};

FaultInjectionEnv::FaultInjectionEnv(Env& base) : base_(base) {}
FaultInjectionEnv::~FaultInjectionEnv() = default;

Status FaultInjectionEnv::DropUnsyncedData() {
  std::lock_guard<std::mutex> lock(mu_);
  Status first_error;
  for (auto it = files_.begin(); it != files_.end();) {
    FileState& state = it->second;
    Status status;
    if (!state.creation_synced) {
      if (base_.FileExists(it->first)) status = base_.RemoveFile(it->first);
      if (status.ok()) {
        it = files_.erase(it);
        continue;
      }
    } else if (state.size > state.synced_size) {
      status = base_.Truncate(it->first, state.synced_size);
      if (status.ok()) state.size = state.synced_size;
    }
    if (!status.ok() && first_error.ok()) first_error = status;
    ++it;
  }
  return first_error;
}

uint64_t FaultInjectionEnv::UnsyncedBytes(const std::string& path) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return 0;
  return it->second.size - std::min(it->second.size, it->second.synced_size);
}

void FaultInjectionEnv::FailNextAppends(int count, uint64_t torn_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_appends_ = count;
  torn_bytes_ = torn_bytes;
}

void FaultInjectionEnv::FailNextSyncs(int count) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_syncs_ = count;
}

void FaultInjectionEnv::FailNextAtomicWrites(int count) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_atomic_writes_ = count;
}

void FaultInjectionEnv::FailNextDirSyncs(int count) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_dir_syncs_ = count;
}

void FaultInjectionEnv::ClearFailures() {
  std::lock_guard<std::mutex> lock(mu_);
  fail_appends_ = fail_syncs_ = fail_atomic_writes_ = fail_dir_syncs_ = 0;
  torn_bytes_ = 0;
}

uint64_t FaultInjectionEnv::append_calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return append_calls_;
}

uint64_t FaultInjectionEnv::sync_calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sync_calls_;
}

void FaultInjectionEnv::SetDiskFull(bool full) {
  std::lock_guard<std::mutex> lock(mu_);
  disk_full_ = full;
}

Status FaultInjectionEnv::DiskFullLocked(std::string_view what, const std::string& path) const {
  if (!disk_full_) return absl::OkStatus();
  return MarkDiskFull(
      absl::ErrnoToStatus(ENOSPC, absl::StrCat("injected fault: ", std::string(what), " ", path)));
}

Status FaultInjectionEnv::BeforeAppend(const std::string& path, uint64_t* torn_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  ++append_calls_;
  RETURN_IF_ERROR(DiskFullLocked("append to", path));
  if (fail_appends_ > 0) {
    --fail_appends_;
    *torn_bytes = torn_bytes_;
    return Injected("append to", path);
  }
  return absl::OkStatus();
}

void FaultInjectionEnv::AfterAppend(const std::string& path, uint64_t new_size) {
  std::lock_guard<std::mutex> lock(mu_);
  files_[path].size = new_size;
}

Status FaultInjectionEnv::BeforeSync(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  ++sync_calls_;
  RETURN_IF_ERROR(DiskFullLocked("sync of", path));
  if (fail_syncs_ > 0) {
    --fail_syncs_;
    return Injected("sync of", path);
  }
  return absl::OkStatus();
}

void FaultInjectionEnv::AfterSync(const std::string& path, uint64_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  FileState& state = files_[path];
  state.size = size;
  state.synced_size = size;
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewAppendableFile(const std::string& path) {
  bool existed = base_.FileExists(path);
  ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> base_file, base_.NewAppendableFile(path));
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, inserted] = files_.try_emplace(path);
    if (inserted) {
      // Bytes already there predate us: treat them as durable.
      it->second.size = base_file->Size();
      it->second.synced_size = base_file->Size();
      it->second.creation_synced = existed;
    }
  }
  return std::unique_ptr<WritableFile>(new File(*this, path, std::move(base_file)));
}

Result<std::string> FaultInjectionEnv::ReadFile(const std::string& path) { return base_.ReadFile(path); }

Status FaultInjectionEnv::WriteFileAtomically(const std::string& path, std::string_view data) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    RETURN_IF_ERROR(DiskFullLocked("atomic write of", path));
    if (fail_atomic_writes_ > 0) {
      --fail_atomic_writes_;
      return Injected("atomic write of", path);
    }
  }
  RETURN_IF_ERROR(base_.WriteFileAtomically(path, data));
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it != files_.end()) it->second = FileState{data.size(), data.size(), true};
  return absl::OkStatus();
}

Status FaultInjectionEnv::Truncate(const std::string& path, uint64_t size) {
  RETURN_IF_ERROR(base_.Truncate(path, size));  // durable: the base syncs it
  std::lock_guard<std::mutex> lock(mu_);
  auto it = files_.find(path);
  if (it != files_.end()) {
    it->second.size = size;
    it->second.synced_size = size;
  }
  return absl::OkStatus();
}

Status FaultInjectionEnv::RemoveFile(const std::string& path) {
  RETURN_IF_ERROR(base_.RemoveFile(path));
  std::lock_guard<std::mutex> lock(mu_);
  files_.erase(path);
  return absl::OkStatus();
}

Status FaultInjectionEnv::RemoveAll(const std::string& path) {
  RETURN_IF_ERROR(base_.RemoveAll(path));
  std::string prefix = NormalizeDir(path) + "/";
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = files_.begin(); it != files_.end();) {
    if (it->first == path || absl::StartsWith(it->first, prefix)) {
      it = files_.erase(it);
    } else {
      ++it;
    }
  }
  return absl::OkStatus();
}

Status FaultInjectionEnv::RenameFile(const std::string& from, const std::string& to) {
  RETURN_IF_ERROR(base_.RenameFile(from, to));
  std::lock_guard<std::mutex> lock(mu_);
  files_.erase(to);
  auto it = files_.find(from);
  if (it != files_.end()) {
    FileState state = it->second;
    files_.erase(it);
    files_[to] = state;
  }
  return absl::OkStatus();
}

Status FaultInjectionEnv::CreateDirs(const std::string& path) { return base_.CreateDirs(path); }

Result<std::vector<std::string>> FaultInjectionEnv::ListDir(const std::string& dir) {
  return base_.ListDir(dir);
}

bool FaultInjectionEnv::FileExists(const std::string& path) { return base_.FileExists(path); }

Result<uint64_t> FaultInjectionEnv::FileSize(const std::string& path) { return base_.FileSize(path); }

Status FaultInjectionEnv::SyncDir(const std::string& dir) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_dir_syncs_ > 0) {
      --fail_dir_syncs_;
      return Injected("sync of directory", dir);
    }
  }
  RETURN_IF_ERROR(base_.SyncDir(dir));
  std::string normalized = NormalizeDir(dir);
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [path, state] : files_) {
    if (NormalizeDir(DirName(path)) == normalized) state.creation_synced = true;
  }
  return absl::OkStatus();
}

Result<std::unique_ptr<FileLock>> FaultInjectionEnv::LockFile(const std::string& path) {
  return base_.LockFile(path);
}

}  // namespace ragline::store
