// kvs-server's behaviour from the outside: start-up contract, persistence, protocols,
// limits, many clients. Each test starts the real binary on a free loopback port.

#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "e2e/server_fixture.h"

namespace kvs::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST_F(ServerTest, StartupLogNamesVersionEngineAddressAndDirectory) {
  auto server = Start();
  const std::string version = RunCommand({BinPath("kvs-server"), "-V"}).out;
  const std::string log = server->Stderr();
  EXPECT_THAT(log, HasSubstr(version.substr(0, version.size() - 1)));
  EXPECT_THAT(log, HasSubstr("kvs"));
  EXPECT_THAT(log, HasSubstr(Addr()));
  EXPECT_THAT(log, HasSubstr(dir_.path()));
  std::ifstream engine(dir_.File("ENGINE"));
  std::string word;
  engine >> word;
  EXPECT_EQ(word, "kvs");
}

TEST_F(ServerTest, SigtermExitsZeroAndDataPersists) {
  auto server = Start();
  ASSERT_EQ(Client({"set", "a", "1"}).exit_code, 0);
  ASSERT_EQ(Client({"set", "b", "2"}).exit_code, 0);
  ASSERT_EQ(Client({"rm", "a"}).exit_code, 0);
  EXPECT_EQ(server->Stop(SIGTERM), 0) << server->Stderr();
  EXPECT_THAT(server->Stderr(), HasSubstr("received SIGTERM, shutting down"));
  server = Start();
  EXPECT_EQ(Client({"get", "a"}).out, "Key not found\n");
  EXPECT_EQ(Client({"get", "b"}).out, "2\n");
}

TEST_F(ServerTest, AcknowledgedWritesSurviveKill9) {
  auto server = Start();
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(Client({"set", "k" + std::to_string(i), "v" + std::to_string(i)}).exit_code, 0);
  }
  server->Stop(SIGKILL);
  server = Start();
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(Client({"get", "k" + std::to_string(i)}).out, "v" + std::to_string(i) + "\n");
  }
}

TEST_F(ServerTest, TheOtherEngineIsRefusedNamingBoth) {
  { auto server = Start(); }
  port_ = FreePort();
  CommandResult r = RunCommand({BinPath("kvs-server"), "--addr", Addr(), "--data-dir", dir_.path(),
                         "--engine", "rocksdb"},
                        {}, 30);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("kvs"));
  EXPECT_THAT(r.err, HasSubstr("rocksdb"));
}

TEST_F(ServerTest, RocksDbEngineServes) {
  auto server = Start({"--engine", "rocksdb"});
  ASSERT_EQ(Client({"set", "k", "v"}).exit_code, 0);
  EXPECT_EQ(Client({"get", "k"}).out, "v\n");
  EXPECT_EQ(Client({"rm", "missing"}).err, "Key not found\n");
  EXPECT_EQ(server->Stop(SIGTERM), 0);
  server = Start();  // the directory remembers its engine
  EXPECT_EQ(Client({"get", "k"}).out, "v\n");
}

TEST_F(ServerTest, ASecondServerOnTheSameDirectoryIsRefused) {
  auto server = Start();
  const int first_port = port_;
  port_ = FreePort();
  CommandResult r = RunCommand({BinPath("kvs-server"), "--addr", Addr(), "--data-dir", dir_.path()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("LOCK"));
  port_ = first_port;
  EXPECT_EQ(Client({"set", "still", "up"}).exit_code, 0);
}

TEST_F(ServerTest, BadStartupArgumentsFailFast) {
  const std::vector<std::vector<std::string>> bad = {
      {"--addr", "not-an-address"},
      {"--addr", "127.0.0.1:99999"},
      {"--engine", "leveldb"},
      {"--fsync", "sometimes"},
      {"--compact-dead-ratio", "5"},
      {"--compact-min-dead-bytes", "lots"},
      {"--bogus-flag"},
  };
  for (const auto& args : bad) {
    std::vector<std::string> argv{BinPath("kvs-server"), "--data-dir", dir_.path()};
    argv.insert(argv.end(), args.begin(), args.end());
    CommandResult r = RunCommand(argv, {}, 20);
    EXPECT_NE(r.exit_code, 0) << ::testing::PrintToString(args);
    EXPECT_FALSE(r.err.empty()) << ::testing::PrintToString(args);
  }
}

TEST_F(ServerTest, APortInUseFailsFast) {
  auto server = Start();
  kvs::testing::TempDir other;
  CommandResult r = RunCommand({BinPath("kvs-server"), "--addr", Addr(), "--data-dir", other.path()}, {}, 20);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr(Addr()));
}

TEST_F(ServerTest, FlagsComeFromTheEnvironmentToo) {
  port_ = FreePort();
  ServerProcess server({}, {"KVS_ADDR=" + Addr(), "KVS_DATA_DIR=" + dir_.path()});
  ASSERT_TRUE(WaitForPort(port_)) << server.Stderr();
  EXPECT_EQ(Client({"set", "k", "v"}).exit_code, 0);
  server.Stop();
  EXPECT_TRUE(std::ifstream(dir_.File("ENGINE")).good());
}

// ---- JSON --------------------------------------------------------------------------------

TEST_F(ServerTest, PipelinedJsonIsAnsweredInOrder) {
  auto server = Start();
  Conn c(port_);
  std::string burst;
  for (int i = 0; i < 200; ++i) {
    burst += R"({"op":"set","key":"k)" + std::to_string(i) + R"(","value":"v)" + std::to_string(i) + "\"}\n";
    burst += R"({"op":"get","key":"k)" + std::to_string(i) + "\"}\n";
  }
  c.Send(burst);
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(c.ReadLine(), R"({"ok":true})");
    EXPECT_EQ(c.ReadLine(), R"({"ok":true,"value":"v)" + std::to_string(i) + "\"}");
  }
}

TEST_F(ServerTest, JsonOperationsAndErrors) {
  auto server = Start();
  Conn c(port_);
  c.Send(R"({"op":"ping"})" "\n");
  EXPECT_EQ(c.ReadLine(), R"({"ok":true})");
  c.Send(R"({"op":"get","key":"nope"})" "\n");
  EXPECT_EQ(c.ReadLine(), R"({"ok":true,"value":null})");
  c.Send(R"({"op":"rm","key":"nope"})" "\n");
  EXPECT_EQ(c.ReadLine(), R"({"ok":false,"error":"Key not found"})");
  c.Send("this is not json\n");
  EXPECT_THAT(c.ReadLine().value_or(""), StartsWith(R"({"ok":false,"error":)"));
  c.Send(R"({"op":"set","key":"after","value":"error"})" "\n");  // the connection goes on
  EXPECT_EQ(c.ReadLine(), R"({"ok":true})");
}

TEST_F(ServerTest, OriginalKvsShapeWithHalfClose) {
  auto server = Start();
  {
    Conn c(port_);
    c.Send(R"({"Set":{"key":"old","value":"client"}})");  // no newline, then half-close
    c.ShutdownWrite();
    EXPECT_EQ(c.ReadAll(), R"({"Ok":null})" "\n");
  }
  {
    Conn c(port_);
    c.Send(R"({"Get":{"key":"old"}})");
    c.ShutdownWrite();
    EXPECT_EQ(c.ReadAll(), R"({"Ok":"client"})" "\n");
  }
  {
    Conn c(port_);
    c.Send(R"({"Remove":{"key":"missing"}})");
    c.ShutdownWrite();
    EXPECT_EQ(c.ReadAll(), R"({"Err":"Key not found"})" "\n");
  }
}

TEST_F(ServerTest, OversizedValueIsRefusedAndOthersKeepBeingServed) {
  auto server = Start();
  Conn big(port_), other(port_);
  big.Send(R"({"op":"set","key":"big","value":")" + std::string(17 << 20, 'x') + "\"}\n");
  std::optional<std::string> reply = big.ReadLine(30);
  if (reply) {
    EXPECT_THAT(*reply, StartsWith(R"({"ok":false,"error":)"));  // or closed
  }
  other.Send(R"({"op":"set","key":"small","value":"ok"})" "\n");
  EXPECT_EQ(other.ReadLine(), R"({"ok":true})");
  EXPECT_EQ(Client({"get", "big"}).out, "Key not found\n");
  EXPECT_TRUE(server->running());
}

TEST_F(ServerTest, ManyConcurrentClientsAgree) {
  auto server = Start();
  constexpr int kClients = 200, kOps = 20;
  std::vector<std::unique_ptr<Conn>> conns;
  for (int i = 0; i < kClients; ++i) conns.push_back(std::make_unique<Conn>(port_));
  for (int i = 0; i < kClients; ++i) {
    std::string burst;
    for (int j = 0; j < kOps; ++j) {
      burst += R"({"op":"set","key":"c)" + std::to_string(i) + "-" + std::to_string(j) +
               R"(","value":")" + std::to_string(i * 1000 + j) + "\"}\n";
    }
    conns[i]->Send(burst);
  }
  for (int i = 0; i < kClients; ++i) {
    for (int j = 0; j < kOps; ++j) ASSERT_EQ(conns[i]->ReadLine(), R"({"ok":true})") << i << " " << j;
  }
  // Every connection reads what every other wrote.
  for (int i = 0; i < kClients; ++i) {
    const int other = (i + 1) % kClients;
    conns[i]->Send(R"({"op":"get","key":"c)" + std::to_string(other) + "-7\"}\n");
  }
  for (int i = 0; i < kClients; ++i) {
    const int other = (i + 1) % kClients;
    EXPECT_EQ(conns[i]->ReadLine(), R"({"ok":true,"value":")" + std::to_string(other * 1000 + 7) + "\"}");
  }
}

TEST_F(ServerTest, MaxClientsIsEnforcedWithoutHarm) {
  auto server = Start({"--max-clients", "2"});
  // Start()'s probe connection counts until the server has seen it close: retry until
  // both places are free.
  auto connect = [this] {
    for (int attempt = 0; attempt < 100; ++attempt) {
      auto conn = std::make_unique<Conn>(port_);
      conn->Send(R"({"op":"ping"})" "\n");
      if (conn->ReadLine() == R"({"ok":true})") return conn;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return std::unique_ptr<Conn>();
  };
  std::unique_ptr<Conn> a = connect(), b = connect();
  ASSERT_TRUE(a && b);
  Conn c(port_);
  c.Send(R"({"op":"ping"})" "\n");
  EXPECT_EQ(c.ReadAll(10), R"({"ok":false,"error":"max number of clients reached"})" "\n");
  a->Send(R"({"op":"set","key":"k","value":"v"})" "\n");
  EXPECT_EQ(a->ReadLine(), R"({"ok":true})");
}

// ---- RESP --------------------------------------------------------------------------------

TEST_F(ServerTest, RespBasics) {
  auto server = Start();
  Conn c(port_);
  c.Send("*1\r\n$4\r\nPING\r\n");
  EXPECT_EQ(c.ReadLine(), "+PONG\r");
  // The value "a\0b\r\n" holds a NUL and a CRLF: RESP is binary-safe.
  c.Send(std::string("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\0b\r\n\r\n", 31));
  EXPECT_EQ(c.ReadLine(), "+OK\r");
  c.Send("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
  EXPECT_EQ(c.ReadLine(), "$5\r");
  EXPECT_EQ(c.ReadN(7), std::string("a\0b\r\n\r\n", 7));
  c.Send("*2\r\n$6\r\nEXISTS\r\n$1\r\nk\r\n");
  EXPECT_EQ(c.ReadLine(), ":1\r");
  c.Send("*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n");
  EXPECT_EQ(c.ReadLine(), ":1\r");
  c.Send("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
  EXPECT_EQ(c.ReadLine(), "$-1\r");
}

// A telnet user's inline commands, split as Redis splits them (quotes, escapes). The
// expected bytes are what redis-server 7.0.15 answered to the same bytes.
TEST_F(ServerTest, InlineCommandsAreSplitAsRedisDoes) {
  auto server = Start();
  Conn c(port_);
  c.Send("SET \"a b\" \"c\\x41\"\r\nGET \"a b\"\r\nPING 'it\\'s'\n");
  EXPECT_EQ(c.ReadN(5 + 8 + 10), "+OK\r\n$2\r\ncA\r\n$4\r\nit's\r\n");
  // An unbalanced quote is a protocol error: the reply, then the close; the PING after it
  // is never answered.
  c.Send("PING \"x\r\nPING\r\n");
  EXPECT_EQ(c.ReadAll(), "-ERR Protocol error: unbalanced quotes in request\r\n");
  EXPECT_TRUE(c.peer_closed());
  EXPECT_TRUE(server->running());
}

TEST_F(ServerTest, UnchangedRedisCliWorks) {
  auto server = Start();
  const std::string port = std::to_string(port_);
  auto cli = [&](std::vector<std::string> args) {
    std::vector<std::string> argv{"/usr/bin/redis-cli", "-p", port};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  };
  EXPECT_EQ(cli({"PING"}).out, "PONG\n");
  EXPECT_EQ(cli({"SET", "name", "kvs"}).out, "OK\n");
  EXPECT_EQ(cli({"GET", "name"}).out, "kvs\n");
  EXPECT_EQ(cli({"EXISTS", "name"}).out, "1\n");
  EXPECT_EQ(cli({"DBSIZE"}).out, "1\n");
  EXPECT_THAT(cli({"INFO"}).out, HasSubstr("kvs"));
  EXPECT_EQ(cli({"DEL", "name"}).out, "1\n");
  EXPECT_EQ(cli({"GET", "name"}).out, "\n");
  EXPECT_EQ(Client({"get", "name"}).out, "Key not found\n");
}

TEST_F(ServerTest, UnchangedRedisBenchmarkWorks) {
  auto server = Start();
  CommandResult r = RunCommand({"/usr/bin/redis-benchmark", "-p", std::to_string(port_), "-t", "set,get",
                         "-n", "2000", "-c", "20", "-q"},
                        {}, 120);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("SET"));
  EXPECT_THAT(r.out, HasSubstr("GET"));
  EXPECT_THAT(r.out, HasSubstr("requests per second"));
  EXPECT_TRUE(server->running());
}

}  // namespace
}  // namespace kvs::e2e
