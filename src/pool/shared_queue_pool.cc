#include "pool/shared_queue_pool.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace kvs {
namespace {
thread_local const SharedQueuePool* tls_pool = nullptr;
}  // namespace

SharedQueuePool::SharedQueuePool(size_t threads)
    : counters_(threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : threads) {
  threads_.reserve(counters_.size());
  for (size_t i = 0; i < counters_.size(); ++i) threads_.emplace_back([this, i] { WorkerMain(i); });
}

SharedQueuePool::~SharedQueuePool() { Shutdown(ShutdownMode::kDrain); }

Status SharedQueuePool::Spawn(Task task) {
  assert(task);
  MutexLock lock(&mu_);
  if (closed_) {
    ++rejected_;
    return Status::Aborted("thread pool 'shared' is shutting down");
  }
  queue_.push_back(std::move(task));
  const bool wake = idle_ > 0;
  lock.Unlock();
  if (wake) work_cv_.Signal();
  return Status::Ok();
}

void SharedQueuePool::WorkerMain(size_t index) {
  tls_pool = this;
  Task task;
  MutexLock lock(&mu_);
  for (;;) {
    while (queue_.empty() && !closed_) {
      ++idle_;
      pool_internal::WorkerCounters::Bump(counters_[index].sleeps);
      work_cv_.Wait(&mu_);
      --idle_;
    }
    if (queue_.empty()) break;  // closed and drained (kCancel empties the queue itself)
    task = std::move(queue_.front());
    queue_.pop_front();
    lock.Unlock();
    pool_internal::RunTask(task, counters_[index]);
    lock.Lock();
  }
  tls_pool = nullptr;
}

size_t SharedQueuePool::Shutdown(ShutdownMode mode) {
  assert(tls_pool != this && "Shutdown must not be called from a worker");
  MutexLock shutdown_lock(&shutdown_mu_);
  if (shut_down_) return 0;
  std::deque<Task> dropped;
  {
    MutexLock lock(&mu_);
    closed_ = true;
    if (mode == ShutdownMode::kCancel) dropped.swap(queue_);
    dropped_ = dropped.size();
  }
  work_cv_.SignalAll();
  for (auto& t : threads_) t.join();
  shut_down_ = true;
  return dropped.size();  // their destructors run here, on the caller's thread
}

PoolStats SharedQueuePool::stats() const {
  PoolStats s;
  for (const auto& c : counters_) c.AddTo(s);
  MutexLock lock(&mu_);
  s.rejected = rejected_;
  s.dropped = dropped_;
  return s;
}

}  // namespace kvs
