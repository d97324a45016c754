// WorkStealingPool: the default ThreadPool ("stealing").
//
// Each worker owns a Chase-Lev deque (pool/chase_lev_deque.h): tasks spawned by a worker go
// to the bottom of its own deque (LIFO, cache-warm), idle workers steal from the top of
// the others'. Tasks spawned from outside the pool (the io_uring loop, every GET) go to a
// lock-free Injector ring: one CAS and a fence, and a futex wake only when no worker is
// awake looking for work. Idle workers spin briefly, then sleep on an EventCount.
// Design and memory orderings: docs/POOL.md.
//
// Thread-safety: as ThreadPool (Spawn/stats from any thread; Shutdown not from a worker).
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "pool/chase_lev_deque.h"
#include "pool/event_count.h"
#include "pool/injector.h"
#include "pool/pool_internal.h"
#include "pool/thread_pool.h"

namespace kvs {

class WorkStealingPool final : public ThreadPool {
 public:
  struct Options {
    size_t threads = 0;  // 0 → hardware_concurrency
    // Rounds an idle worker keeps looking for work (each a scan of all queues plus a short
    // pause; a sched_yield every 8 rounds) before it sleeps. ~20 µs on a 2020s x86 core.
    unsigned spin_rounds = 64;
    size_t injector_capacity = 1024;  // power of two; beyond it tasks go to a locked list
  };

  explicit WorkStealingPool(Options options);
  explicit WorkStealingPool(size_t threads) : WorkStealingPool(Options{.threads = threads}) {}
  ~WorkStealingPool() override;

  std::string_view name() const override { return "stealing"; }
  size_t threads() const override { return workers_.size(); }
  [[nodiscard]] Status Spawn(Task task) override;
  size_t Shutdown(ShutdownMode mode) override EXCLUDES(shutdown_mu_);
  PoolStats stats() const override;

 private:
  // No mutex: `deque` is pushed and popped by its worker only and stolen from by any
  // (ChaseLevDeque's contract); `counters` are written by its worker only; `thread` is set
  // by the constructor and joined by Shutdown.
  struct Worker {
    explicit Worker(uint32_t seed) : rng(seed) {}
    ChaseLevDeque<Task> deque;
    pool_internal::WorkerCounters counters;
    uint32_t rng;       // victim selection; worker-private
    uint32_t tick = 0;  // worker-private
    std::thread thread;
  };

  void WorkerMain(size_t index);
  bool FindWork(Worker& me, size_t index, Task& out);
  bool TrySteal(Worker& me, size_t index, Task& out);
  bool AnyWorkVisible() const;
  // REQUIRES: a seq_cst fence since the caller's work became visible.
  void Wake();

  // The hot path takes no lock: what follows is lock-free (Injector, EventCount, the
  // atomics) or fixed once the constructor returns (options_, the workers_ vector).
  const Options options_;
  std::vector<std::unique_ptr<Worker>> workers_;
  Injector injector_;
  EventCount sleepers_;
  pool_internal::SpawnGate gate_;
  // Workers awake and scanning for work. While > 0, producers skip the wake-up: a searcher
  // will find the task, and the last searcher to leave re-checks (see WorkerMain).
  alignas(64) std::atomic<int> searching_{0};
  std::atomic<bool> stop_{false};    // set once no more tasks can arrive
  std::atomic<bool> cancel_{false};  // workers stop after their current task
  std::atomic<uint64_t> rejected_{0};
  std::atomic<uint64_t> wakeups_{0};
  std::atomic<uint64_t> dropped_{0};
  Mutex shutdown_mu_;  // serialises Shutdown calls
  bool shut_down_ GUARDED_BY(shutdown_mu_) = false;
};

}  // namespace kvs
