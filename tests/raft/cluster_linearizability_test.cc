// Linearizability of a 3-node cluster under failures (issue "Replication"): concurrent
// clients run set/get/rm on a few keys while a nemesis kills (SIGKILL), pauses
// (SIGSTOP/SIGCONT) and restarts nodes; every operation is recorded with its invoke and
// completion times and the history is checked (tests/raft/linearizability.h). A reply that
// never came, or an error that leaves the outcome open, makes the op indeterminate; a
// "not leader" reply means nothing happened, and the op is dropped.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "raft/cluster_harness.h"
#include "raft/linearizability.h"

namespace kvs::raft_test {
namespace {

using lin::OpType;

constexpr int kNodes = 3;
constexpr int kClients = 5;
constexpr int kFaults = 8;  // the run lasts until the nemesis has injected this many
constexpr auto kThinkTime = std::chrono::milliseconds(40);  // between a client's ops
const std::vector<std::string> kKeys = {"a", "b", "c", "d"};

// One client: a connection to the node it believes leads, moved on "not leader" hints and
// failures. Runs one op at a time.
class Client {
 public:
  Client(Cluster* cluster, lin::History* history, int id)
      : cluster_(cluster), history_(history), id_(id), node_(id % kNodes), rng_(id * 7919 + 1) {}

  void Run(const std::atomic<bool>& stop) {
    for (int n = 0; !stop; ++n) {
      std::this_thread::sleep_for(kThinkTime);
      const std::string& key = kKeys[rng_() % kKeys.size()];
      const int dice = static_cast<int>(rng_() % 10);
      if (dice < 4) {
        Do(OpType::kSet, key, fmt::format("c{}-{}", id_, n));
      } else if (dice < 8) {
        Do(OpType::kGet, key, "");
      } else {
        Do(OpType::kRm, key, "");
      }
    }
  }

 private:
  void Do(OpType type, const std::string& key, const std::string& value) {
    const std::string json = type == OpType::kSet   ? SetJson(key, value)
                             : type == OpType::kGet ? GetJson(key)
                                                    : RmJson(key);
    if (type == OpType::kGet) {
      // Reads start at any node: followers must send them on (or, were they to answer
      // from their own copy, the checker would catch the stale reads: tried, it does).
      node_ = static_cast<int>(rng_() % kNodes);
      conn_.reset();
    }
    for (int attempt = 0; attempt < 50; ++attempt) {
      if (!conn_ || !conn_->ok()) {
        conn_ = std::make_unique<e2e::Conn>(cluster_->ClientPort(node_), cluster_->Host(node_));
        if (!conn_->ok()) {  // nothing sent: try another node
          NextNode();
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          continue;
        }
      }
      const size_t h = history_->Invoke(id_, type, key, value);
      conn_->Send(json);
      std::optional<std::string> reply = conn_->ReadLine(/*timeout_s=*/3);
      if (!reply) {  // lost, timed out (a paused node), or the node died
        history_->Indeterminate(h);
        conn_.reset();
        NextNode();
        return;
      }
      if (reply->find("\"not leader\"") != std::string::npos) {
        history_->Fail(h);  // refused before anything was written
        FollowHint(*reply);
        continue;
      }
      if (type == OpType::kGet && reply->rfind(R"({"ok":true,"value":)", 0) == 0) {
        std::optional<std::string> v = ValueOf(*reply);
        history_->Complete(h, v.has_value(), v.value_or(""));
      } else if (type == OpType::kSet && IsOk(*reply)) {
        history_->Complete(h, true);
      } else if (type == OpType::kRm && IsOk(*reply)) {
        history_->Complete(h, true);
      } else if (type == OpType::kRm && *reply == R"({"ok":false,"error":"Key not found"})") {
        history_->Complete(h, false);
      } else {
        // "leadership lost ... may or may not take effect", a stopping node: unknown.
        history_->Indeterminate(h);
        conn_.reset();
        NextNode();
      }
      return;
    }
  }

  void FollowHint(const std::string& reply) {
    conn_.reset();
    for (int i = 0; i < kNodes; ++i) {
      if (reply.find("\"" + cluster_->ClientAddr(i) + "\"") != std::string::npos) {
        node_ = i;
        return;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // no leader known yet
    NextNode();
  }
  void NextNode() { node_ = (node_ + 1) % kNodes; }

  Cluster* cluster_;
  lin::History* history_;
  const int id_;
  int node_;
  std::mt19937 rng_;
  std::unique_ptr<e2e::Conn> conn_;
};

TEST(ClusterLinearizabilityTest, HistoryUnderKillsPausesAndRestartsIsLinearizable) {
  Cluster cluster(kNodes, {"--raft-election-ms", "400", "--raft-heartbeat-ms", "40",
                           "--raft-snapshot-threshold", "64", "--raft-snapshot-trailing", "16"});
  cluster.StartAll();
  ASSERT_GE(cluster.WaitForLeader(), 0);

  lin::History history;
  std::atomic<bool> done{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      Client client(&cluster, &history, c);
      client.Run(done);
    });
  }

  // The nemesis: one fault at a time, so that a majority usually remains (it need not:
  // the history must be linearizable whatever happens).
  std::mt19937 rng(12345);
  std::vector<std::string> faults;
  std::thread nemesis([&] {
    while (faults.size() < kFaults) {
      std::this_thread::sleep_for(std::chrono::milliseconds(700));
      const int victim = static_cast<int>(rng() % kNodes);
      switch (rng() % 3) {
        case 0:
          faults.push_back(fmt::format("kill -9 node {}", victim + 1));
          cluster.Kill(victim);
          std::this_thread::sleep_for(std::chrono::milliseconds(500));
          cluster.Start(victim);
          break;
        case 1:
          faults.push_back(fmt::format("pause node {}", victim + 1));
          cluster.Pause(victim);
          std::this_thread::sleep_for(std::chrono::milliseconds(1200));
          cluster.Resume(victim);
          break;
        default: {
          const int leader = cluster.WaitForLeader(10);
          if (leader < 0) break;
          faults.push_back(fmt::format("kill -9 leader node {}", leader + 1));
          cluster.Kill(leader);
          std::this_thread::sleep_for(std::chrono::milliseconds(300));
          cluster.Start(leader);
          break;
        }
      }
    }
  });
  nemesis.join();
  std::this_thread::sleep_for(std::chrono::seconds(1));  // some ops after the last fault
  done = true;
  for (auto& t : clients) t.join();

  std::vector<lin::Op> ops = history.ops();
  size_t completed = 0;
  for (const lin::Op& op : ops) completed += op.indeterminate ? 0 : 1;
  std::string fault_list;
  for (const std::string& f : faults) fault_list += f + "; ";
  // The run must have done real work through real faults, or it proves nothing.
  EXPECT_GE(completed, 200u) << "of " << ops.size() << " ops";

  lin::CheckResult result = lin::CheckLinearizable(ops);
  EXPECT_TRUE(result.ok) << (result.inconclusive ? "INCONCLUSIVE: " : "VIOLATION: ")
                         << result.explanation << "\nfaults: " << fault_list;
  std::cout << fmt::format("history: {} ops ({} completed), {} states explored; faults: {}\n",
                           ops.size(), completed, result.states_explored, fault_list);

  // And the cluster still serves once the faults stop.
  ASSERT_GE(cluster.WaitForLeader(), 0);
  std::optional<std::string> r = cluster.Call(SetJson("after", "1"));
  ASSERT_TRUE(r && IsOk(*r)) << (r ? *r : "no reply");
}

}  // namespace
}  // namespace kvs::raft_test
