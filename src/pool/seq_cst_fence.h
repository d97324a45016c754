// SeqCstFence(): a full memory fence that ThreadSanitizer builds accept. Any thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace kvs {

// A full (seq_cst) fence. GCC rejects std::atomic_thread_fence under -fsanitize=thread
// (TSan does not model fences), so there it becomes a seq_cst RMW on one shared atomic:
// all such "fences" are then ordered by that atomic and each later one synchronizes with
// each earlier one, which is stronger than a fence (and a full barrier on the hardware).
inline void SeqCstFence() {
#if defined(__SANITIZE_THREAD__)
  static std::atomic<uint32_t> tsan_fence{0};
  tsan_fence.fetch_add(0, std::memory_order_seq_cst);
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

}  // namespace kvs
