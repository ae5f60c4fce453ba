// Database: a data directory holding collections and aliases.
//
// Layout (docs/formats/data_dir.md):
//   DIR/aliases.json              {"aliases": {"alias": "collection", ...},
//                                  "history": {"alias": [{"collection", "until_ms"}, ...]}}
//   DIR/CATALOG.LOCK              held briefly while collections or aliases change
//   DIR/collections/NAME/...      one directory per collection (see collection.h)
//
// Collections are opened lazily on first use and stay open until the Database
// is destroyed. An alias is a name that resolves to a collection; creating,
// flipping and deleting one replaces aliases.json atomically, so a reader
// sees the old or the new mapping, never a mix. A flip remembers the target
// it replaced (the alias's history, newest last, at most kAliasHistory
// entries); RollbackAlias points the alias back at the newest one.
//
// Thread safety: all methods are thread-safe. Collection pointers stay valid
// until DropCollection of that collection or the Database's destruction.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "nlohmann/json.hpp"
#include "store/collection.h"
#include "store/env.h"

namespace ragline::store {

// A target an alias had before a flip.
struct AliasChange {
  std::string collection;
  int64_t until_ms = 0;  // Unix time (ms) of the flip that replaced it
};
inline constexpr size_t kAliasHistory = 16;

struct DatabaseOptions {
  bool read_only = false;  // open collections read-only; refuse every change
  size_t threads = 0;      // background pool size (0 = hardware concurrency)
  bool salvage = false;    // OpenOptions::salvage for every collection (ragline check / repair)
  // Called once per collection opened from disk (not created), under the
  // Database's lock: to report a degraded collection or a cut WAL tail.
  std::function<void(const Collection&)> on_open;
};

class Database {
 public:
  // Opens (creating unless read-only) the data directory.
  static Result<std::unique_ptr<Database>> Open(Env& env, const std::string& dir,
                                                const DatabaseOptions& options = {});
  ~Database();

  Result<Collection*> CreateCollection(const CollectionConfig& config);
  // Resolves aliases. NotFound names the collection.
  Result<Collection*> GetCollection(const std::string& name_or_alias);
  // Refuses (FailedPrecondition) while an alias points at it.
  Status DropCollection(const std::string& name);
  Result<std::vector<std::string>> ListCollections();
  // Names of the collections open now (opened by a Create or Get), sorted.
  std::vector<std::string> OpenCollectionNames();
  // Collections whose last open failed (DataLoss naming a missing WAL file,
  // an unreadable config, ...) and why; an open that succeeds later clears it.
  std::map<std::string, Status> FailedOpens();

  // Creates alias -> collection; AlreadyExists if the alias exists.
  Status CreateAlias(const std::string& alias, const std::string& collection);
  // Points an existing alias at another collection.
  Status FlipAlias(const std::string& alias, const std::string& collection);
  Status DeleteAlias(const std::string& alias);
  Result<std::map<std::string, std::string>> ListAliases();
  // The alias's earlier targets, oldest first; NotFound for no such alias.
  Result<std::vector<AliasChange>> AliasHistory(const std::string& alias);
  // {"alias", "collection", "history": [{"collection", "until_ms"}, ...]}
  // (history oldest first); NotFound for no such alias.
  Result<nlohmann::json> DescribeAlias(const std::string& alias);
  // Points the alias back at its previous target (the newest history entry,
  // which is removed: a second rollback goes one further back) and returns
  // it. FailedPrecondition when there is no history, or when that collection
  // was dropped since (the alias is left as it is).
  Result<std::string> RollbackAlias(const std::string& alias);

  ThreadPool& pool() { return *pool_; }

 private:
  Database(Env& env, std::string dir, DatabaseOptions options);
  // DIR/collections/NAME; InvalidArgument unless `name` follows the name
  // rule (ValidateName), so no name, alias target or file entry can make a
  // path outside the data directory.
  Result<std::string> CollectionDir(const std::string& name) const;
  // OK if `collection` names an existing collection (what an alias may point at).
  Status CheckAliasTarget(const std::string& collection) const;
  struct AliasFile {
    std::map<std::string, std::string> aliases;
    std::map<std::string, std::vector<AliasChange>> history;
  };
  Result<AliasFile> ReadAliases();
  Status WriteAliases(const AliasFile& file);
  // Runs `change` on the alias file under the catalog lock and saves it.
  Status ChangeAliases(const std::function<Status(AliasFile&)>& change);

  Env& env_;
  const std::string dir_;
  const DatabaseOptions options_;
  std::unique_ptr<ThreadPool> pool_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Collection>> open_;  // GUARDED_BY(mu_)
  std::map<std::string, Status> failed_;                     // GUARDED_BY(mu_)
};

}  // namespace ragline::store
