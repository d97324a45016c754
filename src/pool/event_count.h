// EventCount: lets threads sleep until "something may have changed" without lost
// wake-ups, and costs a producer only a load when nobody sleeps (after Vyukov / folly).
//
// Waiter:   key = PrepareWait(); re-check the condition; if true: CancelWait(), else Wait(key).
// Notifier: publish the change; SeqCstFence(); NotifyOne() or NotifyAll().
// Either the notifier sees the waiter counted (and bumps the epoch it sleeps on), or the
// waiter's re-check, ordered after its count by a seq_cst fence, sees the change.
//
// Thread-safety: every method from any thread. Sleeps in the kernel with FUTEX_WAIT.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdint>

#include "pool/seq_cst_fence.h"

namespace kvs {

class EventCount {
 public:
  uint32_t PrepareWait() {
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    SeqCstFence();
    return epoch_.load(std::memory_order_acquire);
  }
  void CancelWait() { waiters_.fetch_sub(1, std::memory_order_relaxed); }
  // Blocks until the epoch moves past `key` (returns at once if it already has).
  void Wait(uint32_t key) {
    while (epoch_.load(std::memory_order_acquire) == key) {
      syscall(SYS_futex, &epoch_, FUTEX_WAIT_PRIVATE, key, nullptr, nullptr, 0);
    }
    waiters_.fetch_sub(1, std::memory_order_relaxed);
  }

  // REQUIRES: a seq_cst fence between publishing the change and this call.
  // Returns whether it issued a kernel wake-up.
  bool NotifyOne() { return Notify(1); }
  bool NotifyAll() { return Notify(INT_MAX); }

 private:
  bool Notify(int count) {
    if (waiters_.load(std::memory_order_relaxed) == 0) return false;
    epoch_.fetch_add(1, std::memory_order_acq_rel);
    syscall(SYS_futex, &epoch_, FUTEX_WAKE_PRIVATE, count, nullptr, nullptr, 0);
    return true;
  }

  alignas(64) std::atomic<uint32_t> waiters_{0};  // threads between PrepareWait and return
  alignas(64) std::atomic<uint32_t> epoch_{0};    // the futex word
};

static_assert(sizeof(std::atomic<uint32_t>) == 4, "futex word must be 32 bits");

}  // namespace kvs
