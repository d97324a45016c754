// ThreadPool: runs fire-and-forget tasks on a fixed set of worker threads.
//
// Three implementations behind one interface, chosen at server start (--pool):
//   kStealing  WorkStealingPool (default): per-worker Chase-Lev deques + a lock-free
//              injector for submissions from outside the pool (the io_uring loop).
//   kShared    SharedQueuePool: one mutex-guarded queue, the baseline.
//   kTbb       TbbPool: oneTBB task_arena + task_group, the mature-library baseline.
// See docs/POOL.md for the algorithms and the shutdown contract.
//
// Ownership: the caller owns the pool (MakePool returns a unique_ptr); the pool owns every
// task from a successful Spawn until the task has run or been dropped. No task is lost
// silently: each accepted task either runs exactly once or is counted by Shutdown(kCancel).
// A task that throws is caught in the worker, counted in stats().failed and the pool goes on.
//
// Thread-safety: Spawn() and stats() may be called from any thread, workers included.
// Shutdown() from any thread that is not one of this pool's workers (it joins them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "base/result.h"
#include "base/status.h"

namespace kvs {

enum class PoolKind { kStealing, kShared, kTbb };

// "stealing" | "shared" | "tbb"; InvalidArgument naming the accepted values otherwise.
Result<PoolKind> ParsePoolKind(std::string_view name);
std::string_view PoolKindName(PoolKind kind);

// kDrain: run every queued task, then join. kCancel: drop queued tasks not yet started
// (destroyed before Shutdown returns), let running ones finish, then join.
enum class ShutdownMode { kDrain, kCancel };

using Task = std::function<void()>;

// Counters since construction. A snapshot read with relaxed loads: exact once the pool
// is shut down, approximate (each field a little stale) while it runs.
struct PoolStats {
  uint64_t executed = 0;  // tasks that were run (including those that threw)
  uint64_t failed = 0;    // tasks that threw an exception (caught and swallowed)
  uint64_t rejected = 0;  // Spawn calls refused with Aborted because shutdown had begun
  uint64_t dropped = 0;   // queued tasks dropped by Shutdown(kCancel)
  uint64_t stolen = 0;    // tasks taken from another worker's deque (stealing pool only)
  uint64_t sleeps = 0;    // times a worker blocked in the kernel waiting for work
  uint64_t wakeups = 0;   // kernel wake-ups issued by producers (stealing pool only)
};

class ThreadPool {
 public:
  ThreadPool() = default;
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  // Implementations call Shutdown(kDrain) in their own destructor if not yet shut down.
  virtual ~ThreadPool();

  virtual std::string_view name() const = 0;
  virtual size_t threads() const = 0;

  // Any thread, including a pool worker. Aborted status after shutdown began (the task is
  // not run, the caller knows; the task object is destroyed before Spawn returns).
  // REQUIRES: task is non-empty.
  [[nodiscard]] virtual Status Spawn(Task task) = 0;

  // Idempotent; returns how many queued tasks were dropped (always 0 for kDrain). Once it
  // begins, every Spawn (from any thread, tasks included) returns Aborted. Returns after
  // every worker has been joined. Must not be called from a worker.
  virtual size_t Shutdown(ShutdownMode mode) = 0;

  virtual PoolStats stats() const = 0;
};

// threads == 0 → std::thread::hardware_concurrency() (at least 1).
std::unique_ptr<ThreadPool> MakePool(PoolKind kind, size_t threads);

}  // namespace kvs
