// The group commit (DESIGN.md "Write path"): every write request the loop decodes in one
// iteration joins `pending_`; before the loop sleeps, if no batch is on disk already, the
// pending batch becomes the one in flight. How it reaches the disk is the engine's:
//   - an engine with a LogWriter (the "kvs" LogStore): one write of all its records at the
//     end of the log and one fdatasync, by the loop itself or through io_uring, as
//     LogWritePolicy decides (log_write_policy.h);
//   - any other engine (RocksDB): one Engine::Write on the pool;
//   - in cluster mode: one Raft log entry, with up to kClusterBatchesInFlight entries
//     replicating at once.
// Replies go out only after it completed, batch after batch in order. While a batch is in
// flight the next one collects, so the batch size follows the disk's (or the
// replication's) latency by itself. The loop never waits for the engine's background work:
// a LogWriter that cannot place a batch yet (a segment roll, the zero-filler) says
// WouldBlock, and the batch keeps collecting until it calls back.

#include <spdlog/spdlog.h>

#include "base/failpoint.h"
#include "proto/reply.h"
#include "server/server_impl.h"

namespace kvs {

void Server::Impl::StartWrite(Connection& c, Call&& call) {
  PendingCall pc{c.id, c.gen, NewSlot(c), call.shape, call.command, pending_.ops.size(), 0};
  ++c.writes_in_flight;
  if (call.command == proto::Command::kSet) {
    pending_.bytes += call.key.size() + call.value.size();
    pending_.ops.Append({WriteBatch::OpKind::kPut, std::move(call.key), std::move(call.value)});
  } else {
    for (std::string& key : std::move(call).Keys()) {
      // The empty key is never stored (the decoder refuses to SET it): deleting it removes
      // nothing, and the engine would refuse the op, and with it the whole batch.
      if (key.empty()) continue;
      pending_.bytes += key.size();
      pending_.ops.Append({WriteBatch::OpKind::kDelete, std::move(key), {}});
    }
  }
  pc.num_ops = pending_.ops.size() - pc.first_op;
  pending_.calls.push_back(pc);
}

void Server::Impl::MaybeStartBatch() {
  const size_t max_in_flight = cluster_ != nullptr ? kClusterBatchesInFlight : 1;
  // A batch written inline is done when StartBatch returns; writers it woke may have filled
  // pending_ again.
  while (!write_blocked_ && in_flight_.size() < max_in_flight && !pending_.empty()) StartBatch();
}

std::shared_ptr<Server::Impl::ReadyToken> Server::Impl::MakeReadyToken(Impl* impl) {
  auto token = std::make_shared<ReadyToken>();
  MutexLock lock(&token->mu);
  token->impl = impl;
  return token;
}

uint64_t Server::Impl::TakePending() {
  in_flight_.push_back(std::move(pending_));
  pending_ = Batch{};
  Batch& batch = in_flight_.back();  // deque: stays put while others come and go
  batch.id = next_batch_id_++;
  // Writers that waited for room in the pending batch may go on.
  std::vector<std::pair<uint32_t, uint32_t>> waiters;
  waiters.swap(batch_waiters_);
  for (auto [conn_id, gen] : waiters) {
    if (Connection* c = Find(conn_id, gen)) Pump(*c);
  }
  return batch.id;
}

void Server::Impl::StartBatch() {
  if (log_writer_ != nullptr && cluster_ == nullptr) {
    StartLogBatch();
    return;
  }
  const uint64_t id = TakePending();
  const Batch& batch = in_flight_.back();
  auto complete = [this, id](Status status, std::vector<Status> results) {
    loop_->Post([this, id, status = std::move(status), results = std::move(results)]() mutable {
      CompleteBatch(id, std::move(status), std::move(results));
    });
  };
  if (cluster_ != nullptr) {
    // Cluster mode: the batch becomes one Raft log entry; the Raft node applies it to the
    // engine once a majority has it on disk, then this completes.
    cluster_->Propose(batch.ops, std::move(complete));
    return;
  }
  // An engine doing its own I/O (RocksDB's sync write): on the pool, so that the loop never
  // blocks on a disk.
  Status spawned = pool_->Spawn([this, ops = &batch.ops, complete = std::move(complete)] {
    std::vector<Status> results;
    Status status = engine_->Write(*ops, &results);
    complete(std::move(status), std::move(results));
  });
  if (!spawned.ok()) CompleteBatch(id, spawned, {});
}

void Server::Impl::StartLogBatch() {
  Result<LogWriter::Prepared> prepared = log_writer_->Prepare(pending_.ops, [token = ready_token_] {
    MutexLock lock(&token->mu);
    if (Impl* impl = token->impl) {
      impl->loop_->Post([impl] {
        impl->write_blocked_ = false;
        impl->MaybeStartBatch();
      });
    }
  });
  if (!prepared.ok() && prepared.status().IsWouldBlock()) {
    write_blocked_ = true;  // pending_ goes on collecting until the writer calls back
    return;
  }
  const uint64_t id = TakePending();
  if (!prepared.ok()) {
    CompleteBatch(id, prepared.status(), {});
    return;
  }
  if (prepared->empty()) {  // only deletes of absent keys: nothing to write
    CommitLogBatch(id, std::move(*prepared), Status::Ok());
    return;
  }
  // A failed write or fdatasync fails the whole batch and turns the store read-only
  // (LogWriter::Commit): the fsync is never retried as if the data were safe.
  KVS_FAILPOINT("loop.before_log_write");
  const bool lookups_in_flight = !reads_.empty() || reads_in_flight_ > 0;
  if (log_write_policy_.Choose(lookups_in_flight) == LogWritePolicy::How::kInline) {
    Status io = log_writer_->WriteInline(*prepared);
    KVS_FAILPOINT("loop.after_log_write");  // written (and synced), not yet acknowledged
    ++inline_batches_;
    CommitLogBatch(id, std::move(*prepared), io);
    return;
  }
  log_writer_->WriteAsync(std::move(*prepared), *loop_,
                          [this, id](LogWriter::Prepared&& done, Status io) {
                            KVS_FAILPOINT("loop.after_log_write");
                            CommitLogBatch(id, std::move(done), io);
                          });
}

void Server::Impl::CommitLogBatch(uint64_t id, LogWriter::Prepared&& prepared, const Status& io) {
  std::vector<Status> results = std::move(prepared.op_results);
  Status status = log_writer_->Commit(std::move(prepared), io);
  CompleteBatch(id, std::move(status), std::move(results));
}

void Server::Impl::CompleteBatch(uint64_t id, Status status, std::vector<Status> op_results) {
  for (Batch& b : in_flight_) {
    if (b.id != id) continue;
    b.done = true;
    b.status = std::move(status);
    b.op_results = std::move(op_results);
    break;
  }
  while (!in_flight_.empty() && in_flight_.front().done) {
    Batch done = std::move(in_flight_.front());
    in_flight_.pop_front();
    FinishBatch(done);
  }
}

void Server::Impl::FinishBatch(Batch& done) {
  const Status& batch_status = done.status;
  if (!batch_status.ok()) {
    if (batch_status.IsReadOnly() || batch_status.IsNotLeader()) {
      spdlog::debug("write batch of {} ops refused: {}", done.ops.size(), batch_status.ToString());
    } else {
      spdlog::error("write batch of {} ops failed: {}", done.ops.size(), batch_status.ToString());
    }
  }
  for (const PendingCall& pc : done.calls) {
    Connection* c = Find(pc.conn_id, pc.conn_gen);
    if (c == nullptr) continue;  // closed meanwhile; its writes are done all the same
    FillSlot(*c, pc.seq, WriteReply(pc, batch_status, done.op_results));
    if (--c->writes_in_flight == 0 && c->parked) Pump(*c);
  }
}

std::string Server::Impl::WriteReply(const PendingCall& call, const Status& batch_status,
                                     const std::vector<Status>& op_results) const {
  std::string out;
  if (!batch_status.ok()) return StatusReply(call.shape, batch_status);
  int64_t removed = 0;
  for (size_t i = call.first_op; i < call.first_op + call.num_ops; ++i) {
    const Status& s = i < op_results.size() ? op_results[i] : batch_status;
    if (s.ok()) {
      ++removed;
    } else if (!(s.IsNotFound() && call.command == proto::Command::kRm)) {
      return StatusReply(call.shape, s);
    }
  }
  if (call.command == proto::Command::kSet) {
    proto::EncodeSetReply(call.shape, &out);
  } else {
    proto::EncodeRmReply(call.shape, removed, &out);
  }
  return out;
}

}  // namespace kvs
