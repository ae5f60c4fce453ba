#include "store/env.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

#include "store/fault_injection_env.h"

namespace ragline::store {
namespace {

class EnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/ragline_env_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { ASSERT_TRUE(env_.RemoveAll(dir_).ok()); }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  Env& env_ = *Env::Default();
  std::string dir_;
};

TEST_F(EnvTest, AppendableFileStartsAtCurrentSizeAndAppends) {
  {
    auto file = env_.NewAppendableFile(Path("a"));
    ASSERT_TRUE(file.ok()) << file.status();
    EXPECT_EQ((*file)->Size(), 0u);
    ASSERT_TRUE((*file)->Append("hello").ok());
    ASSERT_TRUE((*file)->Sync().ok());
    ASSERT_TRUE((*file)->Close().ok());
    ASSERT_TRUE((*file)->Close().ok());  // closing twice is harmless
  }
  auto file = env_.NewAppendableFile(Path("a"));
  ASSERT_TRUE(file.ok());
  EXPECT_EQ((*file)->Size(), 5u);
  ASSERT_TRUE((*file)->Append(" world").ok());
  EXPECT_EQ((*file)->Size(), 11u);
  ASSERT_TRUE((*file)->Close().ok());
  EXPECT_FALSE((*file)->Append("x").ok());
  EXPECT_EQ(*env_.ReadFile(Path("a")), "hello world");
  EXPECT_EQ(*env_.FileSize(Path("a")), 11u);
}

TEST_F(EnvTest, MissingFileErrorsAreNotFoundAndNameThePath) {
  auto read = env_.ReadFile(Path("missing"));
  ASSERT_FALSE(read.ok());
  EXPECT_TRUE(absl::IsNotFound(read.status()));
  EXPECT_NE(read.status().message().find(Path("missing")), std::string::npos);
  EXPECT_NE(read.status().message().find("No such file"), std::string::npos) << read.status();
  EXPECT_TRUE(absl::IsNotFound(env_.FileSize(Path("missing")).status()));
  EXPECT_TRUE(absl::IsNotFound(env_.ListDir(Path("missing")).status()));
  EXPECT_TRUE(absl::IsNotFound(env_.RemoveFile(Path("missing"))));
  EXPECT_FALSE(env_.FileExists(Path("missing")));
}

TEST_F(EnvTest, WriteFileAtomicallyReplacesContentAndLeavesNoTempFile) {
  ASSERT_TRUE(env_.WriteFileAtomically(Path("manifest"), "one").ok());
  EXPECT_EQ(*env_.ReadFile(Path("manifest")), "one");
  ASSERT_TRUE(env_.WriteFileAtomically(Path("manifest"), "two, longer").ok());
  EXPECT_EQ(*env_.ReadFile(Path("manifest")), "two, longer");
  EXPECT_EQ(*env_.ListDir(dir_), std::vector<std::string>{"manifest"});
}

TEST_F(EnvTest, WriteFileAtomicallyIntoMissingDirectoryFailsCleanly) {
  Status status = env_.WriteFileAtomically(Path("nodir/manifest"), "x");
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
  EXPECT_TRUE(env_.ListDir(dir_)->empty());
}

TEST_F(EnvTest, TruncateCutsTheFile) {
  ASSERT_TRUE(env_.WriteFileAtomically(Path("f"), "0123456789").ok());
  ASSERT_TRUE(env_.Truncate(Path("f"), 4).ok());
  EXPECT_EQ(*env_.ReadFile(Path("f")), "0123");
  EXPECT_TRUE(absl::IsNotFound(env_.Truncate(Path("missing"), 0)));
}

TEST_F(EnvTest, ListDirIsSortedAndCreateDirsIsIdempotent) {
  ASSERT_TRUE(env_.CreateDirs(Path("x/y/z")).ok());
  ASSERT_TRUE(env_.CreateDirs(Path("x/y/z")).ok());
  ASSERT_TRUE(env_.WriteFileAtomically(Path("c"), "").ok());
  ASSERT_TRUE(env_.WriteFileAtomically(Path("b"), "").ok());
  auto names = env_.ListDir(dir_);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"b", "c", "x"}));
  EXPECT_FALSE(env_.CreateDirs(Path("c/sub")).ok());  // "c" is a file
  ASSERT_TRUE(env_.SyncDir(Path("x/y")).ok());
}

TEST_F(EnvTest, RenameAndRemoveAll) {
  ASSERT_TRUE(env_.WriteFileAtomically(Path("from"), "data").ok());
  ASSERT_TRUE(env_.RenameFile(Path("from"), Path("to")).ok());
  EXPECT_FALSE(env_.FileExists(Path("from")));
  EXPECT_EQ(*env_.ReadFile(Path("to")), "data");
  ASSERT_TRUE(env_.CreateDirs(Path("tree/a")).ok());
  ASSERT_TRUE(env_.WriteFileAtomically(Path("tree/a/f"), "x").ok());
  ASSERT_TRUE(env_.RemoveAll(Path("tree")).ok());
  EXPECT_FALSE(env_.FileExists(Path("tree")));
  EXPECT_TRUE(env_.RemoveAll(Path("tree")).ok());  // missing is fine
}

TEST_F(EnvTest, SecondLockOnTheSamePathFailsUntilTheFirstIsReleased) {
  auto first = env_.LockFile(Path("LOCK"));
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = env_.LockFile(Path("LOCK"));
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  EXPECT_NE(second.status().message().find("locked by another ragline process"), std::string::npos);
  EXPECT_NE(second.status().message().find(Path("LOCK")), std::string::npos);
  first->reset();
  auto third = env_.LockFile(Path("LOCK"));
  EXPECT_TRUE(third.ok()) << third.status();
}

// --- FaultInjectionEnv ---

TEST_F(EnvTest, DropUnsyncedDataTruncatesToTheLastSync) {
  FaultInjectionEnv fault_env(env_);
  ASSERT_TRUE(fault_env.SyncDir(dir_).ok());  // nothing tracked yet: no-op for tracking
  {
    auto file = fault_env.NewAppendableFile(Path("log"));
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE(fault_env.SyncDir(dir_).ok());  // the new name is durable
    ASSERT_TRUE((*file)->Append("synced").ok());
    ASSERT_TRUE((*file)->Sync().ok());
    ASSERT_TRUE((*file)->Append("-lost").ok());
    EXPECT_EQ(fault_env.UnsyncedBytes(Path("log")), 5u);
  }
  ASSERT_TRUE(fault_env.DropUnsyncedData().ok());
  EXPECT_EQ(*env_.ReadFile(Path("log")), "synced");
  EXPECT_EQ(fault_env.UnsyncedBytes(Path("log")), 0u);
}

TEST_F(EnvTest, DropUnsyncedDataKeepsBytesThatPredateTheEnv) {
  ASSERT_TRUE(env_.WriteFileAtomically(Path("log"), "old").ok());
  FaultInjectionEnv fault_env(env_);
  {
    auto file = fault_env.NewAppendableFile(Path("log"));
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Append("new").ok());
  }
  ASSERT_TRUE(fault_env.DropUnsyncedData().ok());
  EXPECT_EQ(*env_.ReadFile(Path("log")), "old");
}

TEST_F(EnvTest, DropUnsyncedDataRemovesFilesWhoseCreationWasNeverSynced) {
  FaultInjectionEnv fault_env(env_);
  {
    auto file = fault_env.NewAppendableFile(Path("new"));
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Append("data").ok());
    ASSERT_TRUE((*file)->Sync().ok());  // data synced, directory entry not
  }
  ASSERT_TRUE(fault_env.DropUnsyncedData().ok());
  EXPECT_FALSE(env_.FileExists(Path("new")));
}

TEST_F(EnvTest, InjectedFailuresReturnErrorsAndThenStop) {
  FaultInjectionEnv fault_env(env_);
  auto file = fault_env.NewAppendableFile(Path("log"));
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(fault_env.SyncDir(dir_).ok());

  fault_env.FailNextAppends(1);
  Status status = (*file)->Append("abc");
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("injected fault"), std::string::npos) << status;
  EXPECT_EQ((*file)->Size(), 0u);  // nothing written
  ASSERT_TRUE((*file)->Append("abc").ok());

  fault_env.FailNextAppends(1, /*torn_bytes=*/2);
  EXPECT_FALSE((*file)->Append("XYZ").ok());
  EXPECT_EQ((*file)->Size(), 5u);  // "abcXY": a torn write

  fault_env.FailNextSyncs(2);
  EXPECT_FALSE((*file)->Sync().ok());
  EXPECT_FALSE((*file)->Sync().ok());
  EXPECT_EQ(fault_env.UnsyncedBytes(Path("log")), 5u);
  ASSERT_TRUE((*file)->Sync().ok());
  EXPECT_EQ(fault_env.UnsyncedBytes(Path("log")), 0u);
  EXPECT_EQ(fault_env.sync_calls(), 3u);
  EXPECT_EQ(fault_env.append_calls(), 3u);

  fault_env.FailNextAtomicWrites(1);
  EXPECT_FALSE(fault_env.WriteFileAtomically(Path("m"), "x").ok());
  EXPECT_FALSE(env_.FileExists(Path("m")));
  EXPECT_TRUE(fault_env.WriteFileAtomically(Path("m"), "x").ok());

  fault_env.FailNextDirSyncs(1);
  EXPECT_FALSE(fault_env.SyncDir(dir_).ok());
  EXPECT_TRUE(fault_env.SyncDir(dir_).ok());

  fault_env.FailNextAppends(5);
  fault_env.ClearFailures();
  EXPECT_TRUE((*file)->Append("ok").ok());
}

TEST_F(EnvTest, RenameCarriesTrackingToTheNewName) {
  FaultInjectionEnv fault_env(env_);
  {
    auto file = fault_env.NewAppendableFile(Path("a"));
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE(fault_env.SyncDir(dir_).ok());
    ASSERT_TRUE((*file)->Append("keep").ok());
    ASSERT_TRUE((*file)->Sync().ok());
    ASSERT_TRUE((*file)->Append("drop").ok());
  }
  ASSERT_TRUE(fault_env.RenameFile(Path("a"), Path("b")).ok());
  ASSERT_TRUE(fault_env.DropUnsyncedData().ok());
  EXPECT_EQ(*env_.ReadFile(Path("b")), "keep");
}

}  // namespace
}  // namespace ragline::store
