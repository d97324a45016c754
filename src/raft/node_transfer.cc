// RaftNode::Impl's leadership hand-off (docs/REPLICATION.md "Leadership hand-off"), on the
// Raft thread. libraft's raft_transfer sends TimeoutNow to a follower whose log is complete,
// which then wins an election at once (no pre-vote, no waiting for a timeout). But entries
// still uncommitted when this node steps down fail here with RAFT_LEADERSHIPLOST, which
// clients would see as writes of unknown outcome, and libraft refuses new ones meanwhile.
// So the hand-off goes in two steps:
//   1. drain: new writes, read fences and membership changes are held, not refused; the
//      ones in flight commit (bounded by one election timeout, then step 2 goes ahead);
//   2. raft_transfer; its callback comes once the old leader hears from the new one, or
//      after an election timeout. The held requests then run again: on a follower they are
//      answered "not leader" with the new leader's address, a redirect every client follows.

#include <fmt/format.h>

#include "raft/raft_node_impl.h"

namespace kvs::raft {

void RaftNode::Impl::TransferLeadership(uint64_t id, std::function<void(Status)> done) {
  auto shared = std::make_shared<std::function<void(Status)>>(std::move(done));
  if (!Post([this, id, shared] { TransferNow(id, std::move(*shared)); })) (*shared)(Stopping());
}

void RaftNode::Impl::TransferNow(uint64_t id, std::function<void(Status)> done) {
  if (closing_) return done(Stopping());
  if (raft_state(&raft_) != RAFT_LEADER) return done(Status::NotLeader(LeaderClientAddr()));
  if (transfer_ != nullptr) return done(Status::Busy("a leadership transfer is under way"));
  if (id == options_.id) {
    return done(Status::InvalidArgument(fmt::format("node {} is the leader already", id)));
  }
  if (id != 0) {
    bool voter = false;
    for (unsigned i = 0; i < raft_.configuration.n; ++i) {
      const raft_server& s = raft_.configuration.servers[i];
      if (s.id == id) voter = s.role == RAFT_VOTER;
    }
    if (!voter) {
      return done(Status::InvalidArgument(fmt::format("node {} is not a voting member", id)));
    }
  }
  transfer_ = std::make_unique<TransferRequest>();
  transfer_->req.data = this;
  transfer_->target = id;
  transfer_->done = std::move(done);
  transfer_->drain_deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.election_timeout_ms);
  LogInfo(id == 0 ? std::string("raft: handing leadership over to the most caught-up follower")
                  : fmt::format("raft: handing leadership over to node {}", id));
  MaybeStartTransfer();
}

void RaftNode::Impl::HoldForTransfer(std::function<void()> retry) {
  transfer_->held.push_back(std::move(retry));
}

void RaftNode::Impl::OnRequestFinished() {
  // Not from inside the libraft callback that ended the request: on the next turn.
  if (live_requests_ == 0 && transfer_ != nullptr && !transfer_->started) {
    Post([this] { MaybeStartTransfer(); });
  }
}

void RaftNode::Impl::MaybeStartTransfer() {
  if (transfer_ == nullptr || transfer_->started || closing_) return;
  if (live_requests_ > 0 && std::chrono::steady_clock::now() < transfer_->drain_deadline) return;
  if (raft_state(&raft_) != RAFT_LEADER) {  // deposed meanwhile
    return FinishTransfer(Status::NotLeader(LeaderClientAddr()));
  }
  transfer_->started = true;
  if (int rv = raft_transfer(&raft_, &transfer_->req, transfer_->target, &Impl::OnTransferred);
      rv != 0) {
    transfer_->started = false;  // libraft did not take it
    return FinishTransfer(rv == RAFT_NOTFOUND
                              ? Status::InvalidArgument("no other voting member to lead")
                              : FromRaft(rv, "leadership transfer"));
  }
}

void RaftNode::Impl::OnTransferred(struct raft_transfer* req) {
  Impl* self = static_cast<Impl*>(req->data);
  if (self->closing_) return self->FinishTransfer(Stopping());
  if (raft_state(&self->raft_) == RAFT_LEADER) {
    return self->FinishTransfer(Status::Aborted(fmt::format(
        "leadership transfer to node {}: no new leader within {} ms; this node still leads",
        req->id, self->options_.election_timeout_ms)));
  }
  raft_id leader = 0;
  const char* address = nullptr;
  raft_leader(&self->raft_, &leader, &address);
  self->LogInfo(fmt::format("raft: leadership handed over to node {}", leader));
  self->FinishTransfer(Status::Ok());
}

void RaftNode::Impl::FinishTransfer(Status s) {
  std::unique_ptr<TransferRequest> t = std::move(transfer_);
  std::vector<std::function<void()>> held = std::move(t->held);
  std::function<void(Status)> done = std::move(t->done);
  if (t->started) ended_transfers_.push_back(std::move(t));
  for (auto& retry : held) retry();  // each answers for itself, now that transfer_ is gone
  done(std::move(s));
}

}  // namespace kvs::raft
