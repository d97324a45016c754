// ChaseLevDeque<T>: a growable work-stealing deque of T* (Chase & Lev, SPAA 2005). Memory
// orderings after Lê, Pop, Cohen & Zappa Nardelli (PPoPP 2013), with their two seq_cst
// fences expressed as seq_cst accesses to top_/bottom_ instead (see Pop()).
//
// Ownership: the deque stores raw pointers and never deletes them; whoever pops or steals
// a pointer owns it. Buffers replaced by growth are retired, not freed, until the deque is
// destroyed (a thief may still be reading one), so memory is bounded by 2x the peak size.
//
// Thread-safety: Push() and Pop() only from the one owner thread; Steal() and
// SizeApprox() from any thread. Destroy only when no thread uses the deque.
#pragma once

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace kvs {

template <typename T>
class ChaseLevDeque {
 public:
  enum class StealResult { kSuccess, kEmpty, kLostRace };

  explicit ChaseLevDeque(size_t initial_capacity = 256) {
    size_t cap = 2;
    while (cap < initial_capacity) cap *= 2;
    auto buffer = std::make_unique<Buffer>(cap);
    buffer_.store(buffer.get(), std::memory_order_relaxed);
    buffers_.push_back(std::move(buffer));
  }
  ChaseLevDeque(const ChaseLevDeque&) = delete;
  ChaseLevDeque& operator=(const ChaseLevDeque&) = delete;

  // Owner only. Never fails (grows the buffer when full).
  void Push(T* item) {
    const int64_t b = bottom_.load(std::memory_order_relaxed);
    const int64_t t = top_.load(std::memory_order_acquire);
    Buffer* buf = buffer_.load(std::memory_order_relaxed);
    if (b - t > static_cast<int64_t>(buf->mask)) buf = Grow(buf, t, b);
    // Release on the slot and on bottom_ (the paper uses a release fence + relaxed store;
    // the per-access form is free on x86 and is what ThreadSanitizer understands).
    buf->At(b).store(item, std::memory_order_release);
    bottom_.store(b + 1, std::memory_order_release);
  }

  // Owner only. LIFO end; nullptr when empty.
  T* Pop() {
    const int64_t b = bottom_.load(std::memory_order_relaxed) - 1;
    Buffer* buf = buffer_.load(std::memory_order_relaxed);
    // seq_cst store then seq_cst load (the paper: relaxed + a seq_cst fence). In the single
    // total order, either a thief's bottom_ load sees this claim, or our top_ load sees the
    // thief's; both then race for a last element on top_ with one CAS. (ThreadSanitizer
    // does not support fences; on x86 this is one xchg, the same cost as the mfence.)
    bottom_.store(b, std::memory_order_seq_cst);
    int64_t t = top_.load(std::memory_order_seq_cst);
    if (t > b) {  // empty
      bottom_.store(b + 1, std::memory_order_relaxed);
      return nullptr;
    }
    T* item = buf->At(b).load(std::memory_order_relaxed);
    if (t == b) {  // the last element: race the thieves for it on top_
      if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                        std::memory_order_relaxed)) {
        item = nullptr;
      }
      bottom_.store(b + 1, std::memory_order_relaxed);
    }
    return item;
  }

  // Any thread. FIFO end. kLostRace: another thief or the owner took the element first
  // (the deque may still hold more; retry if it matters).
  StealResult Steal(T** out) {
    int64_t t = top_.load(std::memory_order_seq_cst);
    const int64_t b = bottom_.load(std::memory_order_seq_cst);
    if (t >= b) return StealResult::kEmpty;
    Buffer* buf = buffer_.load(std::memory_order_acquire);
    T* item = buf->At(t).load(std::memory_order_acquire);
    if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                      std::memory_order_relaxed)) {
      return StealResult::kLostRace;
    }
    *out = item;
    return StealResult::kSuccess;
  }

  // Any thread; may be stale by the time it returns.
  size_t SizeApprox() const {
    const int64_t b = bottom_.load(std::memory_order_acquire);
    const int64_t t = top_.load(std::memory_order_acquire);
    return b > t ? static_cast<size_t>(b - t) : 0;
  }

  size_t capacity() const { return buffer_.load(std::memory_order_relaxed)->mask + 1; }

 private:
  struct Buffer {
    explicit Buffer(size_t capacity)
        : mask(capacity - 1), slots(std::make_unique<std::atomic<T*>[]>(capacity)) {}
    std::atomic<T*>& At(int64_t i) { return slots[static_cast<size_t>(i) & mask]; }
    const size_t mask;
    std::unique_ptr<std::atomic<T*>[]> slots;
  };

  Buffer* Grow(Buffer* old, int64_t t, int64_t b) {
    auto bigger = std::make_unique<Buffer>((old->mask + 1) * 2);
    for (int64_t i = t; i < b; ++i) {
      bigger->At(i).store(old->At(i).load(std::memory_order_relaxed), std::memory_order_relaxed);
    }
    Buffer* raw = bigger.get();
    buffers_.push_back(std::move(bigger));  // owner-only; the old buffer stays readable
    buffer_.store(raw, std::memory_order_release);
    return raw;
  }

  // top_ and bottom_ on separate cache lines: thieves hammer top_, the owner bottom_.
  alignas(64) std::atomic<int64_t> top_{0};
  alignas(64) std::atomic<int64_t> bottom_{0};
  alignas(64) std::atomic<Buffer*> buffer_{nullptr};
  std::vector<std::unique_ptr<Buffer>> buffers_;  // owner-only: current + retired
};

}  // namespace kvs
