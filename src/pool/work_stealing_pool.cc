#include "pool/work_stealing_pool.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace kvs {
namespace {

using pool_internal::WorkerCounters;

// Which pool and worker the current thread is, so Spawn from a task goes to its own deque.
struct WorkerIdentity {
  const WorkStealingPool* pool = nullptr;
  size_t index = 0;
};
thread_local WorkerIdentity tls_worker;

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

uint32_t XorShift(uint32_t& state) {
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  return state;
}

}  // namespace

WorkStealingPool::WorkStealingPool(Options options)
    : options_(options), injector_(options.injector_capacity) {
  size_t n = options_.threads;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  workers_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<Worker>(static_cast<uint32_t>(0x9E3779B9u * (i + 1))));
  }
  // Start threads only once every Worker exists: a thief indexes workers_ freely.
  for (size_t i = 0; i < n; ++i) workers_[i]->thread = std::thread([this, i] { WorkerMain(i); });
}

WorkStealingPool::~WorkStealingPool() { Shutdown(ShutdownMode::kDrain); }

Status WorkStealingPool::Spawn(Task task) {
  assert(task);
  if (!gate_.Enter()) {
    rejected_.fetch_add(1, std::memory_order_relaxed);
    gate_.Exit();  // last touch of *this
    return Status::Aborted("thread pool 'stealing' is shutting down");
  }
  if (tls_worker.pool == this) {
    workers_[tls_worker.index]->deque.Push(new Task(std::move(task)));
  } else {
    injector_.Push(std::move(task));
  }
  // Dekker with a worker going idle: it decrements searching_ / counts itself a sleeper,
  // fences, then re-scans the queues. Either it sees our task or we see it and wake it.
  SeqCstFence();
  if (searching_.load(std::memory_order_relaxed) == 0) Wake();
  gate_.Exit();  // after Wake: Shutdown may free the pool once every Spawn has exited
  return Status::Ok();
}

void WorkStealingPool::Wake() {
  if (sleepers_.NotifyOne()) wakeups_.fetch_add(1, std::memory_order_relaxed);
}

bool WorkStealingPool::FindWork(Worker& me, size_t index, Task& out) {
  // Every 61st look goes to the injector first, so a task that keeps respawning itself
  // cannot starve outside submissions (the same trick as Go's and Tokio's schedulers).
  if (++me.tick % 61 == 0 && injector_.TryPop(out)) return true;
  if (Task* local = me.deque.Pop()) {
    out = std::move(*local);
    delete local;
    return true;
  }
  if (injector_.TryPop(out)) return true;
  return TrySteal(me, index, out);
}

bool WorkStealingPool::TrySteal(Worker& me, size_t index, Task& out) {
  const size_t n = workers_.size();
  if (n < 2) return false;
  // Two passes from a random victim; a lost race means someone else got that task, but the
  // victim may hold more, so it is worth the second pass.
  const size_t start = XorShift(me.rng) % n;
  for (int pass = 0; pass < 2; ++pass) {
    bool lost_race = false;
    for (size_t k = 0; k < n; ++k) {
      const size_t victim = (start + k) % n;
      if (victim == index) continue;
      Task* stolen = nullptr;
      switch (workers_[victim]->deque.Steal(&stolen)) {
        case ChaseLevDeque<Task>::StealResult::kSuccess:
          out = std::move(*stolen);
          delete stolen;
          WorkerCounters::Bump(me.counters.stolen);
          return true;
        case ChaseLevDeque<Task>::StealResult::kLostRace:
          lost_race = true;
          break;
        case ChaseLevDeque<Task>::StealResult::kEmpty:
          break;
      }
    }
    if (!lost_race) break;
  }
  return false;
}

bool WorkStealingPool::AnyWorkVisible() const {
  if (!injector_.EmptyApprox()) return true;
  for (const auto& w : workers_) {
    if (w->deque.SizeApprox() > 0) return true;
  }
  return false;
}

void WorkStealingPool::WorkerMain(size_t index) {
  tls_worker = {this, index};
  Worker& me = *workers_[index];
  Task task;
  bool woken = false;
  for (;;) {
    if (cancel_.load(std::memory_order_relaxed)) break;
    // A woken worker goes straight to searching: one wake-up may stand for several tasks
    // (producers skip theirs while anyone searches), so whoever finds work as the last
    // searcher must pass the wake-up on. Skipping that here once lost a wake-up.
    if (!woken && FindWork(me, index, task)) {
      pool_internal::RunTask(task, me.counters);
      continue;
    }
    woken = false;

    // Idle. Search for a while as a "searcher": producers see searching_ > 0 and skip the
    // wake-up syscall, which is what keeps a steady stream of submissions cheap.
    searching_.fetch_add(1, std::memory_order_seq_cst);
    bool found = false;
    for (unsigned round = 0; round < options_.spin_rounds; ++round) {
      if (FindWork(me, index, task)) {
        found = true;
        break;
      }
      if (stop_.load(std::memory_order_relaxed)) break;
      if (round % 8 == 7) {
        std::this_thread::yield();  // 2 cores shared with the io_uring loop: let it run
      } else {
        for (int i = 0; i < 32; ++i) CpuRelax();
      }
    }
    searching_.fetch_sub(1, std::memory_order_seq_cst);
    if (found) {
      // A producer may have skipped its wake-up because we were searching, and we are
      // about to be busy: if we were the last searcher and work is left, pass it on.
      SeqCstFence();
      if (searching_.load(std::memory_order_relaxed) == 0 && AnyWorkVisible()) Wake();
      pool_internal::RunTask(task, me.counters);
      continue;
    }

    // Sleep. PrepareWait counts us and fences; the re-scan after it closes the window
    // against a producer that saw searching_ == 0 and no sleepers.
    const uint32_t key = sleepers_.PrepareWait();
    if (FindWork(me, index, task)) {
      sleepers_.CancelWait();
      if (searching_.load(std::memory_order_relaxed) == 0 && AnyWorkVisible()) Wake();
      pool_internal::RunTask(task, me.counters);
      continue;
    }
    if (stop_.load(std::memory_order_seq_cst)) {
      sleepers_.CancelWait();
      // No task can arrive any more (Shutdown closed the gate first), so empty stays empty.
      // Work still visible is in a deque whose owner (or a thief) is taking it: look again.
      if (cancel_.load(std::memory_order_relaxed) || !AnyWorkVisible()) break;
      continue;
    }
    WorkerCounters::Bump(me.counters.sleeps);
    sleepers_.Wait(key);
    woken = true;
  }
  tls_worker = {};
}

size_t WorkStealingPool::Shutdown(ShutdownMode mode) {
  assert(tls_worker.pool != this && "Shutdown must not be called from a worker");
  MutexLock lock(&shutdown_mu_);
  if (shut_down_) return 0;
  // cancel_ before the gate closes: a Spawn refused with Aborted proves cancellation is on.
  if (mode == ShutdownMode::kCancel) cancel_.store(true, std::memory_order_seq_cst);
  gate_.CloseAndWait();  // from here on the set of queued tasks only shrinks
  stop_.store(true, std::memory_order_seq_cst);
  SeqCstFence();
  sleepers_.NotifyAll();
  for (auto& w : workers_) w->thread.join();

  // Joined: what is left was never started. Only kCancel leaves anything.
  size_t dropped = 0;
  for (auto& w : workers_) {
    while (Task* t = w->deque.Pop()) {
      delete t;
      ++dropped;
    }
  }
  Task t;
  while (injector_.TryPop(t)) {
    t = nullptr;
    ++dropped;
  }
  assert(mode == ShutdownMode::kCancel || dropped == 0);
  dropped_.store(dropped, std::memory_order_relaxed);
  shut_down_ = true;
  return dropped;
}

PoolStats WorkStealingPool::stats() const {
  PoolStats s;
  for (const auto& w : workers_) w->counters.AddTo(s);
  s.rejected = rejected_.load(std::memory_order_relaxed);
  s.wakeups = wakeups_.load(std::memory_order_relaxed);
  s.dropped = dropped_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace kvs
