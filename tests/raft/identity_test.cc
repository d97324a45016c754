// Unit tests of the engine/log identity check (raft/identity.h), one case per start it
// tells apart, on a real temporary directory.

#include "raft/identity.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace kvs::raft {
namespace {

class IdentityTest : public ::testing::Test {
 protected:
  IdentityTest() {
    char tmpl[] = "/tmp/kvs-identity-XXXXXX";
    data_ = ::mkdtemp(tmpl);
    raft_ = data_ + "/raft";
  }
  ~IdentityTest() override { std::filesystem::remove_all(data_); }

  Status Check(uint64_t node, uint64_t keys) {
    return CheckIdentity(Env::Default(), data_, raft_, node, keys);
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static void Write(const std::string& path, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << text;
  }
  std::string EngineFile() const { return data_ + "/CLUSTER"; }
  std::string RaftFile() const { return raft_ + "/CLUSTER"; }

  std::string data_;
  std::string raft_;
};

TEST_F(IdentityTest, AFirstStartWritesTheSameIdentityInBothDirectories) {
  ASSERT_TRUE(Check(2, 0).ok());
  const std::string text = Read(EngineFile());
  EXPECT_EQ(text.size(), std::string("log 0123456789abcdef\nnode 2\n").size()) << text;
  EXPECT_EQ(Read(RaftFile()), text);
  EXPECT_TRUE(Check(2, 5).ok());  // every later start, with data
  EXPECT_EQ(Read(EngineFile()), text);
}

TEST_F(IdentityTest, AnotherNodesDirectoryIsRefused) {
  ASSERT_TRUE(Check(2, 0).ok());
  Status s = Check(3, 5);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("belongs to cluster node 2, not to --node-id 3"), std::string::npos)
      << s.ToString();
}

TEST_F(IdentityTest, AStandaloneDataDirectoryIsRefused) {
  Status s = Check(1, 3);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("holds 3 keys but no Raft state"), std::string::npos) << s.ToString();
  EXPECT_FALSE(std::filesystem::exists(EngineFile()));
  EXPECT_FALSE(std::filesystem::exists(RaftFile()));
}

TEST_F(IdentityTest, AWipedRaftDirectoryIsRefused) {
  ASSERT_TRUE(Check(1, 0).ok());
  std::filesystem::remove_all(raft_);
  Status s = Check(1, 7);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("is empty (wiped?)"), std::string::npos) << s.ToString();
  // Even with an empty engine: its identity says it had a log.
  EXPECT_TRUE(Check(1, 0).IsInvalidArgument());
}

TEST_F(IdentityTest, ARaftDirectoryOfAnotherLogIsRefused) {
  ASSERT_TRUE(Check(1, 0).ok());
  Write(RaftFile(), "log 00000000000000ff\nnode 1\n");
  Status s = Check(1, 7);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("belong to different Raft logs"), std::string::npos) << s.ToString();
}

TEST_F(IdentityTest, AnEmptyEngineBesideItsLogTakesTheLogsIdentity) {
  // A first start that crashed between the two writes, or a replaced engine directory: the
  // Raft node rebuilds the engine from its snapshot and log.
  Write(RaftFile(), "log 00000000000000ff\nnode 1\n");
  Write(raft_ + "/metadata1", "x");
  ASSERT_TRUE(Check(1, 0).ok());
  EXPECT_EQ(Read(EngineFile()), "log 00000000000000ff\nnode 1\n");
  // With keys that did not come from the log, it refuses.
  std::filesystem::remove(EngineFile());
  EXPECT_TRUE(Check(1, 4).IsInvalidArgument());
}

TEST_F(IdentityTest, RaftStateFromBeforeIdentitiesIsAdopted) {
  Write(raft_ + "/metadata1", "x");
  ASSERT_TRUE(Check(1, 9).ok());
  EXPECT_EQ(Read(EngineFile()), Read(RaftFile()));
  EXPECT_TRUE(Check(1, 9).ok());
}

TEST_F(IdentityTest, AMalformedIdentityIsCorruption) {
  Write(EngineFile(), "log\nnode 1\n");
  EXPECT_TRUE(Check(1, 0).IsCorruption());
  Write(EngineFile(), "log 00ff\nnode x\n");
  EXPECT_TRUE(Check(1, 0).IsCorruption());
}

}  // namespace
}  // namespace kvs::raft
