// RaftNode, the public face: forwards to RaftNode::Impl (raft/raft_node_impl.h), whose
// lifecycle, request plumbing and state machine live in node_lifecycle.cc,
// node_requests.cc and state_machine.cc.

#include "raft/raft_node.h"

#include "raft/raft_node_impl.h"

namespace kvs::raft {

RaftNode::RaftNode(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RaftNode::~RaftNode() { Stop(); }

Result<std::unique_ptr<RaftNode>> RaftNode::Start(const NodeOptions& options, Engine* engine) {
  Result<std::unique_ptr<Impl>> impl = Impl::Start(options, engine);
  if (!impl.ok()) return std::move(impl).status();
  return std::unique_ptr<RaftNode>(new RaftNode(std::move(*impl)));
}

void RaftNode::Propose(const WriteBatch& batch, WriteDone done) {
  impl_->Propose(batch, std::move(done));
}

void RaftNode::Barrier(std::function<void(Status)> done) { impl_->Barrier(std::move(done)); }

void RaftNode::Info(std::function<void(NodeInfo)> done) { impl_->Info(std::move(done)); }

NodeInfo RaftNode::CachedInfo() const { return impl_->CachedInfo(); }

void RaftNode::AddNode(const Peer& peer, std::function<void(Status)> done) {
  impl_->AddNode(peer, std::move(done));
}

void RaftNode::RemoveNode(uint64_t id, std::function<void(Status)> done) {
  impl_->RemoveNode(id, std::move(done));
}

void RaftNode::TransferLeadership(uint64_t id, std::function<void(Status)> done) {
  impl_->TransferLeadership(id, std::move(done));
}

void RaftNode::Stop() {
  if (impl_ != nullptr) impl_->Stop();
}

}  // namespace kvs::raft
