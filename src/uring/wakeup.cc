// The cross-thread side of Loop: Post, Stop and the eventfd wake-up protocol.
//
// Producers append to tasks_ under tasks_mu_, then wake the loop only if it announced it is
// about to block (sleeping_ swapped true -> false), so a burst of posts costs one eventfd
// write. The loop sets sleeping_ = true and only then re-checks tasks_ and stop_: either it
// sees the new work and does not block, or the producer sees sleeping_ and writes the
// eventfd, whose multishot poll completes and ends the wait. (helio's proactor does this.)
#include <liburing.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <utility>

#include "uring/buffer_ring.h"
#include "uring/loop.h"
#include "uring/op_table.h"

namespace kvs::uring {

using internal::Completion;
using internal::Tag;

void Loop::Post(std::function<void()> fn) {
  {
    MutexLock lock(&tasks_mu_);
    tasks_.push_back(std::move(fn));
  }
  if (sleeping_.exchange(false, std::memory_order_seq_cst)) WriteEventfd();
}

void Loop::Stop() {
  stop_.store(true, std::memory_order_seq_cst);
  if (sleeping_.exchange(false, std::memory_order_seq_cst)) WriteEventfd();
}

void Loop::WriteEventfd() {
  const uint64_t one = 1;
  // EAGAIN means the counter is saturated: the loop is being woken anyway.
  ssize_t n;
  do {
    n = write(event_fd_, &one, sizeof one);
  } while (n < 0 && errno == EINTR);
}

bool Loop::HasPendingWork() {
  if (!deferred_.empty() || stop_.load(std::memory_order_relaxed)) return true;
  sleeping_.store(true, std::memory_order_seq_cst);
  bool work = stop_.load(std::memory_order_seq_cst);
  if (!work) {
    MutexLock lock(&tasks_mu_);
    work = !tasks_.empty();
  }
  if (work) sleeping_.store(false, std::memory_order_relaxed);
  return work;
}

void Loop::RunTasks() {
  if (!deferred_.empty()) {
    std::vector<std::function<void()>> deferred;
    deferred.swap(deferred_);
    for (auto& fn : deferred) fn();
  }
  std::vector<std::function<void()>> tasks;
  {
    MutexLock lock(&tasks_mu_);
    tasks.swap(tasks_);
  }
  // Tasks posted by these tasks wait for the next iteration (and keep it from blocking).
  for (auto& fn : tasks) fn();
  stats_.posted += tasks.size();
}

void Loop::ArmWakeup() {
  struct io_uring_sqe* sqe = GetSqe();
  if (sqe == nullptr) {
    deferred_.push_back([this] {
      if (!wakeup_armed_ && !destroying_) ArmWakeup();
    });
    return;
  }
  io_uring_prep_poll_multishot(sqe, event_fd_, POLLIN);
  io_uring_sqe_set_data64(sqe, internal::PackUserData(0, 0, Tag::kWakeup));
  wakeup_armed_ = true;
}

void Loop::OnWakeup(const Completion& c) {
  if (c.res > 0) {
    ++stats_.wakeups;
    // Reset the counter so the next write is a new edge for the poll.
    uint64_t value;
    while (read(event_fd_, &value, sizeof value) < 0 && errno == EINTR) {
    }
  }
  if (!(c.flags & IORING_CQE_F_MORE)) {
    wakeup_armed_ = false;
    if (!destroying_) ArmWakeup();
  }
}

}  // namespace kvs::uring
