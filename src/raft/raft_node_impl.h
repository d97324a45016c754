// RaftNode::Impl, internal to src/raft: the state behind a RaftNode, shared by the files
// that implement it, one concern each:
//   node_lifecycle.cc  start (the Raft thread, libuv and libraft set-up, bootstrap), the
//                      periodic tick and the status view, close and stop;
//   node_requests.cc   requests from any thread (the queue and its uv_async wake-up) and
//                      the libraft requests they become, with their completion callbacks;
//   node_transfer.cc   leadership hand-off (raft_transfer), holding new requests meanwhile;
//   state_machine.cc   the raft_fsm: apply committed entries, take and restore snapshots.
//
// Threads: the public methods may be called from any thread; everything else runs on the
// Raft thread, the only one that touches libuv, libraft and the fields not GUARDED_BY(mu_).
#pragma once

#include <uv.h>
extern "C" {  // libraft 0.15's headers have no C++ guards of their own
#include <raft.h>
#include <raft/uv.h>
}

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "raft/entry.h"
#include "raft/raft_node.h"

namespace kvs::raft {

// Frees memory that libraft's allocator handed out (raft_malloc), unless it was released
// to libraft first.
struct RaftFree {
  void operator()(void* p) const { raft_free(p); }
};
template <class T>
using RaftPtr = std::unique_ptr<T, RaftFree>;

class RaftNode::Impl {
 public:
  // Starts the Raft thread and waits until it set libraft up (or failed to).
  static Result<std::unique_ptr<Impl>> Start(const NodeOptions& options, Engine* engine);
  Impl(const NodeOptions& options, Engine* engine);
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // Any thread: as RaftNode's methods of the same names.
  void Propose(const WriteBatch& batch, WriteDone done) EXCLUDES(mu_);
  void Barrier(std::function<void(Status)> done) EXCLUDES(mu_);
  void Info(std::function<void(NodeInfo)> done) EXCLUDES(mu_);
  NodeInfo CachedInfo() const EXCLUDES(mu_);
  void AddNode(const Peer& peer, std::function<void(Status)> done) EXCLUDES(mu_);
  void RemoveNode(uint64_t id, std::function<void(Status)> done) EXCLUDES(mu_);
  void TransferLeadership(uint64_t id, std::function<void(Status)> done) EXCLUDES(mu_);
  // The thread that called Start, or one the caller orders after it (not a callback).
  void Stop() EXCLUDES(mu_);

 private:
  // Requests handed to libraft (node_requests.cc); each is owned by a unique_ptr except
  // between the libraft call that accepted it and its completion callback.
  struct Tracked;
  struct ApplyRequest;
  struct BarrierRequest;
  struct ChangeRequest;
  // A leadership hand-off (node_transfer.cc): first waits for the requests in flight, then
  // libraft's raft_transfer.
  struct TransferRequest {
    struct raft_transfer req {};
    uint64_t target = 0;  // 0: libraft picks
    std::function<void(Status)> done;
    std::vector<std::function<void()>> held;  // requests that came meanwhile
    std::chrono::steady_clock::time_point drain_deadline;
    bool started = false;  // raft_transfer accepted it
  };

  // ---- node_requests.cc
  // Any thread: runs `fn` on the Raft thread; false once the node closed.
  bool Post(std::function<void()> fn) EXCLUDES(mu_);
  void Drain() EXCLUDES(mu_);
  void ProposeBytes(std::string bytes, uint64_t token, WriteDone done);
  static void OnApplied(struct raft_apply* req, int status, void* result);
  void BarrierNow(std::function<void(Status)> done);
  void AddNow(const Peer& peer, std::function<void(Status)> done);
  static void OnAdded(struct raft_change* req, int status);
  static void OnAssigned(struct raft_change* req, int status);
  void RemoveNow(uint64_t id, std::function<void(Status)> done);
  void FinishChange(std::unique_ptr<ChangeRequest> r, int rv, std::string_view what);
  Status FromRaft(int rv, std::string_view what);
  static Status Stopping();  // a request's answer once Close began
  std::string LeaderClientAddr();

  // ---- node_transfer.cc
  void TransferNow(uint64_t id, std::function<void(Status)> done);
  // While a hand-off is under way (transfer_ set), keeps `retry`: the request, run again
  // once the hand-off is over.
  void HoldForTransfer(std::function<void()> retry);
  void MaybeStartTransfer();
  void OnRequestFinished();  // a Tracked request ended
  static void OnTransferred(struct raft_transfer* req);
  void FinishTransfer(Status s);

  // ---- state_machine.cc
  void InitFsm();
  static int FsmApply(struct raft_fsm* fsm, const struct raft_buffer* buf, void** result);
  static int FsmSnapshot(struct raft_fsm* fsm, struct raft_buffer* bufs[], unsigned* n_bufs);
  static int FsmSnapshotFinalize(struct raft_fsm* fsm, struct raft_buffer* bufs[],
                                 unsigned* n_bufs);
  static int FsmRestore(struct raft_fsm* fsm, struct raft_buffer* buf);
  Status Restore(std::string_view data);
  void Fatal(std::string_view why);

  // ---- node_lifecycle.cc
  void Run(std::promise<Status>* started);
  Status Init();
  Status Bootstrap();
  void Close();
  void CloseRaft();
  void AfterRaftClosed() EXCLUDES(mu_);
  static void OnTimer(uv_timer_t* tick);
  void OnTick() EXCLUDES(mu_);
  NodeInfo MakeInfo();
  void LogInfo(std::string_view text);  // options_.on_info
  bool loop_inited() const { return wake_.loop != nullptr; }
  bool io_inited() const { return io_.impl != nullptr; }

  // Fixed before the Raft thread starts: any thread may read them.
  const NodeOptions options_;
  Engine* const engine_;
  const std::string raft_addr_;  // this node's, from options_.peers; empty: not a peer

  // Any thread.
  std::atomic<uint64_t> next_token_{0};  // unique per incarnation (see Start)
  // Initialised before Start returns and closed after Post refuses: uv_async_send on it
  // is safe from any thread meanwhile (Post holds mu_ to keep it so).
  uv_async_t wake_{};
  // The thread that calls Start and Stop.
  std::thread thread_;

  mutable Mutex mu_;
  std::vector<std::function<void()>> queue_ GUARDED_BY(mu_);
  bool accepting_ GUARDED_BY(mu_) = true;  // false once closed: Post refuses
  bool stop_requested_ GUARDED_BY(mu_) = false;
  NodeInfo cached_ GUARDED_BY(mu_);  // OnTick's latest MakeInfo

  // The Raft thread's own, from here on (the constructor fills members_ from
  // options_.peers before the thread starts).
  uv_loop_t loop_{};
  uv_timer_t tick_{};
  struct raft raft_ {};
  struct raft_io io_ {};
  struct raft_uv_transport transport_ {};
  struct raft_fsm fsm_ {};
  bool raft_inited_ = false;
  MemberAddresses members_;
  // Batches proposed here and not yet completed, by token: their op outcomes once applied.
  std::unordered_map<uint64_t, std::vector<Status>> results_;
  uint64_t snapshots_ = 0;
  uint64_t snapshot_index_ = 0;  // of the snapshot being taken
  bool closing_ = false;         // Close() began: new requests fail
  bool closed_ = false;          // raft_close() called
  size_t live_requests_ = 0;     // Tracked requests alive: Close waits for them
  std::chrono::steady_clock::time_point close_deadline_;
  bool fatal_ = false;
  uint64_t last_leader_ = 0;
  // The hand-off under way, if any. Ended ones stay allocated until the node is destroyed:
  // the TimeoutNow send inside may still be queued in raft_uv for an unreachable peer.
  std::unique_ptr<TransferRequest> transfer_;
  std::vector<std::unique_ptr<TransferRequest>> ended_transfers_;
};

}  // namespace kvs::raft
