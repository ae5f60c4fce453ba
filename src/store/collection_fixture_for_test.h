#pragma once

// Tests only: a gtest fixture that creates and reopens one collection in a
// temporary directory.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/temp_dir_for_test.h"
#include "core/thread_pool.h"
#include "store/collection.h"

namespace ragline::store {

class CollectionFixture : public ::testing::Test {
 protected:
  std::string Dir() const { return tmp_.path() + "/c"; }
  std::unique_ptr<Collection> Create(const CollectionConfig& config, Env* env = nullptr) {
    auto c = Collection::Create(env ? *env : *Env::Default(), Dir(), config, pool_);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }
  std::unique_ptr<Collection> Reopen(Env* env = nullptr, bool read_only = false) {
    OpenOptions options;
    options.read_only = read_only;
    auto c = Collection::Open(env ? *env : *Env::Default(), Dir(), pool_, options);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // What `ragline repair` does: open read-write with salvage, Repair, close.
  Result<RepairReport> SalvageAndRepair() {
    OpenOptions salvage;
    salvage.salvage = true;
    ASSIGN_OR_RETURN(auto c, Collection::Open(*Env::Default(), Dir(), pool_, salvage));
    return c->Repair();
  }

  TempDir tmp_{"ragline_collection_test"};
  ThreadPool pool_{2};
};

}  // namespace ragline::store
