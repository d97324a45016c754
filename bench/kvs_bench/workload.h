// The requests kvs-bench sends: keys "key:%010d" drawn uniformly from a key space,
// values of a fixed size cut from a pool of random bytes (printable ASCII for JSON, so no
// byte needs escaping and every request of a kind has the same length).
//
// RequestTemplates encodes one SET and one GET with proto::EncodeRequest at start-up and
// afterwards only patches the key digits and the value bytes in place: building a request
// is a memcpy, not an encoding. Immutable after construction: shared by every thread.
// KeyChooser is one connection's seeded random stream (op and key); not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proto/request.h"

namespace kvs::bench {

enum class Op : uint8_t { kSet, kGet };

// Keys are "key:" and 10 decimal digits, so a key space holds at most 10^10 keys.
inline constexpr uint64_t kMaxKeyspace = 10'000'000'000ULL;
inline constexpr std::string_view kKeyPrefix = "key:";
inline constexpr size_t kKeyDigits = 10;

// "key:0000000042"
std::string KeyName(uint64_t key);

// splitmix64 (seeding) feeding xoshiro256** (the stream): fast, good enough for load.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t Next();
  // Uniform in [0, n). REQUIRES: n > 0.
  uint64_t Below(uint64_t n) { return Next() % n; }  // bias < n / 2^64: negligible here

 private:
  uint64_t s_[4];
};

class RequestTemplates {
 public:
  // `seed` fills the value pool.
  RequestTemplates(proto::Protocol protocol, size_t value_size, uint64_t seed);

  // Append one complete request for `key` to *out. `rng` picks the value's bytes.
  void AppendSet(uint64_t key, Rng& rng, std::string* out) const;
  void AppendGet(uint64_t key, std::string* out) const;

  std::string_view set_template() const { return set_; }
  std::string_view get_template() const { return get_; }

 private:
  std::string set_;
  std::string get_;
  size_t set_key_at_ = 0;
  size_t set_value_at_ = 0;
  size_t get_key_at_ = 0;
  size_t value_size_ = 0;
  std::string pool_;  // value_size_ + kPoolSlack random bytes; a value starts anywhere
};

// One connection's choice of what to send next: SET with probability
// set_weight / (set_weight + get_weight), key uniform in [0, keyspace).
class KeyChooser {
 public:
  KeyChooser(uint64_t seed, uint32_t set_weight, uint32_t get_weight, uint64_t keyspace);

  Op NextOp() { return rng_.Below(total_weight_) < set_weight_ ? Op::kSet : Op::kGet; }
  uint64_t NextKey() { return rng_.Below(keyspace_); }
  Rng& rng() { return rng_; }

 private:
  Rng rng_;
  uint64_t set_weight_;
  uint64_t total_weight_;
  uint64_t keyspace_;
};

}  // namespace kvs::bench
