// Server::Impl: the loop-thread state of a running Server. Internal to src/server.
//
// Files: server.cc (accept, receive, decode and dispatch, replies, closing, shutdown),
// server_writes.cc (the group commit), server_reads.cc (lookups on the pool, INFO).
// Every member function runs on the loop thread, except the bodies of pool tasks, which
// touch nothing here but the engine and Loop::Post.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/mutex.h"
#include "raft/raft_node.h"
#include "server/connection.h"
#include "server/keyspace.h"
#include "server/log_write_policy.h"
#include "server/server.h"
#include "store/engine.h"
#include "store/log_writer.h"
#include "uring/loop.h"

namespace kvs {

using server_internal::Call;
using server_internal::CallClass;
using server_internal::Classify;
using server_internal::Clock;
using server_internal::Connection;
using server_internal::Session;
using server_internal::Txn;

// The error reply for `status` in `shape`: a not-leader reply (with the leader's address)
// for NotLeader, else the status's text.
std::string StatusReply(proto::Shape shape, const Status& status);

// INFO's choice of sections: whether `name` is among `sections` (none named, "default",
// "all" and "everything" mean every one).
bool InfoWants(std::span<const std::string> sections, std::string_view name);

// A cluster node's view as "<prefix>field:value\r\n" lines (CLUSTER STATUS, INFO's
// "# Cluster"): with one "member" line per node, or (members = false) their number.
void AppendNodeInfo(const raft::NodeInfo& info, std::string_view prefix, bool members,
                    std::string* out);

class Server::Impl {
 public:
  Impl(const ServerConfig& config, Engine* engine, ThreadPool* pool, uring::Loop* loop,
       int* listen_fd);
  ~Impl();

  void Start();          // arms accept and the housekeeping timer
  void BeginShutdown();  // stop accepting and reading; finish in-flight work; then Stop
  uring::Loop* loop() const { return loop_; }

 private:
  // A write request waiting for, or in, a group commit: which ops of the batch are its.
  struct PendingCall {
    uint32_t conn_id;
    uint32_t conn_gen;
    uint64_t seq;
    proto::Shape shape;
    proto::Command command;
    size_t first_op;
    size_t num_ops;
    // A command by name (Call::spec): its reply, decided when it was staged; sent once the
    // batch is durable (or replaced by the batch's error).
    std::string reply;
  };
  struct Batch {
    WriteBatch ops;
    std::vector<PendingCall> calls;
    size_t bytes = 0;
    // Once submitted: its number, and its fate once known (batches can complete out of
    // order; their replies never do).
    uint64_t id = 0;
    bool done = false;
    Status status;
    std::vector<Status> op_results;
    // Nothing to write: no call waits on it, and the active expirer staged no delete.
    bool empty() const { return calls.empty() && ops.empty(); }
  };

  // ---- connections (server.cc)
  void OnAccept(int fd);
  void OnRecv(uint32_t id, uint32_t gen, int res, std::string_view data);
  void OnRejectedData(Connection& c, std::string_view data);
  Connection* Find(uint32_t id, uint32_t gen);
  // Decodes and dispatches c's buffered input until it runs out, or a request must wait.
  void Pump(Connection& c);
  void Dispatch(Connection& c, Call&& call);
  bool CanStart(const Connection& c, CallClass cls) const;
  void AnswerLocal(Connection& c, const proto::Request& request);

  // ---- commands by name (server_commands.cc)
  // Looks a command up in the table, checks its arity and the connection's password,
  // queues it inside MULTI, or starts it. False when it had to park (stop decoding).
  bool HandleCommand(Connection& c, const proto::Request& request);
  // A refused command: the error reply; inside MULTI it also dooms the EXEC.
  // `exec`: the refused command is EXEC, which discards the transaction instead.
  void Reject(Connection& c, proto::Shape shape, std::string_view error, bool exec = false);
  // Runs a connection or transaction command (not EXEC) on the loop: its reply into `out`,
  // its effects on `session` (the connection's own, or a transaction's copy).
  void RunLocalCommand(Connection& c, Session& session, const Call& call, proto::ReplyWriter& out);
  void RunClientCommand(Connection& c, Session& session, const Call& call, proto::ReplyWriter& out);
  void RunCommandCommand(const Call& call, proto::ReplyWriter& out) const;
  void RunHello(Session& session, Connection& c, const Call& call, proto::ReplyWriter& out);
  void RunConfigGet(const Call& call, proto::ReplyWriter& out) const;
  // The default user's password check (any password when none is set).
  bool PasswordMatches(std::string_view password) const;
  std::string ClientInfoLine(const Connection& c) const;
  // WATCH bookkeeping: `key` (an engine key) changed: EXEC fails for its watchers.
  void TouchKey(const std::string& key);
  void Unwatch(Connection& c);
  // Whether `key` exists (and has not expired), from the staged writes and the engine's
  // memory; WouldBlock when that cannot tell without the disk.
  Result<bool> ExistsInMemory(const std::string& key) const;
  void ResetTransaction(Connection& c);
  std::string KeyspaceSection() const;
  uint64_t NewSlot(Connection& c);
  void FillSlot(Connection& c, uint64_t seq, std::string&& bytes);
  void AddReply(Connection& c, std::string&& bytes);
  void MarkDirty(Connection& c);
  void FlushDirty();
  void StartSend(Connection& c);
  void OnSent(uint32_t id, uint32_t gen, int res);
  // Closes c (true) when its unparsed input and unsent replies pass the bound.
  bool OverBufferLimit(Connection& c);
  void MaybeClose(Connection& c);
  void Abort(Connection& c, std::string_view why);
  void CloseScheduled();
  void OnTick();
  void MaybeFinishShutdown();
  void BeforeWait();

  // ---- writes (server_writes.cc)
  void StartWrite(Connection& c, Call&& call);
  void MaybeStartBatch();
  // pending_ becomes a batch in flight, unless the engine's LogWriter cannot take it yet
  // (write_blocked_, until it calls back).
  void StartBatch();
  // Moves pending_ into in_flight_ and lets writers parked for room go on; its id.
  uint64_t TakePending();
  void StartLogBatch();
  // Publishes a LogWriter batch whose write (and fdatasync) ended with `io`, and completes it.
  void CommitLogBatch(uint64_t id, LogWriter::Prepared&& prepared, const Status& io);
  // Records the fate of in-flight batch `id`, then answers every batch at the front of
  // in_flight_ whose fate is known, in order.
  void CompleteBatch(uint64_t id, Status status, std::vector<Status> op_results);
  void FinishBatch(Batch& done);
  std::string WriteReply(const PendingCall& call, const Status& batch_status,
                         const std::vector<Status>& op_results) const;
  // A command by name: decides it against the newest state (staged writes over the engine)
  // and stages its writes, or, when a key it reads is not in memory, reads that off the
  // loop first (FetchKeys) and then runs it again.
  void StartCommandWrite(Connection& c, Call&& call);
  // Runs `call` (a write, or EXEC) against `txn`; its reply into *reply. WouldBlock: keys
  // to fetch (txn.missing()).
  Status DecideWrite(Connection& c, Call& call, Txn& txn, std::string* reply);
  void FetchKeys(Connection& c, Call&& call, std::vector<std::string> keys);
  // Cluster mode: a command that reads state is decided only after a Raft barrier that
  // started after it arrived, so the engine holds every committed entry (another leader's
  // included) and it decides on the newest state. One barrier serves all that wait.
  void WaitForWriteFence(Connection& c, Call&& call);
  void MaybeStartWriteFence();
  void OnFetched(uint64_t fetch_id);
  // Appends a decided command's writes to pending_ (and the overlay) with its reply.
  void Stage(Connection& c, const Call& call, WriteBatch& writes, std::string&& reply);
  // Appends one op to pending_, the overlay and (unless !touch_watchers) WATCH's bookkeeping.
  void StageOp(WriteBatch::Op&& op, bool touch_watchers = true);
  // The newest staged op that decides `key` (its own put or delete, or a later prefix
  // delete covering it), if a batch not yet completed holds one.
  const WriteBatch::Op* Staged(const std::string& key) const;
  class LoopReader;

  // ---- the active expirer (server_expiry.cc)
  void ScheduleExpireCycle(bool soon);
  void StartExpireCycle();
  // Stages deletes of `keys` (found expired off the loop) that are still expired; `more`:
  // the cycle stopped at a bound, start the next one at once.
  void OnExpiredKeys(std::vector<std::string> keys, bool more);

  // ---- reads (server_reads.cc)
  // A read waiting for the pool, and where its reply goes.
  struct ReadJob {
    uint32_t conn_id;
    uint32_t conn_gen;
    uint64_t seq;
    Call call;
  };
  void StartRead(Connection& c, Call&& call);
  // Hands this iteration's reads to the pool — in cluster mode, after one Raft read fence
  // for all of them, unless they may be stale — and CLUSTER commands to the Raft node.
  void DispatchReads();
  // Runs `jobs` on the pool in a few tasks (one hand-off and one wake-up per task, not per
  // read).
  void RunReads(std::vector<ReadJob> jobs);
  // Cluster mode: starts a read fence for the reads waiting for one, unless one is running.
  void MaybeStartFence();
  void StartClusterCommand(ReadJob&& job);
  void FailReads(std::vector<ReadJob>& jobs, const Status& status);
  void OnReadDone(uint32_t id, uint32_t gen, uint64_t seq, std::string&& reply);
  // INFO's sections but the keyspace (which the pool counts): all of them, or `sections`.
  std::string InfoText(std::span<const std::string> sections) const;

  const ServerConfig& config_;
  Engine* const engine_;
  LogWriter* const log_writer_;  // the engine's, if the loop writes its log; else null
  const LogWritePolicy log_write_policy_;
  ThreadPool* const pool_;
  raft::RaftNode* const cluster_;  // null unless in cluster mode
  uring::Loop* const loop_;
  int* const listen_fd_;
  const Clock::time_point started_ = Clock::now();
  const std::shared_ptr<ExpiryClock> clock_;

  std::vector<std::unique_ptr<Connection>> conns_;  // by id; null = free
  std::vector<uint32_t> free_ids_;
  std::vector<uint32_t> gens_;                          // next generation per id
  size_t clients_ = 0;                                  // open, not rejected
  size_t rejected_ = 0;                                 // open, rejected, waiting to be told
  std::vector<std::pair<uint32_t, uint32_t>> dirty_;    // (id, gen) to flush
  std::vector<std::pair<uint32_t, uint32_t>> closing_;  // (id, gen) to close
  uring::OpId accept_op_ = 0;
  bool accepting_ = false;

  // Group commit: `pending_` collects this iteration's writes; `in_flight_` holds the
  // batches being written, oldest first: at most one for an engine, up to
  // kClusterBatchesInFlight Raft entries in cluster mode, where replication pipelines them.
  static constexpr size_t kClusterBatchesInFlight = 4;
  Batch pending_;
  std::deque<Batch> in_flight_;
  uint64_t next_batch_id_ = 1;
  // The LogWriter said WouldBlock (a segment roll, the zero-filler): pending_ waits for its
  // `ready` callback, which reaches the loop through ready_token_ (shared with callbacks
  // that may outlive this Impl).
  bool write_blocked_ = false;
  struct ReadyToken {
    Mutex mu;
    Impl* impl GUARDED_BY(mu);
  };
  const std::shared_ptr<ReadyToken> ready_token_ = MakeReadyToken(this);
  static std::shared_ptr<ReadyToken> MakeReadyToken(Impl* impl);
  std::vector<std::pair<uint32_t, uint32_t>> batch_waiters_;  // parked: pending_ was full

  // Writes staged in pending_ and in_flight_ (not yet in the engine), by engine key: where
  // the newest op of each key is. A command decided on the loop reads these first.
  struct StagedOp {
    uint64_t batch_id;
    size_t op;
    // Staged later than `o` (batch ids grow; ops are in order within a batch).
    bool After(const StagedOp& o) const {
      return batch_id != o.batch_id ? batch_id > o.batch_id : op > o.op;
    }
  };
  std::unordered_map<std::string, StagedOp> overlay_;
  // The staged prefix deletes (FLUSHDB, FLUSHALL), in staging order; each covers the keys
  // starting with its op's key that were staged or stored before it.
  std::vector<StagedOp> prefix_overlay_;
  // The op `at` names, or null once its batch completed.
  const WriteBatch::Op* OpAt(const StagedOp& at) const;
  // Keys read off the loop for writes (FetchKeys), by fetch id; a batch that completes
  // with one of their keys makes the fetch stale (its value may predate that batch).
  struct Fetch {
    uint32_t conn_id;
    uint32_t conn_gen;
    Call call;
    std::vector<std::string> keys;
    bool stale = false;
  };
  std::unordered_map<uint64_t, Fetch> fetches_;
  std::vector<Fetch> write_fence_waiting_;  // cluster writes waiting for the next barrier
  bool write_fence_in_flight_ = false;
  std::unordered_multimap<std::string, uint64_t> fetch_keys_;
  uint64_t next_fetch_id_ = 1;
  // WATCH: engine key -> watching connections (id, gen).
  std::unordered_map<std::string, std::vector<std::pair<uint32_t, uint32_t>>> watchers_;
  uint64_t next_client_id_ = 1;
  const server_internal::KeyspaceOptions keyspace_options_;

  std::vector<ReadJob> reads_;          // reads of this iteration, not yet handed to the pool
  std::vector<ReadJob> fence_waiting_;  // cluster reads waiting for the next read fence
  bool fence_in_flight_ = false;
  size_t reads_in_flight_ = 0;  // reads whose reply has not come back yet

  bool expire_cycle_running_ = false;  // a ScanExpired task, or its barrier, in flight

  bool shutting_down_ = false;
  bool stopped_ = false;
  Clock::time_point shutdown_deadline_;

  // INFO counters.
  uint64_t connections_received_ = 0;
  uint64_t commands_processed_ = 0;
  uint64_t rejected_connections_ = 0;
  uint64_t expired_keys_ = 0;  // deletes the active expirer staged
  uint64_t inline_batches_ = 0;  // LogWriter batches the loop wrote without io_uring
  uint64_t loop_reads_ = 0;      // reads the loop answered from the cache itself
  uint64_t pool_reads_ = 0;      // reads handed to the pool
};

}  // namespace kvs
