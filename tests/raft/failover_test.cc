// Black-box tests of leader changes (issue 19): pre-vote keeps a node that comes back from
// a pause from deposing a healthy leader; a leader stopped with SIGTERM, or asked with
// CLUSTER FAILOVER / kvs-client cluster transfer, hands leadership over without clients
// seeing anything but redirects; expiry (issue 18) outlives the leader that set the TTLs.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "raft/cluster_harness.h"

namespace kvs::raft_test {
namespace {

// Elections quick enough for a test; a sanitizer build on 2 cores keeps up (as cluster_test).
constexpr int kElectionMs = 500;
const std::vector<std::string> kFast = {"--raft-election-ms", std::to_string(kElectionMs),
                                        "--raft-heartbeat-ms", "50"};

void SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// Node i's view, or "" when it does not answer.
std::string Field(Cluster& c, int i, const std::string& field) {
  std::optional<std::string> s = c.Status(i);
  return s ? StatusField(*s, field) : std::string();
}

// Pauses a follower (SIGSTOP) well past the election timeout while the others go on
// writing, resumes it, lets a few election timeouts go by, and returns whether the cluster
// held an election meanwhile (some node's term moved). Checks that everything else worked.
bool PausedFollowerCausedAnElection(const std::vector<std::string>& args) {
  Cluster c(3, args);
  c.StartAll();
  const int leader = c.WaitForLeader();
  EXPECT_GE(leader, 0);
  if (leader < 0) return true;
  std::optional<std::string> r = c.Call(SetJson("before", "1"));
  EXPECT_TRUE(r && IsOk(*r)) << (r ? *r : "no reply");
  const std::string term = Field(c, leader, "term");
  EXPECT_FALSE(term.empty());

  const int follower = (leader + 1) % 3;
  EXPECT_TRUE(c.EventuallyLocal(follower, "before", "1"));
  c.Pause(follower);
  // Well past the largest randomised election timeout (2x), and writes go on meanwhile.
  SleepMs(3 * kElectionMs);
  r = c.Call(SetJson("during", "1"), leader);
  EXPECT_TRUE(r && IsOk(*r)) << (r ? *r : "no reply");
  SleepMs(kElectionMs);
  c.Resume(follower);

  // It catches up (under whichever leader)...
  EXPECT_TRUE(c.EventuallyLocal(follower, "during", "1"));
  // ...and a few more election timeouts go by.
  SleepMs(4 * kElectionMs);
  r = c.Call(SetJson("after", "1"));
  EXPECT_TRUE(r && IsOk(*r)) << (r ? *r : "no reply");
  bool election = false;
  for (int i = 0; i < 3; ++i) {
    if (Field(c, i, "term") != term) election = true;
  }
  if (!election) {
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(Field(c, i, "leader_id"), std::to_string(leader + 1)) << "node " << i + 1;
    }
  }
  return election;
}

// With pre-vote (the default), the resumed node first asks whether it could win; the others
// still hear from their leader and say no, and the leader's next heartbeat makes it a
// follower again at the same term.
TEST(FailoverTest, APausedFollowerThatResumesDoesNotDeposeTheLeader) {
  EXPECT_FALSE(PausedFollowerCausedAnElection(kFast));
}

// The control: without pre-vote the resumed node's expired timer makes it raise its term;
// the leader sees the higher term in its answers and steps down, and the cluster holds an
// election it did not need. (Shows that the test above exercises what pre-vote prevents.)
TEST(FailoverTest, WithoutPreVoteAPausedFollowerThatResumesCausesAnElection) {
  std::vector<std::string> args = kFast;
  args.insert(args.end(), {"--raft-pre-vote", "off"});
  EXPECT_TRUE(PausedFollowerCausedAnElection(args));
}

// One client writing unique keys in a loop over a JSON connection, as an application would:
// it follows "not leader" redirects, and after a closed connection (what a crash shows too)
// it tries the next node with the same request. Every other error reply is recorded.
class Writer {
 public:
  Writer(Cluster* c, int id, int start) : c_(c), id_(id), at_(start) {}

  void Run(const std::atomic<bool>* stop) {
    using Clock = std::chrono::steady_clock;
    auto last_ack = Clock::now();
    for (int n = 0; !stop->load(); ++n) {
      const std::string key = fmt::format("w{}-{}", id_, n);
      // Until this write is acknowledged, or the test stops (it stays unacknowledged then).
      for (;;) {
        if (stop->load()) return;
        if (conn_ == nullptr) conn_ = std::make_unique<e2e::Conn>(c_->ClientPort(at_));
        std::optional<std::string> reply;
        if (conn_->ok()) {
          conn_->Send(SetJson(key, key));
          reply = conn_->ReadLine(10);
        }
        if (reply && IsOk(*reply)) {
          const auto now = Clock::now();
          max_gap = std::max(max_gap, now - last_ack);
          last_ack = now;
          acked.push_back(key);
          break;
        }
        conn_.reset();
        if (!reply) {  // closed or refused: the next node
          ++reconnects;
          at_ = (at_ + 1) % c_->size();
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        } else if (reply->find("\"not leader\"") != std::string::npos) {
          ++redirects;
          at_ = NodeOf(*reply);
          if (reply->find("\"leader\":null") != std::string::npos) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
          }
        } else {
          errors.push_back(*reply);
          break;  // not retried: the test fails on it
        }
      }
    }
  }

  std::vector<std::string> acked;
  std::vector<std::string> errors;
  int redirects = 0;
  int reconnects = 0;
  std::chrono::steady_clock::duration max_gap{};  // the longest wait for an acknowledgement

 private:
  // The node a redirect names; the next one when it names none.
  int NodeOf(const std::string& reply) const {
    for (int j = 0; j < c_->size(); ++j) {
      if (reply.find(fmt::format("\"leader\":\"{}\"", c_->ClientAddr(j))) != std::string::npos) {
        return j;
      }
    }
    return (at_ + 1) % c_->size();
  }

  Cluster* const c_;
  const int id_;
  int at_;
  std::unique_ptr<e2e::Conn> conn_;
};

// Every key of `keys` reads back as itself through node `at` (pipelined linearizable GETs).
void ExpectAllPresent(Cluster& c, int at, const std::vector<std::string>& keys) {
  e2e::Conn conn(c.ClientPort(at));
  ASSERT_TRUE(conn.ok());
  std::string batch;
  for (const std::string& k : keys) batch += GetJson(k);
  conn.Send(batch);
  for (const std::string& k : keys) {
    std::optional<std::string> r = conn.ReadLine(30);
    ASSERT_TRUE(r) << "no reply for " << k;
    EXPECT_EQ(*r, e2e::ValueReply(k));
  }
}

// SIGTERM of the leader while clients write: it hands leadership to a follower first, so
// clients see redirects (and closed connections, as from any stopping server), never an
// error, and every acknowledged write is there afterwards.
TEST(FailoverTest, SigtermOfTheLeaderHandsLeadershipOverWithoutClientErrors) {
  Cluster c(3, kFast);
  c.StartAll();
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const std::string term = Field(c, leader, "term");

  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<Writer>> writers;
  std::vector<std::thread> threads;
  for (int w = 0; w < 3; ++w) {
    writers.push_back(std::make_unique<Writer>(&c, w, leader));
    threads.emplace_back([&stop, wr = writers.back().get()] { wr->Run(&stop); });
  }
  SleepMs(500);
  c.Stop(leader);  // SIGTERM; asserts a clean exit
  SleepMs(1000);
  stop = true;
  for (std::thread& t : threads) t.join();

  EXPECT_NE(c.Stderr(leader).find("leadership handed over"), std::string::npos) << c.Stderr(leader);
  const int next = c.WaitForLeader();
  ASSERT_GE(next, 0);
  ASSERT_NE(next, leader);
  // One election, the one the hand-off asked for.
  EXPECT_EQ(Field(c, next, "term"), std::to_string(std::stoull(term) + 1));
  std::vector<std::string> acked;
  for (const auto& w : writers) {
    EXPECT_TRUE(w->errors.empty()) << w->errors.front();
    EXPECT_GT(w->acked.size(), 0u);
    const auto gap_ms = std::chrono::duration_cast<std::chrono::milliseconds>(w->max_gap).count();
    std::printf("writer: %zu acknowledged, %d redirects, %d reconnects, longest wait %lld ms\n",
                w->acked.size(), w->redirects, w->reconnects, static_cast<long long>(gap_ms));
    acked.insert(acked.end(), w->acked.begin(), w->acked.end());
  }
  ExpectAllPresent(c, next, acked);
}

// On demand: kvs-client cluster transfer ID (through any node, following the redirect to
// the leader) and RESP CLUSTER FAILOVER [ID].
TEST(FailoverTest, ClusterTransferAndClusterFailoverMoveTheLeadership) {
  Cluster c(3, kFast);
  c.StartAll();
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int target = (leader + 1) % 3;
  const int other = (leader + 2) % 3;
  e2e::CommandResult moved =
      e2e::RunCommand({e2e::BinPath("kvs-client"), "--addr", c.ClientAddr(other), "cluster",
                       "transfer", std::to_string(target + 1)});
  EXPECT_EQ(moved.exit_code, 0) << moved.err;
  EXPECT_EQ(moved.out, "");
  EXPECT_EQ(c.WaitForLeader(), target);
  EXPECT_EQ(Field(c, leader, "leader_id"), std::to_string(target + 1));

  e2e::Conn resp(c.ClientPort(target));
  auto call = [&resp](const std::string& command) {
    resp.Send(command);
    return resp.ReadLine(30).value_or("no reply");
  };
  EXPECT_EQ(call("CLUSTER FAILOVER 1 2\r\n"),
            "-ERR wrong number of arguments for 'cluster|failover' command\r");
  EXPECT_EQ(call("CLUSTER FAILOVER x\r\n"), "-ERR InvalidArgument: not a node id: 'x'\r");
  EXPECT_EQ(call(fmt::format("CLUSTER FAILOVER {}\r\n", target + 1)),
            fmt::format("-ERR InvalidArgument: node {} is the leader already\r", target + 1));
  EXPECT_EQ(call("CLUSTER FAILOVER 9\r\n"),
            "-ERR InvalidArgument: node 9 is not a voting member\r");
  // Without an id: the most caught-up follower.
  EXPECT_EQ(call("CLUSTER FAILOVER\r\n"), "+OK\r");
  const int now = c.WaitForLeader();
  EXPECT_GE(now, 0);
  EXPECT_NE(now, target);
  // A follower redirects it like a write.
  EXPECT_EQ(call("CLUSTER FAILOVER\r\n"),
            fmt::format("-NOTLEADER not leader; the leader is {}\r", c.ClientAddr(now)));
  std::optional<std::string> r = c.Call(SetJson("after", "1"));
  EXPECT_TRUE(r && IsOk(*r)) << (r ? *r : "no reply");
}

// Every replica stores the leader's absolute expiry times; after the leader dies, the new
// one reports them exactly, hides a key whose time passes and deletes it (a replicated
// delete), the followers' own reads hide it too, and the old leader, back, agrees.
TEST(FailoverTest, ExpiryOutlivesTheLeaderThatSetIt) {
  Cluster c(3, kFast);
  c.StartAll();
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  auto call = [&c](const std::string& words, int node) {
    return c.Call(R"({"cmd":[)" + words + "]}\n", node).value_or("no reply");
  };
  EXPECT_EQ(call(R"("SET","short","v","PX","2000")", leader), R"({"ok":true,"value":"OK"})");
  EXPECT_EQ(call(R"("SET","long","v","EX","1000")", leader), R"({"ok":true,"value":"OK"})");
  EXPECT_EQ(call(R"("SET","abs","v","PXAT","4000000000123")", leader),
            R"({"ok":true,"value":"OK"})");
  const int follower = (leader + 1) % 3;
  ASSERT_TRUE(c.EventuallyLocal(follower, "abs", "v"));
  ASSERT_TRUE(c.EventuallyLocal((leader + 2) % 3, "abs", "v"));
  c.Kill(leader);
  const int next = c.WaitForLeader();
  ASSERT_GE(next, 0);
  EXPECT_EQ(call(R"("PEXPIRETIME","abs")", next), R"({"ok":true,"value":4000000000123})");
  const std::string ttl = call(R"("TTL","long")", next);
  EXPECT_TRUE(ttl.starts_with(R"({"ok":true,"value":99)")) << ttl;
  SleepMs(2500);  // past "short"'s time
  EXPECT_EQ(call(R"("GET","short")", next), R"({"ok":true,"value":null})");
  EXPECT_EQ(c.LocalValue(follower, "short"), std::nullopt);
  // The new leader's expirer deletes it through the log.
  bool deleted = false;
  for (int i = 0; i < 300 && !deleted; ++i) {
    deleted = e2e::InfoNumber(c.ClientPort(next), "expired_keys").value_or(0) >= 1;
    if (!deleted) SleepMs(100);
  }
  EXPECT_TRUE(deleted) << c.Stderr(next);
  c.Start(leader);
  ASSERT_TRUE(c.EventuallyLocal(leader, "long", "v"));
  EXPECT_EQ(c.LocalValue(leader, "short"), std::nullopt);
  EXPECT_EQ(call(R"("EXISTS","short","long","abs")", next), R"({"ok":true,"value":2})");
}

}  // namespace
}  // namespace kvs::raft_test
