#include "pool/injector.h"

#include <cassert>
#include <cstdint>
#include <utility>

namespace kvs {

Injector::Injector(size_t ring_capacity)
    : mask_(ring_capacity - 1), cells_(std::make_unique<Cell[]>(ring_capacity)) {
  assert(ring_capacity >= 2 && (ring_capacity & mask_) == 0);
  for (size_t i = 0; i < ring_capacity; ++i) cells_[i].seq.store(i, std::memory_order_relaxed);
}

void Injector::Push(Task&& task) {
  if (overflow_size_.load(std::memory_order_acquire) == 0 && TryPushRing(task)) return;
  MutexLock lock(&overflow_mu_);
  overflow_.push_back(std::move(task));
  overflow_size_.fetch_add(1, std::memory_order_release);
}

bool Injector::TryPop(Task& out) {
  if (TryPopRing(out)) return true;
  if (overflow_size_.load(std::memory_order_acquire) == 0) return false;
  MutexLock lock(&overflow_mu_);
  if (overflow_.empty()) return false;
  out = std::move(overflow_.front());
  overflow_.pop_front();
  overflow_size_.fetch_sub(1, std::memory_order_release);
  return true;
}

bool Injector::EmptyApprox() const {
  return enqueue_pos_.load(std::memory_order_acquire) ==
             dequeue_pos_.load(std::memory_order_acquire) &&
         overflow_size_.load(std::memory_order_acquire) == 0;
}

// A cell whose seq equals the position is free for the producer that claims that position;
// seq == pos + 1 means full for the consumer of that position; the consumer then sets
// seq = pos + capacity, freeing the cell for the producer one lap later.
bool Injector::TryPushRing(Task& task) {
  size_t pos = enqueue_pos_.load(std::memory_order_relaxed);
  for (;;) {
    Cell& cell = cells_[pos & mask_];
    const size_t seq = cell.seq.load(std::memory_order_acquire);
    const auto diff = static_cast<intptr_t>(seq) - static_cast<intptr_t>(pos);
    if (diff == 0) {
      if (enqueue_pos_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
        cell.task = std::move(task);
        cell.seq.store(pos + 1, std::memory_order_release);
        return true;
      }
    } else if (diff < 0) {
      return false;  // full
    } else {
      pos = enqueue_pos_.load(std::memory_order_relaxed);
    }
  }
}

bool Injector::TryPopRing(Task& out) {
  size_t pos = dequeue_pos_.load(std::memory_order_relaxed);
  for (;;) {
    Cell& cell = cells_[pos & mask_];
    const size_t seq = cell.seq.load(std::memory_order_acquire);
    const auto diff = static_cast<intptr_t>(seq) - static_cast<intptr_t>(pos + 1);
    if (diff == 0) {
      if (dequeue_pos_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
        out = std::move(cell.task);
        cell.task = nullptr;
        cell.seq.store(pos + mask_ + 1, std::memory_order_release);
        return true;
      }
    } else if (diff < 0) {
      return false;  // empty (or the producer of this cell has not finished)
    } else {
      pos = dequeue_pos_.load(std::memory_order_relaxed);
    }
  }
}

}  // namespace kvs
