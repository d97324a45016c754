// Black-box cluster harness: N real kvs-server processes in cluster mode on loopback ports,
// each with its own data directory, started, killed, paused and restarted by the tests.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "e2e/harness.h"

namespace kvs::raft_test {

class Cluster {
 public:
  // `size` node slots; the first `initial` (default all) form the bootstrapped cluster, the
  // others can be started with --join and added. `extra_args` go to every node.
  explicit Cluster(int size, std::vector<std::string> extra_args = {}, int initial = -1);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  int size() const { return static_cast<int>(nodes_.size()); }
  // Runs node i inside network namespace `netns[i]`, reachable at `hosts[i]` (instead of
  // 127.0.0.1), for partition tests. Before any Start.
  void UseNetworkNamespaces(const std::vector<std::string>& netns,
                            const std::vector<std::string>& hosts);
  void Start(int i);   // (re)starts node i with its data directory
  void StartAll();     // the initial nodes
  void Kill(int i);    // SIGKILL
  void Stop(int i);    // SIGTERM, waits for a clean exit; returns nothing, asserts exit 0
  void Pause(int i);   // SIGSTOP
  void Resume(int i);  // SIGCONT
  bool Running(int i) const;
  bool Paused(int i) const { return nodes_[i].paused; }

  int ClientPort(int i) const { return nodes_[i].client_port; }
  const std::string& DataDir(int i) const { return nodes_[i].dir; }
  const std::string& Host(int i) const { return nodes_[i].host; }
  // Node i's own copy of `key` (a stale read); nullopt if absent or no answer.
  std::optional<std::string> LocalValue(int i, const std::string& key);
  // Waits until node i's own copy of `key` is `want` (followers apply asynchronously).
  bool EventuallyLocal(int i, const std::string& key, const std::string& want, int timeout_s = 30);
  std::string ClientAddr(int i) const;
  // "ID=CLIENT/RAFT" of node i (ids are i + 1).
  std::string PeerSpec(int i) const;
  std::string Stderr(int i) const;
  // Node i's kvs-server flags (for a start the test runs itself).
  std::vector<std::string> ArgsFor(int i) const;

  // CLUSTER STATUS of node i as "field:value" lines; nullopt if it does not answer.
  std::optional<std::string> Status(int i, int timeout_s = 5);
  // Index of a running node that says it leads and whose view a majority of the running
  // nodes share; -1 after `timeout_s`.
  int WaitForLeader(int timeout_s = 60);

  // Sends one JSON request line to node `start` (or the leader's hint after a "not leader"
  // reply) until a node answers something else; the reply line, or nullopt on timeout.
  std::optional<std::string> Call(const std::string& json, int start = 0, int timeout_s = 60);

 private:
  struct Node {
    int client_port = 0;
    int raft_port = 0;
    std::string dir;
    std::string host = "127.0.0.1";
    std::vector<std::string> launcher;
    std::unique_ptr<e2e::ServerProcess> proc;
    bool paused = false;
  };

  std::string root_;
  int initial_;
  std::vector<std::string> extra_args_;
  std::vector<Node> nodes_;
};

// "field:value" lookup in CLUSTER STATUS text; "" if missing.
std::string StatusField(const std::string& status, const std::string& field);

using e2e::GetJson;
using e2e::IsOk;
using e2e::RmJson;
using e2e::SetJson;
using e2e::ValueOf;

}  // namespace kvs::raft_test
