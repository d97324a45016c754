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

#include <algorithm>

#include "base/failpoint.h"
#include "proto/reply.h"
#include "server/server_impl.h"

namespace kvs {

// What a command decided on the loop reads: the writes staged in batches not yet completed
// (overlay_), then what was fetched off the loop for it, then the engine's memory and page
// cache (WouldBlock beyond).
class Server::Impl::LoopReader final : public server_internal::KeyReader {
 public:
  // `now_ms`: the Txn's time, by which staged puts with an expiry are alive or not.
  LoopReader(const Impl* impl, const Call* call, int64_t now_ms)
      : impl_(impl), call_(call), now_ms_(now_ms) {}

  Result<std::optional<StoredValue>> Get(std::string_view key) override {
    const std::string k(key);
    if (const WriteBatch::Op* op = impl_->Staged(k)) {
      if (!Alive(*op)) return std::optional<StoredValue>();
      return std::optional<StoredValue>(StoredValue{op->value, op->expire_at_ms});
    }
    if (auto it = call_->fetched.find(k); it != call_->fetched.end()) return it->second;
    return server_internal::ValueOrAbsent(impl_->engine_->Read(key, /*cached_only=*/true));
  }

  Result<bool> Exists(std::string_view key) override {
    const std::string k(key);
    if (const WriteBatch::Op* op = impl_->Staged(k)) return Alive(*op);
    if (auto it = call_->fetched.find(k); it != call_->fetched.end()) {
      return it->second.has_value() &&
             !server_internal::ExpiredAt(it->second->expire_at_ms, now_ms_);
    }
    return impl_->engine_->Contains(key, /*cached_only=*/true);
  }

  // The engine's count while nothing is staged.
  std::optional<uint64_t> KeysInDb(uint32_t db) override {
    if (!impl_->overlay_.empty() || !impl_->prefix_overlay_.empty()) return std::nullopt;
    return server_internal::EngineKeysInDb(*impl_->engine_, db);
  }

  // The engine's keys under the staged writes. On the loop: KEYS and SCAN inside a
  // transaction walk every key in memory (docs/PROTOCOL.md).
  Status ForEachKey(std::string_view prefix,
                    const std::function<Status(std::string_view key)>& fn) override {
    KVS_RETURN_IF_ERROR(impl_->engine_->ForEachKey([&](std::string_view key) -> Status {
      if (!key.starts_with(prefix) || impl_->Staged(std::string(key)) != nullptr) {
        return Status::Ok();
      }
      return fn(key);
    }));
    for (const auto& [key, at] : impl_->overlay_) {
      const WriteBatch::Op* op = impl_->Staged(key);
      if (op != nullptr && Alive(*op) && key.starts_with(prefix)) {
        KVS_RETURN_IF_ERROR(fn(key));
      }
    }
    return Status::Ok();
  }

 private:
  bool Alive(const WriteBatch::Op& op) const {
    return op.kind == WriteBatch::OpKind::kPut &&
           !server_internal::ExpiredAt(op.expire_at_ms, now_ms_);
  }

  const Impl* const impl_;
  const Call* const call_;
  const int64_t now_ms_;
};

const WriteBatch::Op* Server::Impl::OpAt(const StagedOp& at) const {
  const Batch* batch = nullptr;
  if (pending_.id == at.batch_id) {
    batch = &pending_;
  } else {
    for (const Batch& b : in_flight_) {
      if (b.id == at.batch_id) batch = &b;
    }
  }
  return batch != nullptr ? &batch->ops.ops()[at.op] : nullptr;
}

const WriteBatch::Op* Server::Impl::Staged(const std::string& key) const {
  const StagedOp* newest = nullptr;
  if (auto it = overlay_.find(key); it != overlay_.end() && OpAt(it->second) != nullptr) {
    newest = &it->second;
  }
  for (const StagedOp& at : prefix_overlay_) {
    if ((newest == nullptr || at.After(*newest)) && key.starts_with(OpAt(at)->key)) newest = &at;
  }
  return newest != nullptr ? OpAt(*newest) : nullptr;
}

void Server::Impl::StageOp(WriteBatch::Op&& op, bool touch_watchers) {
  const StagedOp at{pending_.id, pending_.ops.size()};
  if (op.kind == WriteBatch::OpKind::kDeletePrefix) {
    // As Redis's FLUSHDB: a watched key it removes fails its watchers' EXEC; a watched key
    // it does not hold (absent already) does not.
    for (const auto& [key, watching] : watchers_) {
      if (!key.starts_with(op.key)) continue;
      Result<bool> stored = ExistsInMemory(key);
      if (!stored.ok() || *stored) TouchKey(key);  // not known without the disk: it may exist
    }
    prefix_overlay_.push_back(at);
  } else {
    overlay_[op.key] = at;
    if (touch_watchers) TouchKey(op.key);
  }
  pending_.bytes += op.key.size() + op.value.size();
  pending_.ops.Append(std::move(op));
}

void Server::Impl::StartWrite(Connection& c, Call&& call) {
  if (call.command == proto::Command::kRedis) {
    StartCommandWrite(c, std::move(call));
    return;
  }
  PendingCall pc{c.id, c.gen, NewSlot(c), call.shape, call.command, pending_.ops.size(), 0, {}};
  ++c.writes_in_flight;
  if (call.command == proto::Command::kSet) {
    StageOp({WriteBatch::OpKind::kPut, std::move(call.key), std::move(call.value)});
  } else {
    for (std::string& key : std::move(call).Keys()) {
      StageOp({WriteBatch::OpKind::kDelete, std::move(key), {}});
    }
  }
  pc.num_ops = pending_.ops.size() - pc.first_op;
  pending_.calls.push_back(std::move(pc));
}

namespace {

// Whether a write's outcome depends on what is stored (all but a plain SET and MSET).
bool ReadsState(const Call& call) {
  switch (call.spec->id) {
    case proto::CommandId::kSet:
      return call.argv.size() > 3;
    case proto::CommandId::kMSet:
      return false;
    default:
      return true;
  }
}

}  // namespace

void Server::Impl::StartCommandWrite(Connection& c, Call&& call) {
  if (cluster_ != nullptr && !call.fenced && ReadsState(call)) {
    WaitForWriteFence(c, std::move(call));
    return;
  }
  const int64_t now_ms = clock_->NowMs();
  LoopReader reader(this, &call, now_ms);
  Txn txn(&reader, now_ms);
  std::string reply;
  Status s = call.fetch_error.ok() ? DecideWrite(c, call, txn, &reply) : call.fetch_error;
  if (s.IsWouldBlock()) {
    std::vector<std::string> keys = txn.missing();
    FetchKeys(c, std::move(call), std::move(keys));
    return;
  }
  if (!s.ok()) {  // a read failed: nothing is written, the client hears why
    reply.clear();
    proto::ReplyWriter(call.shape, c.session.resp, &reply).Error("ERR " + s.ToString());
    txn.writes().Clear();
  }
  Stage(c, call, txn.writes(), std::move(reply));
}

Status Server::Impl::DecideWrite(Connection& c, Call& call, Txn& txn, std::string* reply) {
  if (call.spec->id != proto::CommandId::kExec) {
    proto::ReplyWriter out(call.shape, call.resp, reply);
    return server_internal::RunDataCommand(*call.spec, call.argv, call.db, keyspace_options_, &txn,
                                           &out);
  }
  // EXEC: every queued command, in order, against the same Txn: their writes join one batch
  // and become durable together, or not at all.
  proto::ReplyWriter out(call.shape, c.session.resp, reply);
  if (!c.in_multi) {
    out.Error("ERR EXEC without MULTI");
    return Status::Ok();
  }
  if (c.multi_failed) {
    out.Error("EXECABORT Transaction discarded because of previous errors.");
    ResetTransaction(c);
    Unwatch(c);
    return Status::Ok();
  }
  bool expired = false;  // a key watched alive is gone, and no write touched it
  for (const std::string& key : c.watched_alive) {
    KVS_ASSIGN_OR_RETURN(bool exists, txn.Exists(key));
    expired = expired || !exists;
  }
  if (c.watch_dirty || expired) {
    out.NullArray();
    ResetTransaction(c);
    Unwatch(c);
    return Status::Ok();
  }
  Session session = c.session;  // commands inside act on a copy, kept if EXEC runs
  out.Array(c.queued.size());
  for (Call& q : c.queued) {
    if (q.spec->exec == proto::Exec::kRead || q.spec->exec == proto::Exec::kWrite) {
      KVS_RETURN_IF_ERROR(server_internal::RunDataCommand(*q.spec, q.argv, session.db,
                                                          keyspace_options_, &txn, &out));
    } else if (q.spec->id == proto::CommandId::kInfo) {
      // INFO inside a transaction counts the keyspace on the loop: rare, and bounded by
      // the number of keys.
      const std::span<const std::string> sections = std::span(q.argv).subspan(1);
      std::string text = InfoText(sections);
      if (InfoWants(sections, "keyspace")) text += KeyspaceSection();
      out.Verbatim(text);
    } else if (q.spec->id == proto::CommandId::kCluster) {
      out.Error("ERR CLUSTER is not allowed inside a transaction");
    } else {
      RunLocalCommand(c, session, q, out);
    }
  }
  c.session = session;
  ResetTransaction(c);
  Unwatch(c);
  return Status::Ok();
}

void Server::Impl::FetchKeys(Connection& c, Call&& call, std::vector<std::string> keys) {
  // Values fetched for an earlier attempt are fetched again with the new ones: only a
  // fetch's own keys are watched for staleness.
  for (auto& [key, value] : call.fetched) keys.push_back(key);
  call.fetched.clear();
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  c.executing = true;  // nothing of this connection starts until this write is decided
  ++c.writes_in_flight;
  const uint64_t fetch_id = next_fetch_id_++;
  for (const std::string& key : keys) fetch_keys_.emplace(key, fetch_id);
  Fetch& f = fetches_[fetch_id];
  f.conn_id = c.id;
  f.conn_gen = c.gen;
  f.call = std::move(call);
  f.keys = keys;
  auto run = [this, fetch_id, keys = std::move(keys)] {
    std::vector<std::optional<StoredValue>> values;
    Status error;
    for (const std::string& key : keys) {
      Result<std::optional<StoredValue>> value =
          server_internal::ValueOrAbsent(engine_->Read(key, /*cached_only=*/false));
      if (!value.ok()) error = value.status();
      values.push_back(value.ok() ? std::move(*value) : std::nullopt);
    }
    loop_->Post([this, fetch_id, values = std::move(values), error = std::move(error)]() mutable {
      auto it = fetches_.find(fetch_id);
      if (it == fetches_.end()) return;
      if (!it->second.stale) {
        for (size_t i = 0; i < values.size(); ++i) {
          it->second.call.fetched[it->second.keys[i]] = std::move(values[i]);
        }
        it->second.call.fetch_error = std::move(error);
      }
      OnFetched(fetch_id);
    });
  };
  if (Status spawned = pool_->Spawn(std::move(run)); !spawned.ok()) {
    fetches_[fetch_id].call.fetch_error = spawned;
    OnFetched(fetch_id);
  }
}

void Server::Impl::WaitForWriteFence(Connection& c, Call&& call) {
  c.executing = true;
  ++c.writes_in_flight;
  Fetch f;
  f.conn_id = c.id;
  f.conn_gen = c.gen;
  f.call = std::move(call);
  write_fence_waiting_.push_back(std::move(f));
  MaybeStartWriteFence();
}

void Server::Impl::MaybeStartWriteFence() {
  if (write_fence_in_flight_ || write_fence_waiting_.empty()) return;
  write_fence_in_flight_ = true;
  auto waiting = std::make_shared<std::vector<Fetch>>(std::move(write_fence_waiting_));
  write_fence_waiting_.clear();
  cluster_->Barrier([this, waiting](Status fence) {
    loop_->Post([this, waiting, fence = std::move(fence)] {
      write_fence_in_flight_ = false;
      for (Fetch& f : *waiting) {
        Connection* c = Find(f.conn_id, f.conn_gen);
        if (c == nullptr) continue;  // closed: never ran, never acknowledged
        c->executing = false;
        --c->writes_in_flight;
        if (fence.ok()) {
          f.call.fenced = true;
          StartCommandWrite(*c, std::move(f.call));
        } else {  // not the leader (any more): nothing is decided
          WriteBatch none;
          Stage(*c, f.call, none, StatusReply(f.call.shape, fence));
        }
        if (!c->executing) Pump(*c);
      }
      MaybeStartWriteFence();
    });
  });
}

void Server::Impl::OnFetched(uint64_t fetch_id) {
  auto it = fetches_.find(fetch_id);
  Fetch f = std::move(it->second);
  fetches_.erase(it);
  for (const std::string& key : f.keys) {
    auto [first, last] = fetch_keys_.equal_range(key);
    for (auto k = first; k != last; ++k) {
      if (k->second == fetch_id) {
        fetch_keys_.erase(k);
        break;
      }
    }
  }
  Connection* c = Find(f.conn_id, f.conn_gen);
  if (c == nullptr) return;  // closed: the command never ran, nothing was acknowledged
  c->executing = false;
  --c->writes_in_flight;
  // A stale fetch (a batch writing one of its keys completed meanwhile) brought nothing:
  // the command runs again and finds those keys in the engine's memory, or fetches again.
  StartCommandWrite(*c, std::move(f.call));
  if (!c->executing) Pump(*c);
}

void Server::Impl::Stage(Connection& c, const Call& call, WriteBatch& writes, std::string&& reply) {
  PendingCall pc{c.id, c.gen,           NewSlot(c), call.shape, call.command, pending_.ops.size(),
                 0,    std::move(reply)};
  ++c.writes_in_flight;
  for (WriteBatch::Op& op : std::move(writes).ReleaseOps()) StageOp(std::move(op));
  pc.num_ops = pending_.ops.size() - pc.first_op;
  pending_.calls.push_back(std::move(pc));
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
  pending_.id = next_batch_id_++;
  Batch& batch = in_flight_.back();  // deque: stays put while others come and go
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
  // The engine has the batch's writes now (or failed them all): the overlay lets go of
  // them, and values fetched before they landed are stale.
  for (const WriteBatch::Op& op : done.ops.ops()) {
    if (op.kind == WriteBatch::OpKind::kDeletePrefix) {
      for (const auto& [key, fetch_id] : fetch_keys_) {
        if (key.starts_with(op.key)) fetches_[fetch_id].stale = true;
      }
      continue;
    }
    if (auto it = overlay_.find(op.key); it != overlay_.end() && it->second.batch_id == done.id) {
      overlay_.erase(it);
    }
    if (!fetch_keys_.empty()) {
      auto [first, last] = fetch_keys_.equal_range(op.key);
      for (auto k = first; k != last; ++k) fetches_[k->second].stale = true;
    }
  }
  std::erase_if(prefix_overlay_, [&](const StagedOp& at) { return at.batch_id == done.id; });
  for (PendingCall& pc : done.calls) {
    Connection* c = Find(pc.conn_id, pc.conn_gen);
    if (c == nullptr) continue;  // closed meanwhile; its writes are done all the same
    if (pc.command == proto::Command::kRedis) {
      FillSlot(*c, pc.seq,
               batch_status.ok() ? std::move(pc.reply) : StatusReply(pc.shape, batch_status));
    } else {
      FillSlot(*c, pc.seq, WriteReply(pc, batch_status, done.op_results));
    }
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
