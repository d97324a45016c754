// RaftNode::Impl's state machine (raft_fsm version 2), on the Raft thread: applies each
// committed entry to the engine (or to the member addresses), dumps the engine into a
// snapshot, and makes the engine hold exactly a snapshot's pairs on restore.

#include <fmt/format.h>

#include <cstring>
#include <unordered_set>

#include "raft/raft_node_impl.h"

namespace kvs::raft {

namespace {

constexpr size_t kRestoreBatchOps = 1024;
// At most this many ScanExpired calls (of kRestoreBatchOps) per restore: a bound on the
// time a restore spends removing expired keys; what is left stays for the expirer.
constexpr int kRestoreExpiredRounds = 4096;

}  // namespace

void RaftNode::Impl::InitFsm() {
  fsm_.version = 2;
  fsm_.data = this;
  fsm_.apply = &Impl::FsmApply;
  fsm_.snapshot = &Impl::FsmSnapshot;
  fsm_.restore = &Impl::FsmRestore;
  fsm_.snapshot_finalize = &Impl::FsmSnapshotFinalize;
  fsm_.snapshot_async = nullptr;
}

void RaftNode::Impl::Fatal(std::string_view why) {
  if (fatal_) return;
  fatal_ = true;
  if (options_.on_fatal) options_.on_fatal(why);
}

int RaftNode::Impl::FsmApply(struct raft_fsm* fsm, const struct raft_buffer* buf, void** result) {
  Impl* self = static_cast<Impl*>(fsm->data);
  *result = nullptr;
  Result<Entry> entry =
      DecodeEntry(std::string_view(static_cast<const char*>(buf->base), buf->len));
  if (!entry.ok()) {
    self->Fatal(fmt::format("cannot apply a committed entry: {}", entry.status().ToString()));
    return RAFT_MALFORMED;
  }
  if (entry->type == EntryType::kMember) {
    if (entry->member_address.empty()) {
      self->members_.erase(entry->member_id);
    } else {
      self->members_[entry->member_id] = entry->member_address;
    }
    return 0;
  }
  std::vector<Status> op_results;
  Status s = self->engine_->Write(entry->batch, &op_results);
  if (s.IsInvalidArgument()) {
    // Deterministic on every node (an op over a limit): the batch fails, the log goes on.
    op_results.assign(entry->batch.size(), s);
  } else if (!s.ok()) {
    self->Fatal(fmt::format("cannot apply a committed entry: {}", s.ToString()));
    return RAFT_IOERR;
  }
  if (entry->proposer == self->options_.id) {
    if (auto it = self->results_.find(entry->token); it != self->results_.end()) {
      it->second = std::move(op_results);
    }
  }
  return 0;
}

// A snapshot is a dump of the engine, taken on the Raft thread between two applies: a
// point-in-time view at the snapshot's index. raft_uv in libraft 0.15 offers no worker
// for asynchronous snapshots (fsm version 3), so the log waits meanwhile
// (docs/REPLICATION.md "Snapshots").
//
// Memory: the array and its buffer are raft_malloc'd here and handed to libraft, which
// stores them and gives them back to FsmSnapshotFinalize to free.
int RaftNode::Impl::FsmSnapshot(struct raft_fsm* fsm, struct raft_buffer* bufs[],
                                unsigned* n_bufs) {
  Impl* self = static_cast<Impl*>(fsm->data);
  // Entries applied after this call, while the snapshot is stored, are not in it.
  self->snapshot_index_ = raft_last_applied(&self->raft_);
  Result<std::string> data = EncodeSnapshot(self->members_, [self](const SnapshotPairFn& fn) {
    return self->engine_->ForEach(fn);  // keys not expired, with their times
  });
  if (!data.ok()) {
    self->LogInfo(fmt::format("raft: snapshot failed: {}", data.status().ToString()));
    return RAFT_IOERR;
  }
  RaftPtr<raft_buffer> out(static_cast<raft_buffer*>(raft_malloc(sizeof(raft_buffer))));
  if (out == nullptr) return RAFT_NOMEM;
  RaftPtr<void> base(raft_malloc(data->size()));
  if (base == nullptr) return RAFT_NOMEM;
  std::memcpy(base.get(), data->data(), data->size());
  out->base = base.release();
  out->len = data->size();
  *bufs = out.release();
  *n_bufs = 1;
  return 0;
}

// Frees what FsmSnapshot allocated: libraft hands it back here once it stored the
// snapshot (or failed to).
int RaftNode::Impl::FsmSnapshotFinalize(struct raft_fsm* fsm, struct raft_buffer* bufs[],
                                        unsigned* n_bufs) {
  Impl* self = static_cast<Impl*>(fsm->data);
  if (*bufs != nullptr) {
    for (unsigned i = 0; i < *n_bufs; ++i) raft_free((*bufs)[i].base);
    raft_free(*bufs);
    ++self->snapshots_;
    self->LogInfo(fmt::format("raft: snapshot taken at index {}", self->snapshot_index_));
  }
  *bufs = nullptr;
  *n_bufs = 0;
  return 0;
}

// Makes the engine hold exactly the snapshot's pairs, with their expiry times: loads them,
// then deletes every key the snapshot does not have. Memory: buf->base becomes ours (to
// free) only on success; on failure libraft keeps and frees it.
int RaftNode::Impl::FsmRestore(struct raft_fsm* fsm, struct raft_buffer* buf) {
  Impl* self = static_cast<Impl*>(fsm->data);
  Status s = self->Restore(std::string_view(static_cast<const char*>(buf->base), buf->len));
  if (!s.ok()) {
    self->Fatal(fmt::format("cannot restore a snapshot: {}", s.ToString()));
    return s.IsCorruption() ? RAFT_CORRUPT : RAFT_IOERR;
  }
  raft_free(buf->base);  // ours on success
  return 0;
}

Status RaftNode::Impl::Restore(std::string_view data) {
  std::unordered_set<std::string> stale;
  KVS_RETURN_IF_ERROR(engine_->ForEachKey([&stale](std::string_view key) {
    stale.emplace(key);
    return Status::Ok();
  }));
  WriteBatch batch;
  std::vector<Status> ignored;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::Ok();
    Status s = engine_->Write(batch, &ignored);
    batch.Clear();
    return s;
  };
  MemberAddresses restored;
  uint64_t pairs = 0;
  uint64_t unchanged = 0;
  KVS_RETURN_IF_ERROR(DecodeSnapshot(
      data, &restored,
      [&](std::string_view key, std::string_view value, int64_t expire_at_ms) -> Status {
        stale.erase(std::string(key));
        ++pairs;
        // At a restart the engine mostly holds these very pairs already: a read is cheaper
        // than rewriting them (and leaving the old copies to compaction). A pair whose time
        // has passed meanwhile is written all the same: every replica then stores what the
        // leader had, and the leader's replicated delete removes it.
        if (Result<StoredValue> have = engine_->Read(key, /*cached_only=*/false);
            have.ok() && have->value == value && have->expire_at_ms == expire_at_ms) {
          ++unchanged;
          return Status::Ok();
        }
        batch.Put(key, value, expire_at_ms);
        return batch.size() >= kRestoreBatchOps ? flush() : Status::Ok();
      }));
  for (const std::string& key : stale) {
    batch.Delete(key);
    if (batch.size() >= kRestoreBatchOps) KVS_RETURN_IF_ERROR(flush());
  }
  KVS_RETURN_IF_ERROR(flush());
  // ForEachKey hides expired keys, so an expired key the snapshot does not have is still
  // stored; the leader, which no longer has it, will never replicate its delete. Deleting
  // every expired key here is safe: each replica hides them already, and the leader's
  // entries carry whole values, never an update of what a follower holds.
  uint64_t expired = 0;
  for (int round = 0; round < kRestoreExpiredRounds; ++round) {
    ExpiredScan scan = engine_->ScanExpired(kRestoreBatchOps);
    if (scan.keys.empty()) break;
    expired += scan.keys.size();
    for (const std::string& key : scan.keys) batch.Delete(key);
    KVS_RETURN_IF_ERROR(flush());
  }
  // Addresses given on the command line stay known even if the snapshot predates them.
  for (auto& [id, address] : restored) members_[id] = address;
  LogInfo(
      fmt::format("raft: restored a snapshot of {} keys ({} already in place, {} stale keys "
                  "and {} expired keys removed)",
                  pairs, unchanged, stale.size(), expired));
  return Status::Ok();
}

}  // namespace kvs::raft
