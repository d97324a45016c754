// LatencyHistogram: request latencies in log-linear buckets, HdrHistogram style.
//
// Values are nanoseconds from 0 to 2^63. Below 2^kSubBucketBits every value has its own
// bucket; above, each power of two is split into 2^(kSubBucketBits-1) equal buckets, so a
// bucket is never wider than 1/128 (0.78%) of the values it holds. Percentiles report the
// highest value of the bucket (clamped to the largest value recorded): never optimistic.
// Fixed size (about 60 KiB), no allocation after construction; Record is a few
// instructions. A value type; not thread-safe: one histogram per thread, merged with Add.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace kvs::bench {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 8;
  static constexpr size_t kBuckets =
      (64 - kSubBucketBits + 1) * (size_t{1} << (kSubBucketBits - 1)) +
      (size_t{1} << (kSubBucketBits - 1));

  void Record(uint64_t nanos) {
    ++counts_[BucketOf(nanos)];
    ++count_;
    sum_ += nanos;
    if (nanos < min_) min_ = nanos;
    if (nanos > max_) max_ = nanos;
  }

  // Adds every value recorded in `other`.
  void Add(const LatencyHistogram& other);
  // Removes what `earlier` (a copy of this histogram taken before) holds, leaving what
  // was recorded since. min/max become those of the whole (they cannot be subtracted).
  void Subtract(const LatencyHistogram& earlier);
  void Reset() { *this = LatencyHistogram(); }

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const {
    return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0;
  }
  // The smallest value v such that at least `percentile`% of values are <= v, to within a
  // bucket (0 when empty). REQUIRES: 0 <= percentile <= 100.
  uint64_t ValueAtPercentile(double percentile) const;

  // Bucket arithmetic, public for tests and for walking the distribution.
  static size_t BucketOf(uint64_t value);
  static uint64_t BucketLowest(size_t bucket);
  static uint64_t BucketHighest(size_t bucket);
  uint64_t bucket_count(size_t bucket) const { return counts_[bucket]; }

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace kvs::bench
