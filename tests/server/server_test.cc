// kvs::Server in-process: dispatch of JSON and RESP requests, per-connection reply order,
// and the limits (max_clients, the connection buffer bound, key and value sizes). The
// group commit has its own file (group_commit_test.cc).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/server_fixture.h"

namespace kvs::testing {
namespace {

using ServerTest = InProcessServerTest;

// ---- Dispatch ------------------------------------------------------------------------

TEST_F(ServerTest, JsonRequestsGetTheirReplies) {
  StartServer();
  Conn c(port_);
  ASSERT_TRUE(c.ok());
  c.Send(kJsonPing);
  EXPECT_EQ(c.ReadLine(), kJsonOk);
  c.Send(GetJson("k"));
  EXPECT_EQ(c.ReadLine(), kJsonNull);
  c.Send(SetJson("k", "v1"));
  EXPECT_EQ(c.ReadLine(), kJsonOk);
  c.Send(GetJson("k"));
  EXPECT_EQ(c.ReadLine(), ValueReply("v1"));
  c.Send(RmJson("k"));
  EXPECT_EQ(c.ReadLine(), kJsonOk);
  c.Send(RmJson("k"));
  EXPECT_EQ(c.ReadLine(), kJsonNotFound);
  c.Send(std::string(R"({"Set":{"key":"old","value":"shape"}})") + "\n");
  EXPECT_EQ(c.ReadLine(), R"({"Ok":null})");
  c.Send(std::string(R"({"Get":{"key":"old"}})") + "\n");
  EXPECT_EQ(c.ReadLine(), R"({"Ok":"shape"})");
  EXPECT_EQ(Stored("old"), "shape");
}

TEST_F(ServerTest, RespRequestsGetTheirReplies) {
  StartServer();
  Conn c(port_);
  ASSERT_TRUE(c.ok());
  c.Send("*1\r\n$4\r\nPING\r\n");
  EXPECT_EQ(c.ReadLine(), "+PONG\r");
  c.Send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\r\n\r\n");  // binary-safe: the value holds CRLF
  EXPECT_EQ(c.ReadLine(), "+OK\r");
  c.Send("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
  EXPECT_EQ(c.ReadN(9), "$3\r\nv\r\n\r\n");
  c.Send("*3\r\n$6\r\nEXISTS\r\n$1\r\nk\r\n$7\r\nmissing\r\n");
  EXPECT_EQ(c.ReadLine(), ":1\r");
  c.Send("*1\r\n$6\r\nDBSIZE\r\n");
  EXPECT_EQ(c.ReadLine(), ":1\r");
  c.Send("*3\r\n$3\r\nDEL\r\n$1\r\nk\r\n$7\r\nmissing\r\n");
  EXPECT_EQ(c.ReadLine(), ":1\r");
  c.Send("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
  EXPECT_EQ(c.ReadLine(), "$-1\r");
}

TEST_F(ServerTest, UnknownJsonOpGetsAnErrorAndTheConnectionGoesOn) {
  StartServer();
  Conn c(port_);
  c.Send(std::string(R"({"op":"bogus","key":"k"})") + "\n");
  EXPECT_EQ(c.ReadLine(), R"({"ok":false,"error":"unknown op \"bogus\""})");
  c.Send(kJsonPing);
  EXPECT_EQ(c.ReadLine(), kJsonOk);
}

TEST_F(ServerTest, UnknownRespCommandGetsAnErrorAndTheConnectionGoesOn) {
  StartServer();
  Conn c(port_);
  c.Send("*2\r\n$3\r\nFOO\r\n$1\r\na\r\n");
  EXPECT_EQ(c.ReadLine(), "-ERR unknown command 'FOO', with args beginning with: 'a' \r");
  c.Send("*1\r\n$4\r\nPING\r\n");
  EXPECT_EQ(c.ReadLine(), "+PONG\r");
}

// The empty key is never stored, so DEL of it removes nothing (as in Redis); it must not
// reach the engine, which refuses the op and with it every write of the batch.
TEST_F(ServerTest, DelOfTheEmptyKeyRemovesNothingAndFailsNoOtherWrite) {
  StartServer();
  Conn c(port_);
  c.Send(Resp({"SET", "k", "v"}) + Resp({"DEL", ""}) + Resp({"DEL", "", "k"}) + Resp({"GET", ""}));
  EXPECT_EQ(c.ReadLine(), "+OK\r");
  EXPECT_EQ(c.ReadLine(), ":0\r");
  EXPECT_EQ(c.ReadLine(), ":1\r");
  EXPECT_EQ(c.ReadLine(), "$-1\r");
}

// Bad RESP framing cannot be resynchronised: the error, then the connection is closed.
TEST_F(ServerTest, RespProtocolErrorGetsAnErrorAndClosesTheConnection) {
  StartServer();
  Conn c(port_);
  c.Send("*1\r\n+PING\r\n");
  EXPECT_EQ(c.ReadAll(), "-ERR Protocol error: expected '$', got '+'\r\n");
  EXPECT_TRUE(c.peer_closed());
}

// ---- Ordering ------------------------------------------------------------------------

// Reads and writes of one connection, pipelined in one send, take effect and are answered
// in request order, although reads run on the pool and writes in the group commit.
TEST_F(ServerTest, PipelinedMixedReadsAndWritesAreAnsweredInOrder) {
  StartServer();
  Conn json(port_), resp(port_);
  constexpr int kRounds = 50;
  std::string burst, resp_burst;
  for (int i = 0; i < kRounds; ++i) {
    const std::string k = "k" + std::to_string(i), v = "v" + std::to_string(i);
    burst += SetJson(k, v) + GetJson(k) + RmJson(k) + GetJson(k) + RmJson(k) + SetJson(k, v);
    const std::string rk = "r" + std::to_string(i);
    resp_burst += Resp({"SET", rk, "x"}) + Resp({"DEL", rk}) + Resp({"EXISTS", rk});
  }
  json.Send(burst);
  resp.Send(resp_burst);
  for (int i = 0; i < kRounds; ++i) {
    const std::string v = "v" + std::to_string(i);
    ASSERT_EQ(json.ReadLine(), kJsonOk) << i;
    ASSERT_EQ(json.ReadLine(), ValueReply(v)) << i;
    ASSERT_EQ(json.ReadLine(), kJsonOk) << i;
    ASSERT_EQ(json.ReadLine(), kJsonNull) << i;
    ASSERT_EQ(json.ReadLine(), kJsonNotFound) << i;
    ASSERT_EQ(json.ReadLine(), kJsonOk) << i;
    ASSERT_EQ(resp.ReadLine(), "+OK\r") << i;
    ASSERT_EQ(resp.ReadLine(), ":1\r") << i;
    ASSERT_EQ(resp.ReadLine(), ":0\r") << i;
  }
  EXPECT_EQ(engine_.Stats().keys, size_t{kRounds});
}

// ---- Limits --------------------------------------------------------------------------

TEST_F(ServerTest, ConnectionOverMaxClientsGetsTheErrorInItsProtocolAndIsClosed) {
  ServerConfig config;
  config.max_clients = 2;
  StartServer(config);
  Conn a(port_), b(port_);
  a.Send(kJsonPing);
  ASSERT_EQ(a.ReadLine(), kJsonOk);
  b.Send("*1\r\n$4\r\nPING\r\n");
  ASSERT_EQ(b.ReadLine(), "+PONG\r");

  Conn json(port_);
  json.Send(kJsonPing);
  EXPECT_EQ(json.ReadAll(), "{\"ok\":false,\"error\":\"max number of clients reached\"}\n");
  EXPECT_TRUE(json.peer_closed());
  Conn resp(port_);
  resp.Send("*1\r\n$4\r\nPING\r\n");
  EXPECT_EQ(resp.ReadAll(), "-ERR max number of clients reached\r\n");
  EXPECT_TRUE(resp.peer_closed());

  a.Send(SetJson("k", "v"));
  EXPECT_EQ(a.ReadLine(), kJsonOk);
}

// Small limits keep the buffers small: a maximal request is 16 + 1024 bytes plus 1024 of
// syntax, so a connection may buffer 2 * 2064 bytes.
ServerConfig SmallLimits() {
  ServerConfig config;
  config.limits.max_key_bytes = 16;
  config.limits.max_value_bytes = 1024;
  config.max_connection_buffer_bytes = 1;  // raised to two maximal requests
  return config;
}

TEST_F(ServerTest, UnparsedInputPastTheBufferBoundClosesOnlyThatConnection) {
  StartServer(SmallLimits());
  Conn greedy(port_), other(port_);
  // Shorter than the longest legal JSON line (6 * (16 + 1024) + 1024 bytes), so the
  // decoder waits for its end, but longer than the connection may buffer.
  greedy.Send(R"({"op":"set","key":"k","value":")" + std::string(5000, ' '));
  EXPECT_EQ(greedy.ReadAll(), "");
  EXPECT_TRUE(greedy.peer_closed());
  other.Send(SetJson("k", "v"));
  EXPECT_EQ(other.ReadLine(), kJsonOk);
}

TEST_F(ServerTest, OversizedKeyOrValueGetsAnErrorAndIsNotWritten) {
  StartServer(SmallLimits());
  Conn c(port_);
  const std::string max_key(16, 'k'), long_key(17, 'k');
  c.Send(SetJson(long_key, "v"));
  EXPECT_EQ(c.ReadLine(), R"j({"ok":false,"error":"key too long: 17 bytes (limit 16)"})j");
  c.Send(SetJson("k", std::string(1025, 'v')));
  EXPECT_EQ(c.ReadLine(), R"j({"ok":false,"error":"value too long: 1025 bytes (limit 1024)"})j");
  Conn resp(port_);
  resp.Send("*3\r\n$3\r\nSET\r\n$17\r\n" + long_key + "\r\n$1\r\nv\r\n");
  EXPECT_EQ(resp.ReadLine(), "-ERR key too long: 17 bytes (limit 16)\r");
  // At the limits exactly: accepted.
  c.Send(SetJson(max_key, std::string(1024, 'v')));
  EXPECT_EQ(c.ReadLine(), kJsonOk);
  c.Send(GetJson(long_key));
  EXPECT_EQ(c.ReadLine(), R"j({"ok":false,"error":"key too long: 17 bytes (limit 16)"})j");
  EXPECT_EQ(engine_.batch_sizes(), std::vector<size_t>{1});
  EXPECT_EQ(Stored(max_key), std::string(1024, 'v'));
}

// A transaction's queue is bounded like the connection's buffers: past the bound a command
// is refused, and EXEC aborts the whole transaction; nothing of it is written.
TEST_F(ServerTest, MultiQueueIsBoundedAndExecAbortsPastIt) {
  StartServer(SmallLimits());  // buffers of 2 * 2064 bytes
  Conn c(port_);
  c.Send(Resp({"MULTI"}));
  EXPECT_EQ(c.ReadLine(), "+OK\r");
  const std::string value(1000, 'v');
  int queued = 0;
  for (;; ++queued) {
    c.Send(Resp({"SET", "k" + std::to_string(queued), value}));
    const std::optional<std::string> reply = c.ReadLine();
    ASSERT_TRUE(reply);
    if (*reply != "+QUEUED\r") {
      EXPECT_EQ(reply->rfind("-ERR MULTI queue over ", 0), 0u) << *reply;
      break;
    }
    ASSERT_LT(queued, 100) << "the queue never filled";
  }
  EXPECT_GT(queued, 0);
  c.Send(Resp({"EXEC"}));
  EXPECT_EQ(c.ReadLine(), "-EXECABORT Transaction discarded because of previous errors.\r");
  EXPECT_EQ(Stored("k0"), "NotFound: Key not found");
  EXPECT_TRUE(engine_.batch_sizes().empty() || engine_.batch_sizes().back() == 0);
}

}  // namespace
}  // namespace kvs::testing
