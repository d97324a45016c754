// TbbPool: the oneTBB ThreadPool ("tbb"), the mature-library baseline.
//
// A tbb::task_arena of `threads` slots (none reserved for outside threads) and one
// tbb::task_group. Outside submissions are arena.enqueue(group.defer(f)) (fire-and-forget,
// the caller does not join the arena); a task spawning a task uses group.run(f), which goes
// to the running worker's own TBB deque. Shutdown waits on the group inside the arena.
// The worker threads belong to TBB's process-wide market, so "join" means every task has
// finished and the arena is terminated. A tbb::global_control raises TBB's process-wide
// thread limit to threads + 1 while the pool lives (TBB's default is cores - 1 workers).
// kCancel cannot pull tasks out of TBB's queues: they still start, see the cancel flag,
// and end at once without running the user's function (counted as dropped).
//
// Thread-safety: as ThreadPool (Spawn/stats from any thread; Shutdown not from a worker).
#pragma once

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include <atomic>
#include <memory>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "pool/pool_internal.h"
#include "pool/thread_pool.h"

namespace kvs {

class TbbPool final : public ThreadPool {
 public:
  explicit TbbPool(size_t threads);  // 0 → hardware_concurrency
  ~TbbPool() noexcept override;      // tbb::task_group's destructor is noexcept(false)

  std::string_view name() const override { return "tbb"; }
  size_t threads() const override { return threads_; }
  [[nodiscard]] Status Spawn(Task task) override;
  size_t Shutdown(ShutdownMode mode) override EXCLUDES(shutdown_mu_);
  PoolStats stats() const override;

 private:
  // TBB invokes its functors as const; the task is released after running, hence mutable.
  struct Body {
    TbbPool* pool;
    mutable Task task;
    void operator()() const { pool->RunOne(task); }
  };
  void RunOne(Task& task);

  // Only shut_down_ needs a lock: TBB's arena and group are thread-safe, the rest is
  // atomic or fixed by the constructor.
  const size_t threads_;
  tbb::global_control parallelism_;
  tbb::task_arena arena_;
  tbb::task_group group_;
  pool_internal::SpawnGate gate_;
  std::atomic<bool> cancel_{false};
  std::atomic<uint64_t> rejected_{0};
  std::atomic<uint64_t> dropped_{0};
  // Indexed by arena slot; several threads may share one (fetch_add, not Bump).
  std::vector<pool_internal::WorkerCounters> counters_;
  Mutex shutdown_mu_;  // serialises Shutdown calls
  bool shut_down_ GUARDED_BY(shutdown_mu_) = false;
};

}  // namespace kvs
