#include "store/database.h"

#include <chrono>

#include "core/strings.h"
#include "nlohmann/json.hpp"

namespace ragline::store {

using nlohmann::json;

namespace {

int64_t UnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr char kAliasesFile[] = "aliases.json";
constexpr char kCatalogLock[] = "CATALOG.LOCK";

}  // namespace

Database::Database(Env& env, std::string dir, DatabaseOptions options)
    : env_(env),
      dir_(std::move(dir)),
      options_(options),
      pool_(std::make_unique<ThreadPool>(options.threads)) {}

Database::~Database() {
  std::lock_guard<std::mutex> lock(mu_);
  open_.clear();  // closes collections (waits for their background seals) before the pool goes
}

Result<std::unique_ptr<Database>> Database::Open(Env& env, const std::string& dir,
                                                 const DatabaseOptions& options) {
  if (options.read_only) {
    if (!env.FileExists(dir)) return absl::NotFoundError(StrCat("data directory ", dir, " does not exist"));
  } else {
    RETURN_IF_ERROR(env.CreateDirs(dir + "/collections"));
  }
  return std::unique_ptr<Database>(new Database(env, dir, options));
}

Result<std::string> Database::CollectionDir(const std::string& name) const {
  RETURN_IF_ERROR(ValidateName("collection name", name));
  return StrCat(dir_, "/collections/", name);
}

Result<Collection*> Database::CreateCollection(const CollectionConfig& config) {
  if (options_.read_only) return absl::FailedPreconditionError("data directory is open read-only");
  RETURN_IF_ERROR(config.Validate());
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(auto catalog_lock, env_.LockFile(dir_ + "/" + kCatalogLock));
  ASSIGN_OR_RETURN(AliasFile file, ReadAliases());
  const auto& aliases = file.aliases;
  if (aliases.contains(config.name)) {
    return absl::AlreadyExistsError(StrCat("'", config.name, "' is already an alias"));
  }
  ASSIGN_OR_RETURN(const std::string dir, CollectionDir(config.name));
  ASSIGN_OR_RETURN(auto c, Collection::Create(env_, dir, config, *pool_));
  Collection* ptr = c.get();
  open_[config.name] = std::move(c);
  return ptr;
}

Result<Collection*> Database::GetCollection(const std::string& name_or_alias) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string name = name_or_alias;
  ASSIGN_OR_RETURN(std::string dir, CollectionDir(name));
  if (!open_.contains(name) && !env_.FileExists(dir)) {
    ASSIGN_OR_RETURN(AliasFile file, ReadAliases());
    const auto& aliases = file.aliases;
    auto it = aliases.find(name_or_alias);
    if (it == aliases.end())
      return absl::NotFoundError(StrCat("collection '", name_or_alias, "' does not exist"));
    name = it->second;
    ASSIGN_OR_RETURN(dir, CollectionDir(name));  // ReadAliases checked it; this keeps the rule in one place
  }
  if (auto it = open_.find(name); it != open_.end()) return it->second.get();
  OpenOptions open_options;
  open_options.read_only = options_.read_only;
  open_options.salvage = options_.salvage;
  // A read-only open can race a writer's compaction (a segment it read in the
  // manifest is gone): retry, and quarantine what is still missing at the end.
  constexpr int kAttempts = 4;
  open_options.retry_missing_segments = options_.read_only;
  auto c = Collection::Open(env_, dir, *pool_, open_options);
  for (int attempt = 1; options_.read_only && absl::IsUnavailable(c.status()) && attempt < kAttempts;
       ++attempt) {
    open_options.retry_missing_segments = attempt + 1 < kAttempts;
    c = Collection::Open(env_, dir, *pool_, open_options);
  }
  if (!c.ok()) {
    if (absl::IsNotFound(c.status()))
      return absl::NotFoundError(StrCat("collection '", name, "' does not exist"));
    failed_[name] = c.status();
    return c.status();
  }
  failed_.erase(name);
  Collection* ptr = c->get();
  open_[name] = std::move(*c);
  if (options_.on_open) options_.on_open(*ptr);
  return ptr;
}

std::vector<std::string> Database::OpenCollectionNames() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, collection] : open_) names.push_back(name);
  return names;
}

std::map<std::string, Status> Database::FailedOpens() {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_;
}

Status Database::DropCollection(const std::string& name) {
  if (options_.read_only) return absl::FailedPreconditionError("data directory is open read-only");
  ASSIGN_OR_RETURN(const std::string dir, CollectionDir(name));
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(auto catalog_lock, env_.LockFile(dir_ + "/" + kCatalogLock));
  if (!env_.FileExists(dir + "/collection.json")) {
    return absl::NotFoundError(StrCat("collection '", name, "' does not exist"));
  }
  ASSIGN_OR_RETURN(AliasFile file, ReadAliases());
  const auto& aliases = file.aliases;
  for (const auto& [alias, target] : aliases) {
    if (target == name) {
      return absl::FailedPreconditionError(StrCat("collection '", name, "' is the target of alias '", alias,
                                                  "'; delete or flip the alias first"));
    }
  }
  open_.erase(name);  // closes it, releasing its lock
  failed_.erase(name);
  // Take the collection's writer lock so no other process is writing it, then
  // rename it out of the way (atomic) before deleting the files.
  {
    auto writer_lock = env_.LockFile(dir + "/LOCK");
    if (!writer_lock.ok()) {
      return absl::FailedPreconditionError(
          StrCat("collection '", name, "' is open for writing by another process"));
    }
    RETURN_IF_ERROR(env_.RenameFile(dir, dir_ + "/collections/.dropped-" + name));
  }
  RETURN_IF_ERROR(env_.SyncDir(dir_ + "/collections"));
  return env_.RemoveAll(dir_ + "/collections/.dropped-" + name);
}

Result<std::vector<std::string>> Database::ListCollections() {
  auto names = env_.ListDir(dir_ + "/collections");
  if (!names.ok()) {
    if (absl::IsNotFound(names.status())) return std::vector<std::string>{};
    return names.status();
  }
  std::vector<std::string> out;
  for (const auto& n : *names) {
    auto dir = CollectionDir(n);  // skips names no collection can have (".dropped-x", stray files)
    if (dir.ok() && env_.FileExists(*dir + "/collection.json")) out.push_back(n);
  }
  return out;
}

Result<Database::AliasFile> Database::ReadAliases() {
  auto bytes = env_.ReadFile(dir_ + "/" + kAliasesFile);
  if (!bytes.ok()) {
    if (absl::IsNotFound(bytes.status())) return AliasFile{};
    return bytes.status();
  }
  json j = json::parse(*bytes, nullptr, false);
  if (j.is_discarded() || !j.contains("aliases") || !j["aliases"].is_object()) {
    return absl::DataLossError(StrCat(kAliasesFile, ": not a valid alias file"));
  }
  // A target outside the name rule would make a path outside the data directory.
  auto valid = [](const std::string& alias, const json& target) {
    return target.is_string() && ValidateName("alias", alias).ok() &&
           ValidateName("collection", target.get<std::string>()).ok();
  };
  AliasFile out;
  for (const auto& [k, v] : j["aliases"].items()) {
    if (!valid(k, v)) {
      return absl::DataLossError(
          StrCat(kAliasesFile, ": alias '", k, "' has no valid collection name as its target"));
    }
    out.aliases[k] = v.get<std::string>();
  }
  if (auto h = j.find("history"); h != j.end()) {
    if (!h->is_object()) return absl::DataLossError(StrCat(kAliasesFile, ": \"history\" is not an object"));
    for (const auto& [alias, changes] : h->items()) {
      if (!changes.is_array()) return absl::DataLossError(StrCat(kAliasesFile, ": history of '", alias, "'"));
      for (const auto& c : changes) {
        if (!c.is_object() || !valid(alias, c.value("collection", json())) ||
            !c.value("until_ms", json()).is_number_integer()) {
          return absl::DataLossError(
              StrCat(kAliasesFile, ": a history entry of alias '", alias, "' is malformed"));
        }
        out.history[alias].push_back({c["collection"].get<std::string>(), c["until_ms"].get<int64_t>()});
      }
    }
  }
  return out;
}

Status Database::WriteAliases(const AliasFile& file) {
  json j;
  j["aliases"] = json::object();
  for (const auto& [k, v] : file.aliases) j["aliases"][k] = v;
  j["history"] = json::object();
  for (const auto& [alias, changes] : file.history) {
    if (changes.empty()) continue;
    json& list = j["history"][alias] = json::array();
    for (const AliasChange& c : changes)
      list.push_back({{"collection", c.collection}, {"until_ms", c.until_ms}});
  }
  return env_.WriteFileAtomically(dir_ + "/" + kAliasesFile, j.dump(2) + "\n");
}

Status Database::ChangeAliases(const std::function<Status(AliasFile&)>& change) {
  if (options_.read_only) return absl::FailedPreconditionError("data directory is open read-only");
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(auto catalog_lock, env_.LockFile(dir_ + "/" + kCatalogLock));
  ASSIGN_OR_RETURN(AliasFile file, ReadAliases());
  RETURN_IF_ERROR(change(file));
  return WriteAliases(file);
}

Status Database::CheckAliasTarget(const std::string& collection) const {
  ASSIGN_OR_RETURN(const std::string dir, CollectionDir(collection));
  if (!env_.FileExists(dir + "/collection.json")) {
    return absl::NotFoundError(StrCat("collection '", collection, "' does not exist"));
  }
  return absl::OkStatus();
}

Status Database::CreateAlias(const std::string& alias, const std::string& collection) {
  RETURN_IF_ERROR(ValidateName("alias", alias));
  RETURN_IF_ERROR(ValidateName("collection name", collection));
  return ChangeAliases([&](AliasFile& file) -> Status {
    auto& aliases = file.aliases;
    if (aliases.contains(alias))
      return absl::AlreadyExistsError(StrCat("alias '", alias, "' already exists"));
    ASSIGN_OR_RETURN(const std::string alias_dir, CollectionDir(alias));
    if (env_.FileExists(alias_dir)) {
      return absl::AlreadyExistsError(StrCat("'", alias, "' is already a collection name"));
    }
    RETURN_IF_ERROR(CheckAliasTarget(collection));
    aliases[alias] = collection;
    file.history.erase(alias);  // a new alias starts without the history of an old namesake
    return absl::OkStatus();
  });
}

Status Database::FlipAlias(const std::string& alias, const std::string& collection) {
  RETURN_IF_ERROR(ValidateName("alias", alias));
  RETURN_IF_ERROR(ValidateName("collection name", collection));
  return ChangeAliases([&](AliasFile& file) -> Status {
    auto it = file.aliases.find(alias);
    if (it == file.aliases.end()) return absl::NotFoundError(StrCat("alias '", alias, "' does not exist"));
    RETURN_IF_ERROR(CheckAliasTarget(collection));
    if (it->second == collection) return absl::OkStatus();  // no change, no history entry
    auto& history = file.history[alias];
    history.push_back({it->second, UnixMillis()});
    if (history.size() > kAliasHistory) history.erase(history.begin());
    it->second = collection;
    return absl::OkStatus();
  });
}

Status Database::DeleteAlias(const std::string& alias) {
  RETURN_IF_ERROR(ValidateName("alias", alias));
  return ChangeAliases([&](AliasFile& file) -> Status {
    if (file.aliases.erase(alias) == 0)
      return absl::NotFoundError(StrCat("alias '", alias, "' does not exist"));
    file.history.erase(alias);
    return absl::OkStatus();
  });
}

Result<std::map<std::string, std::string>> Database::ListAliases() {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(AliasFile file, ReadAliases());
  return std::move(file.aliases);
}

Result<std::vector<AliasChange>> Database::AliasHistory(const std::string& alias) {
  RETURN_IF_ERROR(ValidateName("alias", alias));
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(AliasFile file, ReadAliases());
  if (!file.aliases.contains(alias)) return absl::NotFoundError(StrCat("alias '", alias, "' does not exist"));
  return file.history[alias];
}

Result<json> Database::DescribeAlias(const std::string& alias) {
  RETURN_IF_ERROR(ValidateName("alias", alias));
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(AliasFile file, ReadAliases());
  auto it = file.aliases.find(alias);
  if (it == file.aliases.end()) return absl::NotFoundError(StrCat("alias '", alias, "' does not exist"));
  json changes = json::array();
  for (const AliasChange& c : file.history[alias]) {
    changes.push_back({{"collection", c.collection}, {"until_ms", c.until_ms}});
  }
  return json{{"alias", alias}, {"collection", it->second}, {"history", changes}};
}

Result<std::string> Database::RollbackAlias(const std::string& alias) {
  RETURN_IF_ERROR(ValidateName("alias", alias));
  std::string restored;
  RETURN_IF_ERROR(ChangeAliases([&](AliasFile& file) -> Status {
    auto it = file.aliases.find(alias);
    if (it == file.aliases.end()) return absl::NotFoundError(StrCat("alias '", alias, "' does not exist"));
    auto& history = file.history[alias];
    if (history.empty()) {
      return absl::FailedPreconditionError(
          StrCat("alias '", alias, "' has no earlier target to roll back to"));
    }
    restored = history.back().collection;
    if (Status st = CheckAliasTarget(restored); !st.ok()) {
      return absl::FailedPreconditionError(StrCat("alias '", alias, "' was on collection '", restored,
                                                  "' before, which no longer exists; the alias stays on '",
                                                  it->second, "'"));
    }
    history.pop_back();
    it->second = restored;
    return absl::OkStatus();
  }));
  return restored;
}

}  // namespace ragline::store
