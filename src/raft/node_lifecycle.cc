// RaftNode::Impl's lifecycle: Start (the Raft thread, libuv and libraft set-up, bootstrap
// of a new cluster), the periodic tick that caches the status view, and the orderly close
// that Stop asks for.

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "raft/raft_node_impl.h"

namespace kvs::raft {

namespace {

constexpr uint64_t kTickMs = 100;
// A leader that sent a snapshot waits this many election timeouts, and at least this long,
// for its answer before it sends it again (see Init).
constexpr unsigned kInstallSnapshotElectionTimeouts = 4;
constexpr unsigned kMinInstallSnapshotTimeoutMs = 4000;

std::string RaftAddressOf(const NodeOptions& options) {
  for (const Peer& p : options.peers) {
    if (p.id == options.id) return p.raft_addr;
  }
  return std::string();
}

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

RaftNode::Impl::Impl(const NodeOptions& options, Engine* engine)
    : options_(options), engine_(engine), raft_addr_(RaftAddressOf(options)) {
  for (const Peer& p : options_.peers) members_[p.id] = p.client_addr;
}

// ---- start, on the caller's thread, then the Raft thread

Result<std::unique_ptr<RaftNode::Impl>> RaftNode::Impl::Start(const NodeOptions& options,
                                                              Engine* engine) {
  auto impl = std::make_unique<Impl>(options, engine);
  if (impl->raft_addr_.empty()) {
    return Status::InvalidArgument(
        fmt::format("--node-id {} is not one of the nodes in --peers", options.id));
  }
  std::mt19937_64 rng(std::random_device{}());
  impl->next_token_ = rng() >> 1;  // unique per incarnation: a restarted node's old entries
                                   // never match a new request
  std::promise<Status> started;
  std::future<Status> result = started.get_future();
  Impl* raw = impl.get();
  impl->thread_ = std::thread([raw, &started] { raw->Run(&started); });
  Status s = result.get();
  if (!s.ok()) {
    impl->thread_.join();
    return s;
  }
  return impl;
}

void RaftNode::Impl::Run(std::promise<Status>* started) {
  Status s = Init();
  const bool ok = s.ok();
  started->set_value(std::move(s));
  if (!ok) {
    if (loop_inited()) {
      Close();
      uv_run(&loop_, UV_RUN_DEFAULT);
      if (transport_.impl != nullptr) raft_uv_tcp_close(&transport_);
      uv_loop_close(&loop_);
    }
    return;
  }
  uv_run(&loop_, UV_RUN_DEFAULT);
  raft_uv_tcp_close(&transport_);
  uv_loop_close(&loop_);
}

Status RaftNode::Impl::Init() {
  Env* env = options_.env != nullptr ? options_.env : Env::Default();
  KVS_RETURN_IF_ERROR(env->CreateDir(options_.dir));
  if (int rv = uv_loop_init(&loop_); rv != 0) {
    return Status::IOError(fmt::format("uv_loop_init: {}", uv_strerror(rv)));
  }
  wake_.data = this;
  uv_async_init(&loop_, &wake_, [](uv_async_t* h) { static_cast<Impl*>(h->data)->Drain(); });
  tick_.data = this;
  uv_timer_init(&loop_, &tick_);
  if (int rv = raft_uv_tcp_init(&transport_, &loop_); rv != 0) {
    return Status::IOError(fmt::format("raft transport: {}", raft_strerror(rv)));
  }
  if (int rv = raft_uv_init(&io_, &loop_, options_.dir.c_str(), &transport_); rv != 0) {
    return Status::IOError(fmt::format("raft storage in {}: {}", options_.dir, io_.errmsg));
  }
  InitFsm();
  if (int rv = raft_init(&raft_, &io_, &fsm_, options_.id, raft_addr_.c_str()); rv != 0) {
    return Status::IOError(fmt::format("raft_init: {}", raft_errmsg(&raft_)));
  }
  raft_.data = this;
  raft_inited_ = true;
  raft_set_election_timeout(&raft_, options_.election_timeout_ms);
  raft_set_heartbeat_timeout(&raft_, options_.heartbeat_timeout_ms);
  raft_set_snapshot_threshold(&raft_, options_.snapshot_threshold);
  raft_set_snapshot_trailing(&raft_, options_.snapshot_trailing);
  // A leader that sent a snapshot ignores the follower's other answers until it acknowledges
  // the snapshot or install_snapshot_timeout passes: 30 s by default. A follower catching up
  // after a restart often never acknowledges the first one: sent while it was down, it is
  // lost (raft_uv buffers few messages for an unreachable peer); arriving while the follower
  // takes or stores a snapshot of its own (the entries it receives first bring it to its
  // threshold), it is dropped unanswered. A few election timeouts make a lost snapshot cost
  // about what a lost leader does. A transfer and restore that take longer only get a copy
  // sent again, which the busy follower drops; its answer to the first still counts. The
  // floor keeps the LAN election timeout (300 ms) from resending a large snapshot every
  // 1.2 s.
  raft_set_install_snapshot_timeout(
      &raft_, std::max(kInstallSnapshotElectionTimeouts * options_.election_timeout_ms,
                       kMinInstallSnapshotTimeoutMs));
  raft_set_pre_vote(&raft_, options_.pre_vote);
  if (!options_.join) KVS_RETURN_IF_ERROR(Bootstrap());
  if (int rv = raft_start(&raft_); rv != 0) {
    return Status::IOError(fmt::format("raft start: {}", raft_errmsg(&raft_)));
  }
  uv_timer_start(&tick_, &OnTimer, 0, kTickMs);
  return Status::Ok();
}

// The first start of a node that is not joining writes the configuration of `peers`; on
// every later start its state exists and libraft declines.
Status RaftNode::Impl::Bootstrap() {
  raft_configuration conf;
  raft_configuration_init(&conf);
  for (const Peer& p : options_.peers) {
    raft_configuration_add(&conf, p.id, p.raft_addr.c_str(), RAFT_VOTER);
  }
  const int rv = raft_bootstrap(&raft_, &conf);
  raft_configuration_close(&conf);
  if (rv == 0) {
    LogInfo(fmt::format("raft: bootstrapped a new cluster of {} nodes", options_.peers.size()));
  } else if (rv != RAFT_CANTBOOTSTRAP) {  // CANTBOOTSTRAP: state exists already
    return Status::IOError(fmt::format("raft bootstrap: {}", raft_errmsg(&raft_)));
  }
  return Status::Ok();
}

// ---- the tick and the status view, on the Raft thread

void RaftNode::Impl::OnTimer(uv_timer_t* tick) { static_cast<Impl*>(tick->data)->OnTick(); }

void RaftNode::Impl::OnTick() {
  if (closing_) {
    if (live_requests_ == 0 || std::chrono::steady_clock::now() >= close_deadline_) {
      CloseRaft();
    }
    return;
  }
  if (transfer_ != nullptr) MaybeStartTransfer();  // the drain's deadline
  NodeInfo info = MakeInfo();
  if (info.leader_id != last_leader_) {
    last_leader_ = info.leader_id;
    LogInfo(info.leader_id == 0 ? fmt::format("raft: no leader known (term {})", info.term)
                                : fmt::format("raft: leader is node {} at {} (term {}){}",
                                              info.leader_id, info.leader_client_addr, info.term,
                                              info.leader_id == options_.id ? ", this node" : ""));
  }
  MutexLock lock(&mu_);
  cached_ = std::move(info);
}

NodeInfo RaftNode::Impl::MakeInfo() {
  NodeInfo info;
  info.id = options_.id;
  info.state = std::string(StateName(raft_state(&raft_)));
  raft_id leader = 0;
  const char* address = nullptr;
  raft_leader(&raft_, &leader, &address);
  info.leader_id = leader;
  info.leader_client_addr = LeaderClientAddr();
  info.term = raft_.current_term;
  info.commit_index = raft_.commit_index;
  info.last_applied = raft_last_applied(&raft_);
  info.last_index = raft_last_index(&raft_);
  info.snapshots = snapshots_;
  for (unsigned i = 0; i < raft_.configuration.n; ++i) {
    const raft_server& s = raft_.configuration.servers[i];
    auto it = members_.find(s.id);
    info.members.push_back(MemberInfo{s.id, s.address,
                                      it == members_.end() ? std::string() : it->second,
                                      std::string(RoleName(s.role))});
  }
  return info;
}

NodeInfo RaftNode::Impl::CachedInfo() const {
  MutexLock lock(&mu_);
  return cached_;
}

void RaftNode::Impl::LogInfo(std::string_view text) {
  if (options_.on_info) options_.on_info(text);
}

// ---- close and stop

void RaftNode::Impl::Stop() {
  if (!thread_.joinable()) return;
  {
    MutexLock lock(&mu_);
    if (stop_requested_) return;
    stop_requested_ = true;
  }
  Post([this] { Close(); });
  thread_.join();
}

// libraft 0.15 crashes (a null dereference inside raft_close) when closed while entries
// it appended are still being written, so Close first lets the requests in flight finish:
// they commit, or fail when a leader without a majority steps down (one election
// timeout). New requests fail from now on; the wait is bounded all the same.
void RaftNode::Impl::Close() {
  if (closing_) return;
  closing_ = true;
  close_deadline_ = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(3 * options_.election_timeout_ms + 1000);
  // A hand-off not yet handed to libraft ends here (its held requests fail as stopping);
  // one that was ends when raft_close calls it back.
  if (transfer_ != nullptr && !transfer_->started) FinishTransfer(Stopping());
  if (!raft_inited_ || live_requests_ == 0) return CloseRaft();
  uv_timer_stop(&tick_);
  uv_timer_start(&tick_, &OnTimer, 10, 10);
}

void RaftNode::Impl::CloseRaft() {
  if (closed_) return;
  closed_ = true;
  uv_timer_stop(&tick_);
  uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
  if (raft_inited_) {
    raft_close(&raft_, [](struct raft* r) { static_cast<Impl*>(r->data)->AfterRaftClosed(); });
  } else {
    AfterRaftClosed();
  }
}

void RaftNode::Impl::AfterRaftClosed() {
  if (raft_inited_ || io_inited()) raft_uv_close(&io_);
  {
    MutexLock lock(&mu_);
    accepting_ = false;
  }
  Drain();  // whatever was queued meanwhile sees `closing_` and fails
  uv_close(reinterpret_cast<uv_handle_t*>(&wake_), nullptr);
}

}  // namespace kvs::raft
