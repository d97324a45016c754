// Network partitions between cluster nodes (issue "Replication"): each node runs in a
// network namespace of its own, joined to the test's namespace by a veth pair on a bridge;
// a partition is a pair of blackhole routes between two namespaces. Needs root (and a
// kernel that allows namespaces): run by `make test-partition`; skipped otherwise.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include "raft/cluster_harness.h"

namespace kvs::raft_test {
namespace {

constexpr int kNodes = 3;

int Sh(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()); }

// The namespaces, veths and bridge of one test run; names carry the pid (interface names
// must stay under 16 bytes), addresses 10.<77>.<pid % 200>.x.
class Network {
 public:
  Network() : tag_(::getpid() % 100000), subnet_(fmt::format("10.77.{}", ::getpid() % 200)) {}
  ~Network() { TearDown(); }

  bool SetUp() {
    if (::geteuid() != 0) return false;
    if (Sh(fmt::format("ip link add {} type bridge", Bridge())) != 0) return false;
    bool ok = Sh(fmt::format("ip addr add {}.254/24 dev {}", subnet_, Bridge())) == 0 &&
              Sh(fmt::format("ip link set {} up", Bridge())) == 0;
    for (int i = 0; i < kNodes && ok; ++i) {
      ok = Sh(fmt::format("ip netns add {}", Ns(i))) == 0 &&
           Sh(fmt::format("ip link add {} type veth peer name {}", Veth(i), VethPeer(i))) == 0 &&
           Sh(fmt::format("ip link set {} netns {}", VethPeer(i), Ns(i))) == 0 &&
           Sh(fmt::format("ip link set {} master {}", Veth(i), Bridge())) == 0 &&
           Sh(fmt::format("ip link set {} up", Veth(i))) == 0 &&
           Sh(fmt::format("ip netns exec {} ip addr add {}/24 dev {}", Ns(i), Host(i),
                          VethPeer(i))) == 0 &&
           Sh(fmt::format("ip netns exec {} ip link set {} up", Ns(i), VethPeer(i))) == 0 &&
           Sh(fmt::format("ip netns exec {} ip link set lo up", Ns(i))) == 0;
    }
    return ok;
  }
  void TearDown() {
    for (int i = 0; i < kNodes; ++i) {
      Sh(fmt::format("ip link del {}", Veth(i)));
      Sh(fmt::format("ip netns del {}", Ns(i)));
    }
    Sh(fmt::format("ip link del {}", Bridge()));
  }

  // Cuts (or heals) the link between nodes i and j, both ways.
  void Cut(int i, int j, bool cut = true) {
    const char* verb = cut ? "add" : "del";
    ASSERT_EQ(Sh(fmt::format("ip netns exec {} ip route {} blackhole {}/32", Ns(i), verb, Host(j))),
              0);
    ASSERT_EQ(Sh(fmt::format("ip netns exec {} ip route {} blackhole {}/32", Ns(j), verb, Host(i))),
              0);
  }

  std::string Ns(int i) const { return fmt::format("kvsp{}n{}", tag_, i); }
  std::string Host(int i) const { return fmt::format("{}.{}", subnet_, i + 1); }
  std::vector<std::string> AllNs() const {
    std::vector<std::string> v;
    for (int i = 0; i < kNodes; ++i) v.push_back(Ns(i));
    return v;
  }
  std::vector<std::string> AllHosts() const {
    std::vector<std::string> v;
    for (int i = 0; i < kNodes; ++i) v.push_back(Host(i));
    return v;
  }

 private:
  std::string Bridge() const { return fmt::format("kvb{}", tag_); }
  std::string Veth(int i) const { return fmt::format("kvv{}n{}", tag_, i); }
  std::string VethPeer(int i) const { return fmt::format("kvv{}p{}", tag_, i); }

  int tag_;
  std::string subnet_;
};

TEST(PartitionTest, AnIsolatedLeaderCannotAcknowledgeAndTheMajorityGoesOn) {
  Network net;
  if (!net.SetUp()) GTEST_SKIP() << "needs root and network namespaces (make test-partition)";
  Cluster c(kNodes, {"--raft-election-ms", "500", "--raft-heartbeat-ms", "50"});
  c.UseNetworkNamespaces(net.AllNs(), net.AllHosts());
  c.StartAll();
  const int old_leader = c.WaitForLeader();
  ASSERT_GE(old_leader, 0);
  std::map<std::string, std::string> acked;
  for (int k = 0; k < 30; ++k) {
    const std::string key = fmt::format("key{}", k);
    ASSERT_TRUE(IsOk(*c.Call(SetJson(key, "before"), old_leader)));
    acked[key] = "before";
  }

  // Cut the leader off from both followers; the client can still reach it.
  for (int j = 0; j < kNodes; ++j) {
    if (j != old_leader) net.Cut(old_leader, j);
  }
  e2e::Conn to_old(c.ClientPort(old_leader), c.Host(old_leader));
  ASSERT_TRUE(to_old.ok());
  to_old.Send(SetJson("key0", "lost"));
  // Without a majority it cannot commit: the write must not be acknowledged. It fails when
  // the leader steps down (within an election timeout), so silence means a lost request.
  std::optional<std::string> reply = to_old.ReadLine(15);
  ASSERT_TRUE(reply) << "no reply in 15 s from the isolated leader (node " << old_leader
                     << ") to a write it cannot commit: it should have failed it\n"
                     << c.Stderr(old_leader);
  EXPECT_FALSE(IsOk(*reply)) << *reply;

  // The majority side elects a leader of its own and takes writes.
  int new_leader = -1;
  for (int attempt = 0; attempt < 100 && new_leader < 0; ++attempt) {
    for (int j = 0; j < kNodes; ++j) {
      std::optional<std::string> s = c.Status(j, 2);
      if (j != old_leader && s && StatusField(*s, "state") == "leader") new_leader = j;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GE(new_leader, 0) << "the majority elected no leader";
  for (int k = 0; k < 30; k += 2) {
    const std::string key = fmt::format("key{}", k);
    ASSERT_TRUE(IsOk(*c.Call(SetJson(key, "during"), new_leader)));
    acked[key] = "during";
  }
  // The isolated node no longer claims to lead.
  std::optional<std::string> old_status = c.Status(old_leader);
  ASSERT_TRUE(old_status);
  EXPECT_NE(StatusField(*old_status, "state"), "leader") << *old_status;

  // Heal: the old leader follows the new one and drops the write it could not commit.
  for (int j = 0; j < kNodes; ++j) {
    if (j != old_leader) net.Cut(old_leader, j, /*cut=*/false);
  }
  ASSERT_GE(c.WaitForLeader(), 0);
  for (const auto& [key, value] : acked) {
    std::optional<std::string> r = c.Call(GetJson(key));
    ASSERT_TRUE(r);
    EXPECT_EQ(ValueOf(*r), value) << key;
  }
  EXPECT_TRUE(c.EventuallyLocal(old_leader, "key28", "during")) << c.Stderr(old_leader);
  EXPECT_TRUE(c.EventuallyLocal(old_leader, "key0", "during")) << c.Stderr(old_leader);
}

TEST(PartitionTest, AFollowerCutOffCatchesUpWhenHealed) {
  Network net;
  if (!net.SetUp()) GTEST_SKIP() << "needs root and network namespaces (make test-partition)";
  Cluster c(kNodes, {"--raft-election-ms", "500", "--raft-heartbeat-ms", "50",
                     "--raft-snapshot-threshold", "32", "--raft-snapshot-trailing", "8"});
  c.UseNetworkNamespaces(net.AllNs(), net.AllHosts());
  c.StartAll();
  const int leader = c.WaitForLeader();
  ASSERT_GE(leader, 0);
  const int cut = (leader + 1) % kNodes;
  for (int j = 0; j < kNodes; ++j) {
    if (j != cut) net.Cut(cut, j);
  }
  // The remaining two are a majority: writes go on; the cut-off follower may campaign in
  // vain meanwhile (pre-vote keeps it from disturbing the leader once healed).
  for (int k = 0; k < 120; ++k) {
    std::optional<std::string> r =
        c.Call(SetJson(fmt::format("key{}", k % 40), fmt::format("v{}", k)), leader);
    ASSERT_TRUE(r && IsOk(*r)) << (r ? *r : "no reply");
  }
  for (int j = 0; j < kNodes; ++j) {
    if (j != cut) net.Cut(cut, j, /*cut=*/false);
  }
  EXPECT_TRUE(c.EventuallyLocal(cut, "key39", "v119")) << c.Stderr(cut);
}

}  // namespace
}  // namespace kvs::raft_test
