// RaftNode::Impl's request plumbing: the public requests (write, read fence, info,
// membership changes) cross from any thread to the Raft thread through a queue and a
// uv_async wake-up, become libraft requests there, and complete in libraft's callbacks.
//
// Ownership: a libraft request lives in a unique_ptr until the libraft call that takes it
// returns 0; libraft then holds it until its completion callback, which takes it back into
// a unique_ptr. If the call fails, the unique_ptr still owns it and frees it.

#include <fmt/format.h>

#include <cstring>

#include "raft/raft_node_impl.h"

namespace kvs::raft {

// Every request handed to libraft is counted while alive: Close waits for them (see there).
struct RaftNode::Impl::Tracked {
  explicit Tracked(Impl* i) : impl(i) { ++impl->live_requests_; }
  ~Tracked() {
    --impl->live_requests_;
    impl->OnRequestFinished();
  }
  Tracked(const Tracked&) = delete;
  Tracked& operator=(const Tracked&) = delete;
  Impl* const impl;
};
struct RaftNode::Impl::ApplyRequest : Tracked {
  using Tracked::Tracked;
  struct raft_apply req {};
  uint64_t token = 0;
  WriteDone done;
};
struct RaftNode::Impl::BarrierRequest : Tracked {
  using Tracked::Tracked;
  struct raft_barrier req {};
  std::function<void(Status)> done;
};
struct RaftNode::Impl::ChangeRequest : Tracked {
  using Tracked::Tracked;
  struct raft_change req {};
  Peer peer;
  std::function<void(Status)> done;
};

namespace {

// Takes a request that libraft handed back to its callback.
template <class Request, class LibraftRequest>
std::unique_ptr<Request> Reclaim(LibraftRequest* req) {
  return std::unique_ptr<Request>(static_cast<Request*>(req->data));
}

// Frees the request before its `done` runs, so that it no longer counts as in flight then
// (done may start the next step, or let Close go on).
template <class Request, class... Args>
void Complete(std::unique_ptr<Request> r, Args&&... args) {
  auto done = std::move(r->done);
  r.reset();
  done(std::forward<Args>(args)...);
}

}  // namespace

// ---- from any thread

bool RaftNode::Impl::Post(std::function<void()> fn) {
  MutexLock lock(&mu_);
  if (!accepting_) return false;
  queue_.push_back(std::move(fn));
  uv_async_send(&wake_);
  return true;
}

void RaftNode::Impl::Propose(const WriteBatch& batch, WriteDone done) {
  for (const WriteBatch::Op& op : batch.ops()) {
    if (Status s = CheckWriteOp(op); !s.ok()) return done(std::move(s), {});
  }
  const uint64_t token = next_token_.fetch_add(1);
  std::string bytes = EncodeBatchEntry(options_.id, token, batch);
  // Shared, not moved into the task: if Post refuses, `done` is still here to call.
  auto shared = std::make_shared<WriteDone>(std::move(done));
  if (!Post([this, bytes = std::move(bytes), token, shared]() mutable {
        ProposeBytes(std::move(bytes), token, std::move(*shared));
      })) {
    (*shared)(Stopping(), {});
  }
}

void RaftNode::Impl::Barrier(std::function<void(Status)> done) {
  auto shared = std::make_shared<std::function<void(Status)>>(std::move(done));
  if (!Post([this, shared] { BarrierNow(std::move(*shared)); })) (*shared)(Stopping());
}

void RaftNode::Impl::Info(std::function<void(NodeInfo)> done) {
  auto shared = std::make_shared<std::function<void(NodeInfo)>>(std::move(done));
  if (!Post([this, shared] { (*shared)(MakeInfo()); })) (*shared)(CachedInfo());
}

void RaftNode::Impl::AddNode(const Peer& peer, std::function<void(Status)> done) {
  auto shared = std::make_shared<std::function<void(Status)>>(std::move(done));
  if (!Post([this, peer, shared] { AddNow(peer, std::move(*shared)); })) (*shared)(Stopping());
}

void RaftNode::Impl::RemoveNode(uint64_t id, std::function<void(Status)> done) {
  auto shared = std::make_shared<std::function<void(Status)>>(std::move(done));
  if (!Post([this, id, shared] { RemoveNow(id, std::move(*shared)); })) (*shared)(Stopping());
}

// ---- on the Raft thread

void RaftNode::Impl::Drain() {
  std::vector<std::function<void()>> work;
  {
    MutexLock lock(&mu_);
    work.swap(queue_);
  }
  for (auto& fn : work) fn();
}

Status RaftNode::Impl::Stopping() { return Status::Aborted("the cluster node is stopping"); }

Status RaftNode::Impl::FromRaft(int rv, std::string_view what) {
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

std::string RaftNode::Impl::LeaderClientAddr() {
  raft_id id = 0;
  const char* address = nullptr;
  raft_leader(&raft_, &id, &address);
  auto it = members_.find(id);
  return it == members_.end() ? std::string() : it->second;
}

void RaftNode::Impl::ProposeBytes(std::string bytes, uint64_t token, WriteDone done) {
  if (closing_) return done(Stopping(), {});
  if (transfer_ != nullptr) {
    return HoldForTransfer([this, bytes = std::move(bytes), token, done = std::move(done)] {
      ProposeBytes(bytes, token, done);
    });
  }
  if (raft_state(&raft_) != RAFT_LEADER) return done(Status::NotLeader(LeaderClientAddr()), {});
  // libraft frees the entry's bytes once it accepted them (raft_apply returned 0).
  RaftPtr<void> data(raft_malloc(bytes.size()));
  if (data == nullptr) return done(Status::IOError("raft: out of memory"), {});
  std::memcpy(data.get(), bytes.data(), bytes.size());
  raft_buffer buf;
  buf.base = data.get();
  buf.len = bytes.size();
  auto r = std::make_unique<ApplyRequest>(this);
  r->req.data = r.get();
  r->token = token;
  r->done = std::move(done);
  results_.emplace(token, std::vector<Status>());
  if (int rv = raft_apply(&raft_, &r->req, &buf, 1, &Impl::OnApplied); rv != 0) {
    data.reset();
    results_.erase(token);
    return Complete(std::move(r), FromRaft(rv, "write"), std::vector<Status>());
  }
  data.release();
  r.release();  // libraft's until OnApplied
}

void RaftNode::Impl::OnApplied(struct raft_apply* req, int status, void* /*result*/) {
  std::unique_ptr<ApplyRequest> r = Reclaim<ApplyRequest>(req);
  Impl* impl = r->impl;
  std::vector<Status> op_results;
  if (auto it = impl->results_.find(r->token); it != impl->results_.end()) {
    op_results = std::move(it->second);
    impl->results_.erase(it);
  }
  Status s = status == 0 ? Status::Ok() : impl->FromRaft(status, "write");
  Complete(std::move(r), std::move(s), std::move(op_results));
}

void RaftNode::Impl::BarrierNow(std::function<void(Status)> done) {
  if (closing_) return done(Stopping());
  if (transfer_ != nullptr) {
    return HoldForTransfer([this, done = std::move(done)] { BarrierNow(done); });
  }
  if (raft_state(&raft_) != RAFT_LEADER) return done(Status::NotLeader(LeaderClientAddr()));
  auto r = std::make_unique<BarrierRequest>(this);
  r->req.data = r.get();
  r->done = std::move(done);
  auto cb = [](struct raft_barrier* req, int status) {
    Complete(Reclaim<BarrierRequest>(req),
             status == 0 ? Status::Ok()
                         : Status::Aborted(fmt::format("read fence: {}", raft_strerror(status))));
  };
  if (int rv = raft_barrier(&raft_, &r->req, cb); rv != 0) {
    return Complete(std::move(r), FromRaft(rv, "read fence"));
  }
  r.release();  // libraft's until cb
}

// Membership: the member entry (client address) first, so that every node can point
// clients at the new node once it leads; then raft_add (spare) and raft_assign (voter).
void RaftNode::Impl::AddNow(const Peer& peer, std::function<void(Status)> done) {
  if (closing_) return done(Stopping());
  if (transfer_ != nullptr) {
    return HoldForTransfer([this, peer, done = std::move(done)] { AddNow(peer, done); });
  }
  const uint64_t token = next_token_.fetch_add(1);
  ProposeBytes(
      EncodeMemberEntry(options_.id, token, peer.id, peer.client_addr), token,
      [this, peer, done = std::move(done)](Status s, std::vector<Status>) mutable {
        if (!s.ok()) return done(std::move(s));
        auto r = std::make_unique<ChangeRequest>(this);
        r->req.data = r.get();
        r->peer = peer;
        r->done = std::move(done);
        if (int rv = raft_add(&raft_, &r->req, peer.id, peer.raft_addr.c_str(), &Impl::OnAdded);
            rv != 0) {
          return FinishChange(std::move(r), rv, "add node");
        }
        r.release();  // libraft's until OnAdded
      });
}

void RaftNode::Impl::OnAdded(struct raft_change* req, int status) {
  std::unique_ptr<ChangeRequest> r = Reclaim<ChangeRequest>(req);
  Impl* impl = r->impl;
  if (status != 0) return impl->FinishChange(std::move(r), status, "add node");
  impl->LogInfo(fmt::format("raft: node {} added as a spare; promoting it to voter", r->peer.id));
  if (int rv = raft_assign(&impl->raft_, &r->req, r->peer.id, RAFT_VOTER, &Impl::OnAssigned);
      rv != 0) {
    return impl->FinishChange(std::move(r), rv, "promote node");
  }
  r.release();  // libraft's again, until OnAssigned
}

void RaftNode::Impl::OnAssigned(struct raft_change* req, int status) {
  std::unique_ptr<ChangeRequest> r = Reclaim<ChangeRequest>(req);
  Impl* impl = r->impl;
  impl->FinishChange(std::move(r), status, "promote node");
}

void RaftNode::Impl::FinishChange(std::unique_ptr<ChangeRequest> r, int rv, std::string_view what) {
  const uint64_t id = r->peer.id;
  std::function<void(Status)> done = std::move(r->done);
  r.reset();
  if (rv == 0) LogInfo(fmt::format("raft: {} {}: done", what, id));
  done(rv == 0 ? Status::Ok() : FromRaft(rv, fmt::format("{} {}", what, id)));
}

void RaftNode::Impl::RemoveNow(uint64_t id, std::function<void(Status)> done) {
  if (closing_) return done(Stopping());
  if (transfer_ != nullptr) {
    return HoldForTransfer([this, id, done = std::move(done)] { RemoveNow(id, done); });
  }
  auto r = std::make_unique<ChangeRequest>(this);
  r->req.data = r.get();
  r->peer.id = id;
  r->done = [this, id, done = std::move(done)](Status s) mutable {
    if (!s.ok()) return done(std::move(s));
    // Forget its client address too (best effort: the removal itself is done).
    const uint64_t token = next_token_.fetch_add(1);
    ProposeBytes(EncodeMemberEntry(options_.id, token, id, ""), token,
                 [done = std::move(done)](Status, std::vector<Status>) { done(Status::Ok()); });
  };
  auto cb = [](struct raft_change* req, int status) {
    std::unique_ptr<ChangeRequest> cr = Reclaim<ChangeRequest>(req);
    Impl* impl = cr->impl;
    impl->FinishChange(std::move(cr), status, "remove node");
  };
  if (int rv = raft_remove(&raft_, &r->req, id, cb); rv != 0) {
    return FinishChange(std::move(r), rv, "remove node");
  }
  r.release();  // libraft's until cb
}

}  // namespace kvs::raft
