// SharedQueuePool: the baseline ThreadPool ("shared"). One std::deque behind one mutex,
// workers blocked on one condition variable; a producer notifies only when some worker is
// idle. Simple and fair (FIFO), but every Spawn and every task start takes the same lock.
//
// Thread-safety: as ThreadPool (Spawn/stats from any thread; Shutdown not from a worker).
#pragma once

#include <deque>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "pool/pool_internal.h"
#include "pool/thread_pool.h"

namespace kvs {

class SharedQueuePool final : public ThreadPool {
 public:
  explicit SharedQueuePool(size_t threads);  // 0 → hardware_concurrency
  ~SharedQueuePool() override;

  std::string_view name() const override { return "shared"; }
  size_t threads() const override { return threads_.size(); }
  [[nodiscard]] Status Spawn(Task task) override EXCLUDES(mu_);
  size_t Shutdown(ShutdownMode mode) override EXCLUDES(shutdown_mu_, mu_);
  PoolStats stats() const override EXCLUDES(mu_);

 private:
  void WorkerMain(size_t index) EXCLUDES(mu_);

  // Shutdown holds shutdown_mu_ while it takes mu_ (to close the queue), never the reverse.
  Mutex shutdown_mu_ ACQUIRED_BEFORE(mu_);  // serialises Shutdown calls
  bool shut_down_ GUARDED_BY(shutdown_mu_) = false;

  mutable Mutex mu_;
  CondVar work_cv_;  // signalled (outside mu_) when queue_ gains a task or closed_ is set
  std::deque<Task> queue_ GUARDED_BY(mu_);
  size_t idle_ GUARDED_BY(mu_) = 0;  // workers waiting on work_cv_
  // Spawn refuses; workers exit once queue_ is empty.
  bool closed_ GUARDED_BY(mu_) = false;
  uint64_t rejected_ GUARDED_BY(mu_) = 0;
  uint64_t dropped_ GUARDED_BY(mu_) = 0;

  // Not guarded: counters_[i] is written only by worker i (WorkerCounters::Bump) and read
  // relaxed by stats(); both vectors are sized in the constructor and never resized, and
  // threads_ is touched only by the constructor and Shutdown (joined under shutdown_mu_).
  std::vector<pool_internal::WorkerCounters> counters_;
  std::vector<std::thread> threads_;
};

}  // namespace kvs
