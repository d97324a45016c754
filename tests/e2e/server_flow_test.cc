// kvs-server's request flow from the outside: per-connection ordering across the pool and
// the group commit, shutdown with work in flight, fsync modes, and the per-connection
// limits (idle clients, clients that never read).

#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "e2e/server_fixture.h"

namespace kvs::e2e {
namespace {

using ::testing::HasSubstr;

std::string JsonSet(const std::string& key, const std::string& value) {
  return R"({"op":"set","key":")" + key + R"(","value":")" + value + "\"}\n";
}
std::string JsonGet(const std::string& key) { return R"({"op":"get","key":")" + key + "\"}\n"; }

TEST_F(ServerTest, ReadsAndWritesOfOneConnectionTakeEffectInOrder) {
  auto server = Start();
  Conn c(port_);
  // One burst: a GET before a SET sees the old value, the GET behind it the new one, even
  // though GETs run on the pool and the SET waits for its fdatasync.
  std::string burst = JsonSet("k", "old");
  for (int i = 0; i < 100; ++i) {
    burst += JsonGet("k") + JsonSet("k", "v" + std::to_string(i)) + JsonGet("k");
  }
  c.Send(burst);
  EXPECT_EQ(c.ReadLine(), R"({"ok":true})");
  std::string previous = "old";
  for (int i = 0; i < 100; ++i) {
    const std::string now = "v" + std::to_string(i);
    ASSERT_EQ(c.ReadLine(), R"({"ok":true,"value":")" + previous + "\"}") << i;
    ASSERT_EQ(c.ReadLine(), R"({"ok":true})") << i;
    ASSERT_EQ(c.ReadLine(), R"({"ok":true,"value":")" + now + "\"}") << i;
    previous = now;
  }
}

TEST_F(ServerTest, PipelinedRespMixIsAnsweredInOrderAcrossConnections) {
  auto server = Start();
  constexpr int kConns = 8, kRounds = 50;
  std::vector<std::thread> threads;
  std::vector<std::string> failures(kConns);
  for (int t = 0; t < kConns; ++t) {
    threads.emplace_back([&, t] {
      Conn c(port_);
      const std::string key = "key" + std::to_string(t);
      std::string burst;
      for (int i = 0; i < kRounds; ++i) {
        burst += RespCommand({"SET", key, std::to_string(i)}) + RespCommand({"GET", key}) +
                 RespCommand({"EXISTS", key, "nope"}) + RespCommand({"PING"});
      }
      burst += RespCommand({"DEL", key, "nope"}) + RespCommand({"GET", key});
      c.Send(burst);
      std::string expected;
      for (int i = 0; i < kRounds; ++i) {
        const std::string v = std::to_string(i);
        expected += "+OK\r\n$" + std::to_string(v.size()) + "\r\n" + v + "\r\n:1\r\n+PONG\r\n";
      }
      expected += ":1\r\n$-1\r\n";
      std::optional<std::string> got = c.ReadN(expected.size(), 60);
      if (got != expected) failures[t] = got.value_or("<closed or timed out>");
    });
  }
  for (auto& t : threads) t.join();
  for (int t = 0; t < kConns; ++t) EXPECT_EQ(failures[t], "") << "connection " << t;
}

TEST_F(ServerTest, SigtermAnswersReceivedWritesAndKeepsThem) {
  auto server = Start();
  Conn c(port_);
  constexpr int kWrites = 2000;
  std::string burst;
  for (int i = 0; i < kWrites; ++i) burst += JsonSet("s" + std::to_string(i), std::to_string(i));
  c.Send(burst);
  ASSERT_EQ(c.ReadLine(), R"({"ok":true})");  // the server is busy with the burst
  ::kill(server->pid(), SIGTERM);
  int acknowledged = 1;
  while (auto line = c.ReadLine(30)) {
    ASSERT_EQ(*line, R"({"ok":true})");
    ++acknowledged;
  }
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Stderr();
  server = Start();
  for (int i = 0; i < acknowledged; i += std::max(1, acknowledged / 50)) {
    EXPECT_EQ(Client({"get", "s" + std::to_string(i)}).out, std::to_string(i) + "\n") << i;
  }
  EXPECT_EQ(Client({"get", "s" + std::to_string(acknowledged - 1)}).out,
            std::to_string(acknowledged - 1) + "\n");
}

TEST_F(ServerTest, PeriodicAndNeverFsyncServeAndPersistOnCleanStop) {
  for (const char* mode : {"periodic", "never"}) {
    auto server = Start({"--fsync", mode});
    ASSERT_EQ(Client({"set", mode, "yes"}).exit_code, 0) << mode;
    EXPECT_EQ(Client({"get", mode}).out, "yes\n") << mode;
    EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Stderr();
  }
  auto server = Start();
  EXPECT_EQ(Client({"get", "periodic"}).out, "yes\n");
  EXPECT_EQ(Client({"get", "never"}).out, "yes\n");
}

TEST_F(ServerTest, IdleConnectionsAreClosed) {
  auto server = Start({"--idle-timeout", "1"});
  Conn idle(port_);
  EXPECT_EQ(idle.ReadAll(20), "");  // closed by the server, well before 20 s
  Conn busy(port_);
  busy.Send(R"({"op":"ping"})" "\n");
  EXPECT_EQ(busy.ReadLine(), R"({"ok":true})");
  EXPECT_TRUE(server->running());
}

TEST_F(ServerTest, AClientThatNeverReadsIsClosedAndOthersGoOn) {
  auto server = Start();
  Conn greedy(port_);
  greedy.Send(JsonSet("big", std::string(1 << 20, 'x')));
  ASSERT_EQ(greedy.ReadLine(), R"({"ok":true})");
  std::string burst;
  for (int i = 0; i < 200; ++i) burst += JsonGet("big");  // 200 MiB of replies, never read
  greedy.Send(burst);
  Conn other(port_);
  other.Send(JsonSet("small", "ok"));
  EXPECT_EQ(other.ReadLine(), R"({"ok":true})");
  // The greedy connection is cut off once its unsent replies pass the bound.
  for (int i = 0; i < 600 && server->running(); ++i) {  // up to 60 s under ASan
    if (server->Stderr().find("does not read its replies") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_THAT(server->Stderr(), HasSubstr("does not read its replies"));
  EXPECT_TRUE(server->running());
  EXPECT_EQ(Client({"get", "small"}).out, "ok\n");
}

TEST_F(ServerTest, AMissingNestedDataDirectoryIsCreated) {
  port_ = FreePort();
  const std::string nested = dir_.File("a/b/c");
  ServerProcess server({"--addr", Addr(), "--data-dir", nested});
  ASSERT_TRUE(WaitForPort(port_)) << server.Stderr();
  EXPECT_EQ(Client({"set", "k", "v"}).exit_code, 0);
  EXPECT_EQ(server.Stop(SIGTERM), 0);
  EXPECT_TRUE(std::filesystem::exists(nested + "/ENGINE"));
}

// Regression: when the loop failed, the stop-signal thread, woken only so that the process
// could exit, logged "received SIGTERM" although no one had sent a signal. The loop is made
// to fail by a launcher under which io_uring_setup(2) fails, after everything before the
// loop (engine, port) worked.
TEST_F(ServerTest, ALoopErrorIsReportedAsSuchAndNotAsASignal) {
  port_ = FreePort();
  ServerProcess server({"--addr", Addr(), "--data-dir", dir_.path()}, {}, {KVS_DENY_IO_URING});
  const std::optional<int> code = server.WaitExit(60);
  const std::string log = server.Stderr();
  ASSERT_TRUE(code.has_value()) << "still running without io_uring: " << log;
  ASSERT_THAT(log, HasSubstr("listening on")) << "it failed before its loop ran";
  EXPECT_EQ(*code, 1) << log;
  EXPECT_THAT(log, HasSubstr("the server loop failed, shutting down: "));
  EXPECT_THAT(log, HasSubstr("io_uring_queue_init_params"));
  EXPECT_THAT(log, HasSubstr("server stopped on an error"));
  EXPECT_THAT(log, ::testing::Not(HasSubstr("received SIG"))) << "no signal was sent";
}

}  // namespace
}  // namespace kvs::e2e
