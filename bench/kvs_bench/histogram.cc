#include "histogram.h"

#include <bit>
#include <cassert>
#include <cmath>

namespace kvs::bench {

namespace {
constexpr size_t kLinear = size_t{1} << LatencyHistogram::kSubBucketBits;  // exact below this
constexpr size_t kHalf = kLinear / 2;  // buckets per power of two above it
}  // namespace

size_t LatencyHistogram::BucketOf(uint64_t value) {
  if (value < kLinear) return static_cast<size_t>(value);
  const int msb = 63 - std::countl_zero(value);
  const int shift = msb - (kSubBucketBits - 1);  // >= 1: keeps the top kSubBucketBits bits
  return static_cast<size_t>(shift) * kHalf + static_cast<size_t>(value >> shift);
}

uint64_t LatencyHistogram::BucketLowest(size_t bucket) {
  if (bucket < kLinear) return bucket;
  const size_t shift = bucket / kHalf - 1;
  return static_cast<uint64_t>(bucket - shift * kHalf) << shift;
}

uint64_t LatencyHistogram::BucketHighest(size_t bucket) {
  if (bucket < kLinear) return bucket;
  const size_t shift = bucket / kHalf - 1;
  return BucketLowest(bucket) + ((uint64_t{1} << shift) - 1);
}

void LatencyHistogram::Add(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  if (other.min_ < min_) min_ = other.min_;
  if (other.max_ > max_) max_ = other.max_;
}

void LatencyHistogram::Subtract(const LatencyHistogram& earlier) {
  for (size_t i = 0; i < kBuckets; ++i) {
    assert(counts_[i] >= earlier.counts_[i]);
    counts_[i] -= earlier.counts_[i];
  }
  count_ -= earlier.count_;
  sum_ -= earlier.sum_;
}

uint64_t LatencyHistogram::ValueAtPercentile(double percentile) const {
  assert(percentile >= 0 && percentile <= 100);
  if (count_ == 0) return 0;
  // The rank of the value asked for, 1-based: at least one value, at most all of them.
  auto rank = static_cast<uint64_t>(std::ceil(percentile / 100.0 * static_cast<double>(count_)));
  if (rank < 1) rank = 1;
  if (rank > count_) rank = count_;
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const uint64_t high = BucketHighest(i);
      return high < max_ ? high : max_;
    }
  }
  return max_;
}

}  // namespace kvs::bench
