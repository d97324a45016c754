#include "raft/raft_node.h"

#include <fmt/format.h>
#include <uv.h>
extern "C" {  // libraft 0.15's headers have no C++ guards of their own
#include <raft.h>
#include <raft/uv.h>
}

#include <chrono>
#include <cstring>
#include <filesystem>
#include <future>
#include <random>
#include <unordered_map>
#include <unordered_set>

namespace kvs::raft {

namespace {

constexpr size_t kRestoreBatchOps = 1024;
constexpr uint64_t kTickMs = 100;
// A leader that sent a snapshot waits this many election timeouts for its answer before it
// sends it again (see Init).
constexpr unsigned kInstallSnapshotElectionTimeouts = 4;

std::string_view StateName(int state) {
  switch (state) {
    case RAFT_FOLLOWER:
      return "follower";
    case RAFT_CANDIDATE:
      return "candidate";
    case RAFT_LEADER:
      return "leader";
    default:
      return "unavailable";
  }
}

std::string_view RoleName(int role) {
  switch (role) {
    case RAFT_VOTER:
      return "voter";
    case RAFT_STANDBY:
      return "standby";
    default:
      return "spare";
  }
}

}  // namespace

struct RaftNode::Impl {
  // Every request handed to libraft is counted while alive: Close waits for them (see there).
  struct Tracked {
    explicit Tracked(Impl* i) : impl(i) { ++impl->live_requests; }
    ~Tracked() { --impl->live_requests; }
    Tracked(const Tracked&) = delete;
    Tracked& operator=(const Tracked&) = delete;
    Impl* const impl;
  };
  struct ApplyRequest : Tracked {
    using Tracked::Tracked;
    struct raft_apply req {};
    uint64_t token = 0;
    WriteDone done;
  };
  struct BarrierRequest : Tracked {
    using Tracked::Tracked;
    struct raft_barrier req {};
    std::function<void(Status)> done;
  };
  struct ChangeRequest : Tracked {
    using Tracked::Tracked;
    struct raft_change req {};
    Peer peer;
    std::function<void(Status)> done;
  };

  NodeOptions options;
  Engine* engine = nullptr;
  std::string raft_addr;

  uv_loop_t loop{};
  uv_async_t wake{};
  uv_timer_t tick{};
  struct raft raft {};
  struct raft_io io {};
  struct raft_uv_transport transport {};
  struct raft_fsm fsm {};
  std::thread thread;

  mutable std::mutex mu;  // guards the four below
  std::vector<std::function<void()>> queue;
  bool accepting = true;  // false once closed: Post refuses
  bool stop_requested = false;
  NodeInfo cached;

  std::atomic<uint64_t> next_token{0};

  // Raft thread only.
  MemberAddresses members;
  // Batches proposed here and not yet completed, by token: their op outcomes once applied.
  std::unordered_map<uint64_t, std::vector<Status>> results;
  uint64_t snapshots = 0;
  uint64_t snapshot_index = 0;  // of the snapshot being taken
  bool closing = false;         // Close() began: new requests fail
  bool closed = false;          // raft_close() called
  size_t live_requests = 0;
  std::chrono::steady_clock::time_point close_deadline;
  bool fatal = false;
  uint64_t last_leader = 0;

  // ---- threads
  bool Post(std::function<void()> fn) {
    std::lock_guard lock(mu);
    if (!accepting) return false;
    queue.push_back(std::move(fn));
    uv_async_send(&wake);
    return true;
  }
  void Drain() {
    std::vector<std::function<void()>> work;
    {
      std::lock_guard lock(mu);
      work.swap(queue);
    }
    for (auto& fn : work) fn();
  }

  void Info(std::string_view text) {
    if (options.on_info) options.on_info(text);
  }

  Status FromRaft(int rv, std::string_view what) {
    switch (rv) {
      case RAFT_NOTLEADER:
        return Status::NotLeader(LeaderClientAddr());
      case RAFT_LEADERSHIPLOST:
        return Status::Aborted(fmt::format(
            "{}: leadership lost before the commit; it may or may not take effect", what));
      case RAFT_SHUTDOWN:
        return Status::Aborted(fmt::format("{}: the node is stopping", what));
      default:
        return Status::IOError(fmt::format("{}: {}", what, raft_strerror(rv)));
    }
  }

  std::string LeaderClientAddr() {
    raft_id id = 0;
    const char* address = nullptr;
    raft_leader(&raft, &id, &address);
    auto it = members.find(id);
    return it == members.end() ? std::string() : it->second;
  }

  NodeInfo MakeInfo() {
    NodeInfo info;
    info.id = options.id;
    info.state = std::string(StateName(raft_state(&raft)));
    raft_id leader = 0;
    const char* address = nullptr;
    raft_leader(&raft, &leader, &address);
    info.leader_id = leader;
    info.leader_client_addr = LeaderClientAddr();
    info.term = raft.current_term;
    info.commit_index = raft.commit_index;
    info.last_applied = raft_last_applied(&raft);
    info.last_index = raft_last_index(&raft);
    info.snapshots = snapshots;
    for (unsigned i = 0; i < raft.configuration.n; ++i) {
      const raft_server& s = raft.configuration.servers[i];
      auto it = members.find(s.id);
      info.members.push_back(MemberInfo{s.id, s.address,
                                        it == members.end() ? std::string() : it->second,
                                        std::string(RoleName(s.role))});
    }
    return info;
  }

  void OnTick() {
    if (closing) {
      if (live_requests == 0 || std::chrono::steady_clock::now() >= close_deadline) CloseRaft();
      return;
    }
    NodeInfo info = MakeInfo();
    if (info.leader_id != last_leader) {
      last_leader = info.leader_id;
      Info(info.leader_id == 0 ? fmt::format("raft: no leader known (term {})", info.term)
                               : fmt::format("raft: leader is node {} at {} (term {}){}",
                                             info.leader_id, info.leader_client_addr, info.term,
                                             info.leader_id == options.id ? ", this node" : ""));
    }
    std::lock_guard lock(mu);
    cached = std::move(info);
  }

  // ---- requests, on the Raft thread
  void ProposeBytes(std::string bytes, uint64_t token, WriteDone done) {
    if (closing) return done(Status::Aborted("the cluster node is stopping"), {});
    if (raft_state(&raft) != RAFT_LEADER) return done(Status::NotLeader(LeaderClientAddr()), {});
    raft_buffer buf;
    buf.len = bytes.size();
    buf.base = raft_malloc(buf.len);
    if (buf.base == nullptr) return done(Status::IOError("raft: out of memory"), {});
    std::memcpy(buf.base, bytes.data(), bytes.size());
    auto* r = new ApplyRequest(this);
    r->req.data = r;
    r->token = token;
    r->done = std::move(done);
    results.emplace(token, std::vector<Status>());
    if (int rv = raft_apply(&raft, &r->req, &buf, 1, &Impl::OnApplied); rv != 0) {
      raft_free(buf.base);
      results.erase(token);
      WriteDone d = std::move(r->done);
      delete r;
      d(FromRaft(rv, "write"), {});
    }
  }

  static void OnApplied(struct raft_apply* req, int status, void* /*result*/) {
    auto* r = static_cast<ApplyRequest*>(req->data);
    Impl* impl = r->impl;
    std::vector<Status> op_results;
    if (auto it = impl->results.find(r->token); it != impl->results.end()) {
      op_results = std::move(it->second);
      impl->results.erase(it);
    }
    Status s = status == 0 ? Status::Ok() : impl->FromRaft(status, "write");
    WriteDone done = std::move(r->done);
    delete r;
    done(std::move(s), std::move(op_results));
  }

  void BarrierNow(std::function<void(Status)> done) {
    if (closing) return done(Status::Aborted("the cluster node is stopping"));
    if (raft_state(&raft) != RAFT_LEADER) return done(Status::NotLeader(LeaderClientAddr()));
    auto* r = new BarrierRequest(this);
    r->req.data = r;
    r->done = std::move(done);
    auto cb = [](struct raft_barrier* req, int status) {
      auto* br = static_cast<BarrierRequest*>(req->data);
      std::function<void(Status)> d = std::move(br->done);
      delete br;
      d(status == 0 ? Status::Ok()
                    : Status::Aborted(fmt::format("read fence: {}", raft_strerror(status))));
    };
    if (int rv = raft_barrier(&raft, &r->req, cb); rv != 0) {
      std::function<void(Status)> d = std::move(r->done);
      delete r;
      d(FromRaft(rv, "read fence"));
    }
  }

  // Membership: the member entry (client address) first, so that every node can point
  // clients at the new node once it leads; then raft_add (spare) and raft_assign (voter).
  void AddNow(const Peer& peer, std::function<void(Status)> done) {
    if (closing) return done(Status::Aborted("the cluster node is stopping"));
    const uint64_t token = next_token.fetch_add(1);
    ProposeBytes(
        EncodeMemberEntry(options.id, token, peer.id, peer.client_addr), token,
        [this, peer, done = std::move(done)](Status s, std::vector<Status>) mutable {
          if (!s.ok()) return done(std::move(s));
          auto* r = new ChangeRequest(this);
          r->req.data = r;
          r->peer = peer;
          r->done = std::move(done);
          if (int rv = raft_add(&raft, &r->req, peer.id, peer.raft_addr.c_str(), &Impl::OnAdded);
              rv != 0) {
            FinishChange(r, rv, "add node");
          }
        });
  }
  static void OnAdded(struct raft_change* req, int status) {
    auto* r = static_cast<ChangeRequest*>(req->data);
    Impl* impl = r->impl;
    if (status != 0) return impl->FinishChange(r, status, "add node");
    impl->Info(fmt::format("raft: node {} added as a spare; promoting it to voter", r->peer.id));
    if (int rv = raft_assign(&impl->raft, &r->req, r->peer.id, RAFT_VOTER, &Impl::OnAssigned);
        rv != 0) {
      impl->FinishChange(r, rv, "promote node");
    }
  }
  static void OnAssigned(struct raft_change* req, int status) {
    auto* r = static_cast<ChangeRequest*>(req->data);
    r->impl->FinishChange(r, status, "promote node");
  }
  void FinishChange(ChangeRequest* r, int rv, std::string_view what) {
    std::function<void(Status)> done = std::move(r->done);
    const uint64_t id = r->peer.id;
    delete r;
    if (rv == 0) Info(fmt::format("raft: {} {}: done", what, id));
    done(rv == 0 ? Status::Ok() : FromRaft(rv, fmt::format("{} {}", what, id)));
  }

  void RemoveNow(uint64_t id, std::function<void(Status)> done) {
    if (closing) return done(Status::Aborted("the cluster node is stopping"));
    auto* r = new ChangeRequest(this);
    r->req.data = r;
    r->peer.id = id;
    r->done = [this, id, done = std::move(done)](Status s) mutable {
      if (!s.ok()) return done(std::move(s));
      // Forget its client address too (best effort: the removal itself is done).
      const uint64_t token = next_token.fetch_add(1);
      ProposeBytes(EncodeMemberEntry(options.id, token, id, ""), token,
                   [done = std::move(done)](Status, std::vector<Status>) { done(Status::Ok()); });
    };
    if (int rv = raft_remove(&raft, &r->req, id,
                             [](struct raft_change* req, int status) {
                               auto* cr = static_cast<ChangeRequest*>(req->data);
                               cr->impl->FinishChange(cr, status, "remove node");
                             });
        rv != 0) {
      FinishChange(r, rv, "remove node");
    }
  }

  // ---- the state machine (raft_fsm version 2), on the Raft thread
  static Impl* Self(struct raft_fsm* fsm) { return static_cast<Impl*>(fsm->data); }

  void Fatal(std::string_view why) {
    if (fatal) return;
    fatal = true;
    if (options.on_fatal) options.on_fatal(why);
  }

  static int FsmApply(struct raft_fsm* fsm, const struct raft_buffer* buf, void** result) {
    Impl* self = Self(fsm);
    *result = nullptr;
    Result<Entry> entry =
        DecodeEntry(std::string_view(static_cast<const char*>(buf->base), buf->len));
    if (!entry.ok()) {
      self->Fatal(fmt::format("cannot apply a committed entry: {}", entry.status().ToString()));
      return RAFT_MALFORMED;
    }
    if (entry->type == EntryType::kMember) {
      if (entry->member_address.empty()) {
        self->members.erase(entry->member_id);
      } else {
        self->members[entry->member_id] = entry->member_address;
      }
      return 0;
    }
    std::vector<Status> op_results;
    Status s = self->engine->Write(entry->batch, &op_results);
    if (s.IsInvalidArgument()) {
      // Deterministic on every node (an op over a limit): the batch fails, the log goes on.
      op_results.assign(entry->batch.size(), s);
    } else if (!s.ok()) {
      self->Fatal(fmt::format("cannot apply a committed entry: {}", s.ToString()));
      return RAFT_IOERR;
    }
    if (entry->proposer == self->options.id) {
      if (auto it = self->results.find(entry->token); it != self->results.end()) {
        it->second = std::move(op_results);
      }
    }
    return 0;
  }

  // A snapshot is a dump of the engine, taken on the Raft thread between two applies: a
  // point-in-time view at the snapshot's index. raft_uv in libraft 0.15 offers no worker
  // for asynchronous snapshots (fsm version 3), so the log waits meanwhile
  // (docs/REPLICATION.md "Snapshots").
  static int FsmSnapshot(struct raft_fsm* fsm, struct raft_buffer* bufs[], unsigned* n_bufs) {
    Impl* self = Self(fsm);
    // Entries applied after this call, while the snapshot is stored, are not in it.
    self->snapshot_index = raft_last_applied(&self->raft);
    Result<std::string> data =
        EncodeSnapshot(self->members, [self](const auto& fn) { return self->engine->ForEach(fn); });
    if (!data.ok()) {
      self->Info(fmt::format("raft: snapshot failed: {}", data.status().ToString()));
      return RAFT_IOERR;
    }
    auto* out = static_cast<raft_buffer*>(raft_malloc(sizeof(raft_buffer)));
    if (out == nullptr) return RAFT_NOMEM;
    out->len = data->size();
    out->base = raft_malloc(out->len);
    if (out->base == nullptr) {
      raft_free(out);
      return RAFT_NOMEM;
    }
    std::memcpy(out->base, data->data(), data->size());
    *bufs = out;
    *n_bufs = 1;
    return 0;
  }

  static int FsmSnapshotFinalize(struct raft_fsm* fsm, struct raft_buffer* bufs[],
                                 unsigned* n_bufs) {
    Impl* self = Self(fsm);
    if (*bufs != nullptr) {
      for (unsigned i = 0; i < *n_bufs; ++i) raft_free((*bufs)[i].base);
      raft_free(*bufs);
      ++self->snapshots;
      self->Info(fmt::format("raft: snapshot taken at index {}", self->snapshot_index));
    }
    *bufs = nullptr;
    *n_bufs = 0;
    return 0;
  }

  // Makes the engine hold exactly the snapshot's pairs: loads them, then deletes every key
  // the snapshot does not have.
  static int FsmRestore(struct raft_fsm* fsm, struct raft_buffer* buf) {
    Impl* self = Self(fsm);
    Status s = self->Restore(std::string_view(static_cast<const char*>(buf->base), buf->len));
    if (!s.ok()) {
      self->Fatal(fmt::format("cannot restore a snapshot: {}", s.ToString()));
      return s.IsCorruption() ? RAFT_CORRUPT : RAFT_IOERR;
    }
    raft_free(buf->base);  // ours on success
    return 0;
  }

  Status Restore(std::string_view data) {
    std::unordered_set<std::string> stale;
    KVS_RETURN_IF_ERROR(engine->ForEach([&stale](std::string_view key, std::string_view) {
      stale.emplace(key);
      return Status::Ok();
    }));
    WriteBatch batch;
    std::vector<Status> ignored;
    auto flush = [&]() -> Status {
      if (batch.empty()) return Status::Ok();
      Status s = engine->Write(batch, &ignored);
      batch.Clear();
      return s;
    };
    MemberAddresses restored;
    uint64_t pairs = 0;
    uint64_t unchanged = 0;
    KVS_RETURN_IF_ERROR(DecodeSnapshot(
        data, &restored, [&](std::string_view key, std::string_view value) -> Status {
          stale.erase(std::string(key));
          ++pairs;
          // At a restart the engine mostly holds these very pairs already: a read is cheaper
          // than rewriting them (and leaving the old copies to compaction).
          if (Result<std::string> have = engine->Get(key); have.ok() && *have == value) {
            ++unchanged;
            return Status::Ok();
          }
          batch.Put(key, value);
          return batch.size() >= kRestoreBatchOps ? flush() : Status::Ok();
        }));
    for (const std::string& key : stale) {
      batch.Delete(key);
      if (batch.size() >= kRestoreBatchOps) KVS_RETURN_IF_ERROR(flush());
    }
    KVS_RETURN_IF_ERROR(flush());
    // Addresses given on the command line stay known even if the snapshot predates them.
    for (auto& [id, address] : restored) members[id] = address;
    Info(
        fmt::format("raft: restored a snapshot of {} keys ({} already in place, {} stale keys "
                    "removed)",
                    pairs, unchanged, stale.size()));
    return Status::Ok();
  }

  // ---- start and stop, on the Raft thread
  Status Init() {
    std::error_code ec;
    std::filesystem::create_directories(options.dir, ec);
    if (ec) return Status::IOError(fmt::format("create {}: {}", options.dir, ec.message()));
    if (int rv = uv_loop_init(&loop); rv != 0) {
      return Status::IOError(fmt::format("uv_loop_init: {}", uv_strerror(rv)));
    }
    wake.data = this;
    uv_async_init(&loop, &wake, [](uv_async_t* h) { static_cast<Impl*>(h->data)->Drain(); });
    tick.data = this;
    uv_timer_init(&loop, &tick);
    if (int rv = raft_uv_tcp_init(&transport, &loop); rv != 0) {
      return Status::IOError(fmt::format("raft transport: {}", raft_strerror(rv)));
    }
    if (int rv = raft_uv_init(&io, &loop, options.dir.c_str(), &transport); rv != 0) {
      return Status::IOError(fmt::format("raft storage in {}: {}", options.dir, io.errmsg));
    }
    fsm.version = 2;
    fsm.data = this;
    fsm.apply = &Impl::FsmApply;
    fsm.snapshot = &Impl::FsmSnapshot;
    fsm.restore = &Impl::FsmRestore;
    fsm.snapshot_finalize = &Impl::FsmSnapshotFinalize;
    fsm.snapshot_async = nullptr;
    if (int rv = raft_init(&raft, &io, &fsm, options.id, raft_addr.c_str()); rv != 0) {
      return Status::IOError(fmt::format("raft_init: {}", raft_errmsg(&raft)));
    }
    raft.data = this;
    raft_inited = true;
    raft_set_election_timeout(&raft, options.election_timeout_ms);
    raft_set_heartbeat_timeout(&raft, options.heartbeat_timeout_ms);
    raft_set_snapshot_threshold(&raft, options.snapshot_threshold);
    raft_set_snapshot_trailing(&raft, options.snapshot_trailing);
    // A leader that sent a snapshot ignores the follower's other answers until it acknowledges
    // the snapshot or install_snapshot_timeout passes: 30 s by default. A follower catching up
    // after a restart often never acknowledges the first one: sent while it was down, it is
    // lost (raft_uv buffers few messages for an unreachable peer); arriving while the follower
    // takes or stores a snapshot of its own (the entries it receives first bring it to its
    // threshold), it is dropped unanswered. A few election timeouts make a lost snapshot cost
    // about what a lost leader does. A transfer and restore that take longer only get a copy
    // sent again, which the busy follower drops; its answer to the first still counts.
    raft_set_install_snapshot_timeout(
        &raft, kInstallSnapshotElectionTimeouts * options.election_timeout_ms);
    raft_set_pre_vote(&raft, true);
    if (!options.join) {
      raft_configuration conf;
      raft_configuration_init(&conf);
      for (const Peer& p : options.peers) {
        raft_configuration_add(&conf, p.id, p.raft_addr.c_str(), RAFT_VOTER);
      }
      const int rv = raft_bootstrap(&raft, &conf);
      raft_configuration_close(&conf);
      if (rv == 0) {
        Info(fmt::format("raft: bootstrapped a new cluster of {} nodes", options.peers.size()));
      } else if (rv != RAFT_CANTBOOTSTRAP) {  // CANTBOOTSTRAP: state exists already
        return Status::IOError(fmt::format("raft bootstrap: {}", raft_errmsg(&raft)));
      }
    }
    if (int rv = raft_start(&raft); rv != 0) {
      return Status::IOError(fmt::format("raft start: {}", raft_errmsg(&raft)));
    }
    uv_timer_start(
        &tick, [](uv_timer_t* h) { static_cast<Impl*>(h->data)->OnTick(); }, 0, kTickMs);
    return Status::Ok();
  }

  // libraft 0.15 crashes (a null dereference inside raft_close) when closed while entries
  // it appended are still being written, so Close first lets the requests in flight finish:
  // they commit, or fail when a leader without a majority steps down (one election
  // timeout). New requests fail from now on; the wait is bounded all the same.
  void Close() {
    if (closing) return;
    closing = true;
    close_deadline = std::chrono::steady_clock::now() +
                     std::chrono::milliseconds(3 * options.election_timeout_ms + 1000);
    if (!raft_inited || live_requests == 0) return CloseRaft();
    uv_timer_stop(&tick);
    uv_timer_start(
        &tick, [](uv_timer_t* h) { static_cast<Impl*>(h->data)->OnTick(); }, 10, 10);
  }

  void CloseRaft() {
    if (closed) return;
    closed = true;
    uv_timer_stop(&tick);
    uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
    if (raft_inited) {
      raft_close(&raft, [](struct raft* r) { static_cast<Impl*>(r->data)->AfterRaftClosed(); });
    } else {
      AfterRaftClosed();
    }
  }

  void AfterRaftClosed() {
    if (raft_inited || io_inited()) raft_uv_close(&io);
    {
      std::lock_guard lock(mu);
      accepting = false;
    }
    Drain();  // whatever was queued meanwhile sees `closing` and fails
    uv_close(reinterpret_cast<uv_handle_t*>(&wake), nullptr);
  }

  bool io_inited() const { return io.impl != nullptr; }

  void Run(std::promise<Status>* started) {
    Status s = Init();
    const bool ok = s.ok();
    started->set_value(std::move(s));
    if (!ok) {
      if (loop_inited()) {
        Close();
        uv_run(&loop, UV_RUN_DEFAULT);
        if (transport.impl != nullptr) raft_uv_tcp_close(&transport);
        uv_loop_close(&loop);
      }
      return;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    raft_uv_tcp_close(&transport);
    uv_loop_close(&loop);
  }

  bool loop_inited() const { return wake.loop != nullptr; }

  bool raft_inited = false;
};

RaftNode::RaftNode(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RaftNode::~RaftNode() { Stop(); }

Result<std::unique_ptr<RaftNode>> RaftNode::Start(const NodeOptions& options, Engine* engine) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->engine = engine;
  for (const Peer& p : options.peers) {
    impl->members[p.id] = p.client_addr;
    if (p.id == options.id) impl->raft_addr = p.raft_addr;
  }
  if (impl->raft_addr.empty()) {
    return Status::InvalidArgument(
        fmt::format("--node-id {} is not one of the nodes in --peers", options.id));
  }
  std::mt19937_64 rng(std::random_device{}());
  impl->next_token = rng() >> 1;  // unique per incarnation: a restarted node's old entries
                                  // never match a new request
  std::promise<Status> started;
  std::future<Status> result = started.get_future();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw, &started] { raw->Run(&started); });
  Status s = result.get();
  if (!s.ok()) {
    impl->thread.join();
    return s;
  }
  return std::unique_ptr<RaftNode>(new RaftNode(std::move(impl)));
}

void RaftNode::Propose(const WriteBatch& batch, WriteDone done) {
  for (const WriteBatch::Op& op : batch.ops()) {
    if (Status s = CheckWriteOp(op); !s.ok()) return done(std::move(s), {});
  }
  Impl* impl = impl_.get();
  const uint64_t token = impl->next_token.fetch_add(1);
  std::string bytes = EncodeBatchEntry(impl->options.id, token, batch);
  auto shared = std::make_shared<WriteDone>(std::move(done));
  if (!impl->Post([impl, bytes = std::move(bytes), token, shared]() mutable {
        impl->ProposeBytes(std::move(bytes), token, std::move(*shared));
      })) {
    (*shared)(Status::Aborted("the cluster node is stopping"), {});
  }
}

void RaftNode::Barrier(std::function<void(Status)> done) {
  Impl* impl = impl_.get();
  auto shared = std::make_shared<std::function<void(Status)>>(std::move(done));
  if (!impl->Post([impl, shared] { impl->BarrierNow(std::move(*shared)); })) {
    (*shared)(Status::Aborted("the cluster node is stopping"));
  }
}

void RaftNode::Info(std::function<void(NodeInfo)> done) {
  Impl* impl = impl_.get();
  auto shared = std::make_shared<std::function<void(NodeInfo)>>(std::move(done));
  if (!impl->Post([impl, shared] { (*shared)(impl->MakeInfo()); })) {
    (*shared)(CachedInfo());
  }
}

NodeInfo RaftNode::CachedInfo() const {
  std::lock_guard lock(impl_->mu);
  return impl_->cached;
}

void RaftNode::AddNode(const Peer& peer, std::function<void(Status)> done) {
  Impl* impl = impl_.get();
  auto shared = std::make_shared<std::function<void(Status)>>(std::move(done));
  if (!impl->Post([impl, peer, shared] { impl->AddNow(peer, std::move(*shared)); })) {
    (*shared)(Status::Aborted("the cluster node is stopping"));
  }
}

void RaftNode::RemoveNode(uint64_t id, std::function<void(Status)> done) {
  Impl* impl = impl_.get();
  auto shared = std::make_shared<std::function<void(Status)>>(std::move(done));
  if (!impl->Post([impl, id, shared] { impl->RemoveNow(id, std::move(*shared)); })) {
    (*shared)(Status::Aborted("the cluster node is stopping"));
  }
}

void RaftNode::Stop() {
  Impl* impl = impl_.get();
  if (impl == nullptr || !impl->thread.joinable()) return;
  {
    std::lock_guard lock(impl->mu);
    if (impl->stop_requested) return;
    impl->stop_requested = true;
  }
  impl->Post([impl] { impl->Close(); });
  impl->thread.join();
}

}  // namespace kvs::raft
