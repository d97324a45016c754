#include "pool/tbb_pool.h"

#include <algorithm>
#include <cassert>
#include <thread>
#include <utility>

namespace kvs {
namespace {

// The pool whose task the current thread is running (TBB threads serve every arena).
thread_local const TbbPool* tls_running = nullptr;

size_t Resolve(size_t threads) {
  return threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : threads;
}

}  // namespace

TbbPool::TbbPool(size_t threads)
    : threads_(Resolve(threads)),
      parallelism_(tbb::global_control::max_allowed_parallelism, threads_ + 1),
      arena_(static_cast<int>(threads_), /*reserved_for_masters=*/0),
      counters_(threads_) {
  arena_.initialize();
}

TbbPool::~TbbPool() noexcept { Shutdown(ShutdownMode::kDrain); }

void TbbPool::RunOne(Task& task) {
  const int slot = tbb::this_task_arena::current_thread_index();
  auto& c = counters_[static_cast<size_t>(std::max(slot, 0)) % counters_.size()];
  if (cancel_.load(std::memory_order_acquire)) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    task = nullptr;
    return;
  }
  const TbbPool* outer = tls_running;
  tls_running = this;
  try {
    task();
  } catch (...) {
    c.failed.fetch_add(1, std::memory_order_relaxed);
  }
  c.executed.fetch_add(1, std::memory_order_relaxed);
  task = nullptr;
  tls_running = outer;
}

Status TbbPool::Spawn(Task task) {
  assert(task);
  if (!gate_.Enter()) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    gate_.Exit();
    return Status::Aborted("thread pool 'tbb' is shutting down");
  }
  Body body{this, std::move(task)};
  if (tls_running == this) {
    group_.run(std::move(body));  // inside our arena: the worker's own deque
  } else {
    arena_.enqueue(group_.defer(std::move(body)));
  }
  gate_.Exit();
  return Status::Ok();
}

size_t TbbPool::Shutdown(ShutdownMode mode) {
  assert(tls_running != this && "Shutdown must not be called from a worker");
  MutexLock lock(&shutdown_mu_);
  if (shut_down_) return 0;
  if (mode == ShutdownMode::kCancel) cancel_.store(true, std::memory_order_seq_cst);
  gate_.CloseAndWait();
  arena_.execute([this] { group_.wait(); });
  arena_.terminate();
  shut_down_ = true;
  return dropped_.load(std::memory_order_relaxed);
}

PoolStats TbbPool::stats() const {
  PoolStats s;
  for (const auto& c : counters_) c.AddTo(s);
  s.rejected = rejected_.load(std::memory_order_relaxed);
  s.dropped = dropped_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace kvs
