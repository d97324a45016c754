#include "server/memory_engine.h"

#include <cassert>
#include <utility>

namespace kvs::testing {

Result<StoredValue> MemoryEngine::Read(std::string_view key, bool /*cached_only*/) {
  MutexLock lock(&mu_);
  auto it = data_.find(key);
  if (it == data_.end() || Expired(it->second)) return Status::NotFound("Key not found");
  return it->second;
}

Status MemoryEngine::Write(const WriteBatch& batch, std::vector<Status>* op_results) {
  assert(op_results != nullptr);
  MutexLock lock(&mu_);
  batch_sizes_.push_back(batch.size());
  const size_t call = batch_sizes_.size();
  if (gate_closed_) {
    ++writers_at_gate_;
    changed_.SignalAll();
    while (gate_closed_) changed_.Wait(&mu_);
    --writers_at_gate_;
  }
  for (const WriteBatch::Op& op : batch.ops()) KVS_RETURN_IF_ERROR(CheckWriteOp(op));
  if (read_only_) return ReadOnlyError();
  if (call == fail_call_) {
    // As a failed fdatasync: nothing of the batch counts, and nothing later may be written.
    read_only_ = true;
    failure_ = fail_error_.ToString();
    return fail_error_;
  }

  std::vector<Status> results(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const WriteBatch::Op& op = batch.ops()[i];
    if (op.kind == WriteBatch::OpKind::kDeletePrefix) {
      for (auto it = data_.lower_bound(op.key); it != data_.end() && it->first.starts_with(op.key);) {
        live_bytes_ -= it->first.size() + it->second.value.size();
        it = data_.erase(it);
      }
      continue;
    }
    auto it = data_.find(op.key);
    if (op.kind == WriteBatch::OpKind::kDelete) {
      const bool existed = it != data_.end() && !Expired(it->second);
      if (it != data_.end()) {
        live_bytes_ -= it->first.size() + it->second.value.size();
        data_.erase(it);
      }
      if (!existed) results[i] = Status::NotFound("Key not found");
    } else if (it == data_.end()) {
      live_bytes_ += op.key.size() + op.value.size();
      data_.emplace(op.key, StoredValue{op.value, op.expire_at_ms});
    } else {
      live_bytes_ = live_bytes_ - it->second.value.size() + op.value.size();
      it->second = StoredValue{op.value, op.expire_at_ms};
    }
  }
  ++batches_;
  batched_ops_ += batch.size();
  *op_results = std::move(results);
  return Status::Ok();
}

Status MemoryEngine::Sync() {
  MutexLock lock(&mu_);
  if (read_only_) return ReadOnlyError();
  ++syncs_;
  return Status::Ok();
}

EngineStats MemoryEngine::Stats() const {
  MutexLock lock(&mu_);
  EngineStats s;
  s.keys = data_.size();
  s.live_bytes = live_bytes_;
  s.fsyncs = syncs_;
  s.batches = batches_;
  s.batched_ops = batched_ops_;
  s.read_only = read_only_;
  s.failure = failure_;
  return s;
}

Status MemoryEngine::ForEach(const PairFn& fn) {
  std::map<std::string, StoredValue, std::less<>> copy;
  {
    MutexLock lock(&mu_);
    copy = data_;
  }
  for (const auto& [key, stored] : copy) {
    if (!Expired(stored)) KVS_RETURN_IF_ERROR(fn(key, stored.value, stored.expire_at_ms));
  }
  return Status::Ok();
}

ExpiredScan MemoryEngine::ScanExpired(size_t max_visited) {
  MutexLock lock(&mu_);
  ExpiredScan scan;
  auto it = data_.upper_bound(expiry_cursor_);
  for (size_t steps = 0; steps < data_.size() && scan.visited < max_visited; ++steps, ++it) {
    if (it == data_.end()) it = data_.begin();
    if (it->second.expire_at_ms == kNoExpiry) continue;
    ++scan.visited;
    if (Expired(it->second)) scan.keys.push_back(it->first);
    expiry_cursor_ = it->first;
  }
  return scan;
}

std::vector<size_t> MemoryEngine::batch_sizes() const {
  MutexLock lock(&mu_);
  return batch_sizes_;
}

size_t MemoryEngine::write_calls() const {
  MutexLock lock(&mu_);
  return batch_sizes_.size();
}

void MemoryEngine::CloseGate() {
  MutexLock lock(&mu_);
  gate_closed_ = true;
  changed_.SignalAll();
}

void MemoryEngine::OpenGate() {
  MutexLock lock(&mu_);
  gate_closed_ = false;
  changed_.SignalAll();
}

bool MemoryEngine::WaitForWritersAtGate(size_t n, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock lock(&mu_);
  while (writers_at_gate_ < n) {
    if (!changed_.WaitUntil(&mu_, deadline) && writers_at_gate_ < n) return false;
  }
  return true;
}

void MemoryEngine::FailWriteCall(size_t call, Status error) {
  assert(call > 0 && !error.ok());
  MutexLock lock(&mu_);
  fail_call_ = call;
  fail_error_ = std::move(error);
}

Status MemoryEngine::ReadOnlyError() const {
  return Status::ReadOnly("store is read-only after a failed write: " + failure_);
}

}  // namespace kvs::testing
