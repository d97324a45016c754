// RaftNode: one member of a kvs cluster (docs/REPLICATION.md). Canonical's libraft drives
// consensus, with its libuv disk I/O (Raft's log is the write-ahead log) and TCP transport,
// on a thread of its own; the store Engine is the state machine: every committed batch is
// applied to it, on every node, in log order.
//
// Threads: the public methods may be called from any thread and never block on the Raft
// thread (requests go through a queue and a uv_async wake-up). Completion callbacks run on
// the Raft thread and must not block either: the server hands them to its own loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "raft/entry.h"
#include "raft/peers.h"
#include "store/engine.h"
#include "store/env.h"

namespace kvs::raft {

struct NodeOptions {
  uint64_t id = 0;          // this node; must be one of `peers`
  std::vector<Peer> peers;  // the cluster's first members (the same list on every node)
  // False: the first start with an empty `dir` bootstraps the cluster of `peers`. True: a
  // node to be added later (`kvs-client cluster add`); it waits for the leader instead.
  bool join = false;
  std::string dir;  // Raft's files (log segments, snapshots, metadata); created if missing
  // Creates `dir` (and makes it durable: Env::CreateDir fsyncs each new directory's parent);
  // Env::Default() if null. libraft does its own file I/O inside `dir`.
  Env* env = nullptr;
  // Tuned for a LAN (docs/REPLICATION.md "Timeouts"): a dead leader is replaced in about
  // 1-2 election timeouts (randomised); the heartbeat is a sixth of the timeout, and
  // libraft's tick, so that a follower notices an expired timer within 50 ms.
  unsigned election_timeout_ms = 300;
  unsigned heartbeat_timeout_ms = 50;
  // Pre-vote (Raft thesis 9.6): a node that lost touch with the leader (paused, partitioned)
  // first asks whether it could win before it raises its term, so when it comes back it
  // does not depose a healthy leader. Off only to show what it prevents.
  bool pre_vote = true;
  unsigned snapshot_threshold = 4096;  // applied entries between snapshots
  unsigned snapshot_trailing = 1024;   // entries kept in the log behind a snapshot
  // Human-readable events (leader changes, snapshots). May be empty; called on the Raft
  // thread or the snapshot worker.
  std::function<void(std::string_view)> on_info;
  // This node can no longer follow the log (its engine failed to apply a committed entry).
  // It must stop serving: kvs-server logs the reason and exits. Called on the Raft thread.
  std::function<void(std::string_view)> on_fatal;
};

struct MemberInfo {
  uint64_t id = 0;
  std::string raft_addr;
  std::string client_addr;  // empty if this node does not know it
  std::string role;         // "voter", "standby", "spare"
};

struct NodeInfo {
  uint64_t id = 0;
  std::string state;       // "leader", "follower", "candidate", "unavailable"
  uint64_t leader_id = 0;  // 0: none known
  std::string leader_client_addr;
  uint64_t term = 0;
  uint64_t commit_index = 0;
  uint64_t last_applied = 0;
  uint64_t last_index = 0;
  uint64_t snapshots = 0;  // taken by this node since it started
  std::vector<MemberInfo> members;
};

class RaftNode {
 public:
  // Starts the Raft thread, loads Raft's state from options.dir (restoring the engine from
  // the latest snapshot and re-applying the log after it), bootstraps a new cluster if
  // needed, and starts listening on this node's Raft address.
  static Result<std::unique_ptr<RaftNode>> Start(const NodeOptions& options, Engine* engine);
  ~RaftNode();
  RaftNode(const RaftNode&) = delete;
  RaftNode& operator=(const RaftNode&) = delete;

  // Replicates `batch` as one log entry; `done` gets the batch's fate once it is committed
  // and applied here: OK with each op's outcome (as Engine::Write), NotLeader(leader's
  // client address) if this node is not the leader (nothing was written), or Aborted when
  // leadership was lost or the node stops before the commit — then the write may or may not
  // take effect.
  using WriteDone = std::function<void(Status, std::vector<Status>)>;
  void Propose(const WriteBatch& batch, WriteDone done);

  // Linearizable read fence: `done(OK)` once a barrier entry appended now is committed and
  // applied, so that every write acknowledged before the call is visible in the engine.
  // NotLeader on a follower.
  void Barrier(std::function<void(Status)> done);

  // This node's view of the cluster.
  void Info(std::function<void(NodeInfo)> done);
  // The view of at most ~100 ms ago, without waiting (for INFO and hints).
  NodeInfo CachedInfo() const;

  // Membership changes, on the leader: adds `peer` (learns its client address, adds it as a
  // spare, then promotes it to voter once it caught up), or removes node `id`.
  void AddNode(const Peer& peer, std::function<void(Status)> done);
  void RemoveNode(uint64_t id, std::function<void(Status)> done);

  // Hands leadership over to node `id` (0: a voter whose log is complete, libraft's choice),
  // on the leader. New writes and read fences wait meanwhile and those in flight finish
  // first, so that none is aborted by the change; the waiting ones are then answered
  // NotLeader(the new leader), or proposed here if the hand-off failed. `done`: OK once
  // another node leads; NotLeader on a follower; InvalidArgument for a bad `id`; Aborted if
  // no new leader took over within about two election timeouts (this node still leads).
  void TransferLeadership(uint64_t id, std::function<void(Status)> done);

  // Closes Raft and joins its thread; callbacks still pending get an Aborted status first.
  // Idempotent; not from a callback.
  void Stop();

 private:
  class Impl;  // raft/raft_node_impl.h
  explicit RaftNode(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kvs::raft
