// The server's two ways of doing a write and a read give the same answers:
// - a write batch is written and fdatasynced by the loop itself (--log-write inline, and
//   auto with no lookup in flight) or through io_uring (uring, and auto beside lookups);
// - a few reads of cached data are answered on the loop (--loop-reads); reads of data that
//   is not in the page cache, and all with --loop-reads 0, go to the thread pool.
// INFO's inline_write_batches, reads_on_loop and reads_on_pool say which way was taken.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "e2e/server_fixture.h"

namespace kvs::e2e {
namespace {

uint64_t Field(std::map<std::string, std::string>& fields, const std::string& name) {
  EXPECT_TRUE(fields.count(name)) << name;
  return fields.count(name) ? std::stoull(fields[name]) : 0;
}

class FastPathsTest : public ServerTest {
 protected:
  void SetUp() override { server_ = Start(); }
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(FastPathsTest, WritesByTheLoopItselfAndThroughIoUringAreBothDurable) {
  {
    Conn c(port_);
    for (int i = 0; i < 5; ++i) {
      c.Send(SetJson("inline" + std::to_string(i), "a" + std::to_string(i)));
      ASSERT_EQ(c.ReadLine(), R"({"ok":true})");
    }
  }
  std::map<std::string, std::string> alone = Stats();
  EXPECT_GE(Field(alone, "write_batches"), 5u);
  EXPECT_EQ(Field(alone, "inline_write_batches"), Field(alone, "write_batches"))
      << "with no lookup in flight, auto writes on the loop";

  ASSERT_EQ(server_->Stop(), 0);
  server_ = Start({"--log-write", "uring"});
  {
    Conn c(port_);
    for (int i = 0; i < 5; ++i) {
      c.Send(SetJson("uring" + std::to_string(i), "b" + std::to_string(i)) +
             SetJson("uring-again" + std::to_string(i), "c" + std::to_string(i)));
      ASSERT_EQ(c.ReadLine(), R"({"ok":true})");
      ASSERT_EQ(c.ReadLine(), R"({"ok":true})");
    }
  }
  std::map<std::string, std::string> uring = Stats();
  EXPECT_GE(Field(uring, "write_batches"), 5u);
  EXPECT_EQ(Field(uring, "inline_write_batches"), 0u);

  // Both ways wrote durably and in order: everything is there after a restart.
  ASSERT_EQ(server_->Stop(), 0);
  server_ = Start();
  Conn after(port_);
  for (int i = 0; i < 5; ++i) {
    after.Send(GetJson("inline" + std::to_string(i)) + GetJson("uring" + std::to_string(i)) +
               GetJson("uring-again" + std::to_string(i)));
    EXPECT_EQ(after.ReadLine(), ValueReply("a" + std::to_string(i)));
    EXPECT_EQ(after.ReadLine(), ValueReply("b" + std::to_string(i)));
    EXPECT_EQ(after.ReadLine(), ValueReply("c" + std::to_string(i)));
  }
}

TEST_F(FastPathsTest, CachedReadsAreAnsweredOnTheLoopAndEvictedOnesOnThePool) {
  Conn c(port_);
  const std::string big(3000, 'x');  // a page or so per record: eviction is per page
  for (int i = 0; i < 20; ++i) {
    c.Send(SetJson("k" + std::to_string(i), big + std::to_string(i)));
    ASSERT_EQ(c.ReadLine(), R"({"ok":true})");
  }
  for (int i = 0; i < 20; ++i) {
    c.Send(GetJson("k" + std::to_string(i)));
    ASSERT_EQ(c.ReadLine(), ValueReply(big + std::to_string(i)));
  }
  std::map<std::string, std::string> cached = Stats();
  EXPECT_GE(Field(cached, "reads_on_loop"), 20u);
  EXPECT_EQ(Field(cached, "reads_on_pool"), 0u);

  bool evicted = true;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    if (entry.path().extension() == ".log")
      evicted = kvs::testing::EvictFromPageCache(entry.path()) && evicted;
  }
  if (!evicted) GTEST_SKIP() << "the kernel kept the log's pages cached";
  for (int i = 0; i < 20; ++i) {
    c.Send(GetJson("k" + std::to_string(i)));
    ASSERT_EQ(c.ReadLine(), ValueReply(big + std::to_string(i)));
  }
  std::map<std::string, std::string> uncached = Stats();
  EXPECT_GE(Field(uncached, "reads_on_pool"), 1u) << "an evicted record was read on the loop";
  EXPECT_EQ(Field(uncached, "reads_on_loop") + Field(uncached, "reads_on_pool"), 40u);
}

TEST_F(FastPathsTest, WithNoLoopReadsEveryReadGoesToThePool) {
  ASSERT_EQ(server_->Stop(), 0);
  server_ = Start({"--loop-reads", "0"});
  Conn c(port_);
  c.Send(SetJson("k", "v"));
  ASSERT_EQ(c.ReadLine(), R"({"ok":true})");
  for (int i = 0; i < 10; ++i) {
    c.Send(GetJson("k") + GetJson("absent"));
    EXPECT_EQ(c.ReadLine(), ValueReply("v"));
    EXPECT_EQ(c.ReadLine(), R"({"ok":true,"value":null})");
  }
  std::map<std::string, std::string> fields = Stats();
  EXPECT_EQ(Field(fields, "reads_on_loop"), 0u);
  EXPECT_EQ(Field(fields, "reads_on_pool"), 20u);
}

}  // namespace
}  // namespace kvs::e2e
