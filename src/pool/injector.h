// Injector: the multi-producer multi-consumer queue that carries tasks submitted from
// outside a WorkStealingPool (the io_uring loop's path) to its workers.
//
// A bounded lock-free ring (Vyukov's MPMC queue: a claim CAS on a position plus a
// per-cell sequence number, no allocation per task) backed by a mutex-guarded overflow
// list used only while the ring is full. While the overflow holds tasks, new ones go there
// too, so the ring drains first and nothing starves; order is FIFO within each part.
//
// Ownership: holds tasks by value; TryPop moves one out to the caller.
// Thread-safety: every method from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <memory>

#include "base/mutex.h"
#include "base/thread_annotations.h"
#include "pool/thread_pool.h"

namespace kvs {

class Injector {
 public:
  // REQUIRES: ring_capacity is a power of two >= 2.
  explicit Injector(size_t ring_capacity = 1024);
  Injector(const Injector&) = delete;
  Injector& operator=(const Injector&) = delete;

  void Push(Task&& task) EXCLUDES(overflow_mu_);
  bool TryPop(Task& out) EXCLUDES(overflow_mu_);
  // May be stale; "false" while a push is half done is fine (its notify comes after).
  bool EmptyApprox() const;

 private:
  struct Cell {
    std::atomic<size_t> seq;
    Task task;
  };
  bool TryPushRing(Task& task);
  bool TryPopRing(Task& out);

  // The ring is lock-free: a cell's task belongs to whoever won its position's CAS until
  // the cell's seq is published (see TryPushRing), so cells_ carries no annotation.
  const size_t mask_;
  std::unique_ptr<Cell[]> cells_;
  alignas(64) std::atomic<size_t> enqueue_pos_{0};
  alignas(64) std::atomic<size_t> dequeue_pos_{0};
  // overflow_.size(), readable without the lock: lets Push and TryPop skip it while 0.
  alignas(64) std::atomic<size_t> overflow_size_{0};
  Mutex overflow_mu_;
  std::deque<Task> overflow_ GUARDED_BY(overflow_mu_);
};

}  // namespace kvs
