// Env's own behaviour over the real file system (PosixEnv): what its calls make durable.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>

#include "store/data_dir.h"
#include "store/dir_sync_env.h"
#include "store/test_util.h"

namespace kvs {
namespace {

using testing::DirSyncEnv;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::TempDir;

// mkdir -p a/b/c: each new directory's entry is in its parent, durable only once the parent
// is fsynced. A directory that was there already costs no sync.
TEST(EnvTest, CreateDirSyncsTheParentOfEveryDirectoryItCreates) {
  TempDir tmp;
  DirSyncEnv env;
  ASSERT_TRUE(env.CreateDir(tmp.File("a/b/c")).ok());
  EXPECT_TRUE(std::filesystem::is_directory(tmp.File("a/b/c")));
  EXPECT_THAT(env.synced(), ElementsAre(tmp.path(), tmp.File("a"), tmp.File("a/b")));

  DirSyncEnv again;
  ASSERT_TRUE(again.CreateDir(tmp.File("a/b/c/")).ok());
  EXPECT_THAT(again.synced(), IsEmpty());
}

TEST(EnvTest, CreateDirReportsAFailedParentSync) {
  TempDir tmp;
  DirSyncEnv env;
  env.FailDirSyncs(EIO);
  Status s = env.CreateDir(tmp.File("new"));
  EXPECT_EQ(s.err_no(), EIO) << s.ToString();
}

TEST(EnvTest, CreateDirRefusesAFileInTheWay) {
  TempDir tmp;
  ASSERT_TRUE(WriteFileAtomic(Env::Default(), tmp.path(), "file", "x").ok());
  EXPECT_TRUE(Env::Default()->CreateDir(tmp.File("file")).IsInvalidArgument());
  EXPECT_FALSE(Env::Default()->CreateDir(tmp.File("file/below")).ok());
}

// The data directory of a first start: its entry in the parent is durable before the
// server says it started.
TEST(EnvTest, NewDataDirectoryIsSyncedIntoItsParent) {
  TempDir tmp;
  DirSyncEnv env;
  auto dir = DataDir::Open(&env, tmp.File("data"), "kvs");
  ASSERT_TRUE(dir.ok()) << dir.status().ToString();
  const std::vector<std::string> synced = env.synced();
  ASSERT_FALSE(synced.empty());
  EXPECT_EQ(synced.front(), tmp.path());  // before ENGINE is written into it
}

}  // namespace
}  // namespace kvs
