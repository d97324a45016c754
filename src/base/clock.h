// ExpiryClock: the wall clock that key expiry runs on, in milliseconds since the Unix epoch
// (Redis's unit for absolute expiry times, PEXPIREAT).
//
// It never goes backwards: NowMs() is the largest reading of its source so far. A wall
// clock stepped back therefore stalls expiry until it catches up, instead of reviving keys
// that had already expired; a clock stepped forward expires the keys whose time it passes
// and nothing else (docs/EXPIRY.md "Clocks"). The engines and the server share one, so
// both see the same time. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

namespace kvs {

class ExpiryClock {
 public:
  // A reading of the wall clock in ms since the epoch (tests inject one that jumps).
  using Source = std::function<int64_t()>;
  static int64_t SystemMs();

  explicit ExpiryClock(Source source = &SystemMs) : source_(std::move(source)) {}
  ExpiryClock(const ExpiryClock&) = delete;
  ExpiryClock& operator=(const ExpiryClock&) = delete;

  int64_t NowMs() const {
    const int64_t reading = source_();
    int64_t floor = floor_.load(std::memory_order_relaxed);
    while (reading > floor &&
           !floor_.compare_exchange_weak(floor, reading, std::memory_order_relaxed)) {
    }
    return reading > floor ? reading : floor;
  }

  static std::shared_ptr<ExpiryClock> System() { return std::make_shared<ExpiryClock>(); }

 private:
  const Source source_;
  mutable std::atomic<int64_t> floor_{0};
};

}  // namespace kvs
