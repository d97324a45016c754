// The server's expiry against a clock the test steps (docs/EXPIRY.md "Clocks"): a jump
// forward expires exactly the keys whose time it passes, and the active expirer deletes
// them from the engine; a jump back revives nothing; WATCH sees a key expire.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "server/server_fixture.h"

namespace kvs::testing {
namespace {

class ExpiryTest : public InProcessServerTest {
 protected:

  // Waits until the engine holds `n` keys (the expirer deleted the others); false after 30 s.
  bool WaitForEngineKeys(uint64_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (engine_.Stats().keys == n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }
};

TEST_F(ExpiryTest, AJumpForwardExpiresOnlyTheKeysItPasses) {
  StartServer();
  Conn c(port_);
  ASSERT_EQ(c.Call({"SET", "soon", "v", "PX", "10000"}), "+OK\r\n");
  ASSERT_EQ(c.Call({"SET", "later", "v", "EX", "1000"}), "+OK\r\n");
  ASSERT_EQ(c.Call({"SET", "never", "v"}), "+OK\r\n");
  clock_offset_ms_ += 20'000;
  EXPECT_EQ(c.Call({"GET", "soon"}), "$-1\r\n");
  EXPECT_EQ(c.Call({"EXISTS", "soon", "later", "never"}), ":2\r\n");
  EXPECT_EQ(c.Call({"TTL", "soon"}), ":-2\r\n");
  EXPECT_EQ(c.Call({"TTL", "later"}), ":980\r\n");
  EXPECT_EQ(c.Call({"DBSIZE"}), ":2\r\n");
  // The expirer deletes it from the engine too, and counts it.
  ASSERT_TRUE(WaitForEngineKeys(2));
  EXPECT_EQ(Stored("soon"), "NotFound: Key not found");
  EXPECT_EQ(InfoField(c, "expired_keys"), 1u);
  EXPECT_EQ(c.Call({"GET", "later"}), "$1\r\nv\r\n");
}

TEST_F(ExpiryTest, AJumpBackRevivesNothing) {
  StartServer();
  Conn c(port_);
  ASSERT_EQ(c.Call({"SET", "k", "v", "PX", "5000"}), "+OK\r\n");
  clock_offset_ms_ += 10'000;
  EXPECT_EQ(c.Call({"GET", "k"}), "$-1\r\n");
  clock_offset_ms_ -= 3'600'000;  // an hour back: kvs's time stays where it was
  EXPECT_EQ(c.Call({"GET", "k"}), "$-1\r\n");
  EXPECT_EQ(c.Call({"EXISTS", "k"}), ":0\r\n");
  // New TTLs count from kvs's time, which waits for the wall clock to catch up.
  ASSERT_EQ(c.Call({"SET", "n", "v", "EX", "100"}), "+OK\r\n");
  EXPECT_EQ(c.Call({"TTL", "n"}), ":100\r\n");
  ASSERT_TRUE(WaitForEngineKeys(1));
}

TEST_F(ExpiryTest, TheExpirerReclaimsManyKeysInRounds) {
  StartServer();
  Conn c(port_);
  constexpr int kKeys = 20'000;
  std::string pipeline;
  for (int i = 0; i < kKeys; ++i) {
    pipeline += Resp({"SET", "k" + std::to_string(i), "v", "PX", "1000"});
  }
  c.Send(pipeline);
  for (int i = 0; i < kKeys; ++i) ASSERT_EQ(c.ReadLine(), "+OK\r");
  ASSERT_EQ(c.Call({"SET", "keep", "v"}), "+OK\r\n");
  clock_offset_ms_ += 2'000;
  EXPECT_EQ(c.Call({"DBSIZE"}), ":1\r\n");
  ASSERT_TRUE(WaitForEngineKeys(1));
  // At least once each (a key deleted twice by racing cycles is counted twice: harmless).
  EXPECT_GE(InfoField(c, "expired_keys"), static_cast<uint64_t>(kKeys));
  EXPECT_EQ(c.Call({"GET", "keep"}), "$1\r\nv\r\n");
}

TEST_F(ExpiryTest, AWriteAfterExpiryIsNotDeletedByTheExpirer) {
  StartServer();
  Conn c(port_);
  ASSERT_EQ(c.Call({"SET", "k", "old", "PX", "1000"}), "+OK\r\n");
  clock_offset_ms_ += 2'000;
  ASSERT_EQ(c.Call({"SET", "k", "new"}), "+OK\r\n");
  // Give the expirer cycles enough to have looked at the old record, then check.
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    ASSERT_EQ(c.Call({"GET", "k"}), "$3\r\nnew\r\n");
  }
  EXPECT_EQ(Stored("k"), "new");
}

TEST_F(ExpiryTest, ExecFailsWhenAWatchedKeyExpires) {
  StartServer();
  Conn c(port_);
  ASSERT_EQ(c.Call({"SET", "k", "1", "PX", "5000"}), "+OK\r\n");
  ASSERT_EQ(c.Call({"WATCH", "k"}), "+OK\r\n");
  clock_offset_ms_ += 10'000;
  ASSERT_EQ(c.Call({"MULTI"}), "+OK\r\n");
  ASSERT_EQ(c.Call({"INCR", "k"}), "+QUEUED\r\n");
  EXPECT_EQ(c.Call({"EXEC"}), "*-1\r\n");
  // A key expired before WATCH, deleted after it, changes nothing.
  ASSERT_EQ(c.Call({"SET", "s", "1", "PX", "1000"}), "+OK\r\n");
  clock_offset_ms_ += 2'000;
  ASSERT_EQ(c.Call({"WATCH", "s"}), "+OK\r\n");
  ASSERT_TRUE(WaitForEngineKeys(0));
  ASSERT_EQ(c.Call({"MULTI"}), "+OK\r\n");
  ASSERT_EQ(c.Call({"PING"}), "+QUEUED\r\n");
  EXPECT_EQ(c.Call({"EXEC"}), "*1\r\n+PONG\r\n");
}

}  // namespace
}  // namespace kvs::testing
