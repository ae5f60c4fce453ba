#include "store/database.h"

#include "core/strings.h"
#include "nlohmann/json.hpp"

namespace ragline::store {

using nlohmann::json;

namespace {
constexpr char kAliasesFile[] = "aliases.json";
constexpr char kCatalogLock[] = "CATALOG.LOCK";

Status CheckName(const std::string& what, const std::string& name) {
  CollectionConfig probe;
  probe.name = name;
  probe.dim = 1;
  Status st = probe.Validate();
  if (!st.ok()) return absl::InvalidArgumentError(StrCat(what, " '", name, "' is invalid: use 1-64 characters from A-Z a-z 0-9 _ -"));
  return absl::OkStatus();
}
}  // namespace

Database::Database(Env& env, std::string dir, DatabaseOptions options)
    : env_(env), dir_(std::move(dir)), options_(options), pool_(std::make_unique<ThreadPool>(options.threads)) {}

Database::~Database() {
  std::lock_guard<std::mutex> lock(mu_);
  open_.clear();  // closes collections (waits for their background seals) before the pool goes
}

Result<std::unique_ptr<Database>> Database::Open(Env& env, const std::string& dir, const DatabaseOptions& options) {
  if (options.read_only) {
    if (!env.FileExists(dir)) return absl::NotFoundError(StrCat("data directory ", dir, " does not exist"));
  } else {
    RETURN_IF_ERROR(env.CreateDirs(dir + "/collections"));
  }
  return std::unique_ptr<Database>(new Database(env, dir, options));
}

std::string Database::CollectionDir(const std::string& name) const { return dir_ + "/collections/" + name; }

Result<Collection*> Database::CreateCollection(const CollectionConfig& config) {
  if (options_.read_only) return absl::FailedPreconditionError("data directory is open read-only");
  RETURN_IF_ERROR(config.Validate());
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(auto catalog_lock, env_.LockFile(dir_ + "/" + kCatalogLock));
  ASSIGN_OR_RETURN(auto aliases, ReadAliases());
  if (aliases.contains(config.name)) {
    return absl::AlreadyExistsError(StrCat("'", config.name, "' is already an alias"));
  }
  ASSIGN_OR_RETURN(auto c, Collection::Create(env_, CollectionDir(config.name), config, *pool_));
  Collection* ptr = c.get();
  open_[config.name] = std::move(c);
  return ptr;
}

Result<Collection*> Database::GetCollection(const std::string& name_or_alias) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string name = name_or_alias;
  if (!open_.contains(name) && !env_.FileExists(CollectionDir(name))) {
    ASSIGN_OR_RETURN(auto aliases, ReadAliases());
    auto it = aliases.find(name_or_alias);
    if (it == aliases.end()) return absl::NotFoundError(StrCat("collection '", name_or_alias, "' does not exist"));
    name = it->second;
  }
  if (auto it = open_.find(name); it != open_.end()) return it->second.get();
  OpenOptions open_options;
  open_options.read_only = options_.read_only;
  auto c = Collection::Open(env_, CollectionDir(name), *pool_, open_options);
  // A read-only open can race a writer's compaction; the retry sees the new manifest.
  for (int attempt = 0; options_.read_only && absl::IsUnavailable(c.status()) && attempt < 3; ++attempt) {
    c = Collection::Open(env_, CollectionDir(name), *pool_, open_options);
  }
  if (!c.ok()) {
    if (absl::IsNotFound(c.status())) return absl::NotFoundError(StrCat("collection '", name, "' does not exist"));
    return c.status();
  }
  Collection* ptr = c->get();
  open_[name] = std::move(*c);
  return ptr;
}

std::vector<std::string> Database::OpenCollectionNames() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, collection] : open_) names.push_back(name);
  return names;
}

Status Database::DropCollection(const std::string& name) {
  if (options_.read_only) return absl::FailedPreconditionError("data directory is open read-only");
  RETURN_IF_ERROR(CheckName("collection name", name));
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(auto catalog_lock, env_.LockFile(dir_ + "/" + kCatalogLock));
  if (!env_.FileExists(CollectionDir(name) + "/collection.json")) {
    return absl::NotFoundError(StrCat("collection '", name, "' does not exist"));
  }
  ASSIGN_OR_RETURN(auto aliases, ReadAliases());
  for (const auto& [alias, target] : aliases) {
    if (target == name) {
      return absl::FailedPreconditionError(
          StrCat("collection '", name, "' is the target of alias '", alias, "'; delete or flip the alias first"));
    }
  }
  open_.erase(name);  // closes it, releasing its lock
  // Take the collection's writer lock so no other process is writing it, then
  // rename it out of the way (atomic) before deleting the files.
  {
    auto writer_lock = env_.LockFile(CollectionDir(name) + "/LOCK");
    if (!writer_lock.ok()) {
      return absl::FailedPreconditionError(StrCat("collection '", name, "' is open for writing by another process"));
    }
    RETURN_IF_ERROR(env_.RenameFile(CollectionDir(name), dir_ + "/collections/.dropped-" + name));
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
    if (!n.empty() && n[0] != '.' && env_.FileExists(CollectionDir(n) + "/collection.json")) out.push_back(n);
  }
  return out;
}

Result<std::map<std::string, std::string>> Database::ReadAliases() {
  auto bytes = env_.ReadFile(dir_ + "/" + kAliasesFile);
  if (!bytes.ok()) {
    if (absl::IsNotFound(bytes.status())) return std::map<std::string, std::string>{};
    return bytes.status();
  }
  json j = json::parse(*bytes, nullptr, false);
  if (j.is_discarded() || !j.contains("aliases") || !j["aliases"].is_object()) {
    return absl::DataLossError(StrCat(dir_, "/", kAliasesFile, ": not a valid alias file"));
  }
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : j["aliases"].items()) {
    if (!v.is_string()) return absl::DataLossError(StrCat(dir_, "/", kAliasesFile, ": alias '", k, "' is not a string"));
    out[k] = v.get<std::string>();
  }
  return out;
}

Status Database::WriteAliases(const std::map<std::string, std::string>& aliases) {
  json j;
  j["aliases"] = json::object();
  for (const auto& [k, v] : aliases) j["aliases"][k] = v;
  return env_.WriteFileAtomically(dir_ + "/" + kAliasesFile, j.dump(2) + "\n");
}

Status Database::ChangeAliases(const std::function<Status(std::map<std::string, std::string>&)>& change) {
  if (options_.read_only) return absl::FailedPreconditionError("data directory is open read-only");
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(auto catalog_lock, env_.LockFile(dir_ + "/" + kCatalogLock));
  ASSIGN_OR_RETURN(auto aliases, ReadAliases());
  RETURN_IF_ERROR(change(aliases));
  return WriteAliases(aliases);
}

Status Database::CreateAlias(const std::string& alias, const std::string& collection) {
  RETURN_IF_ERROR(CheckName("alias", alias));
  return ChangeAliases([&](auto& aliases) -> Status {
    if (aliases.contains(alias)) return absl::AlreadyExistsError(StrCat("alias '", alias, "' already exists"));
    if (env_.FileExists(CollectionDir(alias))) {
      return absl::AlreadyExistsError(StrCat("'", alias, "' is already a collection name"));
    }
    if (!env_.FileExists(CollectionDir(collection) + "/collection.json")) {
      return absl::NotFoundError(StrCat("collection '", collection, "' does not exist"));
    }
    aliases[alias] = collection;
    return absl::OkStatus();
  });
}

Status Database::FlipAlias(const std::string& alias, const std::string& collection) {
  return ChangeAliases([&](auto& aliases) -> Status {
    if (!aliases.contains(alias)) return absl::NotFoundError(StrCat("alias '", alias, "' does not exist"));
    if (!env_.FileExists(CollectionDir(collection) + "/collection.json")) {
      return absl::NotFoundError(StrCat("collection '", collection, "' does not exist"));
    }
    aliases[alias] = collection;
    return absl::OkStatus();
  });
}

Status Database::DeleteAlias(const std::string& alias) {
  return ChangeAliases([&](auto& aliases) -> Status {
    if (aliases.erase(alias) == 0) return absl::NotFoundError(StrCat("alias '", alias, "' does not exist"));
    return absl::OkStatus();
  });
}

Result<std::map<std::string, std::string>> Database::ListAliases() {
  std::lock_guard<std::mutex> lock(mu_);
  return ReadAliases();
}

}  // namespace ragline::store
