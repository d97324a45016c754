// Pieces shared by the ThreadPool implementations: the spawn gate that makes "every Spawn
// after shutdown began is refused" race-free, per-worker counters, and the task runner
// that swallows exceptions. Internal to src/pool; not part of the public API.
//
// Thread-safety: as stated per class.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "pool/seq_cst_fence.h"
#include "pool/thread_pool.h"

namespace kvs::pool_internal {

// Counts the Spawn calls in progress and carries the "closed" bit, in one word. Spawn
// brackets its push with Enter()/Exit(); Shutdown's CloseAndWait() sets the bit and waits
// for the count to reach zero. Afterwards no push can still be under way and every later
// Enter() fails, so the set of queued tasks is final. Any thread.
class SpawnGate {
 public:
  // True: the caller may push, and must call Exit() after. False: closed; the caller must
  // still call Exit() (after its last access to the pool).
  bool Enter() { return (state_.fetch_add(1, std::memory_order_acquire) & kClosed) == 0; }
  void Exit() { state_.fetch_sub(1, std::memory_order_release); }

  void CloseAndWait() {
    state_.fetch_or(kClosed, std::memory_order_acq_rel);
    // Spawns in progress finish in nanoseconds (a push); yield rather than block.
    while ((state_.load(std::memory_order_acquire) & ~kClosed) != 0) std::this_thread::yield();
  }

 private:
  static constexpr uint64_t kClosed = uint64_t{1} << 63;
  alignas(64) std::atomic<uint64_t> state_{0};
};

// One worker's counters, on its own cache line. Single writer (the worker) uses Bump();
// readers (stats()) load relaxed from any thread.
struct alignas(64) WorkerCounters {
  std::atomic<uint64_t> executed{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<uint64_t> stolen{0};
  std::atomic<uint64_t> sleeps{0};

  // Single-writer increment: a plain load + store, no locked instruction.
  static void Bump(std::atomic<uint64_t>& c) {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void AddTo(PoolStats& s) const {
    s.executed += executed.load(std::memory_order_relaxed);
    s.failed += failed.load(std::memory_order_relaxed);
    s.stolen += stolen.load(std::memory_order_relaxed);
    s.sleeps += sleeps.load(std::memory_order_relaxed);
  }
};

// Runs a task, catching whatever it throws (counted, then ignored: one bad task must not
// take a worker down), then destroys it so its captures are released on this thread now.
inline void RunTask(Task& task, WorkerCounters& counters) {
  try {
    task();
  } catch (...) {
    WorkerCounters::Bump(counters.failed);
  }
  WorkerCounters::Bump(counters.executed);
  task = nullptr;
}

}  // namespace kvs::pool_internal
