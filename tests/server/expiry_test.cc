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

// One whole RESP reply as sent (bulk strings and arrays read in full); "" on a timeout.
std::string ReadReply(Conn& c) {
  std::optional<std::string> line = c.ReadLine();
  if (!line) return "";
  std::string out = *line + "\n";
  const bool counted = !line->empty() && ((*line)[0] == '$' || (*line)[0] == '*');
  const long n = counted ? std::stol(line->substr(1)) : -1;
  if ((*line)[0] == '$' && n >= 0) {
    out += c.ReadN(static_cast<size_t>(n) + 2).value_or("");
  } else if ((*line)[0] == '*') {
    for (long i = 0; i < n; ++i) out += ReadReply(c);
  }
  return out;
}

class ExpiryTest : public InProcessServerTest {
 protected:
  static std::string Call(Conn& c, const std::string& request) {
    c.Send(request);
    return ReadReply(c);
  }

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
  ASSERT_EQ(Call(c, Resp({"SET", "soon", "v", "PX", "10000"})), "+OK\r\n");
  ASSERT_EQ(Call(c, Resp({"SET", "later", "v", "EX", "1000"})), "+OK\r\n");
  ASSERT_EQ(Call(c, Resp({"SET", "never", "v"})), "+OK\r\n");
  clock_offset_ms_ += 20'000;
  EXPECT_EQ(Call(c, Resp({"GET", "soon"})), "$-1\r\n");
  EXPECT_EQ(Call(c, Resp({"EXISTS", "soon", "later", "never"})), ":2\r\n");
  EXPECT_EQ(Call(c, Resp({"TTL", "soon"})), ":-2\r\n");
  EXPECT_EQ(Call(c, Resp({"TTL", "later"})), ":980\r\n");
  EXPECT_EQ(Call(c, Resp({"DBSIZE"})), ":2\r\n");
  // The expirer deletes it from the engine too, and counts it.
  ASSERT_TRUE(WaitForEngineKeys(2));
  EXPECT_EQ(Stored("soon"), "NotFound: Key not found");
  EXPECT_EQ(InfoField(c, "expired_keys"), 1u);
  EXPECT_EQ(Call(c, Resp({"GET", "later"})), "$1\r\nv\r\n");
}

TEST_F(ExpiryTest, AJumpBackRevivesNothing) {
  StartServer();
  Conn c(port_);
  ASSERT_EQ(Call(c, Resp({"SET", "k", "v", "PX", "5000"})), "+OK\r\n");
  clock_offset_ms_ += 10'000;
  EXPECT_EQ(Call(c, Resp({"GET", "k"})), "$-1\r\n");
  clock_offset_ms_ -= 3'600'000;  // an hour back: kvs's time stays where it was
  EXPECT_EQ(Call(c, Resp({"GET", "k"})), "$-1\r\n");
  EXPECT_EQ(Call(c, Resp({"EXISTS", "k"})), ":0\r\n");
  // New TTLs count from kvs's time, which waits for the wall clock to catch up.
  ASSERT_EQ(Call(c, Resp({"SET", "n", "v", "EX", "100"})), "+OK\r\n");
  EXPECT_EQ(Call(c, Resp({"TTL", "n"})), ":100\r\n");
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
  ASSERT_EQ(Call(c, Resp({"SET", "keep", "v"})), "+OK\r\n");
  clock_offset_ms_ += 2'000;
  EXPECT_EQ(Call(c, Resp({"DBSIZE"})), ":1\r\n");
  ASSERT_TRUE(WaitForEngineKeys(1));
  EXPECT_EQ(InfoField(c, "expired_keys"), static_cast<uint64_t>(kKeys));
  EXPECT_EQ(Call(c, Resp({"GET", "keep"})), "$1\r\nv\r\n");
}

TEST_F(ExpiryTest, AWriteAfterExpiryIsNotDeletedByTheExpirer) {
  StartServer();
  Conn c(port_);
  ASSERT_EQ(Call(c, Resp({"SET", "k", "old", "PX", "1000"})), "+OK\r\n");
  clock_offset_ms_ += 2'000;
  ASSERT_EQ(Call(c, Resp({"SET", "k", "new"})), "+OK\r\n");
  // Give the expirer cycles enough to have looked at the old record, then check.
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    ASSERT_EQ(Call(c, Resp({"GET", "k"})), "$3\r\nnew\r\n");
  }
  EXPECT_EQ(Stored("k"), "new");
}

TEST_F(ExpiryTest, ExecFailsWhenAWatchedKeyExpires) {
  StartServer();
  Conn c(port_);
  ASSERT_EQ(Call(c, Resp({"SET", "k", "1", "PX", "5000"})), "+OK\r\n");
  ASSERT_EQ(Call(c, Resp({"WATCH", "k"})), "+OK\r\n");
  clock_offset_ms_ += 10'000;
  ASSERT_EQ(Call(c, Resp({"MULTI"})), "+OK\r\n");
  ASSERT_EQ(Call(c, Resp({"INCR", "k"})), "+QUEUED\r\n");
  EXPECT_EQ(Call(c, Resp({"EXEC"})), "*-1\r\n");
  // A key expired before WATCH, deleted after it, changes nothing.
  ASSERT_EQ(Call(c, Resp({"SET", "s", "1", "PX", "1000"})), "+OK\r\n");
  clock_offset_ms_ += 2'000;
  ASSERT_EQ(Call(c, Resp({"WATCH", "s"})), "+OK\r\n");
  ASSERT_TRUE(WaitForEngineKeys(0));
  ASSERT_EQ(Call(c, Resp({"MULTI"})), "+OK\r\n");
  ASSERT_EQ(Call(c, Resp({"PING"})), "+QUEUED\r\n");
  EXPECT_EQ(Call(c, Resp({"EXEC"})), "*1\r\n+PONG\r\n");
}

}  // namespace
}  // namespace kvs::testing
