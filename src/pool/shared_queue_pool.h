// SharedQueuePool: the baseline ThreadPool ("shared"). One std::deque behind one mutex,
// workers blocked on one condition variable; a producer notifies only when some worker is
// idle. Simple and fair (FIFO), but every Spawn and every task start takes the same lock.
//
// Thread-safety: as ThreadPool (Spawn/stats from any thread; Shutdown not from a worker).
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "pool/pool_internal.h"
#include "pool/thread_pool.h"

namespace kvs {

class SharedQueuePool final : public ThreadPool {
 public:
  explicit SharedQueuePool(size_t threads);  // 0 → hardware_concurrency
  ~SharedQueuePool() override;

  std::string_view name() const override { return "shared"; }
  size_t threads() const override { return threads_.size(); }
  [[nodiscard]] Status Spawn(Task task) override;
  size_t Shutdown(ShutdownMode mode) override;
  PoolStats stats() const override;

 private:
  void WorkerMain(size_t index);

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::deque<Task> queue_;  // guarded by mu_
  size_t idle_ = 0;         // guarded by mu_: workers waiting on work_cv_
  bool closed_ = false;     // guarded by mu_: Spawn refuses; workers exit once queue_ is empty
  uint64_t rejected_ = 0;   // guarded by mu_
  uint64_t dropped_ = 0;    // guarded by mu_
  std::mutex shutdown_mu_;  // serialises Shutdown calls
  bool shut_down_ = false;  // guarded by shutdown_mu_
  std::vector<pool_internal::WorkerCounters> counters_;
  std::vector<std::thread> threads_;
};

}  // namespace kvs
