// Black-box tests of cluster mode (issue "Replication"): real kvs-server processes on
// loopback ports, talking Raft through libraft's TCP transport.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>

#include "raft/cluster_harness.h"

namespace kvs::raft_test {
namespace {

// Short timeouts keep elections quick; a sanitizer build on 2 cores still keeps up.
const std::vector<std::string> kFast = {"--raft-election-ms", "500", "--raft-heartbeat-ms", "50"};

std::vector<std::string> With(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

TEST(ClusterTest, ServesReadsAndWritesAndRedirectsToTheLeader) {
  Cluster c(3, kFast);
  c.StartAll();
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % 3;

  // A follower refuses writes and linearizable reads, naming the leader.
  e2e::Conn conn(c.ClientPort(follower));
  conn.Send(SetJson("k", "v"));
  EXPECT_EQ(conn.ReadLine(), fmt::format(R"({{"ok":false,"error":"not leader","leader":"{}"}})",
                                         c.ClientAddr(leader)));
  conn.Send(GetJson("k"));
  EXPECT_EQ(conn.ReadLine(), fmt::format(R"({{"ok":false,"error":"not leader","leader":"{}"}})",
                                         c.ClientAddr(leader)));
  e2e::Conn resp_conn(c.ClientPort(follower));  // the protocol is fixed per connection
  resp_conn.Send("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
  EXPECT_EQ(resp_conn.ReadLine(),
            fmt::format("-NOTLEADER not leader; the leader is {}\r", c.ClientAddr(leader)));

  // Through the leader: writes are acknowledged once committed, reads see them.
  for (int k = 0; k < 20; ++k) {
    std::optional<std::string> r = c.Call(SetJson(fmt::format("key{}", k), fmt::format("v{}", k)));
    ASSERT_TRUE(r && IsOk(*r)) << (r ? *r : "no reply");
  }
  ASSERT_EQ(ValueOf(*c.Call(GetJson("key7"), follower)), "v7");  // followed to the leader
  ASSERT_EQ(*c.Call(RmJson("key7")), R"({"ok":true})");
  ASSERT_EQ(*c.Call(RmJson("key7")), R"({"ok":false,"error":"Key not found"})");
  ASSERT_EQ(*c.Call(GetJson("key7")), R"({"ok":true,"value":null})");

  // Every node applies the same log: followers' own copies converge.
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(c.EventuallyLocal(i, "key19", "v19")) << "node " << i + 1;
  }
  // kvs-client follows the hint by itself, for writes, reads and membership alike.
  e2e::CommandResult set = e2e::RunCommand(
      {e2e::BinPath("kvs-client"), "--addr", c.ClientAddr(follower), "set", "cli", "yes"});
  EXPECT_EQ(set.exit_code, 0) << set.err;
  const int other = (leader + 2) % 3;
  e2e::CommandResult get =
      e2e::RunCommand({e2e::BinPath("kvs-client"), "--addr", c.ClientAddr(other), "get", "cli"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "yes\n");
  EXPECT_TRUE(c.EventuallyLocal(other, "cli", "yes"));
  e2e::CommandResult stale = e2e::RunCommand(
      {e2e::BinPath("kvs-client"), "--addr", c.ClientAddr(other), "get", "--stale", "cli"});
  EXPECT_EQ(stale.out, "yes\n") << stale.err;

  // RESP READONLY lets a follower answer from its copy.
  e2e::Conn resp(c.ClientPort(follower));
  resp.Send("*1\r\n$8\r\nREADONLY\r\n*2\r\n$3\r\nGET\r\n$5\r\nkey19\r\n");
  EXPECT_EQ(resp.ReadLine(), "+OK\r");
  EXPECT_EQ(resp.ReadLine(), "$3\r");
  EXPECT_EQ(resp.ReadLine(), "v19\r");
}

TEST(ClusterTest, KillingTheLeaderElectsAnotherAndLosesNoAcknowledgedWrite) {
  Cluster c(3, kFast);
  c.StartAll();
  std::map<std::string, std::string> acked;
  int written = 0;
  auto write_some = [&](int n) {
    for (int k = 0; k < n; ++k, ++written) {
      const std::string key = fmt::format("key{}", written % 37);
      const std::string value = fmt::format("v{}", written);
      std::optional<std::string> r = c.Call(SetJson(key, value));
      if (r && IsOk(*r)) acked[key] = value;
    }
  };
  for (int round = 0; round < 3; ++round) {
    const int leader = c.WaitForLeader();
    ASSERT_GE(leader, 0);
    write_some(40);
    c.Kill(leader);
    const int next = c.WaitForLeader();
    ASSERT_GE(next, 0) << "no new leader after killing node " << leader + 1;
    ASSERT_NE(next, leader);
    write_some(20);
    c.Start(leader);  // back as a follower, catching up
  }
  ASSERT_GE(c.WaitForLeader(), 0);
  for (const auto& [key, value] : acked) {
    std::optional<std::string> r = c.Call(GetJson(key));
    ASSERT_TRUE(r);
    EXPECT_EQ(ValueOf(*r), value) << key;
  }
  EXPECT_EQ(acked.size(), 37u);
}

TEST(ClusterTest, AFollowerFarBehindCatchesUpThroughASnapshot) {
  Cluster c(3, With(kFast, {"--raft-snapshot-threshold", "32", "--raft-snapshot-trailing", "8"}));
  c.StartAll();
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int lagging = (leader + 2) % 3;
  c.Kill(lagging);
  // Far more entries than the leader keeps behind its snapshots. Sent to the leader: a Call
  // that starts at the killed node waits 100 ms before it tries the next one.
  for (int k = 0; k < 200; ++k) {
    std::optional<std::string> r =
        c.Call(SetJson(fmt::format("key{}", k % 50), fmt::format("v{}", k)), leader);
    ASSERT_TRUE(r && IsOk(*r));
  }
  ASSERT_TRUE(IsOk(*c.Call(RmJson("key0"), leader)));
  c.Start(lagging);
  // Well under the 30 s a leader waits by default to resend a snapshot the follower dropped
  // (it does while taking a snapshot of its own).
  EXPECT_TRUE(c.EventuallyLocal(lagging, "key49", "v199", 15)) << c.Stderr(lagging);
  EXPECT_EQ(c.LocalValue(lagging, "key0"), std::nullopt);
  EXPECT_NE(c.Stderr(lagging).find("raft: restored a snapshot"), std::string::npos)
      << c.Stderr(lagging);
}

TEST(ClusterTest, ARestartedWholeClusterKeepsEverything) {
  Cluster c(3, With(kFast, {"--raft-snapshot-threshold", "64", "--raft-snapshot-trailing", "16"}));
  c.StartAll();
  ASSERT_GE(c.WaitForLeader(), 0);
  for (int k = 0; k < 150; ++k) {
    ASSERT_TRUE(IsOk(*c.Call(SetJson(fmt::format("key{}", k), fmt::format("v{}", k)))));
  }
  for (int k = 0; k < 150; k += 3) ASSERT_TRUE(IsOk(*c.Call(RmJson(fmt::format("key{}", k)))));
  // Two nodes killed, one stopped cleanly: every way of going down at once.
  c.Kill(0);
  c.Kill(1);
  c.Stop(2);
  c.StartAll();
  ASSERT_GE(c.WaitForLeader(), 0);
  for (int k = 0; k < 150; ++k) {
    std::optional<std::string> r = c.Call(GetJson(fmt::format("key{}", k)));
    ASSERT_TRUE(r);
    if (k % 3 == 0) {
      EXPECT_EQ(*r, R"({"ok":true,"value":null})") << k;
    } else {
      EXPECT_EQ(ValueOf(*r), fmt::format("v{}", k)) << k;
    }
  }
}

TEST(ClusterTest, NodesAreAddedAndRemovedWithClusterCommands) {
  Cluster c(4, kFast, /*initial=*/3);
  c.StartAll();
  ASSERT_GE(c.WaitForLeader(), 0);
  ASSERT_TRUE(IsOk(*c.Call(SetJson("before", "1"))));
  c.Start(3);  // --join: waits to be added

  e2e::CommandResult add = e2e::RunCommand(
      {e2e::BinPath("kvs-client"), "--addr", c.ClientAddr(0), "cluster", "add", c.PeerSpec(3)});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  ASSERT_TRUE(IsOk(*c.Call(SetJson("after", "2"))));
  EXPECT_TRUE(c.EventuallyLocal(3, "before", "1")) << c.Stderr(3);
  EXPECT_TRUE(c.EventuallyLocal(3, "after", "2")) << c.Stderr(3);

  e2e::CommandResult status =
      e2e::RunCommand({e2e::BinPath("kvs-client"), "--addr", c.ClientAddr(3), "cluster", "status"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  for (int i = 0; i < 4; ++i) {
    EXPECT_NE(status.out.find(c.ClientAddr(i)), std::string::npos) << status.out;
  }
  EXPECT_NE(status.out.find("leader"), std::string::npos) << status.out;

  // Remove a follower: the configuration no longer lists it.
  const int leader = c.WaitForLeader();
  const int gone = (leader + 1) % 4;
  e2e::CommandResult rm = e2e::RunCommand({e2e::BinPath("kvs-client"), "--addr", c.ClientAddr(gone),
                                           "cluster", "remove", std::to_string(gone + 1)});
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  std::optional<std::string> s = c.Status(leader);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->find(fmt::format("member:{} ", gone + 1)), std::string::npos) << *s;
  EXPECT_TRUE(IsOk(*c.Call(SetJson("after-remove", "3"), leader)));

  // Bad requests get clear errors.
  e2e::Conn admin(c.ClientPort(leader));
  admin.Send("*3\r\n$7\r\nCLUSTER\r\n$6\r\nREMOVE\r\n$1\r\nx\r\n");
  EXPECT_EQ(admin.ReadLine(), "-ERR InvalidArgument: not a node id: 'x'\r");
  e2e::CommandResult bad = e2e::RunCommand(
      {e2e::BinPath("kvs-client"), "--addr", c.ClientAddr(leader), "cluster", "add", "x=y"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("expected ID=CLIENT_ADDR/RAFT_ADDR"), std::string::npos) << bad.err;
}

TEST(ClusterTest, RocksDbIsAStateMachineToo) {
  Cluster c(3, With(kFast, {"--engine", "rocksdb"}));
  c.StartAll();
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  for (int k = 0; k < 30; ++k) {
    ASSERT_TRUE(IsOk(*c.Call(SetJson(fmt::format("key{}", k), fmt::format("v{}", k)))));
  }
  ASSERT_TRUE(IsOk(*c.Call(RmJson("key3"))));
  c.Kill(leader);
  ASSERT_GE(c.WaitForLeader(), 0);
  EXPECT_EQ(ValueOf(*c.Call(GetJson("key29"))), "v29");
  EXPECT_EQ(*c.Call(GetJson("key3")), R"({"ok":true,"value":null})");
  c.Start(leader);
  EXPECT_TRUE(c.EventuallyLocal(leader, "key29", "v29")) << c.Stderr(leader);
}

TEST(ClusterTest, ASingleServerRefusesClusterCommands) {
  const int port = e2e::FreePort();
  char tmpl[] = "/tmp/kvs-single-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  {
    e2e::ServerProcess server({"--addr", "127.0.0.1:" + std::to_string(port), "--data-dir", dir});
    ASSERT_TRUE(e2e::WaitForPort(port)) << server.Stderr();
    e2e::Conn conn(port);
    conn.Send("*2\r\n$7\r\nCLUSTER\r\n$6\r\nSTATUS\r\n");
    EXPECT_EQ(conn.ReadLine(),
              "-ERR NotSupported: not a cluster node (start kvs-server with --node-id and "
              "--peers)\r");
    e2e::CommandResult status =
        e2e::RunCommand({e2e::BinPath("kvs-client"), "--addr", "127.0.0.1:" + std::to_string(port),
                         "cluster", "status"});
    EXPECT_NE(status.exit_code, 0);
    EXPECT_NE(status.err.find("not a cluster node"), std::string::npos) << status.err;
  }
  std::filesystem::remove_all(dir);
}

TEST(ClusterTest, BadClusterFlagsFailFast) {
  const std::string peers = "1=127.0.0.1:1/127.0.0.1:2";
  struct Case {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"--node-id", "1"}, "--node-id and --peers go together"},
      {{"--node-id", "2", "--peers", peers}, "--node-id 2 is not one of the nodes in --peers"},
      {{"--node-id", "1", "--peers", "1=127.0.0.1:1"}, "expected ID=CLIENT_ADDR/RAFT_ADDR"},
      {{"--node-id", "1", "--peers", peers + ",1=127.0.0.1:3/127.0.0.1:4"}, "id 1 is given twice"},
      {{"--join"}, "--join needs --node-id and --peers"},
  };
  for (const Case& tc : cases) {
    std::vector<std::string> argv{e2e::BinPath("kvs-server"), "--data-dir", "/nonexistent/x"};
    argv.insert(argv.end(), tc.args.begin(), tc.args.end());
    e2e::CommandResult r = e2e::RunCommand(argv);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find(tc.message), std::string::npos) << r.err;
  }
}

// Issue 19: a node refuses an engine directory that is not the state machine of its Raft
// log, before it serves it or sends it out in a snapshot. Runs node `i` by itself and
// returns what it said, expecting it to exit at once.
e2e::CommandResult StartRefused(Cluster& c, int i) {
  std::vector<std::string> argv{e2e::BinPath("kvs-server")};
  const std::vector<std::string> args = c.ArgsFor(i);
  argv.insert(argv.end(), args.begin(), args.end());
  return e2e::RunCommand(argv, {}, /*timeout_s=*/20);
}

TEST(ClusterTest, ANodeRefusesAStandaloneDataDirectory) {
  Cluster c(3, kFast);
  {
    e2e::ServerProcess single({"--addr", c.ClientAddr(0), "--data-dir", c.DataDir(0)});
    ASSERT_TRUE(e2e::WaitForPort(c.ClientPort(0)));
    e2e::Conn conn(c.ClientPort(0));
    conn.Send(SetJson("stray", "1"));
    ASSERT_EQ(conn.ReadLine(), R"({"ok":true})");
    ASSERT_EQ(single.Stop(), 0);
  }
  e2e::CommandResult r = StartRefused(c, 0);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("holds 1 keys but no Raft state"), std::string::npos) << r.err;
  // Refused before Raft started: nothing bootstrapped, so it refuses again.
  EXPECT_FALSE(std::filesystem::exists(c.DataDir(0) + "/raft/metadata1"));
  EXPECT_EQ(StartRefused(c, 0).exit_code, 1);
}

TEST(ClusterTest, ANodeWhoseRaftDirectoryWasWipedRefusesToStart) {
  Cluster c(3, kFast);
  c.StartAll();
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  std::optional<std::string> r = c.Call(SetJson("k", "v"));
  ASSERT_TRUE(r && IsOk(*r)) << (r ? *r : "no reply");
  const int victim = (leader + 1) % 3;
  ASSERT_TRUE(c.EventuallyLocal(victim, "k", "v"));
  c.Stop(victim);
  std::filesystem::remove_all(c.DataDir(victim) + "/raft");
  e2e::CommandResult refused = StartRefused(c, victim);
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_NE(refused.err.find("is empty (wiped?)"), std::string::npos) << refused.err;
  // As the message says: without the data directory it starts afresh and catches up.
  std::filesystem::remove_all(c.DataDir(victim));
  c.Start(victim);
  EXPECT_TRUE(c.EventuallyLocal(victim, "k", "v"));
}

// Issue 17: commands that read what they change are decided by the leader after a Raft
// barrier, against every committed entry, and replicate their result: N clients × M INCRs
// leave N×M on every node; a transaction commits as one entry; a follower decides nothing.
TEST(ClusterTest, CountersAndTransactionsAreDecidedByTheLeader) {
  Cluster c(3, kFast);
  c.StartAll();
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  constexpr int kClients = 4, kPerClient = 60, kPipeline = 10;
  const std::string incr = "*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n";
  std::vector<std::thread> clients;
  std::atomic<int> bad{0};
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&] {
      e2e::Conn conn(c.ClientPort(leader));
      for (int done = 0; done < kPerClient; done += kPipeline) {
        std::string burst;
        for (int j = 0; j < kPipeline; ++j) burst += incr;
        conn.Send(burst);
        for (int j = 0; j < kPipeline; ++j) {
          std::optional<std::string> line = conn.ReadLine(30);
          if (!line || line->empty() || (*line)[0] != ':') ++bad;
        }
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(bad.load(), 0);
  const std::string total = std::to_string(kClients * kPerClient);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(c.EventuallyLocal(i, "counter", total)) << "node " << i + 1;

  e2e::Conn tx(c.ClientPort(leader));
  tx.Send("*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$1\r\nt\r\n"
          "*3\r\n$3\r\nSET\r\n$1\r\nu\r\n$1\r\nx\r\n*1\r\n$4\r\nEXEC\r\n");
  for (const char* want : {"+OK\r", "+QUEUED\r", "+QUEUED\r", "*2\r", ":1\r", "+OK\r"}) {
    EXPECT_EQ(tx.ReadLine(30), want);
  }
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(c.EventuallyLocal(i, "u", "x")) << "node " << i + 1;

  const int follower = (leader + 1) % 3;
  e2e::Conn f(c.ClientPort(follower));
  f.Send(incr);
  EXPECT_EQ(f.ReadLine(30),
            fmt::format("-NOTLEADER not leader; the leader is {}\r", c.ClientAddr(leader)));
  EXPECT_TRUE(c.EventuallyLocal(follower, "counter", total));  // unchanged
}

// Across a leader's kill -9: an acknowledged INCR is never lost and none counts twice. Each
// INCR's fate is acknowledged (counted), refused with NOTLEADER (never proposed), or unknown
// (the connection broke, or the entry's fate was lost with the leader): the final value
// lies between the acknowledged count and that plus the unknown ones.
TEST(ClusterTest, IncrementsSurviveALeaderKill) {
  Cluster c(3, kFast);
  c.StartAll();
  int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const std::string incr = "*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n";
  int acked = 0, unknown = 0, target = leader, acked_at_kill = -1;
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<e2e::Conn> conn;
  // Until the new leader acknowledged 20 (or 60 s, for a loaded machine's election).
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(60) &&
         !(acked_at_kill >= 0 && acked >= acked_at_kill + 20)) {
    if (acked_at_kill < 0 && acked >= 50) {
      c.Kill(leader);
      acked_at_kill = acked;
    }
    if (!c.Running(target)) target = (target + 1) % 3;
    if (!conn) conn = std::make_unique<e2e::Conn>(c.ClientPort(target));
    conn->Send(incr);
    std::optional<std::string> line = conn->ReadLine(10);
    if (line && !line->empty() && (*line)[0] == ':') {
      ++acked;
    } else if (line && line->rfind("-NOTLEADER", 0) == 0) {
      target = (target + 1) % 3;  // not proposed: try the next node
      conn.reset();
    } else {
      ++unknown;
      target = (target + 1) % 3;
      conn.reset();
    }
  }
  ASSERT_GE(acked_at_kill, 0) << "only " << acked << " INCRs were acknowledged before the kill";
  leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  std::optional<std::string> r = c.Call(GetJson("counter"), leader);
  ASSERT_TRUE(r) << "no reply";
  const std::optional<std::string> value = ValueOf(*r);
  ASSERT_TRUE(value) << *r;
  const long total = std::stol(*value);
  EXPECT_GE(total, acked) << "acknowledged increments were lost";
  EXPECT_LE(total, acked + unknown) << "increments counted twice";
  EXPECT_GE(acked, acked_at_kill + 20) << "the new leader acknowledged too few INCRs";
}

}  // namespace
}  // namespace kvs::raft_test
