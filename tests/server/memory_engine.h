// MemoryEngine: a kvs::Engine in a std::map, for tests of the layers above the store. It
// keeps the whole Engine contract (per-op results, CheckWriteOp, read-only after a failed
// write) without a disk, and adds hooks that let a test see and steer the group commit:
// the size of every Write batch, a gate that holds writes in Write until the test opens
// it, and an injected write failure. Keys expire by the clock it is given. Test-only.
//
// Thread-safety: every method from any thread, as Engine says; the hooks too.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "store/engine.h"

namespace kvs::testing {

class MemoryEngine final : public Engine {
 public:
  explicit MemoryEngine(std::shared_ptr<ExpiryClock> clock = ExpiryClock::System())
      : clock_(std::move(clock)) {}

  std::string_view name() const override { return "memory"; }
  // Never WouldBlock: everything is in memory.
  Result<StoredValue> Read(std::string_view key, bool cached_only) override EXCLUDES(mu_);
  // Waits at the gate while it is closed, then checks every op, then applies the batch,
  // unless the store is read-only or a failure was injected.
  Status Write(const WriteBatch& batch, std::vector<Status>* op_results) override EXCLUDES(mu_);
  // Nothing to flush; ReadOnly once a write failed, like the real engines.
  Status Sync() override EXCLUDES(mu_);
  EngineStats Stats() const override EXCLUDES(mu_);
  // Walks a copy taken under the lock: `fn` may call back into the engine.
  Status ForEach(const PairFn& fn) override EXCLUDES(mu_);
  // Visits the keys with an expiry time in key order, from where the last call stopped.
  ExpiredScan ScanExpired(size_t max_visited) override EXCLUDES(mu_);

  // ---- Test hooks

  // Ops per Write call, in call order; failed and refused calls included.
  std::vector<size_t> batch_sizes() const EXCLUDES(mu_);
  size_t write_calls() const EXCLUDES(mu_);

  // While closed, Write calls wait in the engine (as if their fdatasync took that long).
  void CloseGate() EXCLUDES(mu_);
  void OpenGate() EXCLUDES(mu_);
  // Waits until `n` Write calls wait at the closed gate; false if `timeout` passed first.
  bool WaitForWritersAtGate(size_t n, std::chrono::milliseconds timeout) EXCLUDES(mu_);

  // Write call number `call` (counted from 1 as batch_sizes() counts them) fails with
  // `error` as a whole, nothing applied, and the engine turns read-only: later writes get
  // ReadOnly, as after a failed fdatasync. REQUIRES: call > 0, !error.ok().
  void FailWriteCall(size_t call, Status error) EXCLUDES(mu_);

 private:
  Status ReadOnlyError() const REQUIRES(mu_);
  bool Expired(const StoredValue& v) const {
    return v.expire_at_ms != kNoExpiry && v.expire_at_ms <= clock_->NowMs();
  }

  const std::shared_ptr<ExpiryClock> clock_;
  mutable Mutex mu_;
  CondVar changed_;  // the gate opened or closed, or a writer arrived at it
  std::map<std::string, StoredValue, std::less<>> data_ GUARDED_BY(mu_);
  std::string expiry_cursor_ GUARDED_BY(mu_);  // ScanExpired goes on after this key
  uint64_t live_bytes_ GUARDED_BY(mu_) = 0;
  std::vector<size_t> batch_sizes_ GUARDED_BY(mu_);
  uint64_t batches_ GUARDED_BY(mu_) = 0;  // applied ones
  uint64_t batched_ops_ GUARDED_BY(mu_) = 0;
  uint64_t syncs_ GUARDED_BY(mu_) = 0;
  bool gate_closed_ GUARDED_BY(mu_) = false;
  size_t writers_at_gate_ GUARDED_BY(mu_) = 0;
  size_t fail_call_ GUARDED_BY(mu_) = 0;  // 0: none
  Status fail_error_ GUARDED_BY(mu_);
  bool read_only_ GUARDED_BY(mu_) = false;
  std::string failure_ GUARDED_BY(mu_);
};

}  // namespace kvs::testing
