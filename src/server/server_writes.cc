// The group commit (DESIGN.md "Write path"): every write request the loop decodes in one
// iteration joins `pending_`; before the loop sleeps, if no batch is on disk already, the
// pending batch becomes the one in flight: for the LogStore, one write of all its records
// at the active segment's offset linked to one fdatasync, done by the loop itself; for
// other engines, one Engine::Write on the pool; in cluster mode, one Raft log entry.
// Replies go out only after it completed.
// While a batch is in flight the next one collects, so the batch size follows the disk's
// latency by itself.

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
      pending_.bytes += key.size();
      pending_.ops.Append({WriteBatch::OpKind::kDelete, std::move(key), {}});
    }
  }
  pc.num_ops = pending_.ops.size() - pc.first_op;
  pending_.calls.push_back(pc);
}

void Server::Impl::MaybeStartBatch() {
  if (batch_in_flight_ || pending_.empty()) return;
  in_flight_ = std::move(pending_);
  pending_ = Batch{};
  batch_in_flight_ = true;
  // Writers that waited for room in the pending batch may go on.
  std::vector<std::pair<uint32_t, uint32_t>> waiters;
  waiters.swap(batch_waiters_);
  for (auto [id, gen] : waiters) {
    if (Connection* c = Find(id, gen)) Pump(*c);
  }

  if (cluster_ != nullptr) {
    // Cluster mode: the batch becomes one Raft log entry; the Raft node applies it to the
    // engine once a majority has it on disk, then this completes.
    cluster_->Propose(in_flight_.ops, [this](Status status, std::vector<Status> results) {
      loop_->Post([this, status = std::move(status), results = std::move(results)] {
        FinishBatch(status, results);
      });
    });
    return;
  }
  if (log_store_ == nullptr) {
    // RocksDB: its own sync write, on the pool so that the loop never blocks on a disk.
    Status spawned = pool_->Spawn([this] {
      std::vector<Status> results;
      Status status = engine_->Write(in_flight_.ops, &results);
      loop_->Post([this, status, results] { FinishBatch(status, results); });
    });
    if (!spawned.ok()) FinishBatch(spawned, {});
    return;
  }

  Result<LogStore::PreparedBatch> prepared = log_store_->PrepareBatch(in_flight_.ops);
  if (!prepared.ok()) {
    FinishBatch(prepared.status(), {});
    return;
  }
  if (prepared->bytes.empty()) {  // only deletes of absent keys: nothing to write
    std::vector<Status> results = prepared->op_results;
    Status status = log_store_->CommitBatch(std::move(*prepared), Status::Ok());
    FinishBatch(status, results);
    return;
  }
  const int fd = prepared->fd;
  const uint64_t offset = prepared->offset;
  const bool datasync = prepared->needs_sync;
  std::string bytes = std::move(prepared->bytes);
  prepared_ = std::move(*prepared);
  KVS_FAILPOINT("loop.before_log_write");
  loop_->WriteAt(fd, std::move(bytes), offset, datasync, [this](int res) {
    KVS_FAILPOINT("loop.after_log_write");  // written (and synced), not yet acknowledged
    // A failed write or fdatasync fails the whole batch and turns the store read-only
    // (CommitBatch): the fsync is never retried as if the data were safe.
    Status io = res < 0 ? Status::FromErrno("log write", -res) : Status::Ok();
    std::vector<Status> results = std::move(prepared_->op_results);
    Status status = log_store_->CommitBatch(std::move(*prepared_), io);
    prepared_.reset();
    FinishBatch(status, results);
  });
}

void Server::Impl::FinishBatch(const Status& batch_status, const std::vector<Status>& op_results) {
  Batch done = std::move(in_flight_);
  in_flight_ = Batch{};
  batch_in_flight_ = false;
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
    FillSlot(*c, pc.seq, WriteReply(pc, batch_status, op_results));
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
