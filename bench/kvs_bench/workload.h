// The requests kvs-bench sends: keys "key:%010d" drawn uniformly from a key space,
// values of a fixed size cut from a pool of random bytes (printable ASCII for JSON, so no
// byte needs escaping and every request of a kind has the same length). RESP also has
// INCR of a counter "ctr:%010d" (a name apart from the SET keys: a prefilled key holds
// random bytes, which INCR refuses), MGET / MSET of `multi_keys` keys "key:%010d", and
// the two expiry workloads' requests (issue 18): `SET key value EX ttl` (a session store)
// and `EXPIRE ctr:%010d ttl` (sent right after the INCR of the same counter: a rate
// limiter).
//
// RequestTemplates encodes one request of each kind with proto::EncodeRequest at start-up
// and afterwards only patches the key digits and the value bytes in place: building a
// request is a memcpy, not an encoding. Immutable after construction: shared by every
// thread. KeyChooser is one connection's seeded random stream (op and key); not
// thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proto/request.h"

namespace kvs::bench {

// kSetEx is SET with EX ttl; kExpire is EXPIRE of a counter. They are request kinds, not
// --op names: --op session sends kSetEx and kGet, --op ratelimit kIncr + kExpire pairs.
enum class Op : uint8_t { kSet, kGet, kIncr, kMget, kMset, kSetEx, kExpire };

// "set", "get", "incr", "mget", "mset" (the --op names), "set-ex", "expire".
std::string_view OpName(Op op);
// INCR, MGET, MSET, SET EX and EXPIRE exist only as RESP requests.
inline bool IsRespOnly(Op op) { return op != Op::kSet && op != Op::kGet; }
// MGET and MSET carry RequestTemplates::multi_keys() keys each.
inline bool IsMultiKey(Op op) { return op == Op::kMget || op == Op::kMset; }

// Keys are "key:" and 10 decimal digits, so a key space holds at most 10^10 keys.
inline constexpr uint64_t kMaxKeyspace = 10'000'000'000ULL;
inline constexpr std::string_view kKeyPrefix = "key:";
inline constexpr std::string_view kCounterPrefix = "ctr:";
inline constexpr size_t kKeyDigits = 10;
// Keys per MGET / MSET (--multi-keys): the default, and a bound that keeps a request small.
inline constexpr size_t kDefaultMultiKeys = 10;
inline constexpr size_t kMaxMultiKeys = 10000;
// The TTL of SET EX and EXPIRE (--ttl): a session or a rate-limit window outlives a run.
inline constexpr uint64_t kDefaultTtlSeconds = 60;

// "key:0000000042"
std::string KeyName(uint64_t key);
// "ctr:0000000042": the counter INCR adds to.
std::string CounterName(uint64_t key);

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
  // `seed` fills the value pool. MGET and MSET carry `multi_keys` keys, SET EX and EXPIRE
  // `ttl_s` seconds (RESP only). REQUIRES: 1 <= multi_keys <= kMaxMultiKeys, ttl_s >= 1.
  RequestTemplates(proto::Protocol protocol, size_t value_size, uint64_t seed,
                   size_t multi_keys = kDefaultMultiKeys, uint64_t ttl_s = kDefaultTtlSeconds);

  // Append one complete request for `key` to *out. `rng` picks the value's bytes.
  void AppendSet(uint64_t key, Rng& rng, std::string* out) const;
  void AppendGet(uint64_t key, std::string* out) const;
  // RESP only (REQUIRES: the protocol is RESP). INCR of CounterName(key).
  void AppendIncr(uint64_t key, std::string* out) const;
  // MGET / MSET of multi_keys() keys, each drawn from `rng` below `keyspace` (repeats are
  // possible, as in any uniform draw); MSET's values are cut from the pool like SET's.
  void AppendMget(uint64_t keyspace, Rng& rng, std::string* out) const;
  void AppendMset(uint64_t keyspace, Rng& rng, std::string* out) const;
  // RESP only. `SET KeyName(key) <value> EX ttl`, the value cut from the pool like SET's;
  // `EXPIRE CounterName(key) ttl`.
  void AppendSetEx(uint64_t key, Rng& rng, std::string* out) const;
  void AppendExpire(uint64_t key, std::string* out) const;

  size_t multi_keys() const { return multi_keys_; }
  std::string_view set_template() const { return set_; }
  std::string_view get_template() const { return get_; }
  std::string_view incr_template() const { return incr_; }
  std::string_view mget_template() const { return mget_; }
  std::string_view mset_template() const { return mset_; }
  std::string_view set_ex_template() const { return set_ex_; }
  std::string_view expire_template() const { return expire_; }

 private:
  void PatchValue(char* at, Rng& rng) const;
  // Appends `request` with `key`'s digits at key_at and a value from the pool at value_at.
  void AppendKeyValue(std::string_view request, size_t key_at, size_t value_at, uint64_t key,
                      Rng& rng, std::string* out) const;

  std::string set_;
  std::string get_;
  size_t set_key_at_ = 0;
  size_t set_value_at_ = 0;
  size_t get_key_at_ = 0;
  // RESP only (empty for JSON). Offsets of each key's digits and of each MSET value.
  std::string incr_;
  std::string mget_;
  std::string mset_;
  size_t incr_key_at_ = 0;
  std::vector<size_t> mget_keys_at_;
  std::vector<size_t> mset_keys_at_;
  std::vector<size_t> mset_values_at_;
  std::string set_ex_;
  std::string expire_;
  size_t set_ex_key_at_ = 0;
  size_t set_ex_value_at_ = 0;
  size_t expire_key_at_ = 0;
  size_t value_size_ = 0;
  size_t multi_keys_ = 0;
  std::string pool_;  // value_size_ + kPoolSlack random bytes; a value starts anywhere
};

// One connection's choice of what to send next: SET with probability
// set_weight / (set_weight + get_weight), key uniform in [0, keyspace); or, given `only`,
// always that op.
class KeyChooser {
 public:
  KeyChooser(uint64_t seed, uint32_t set_weight, uint32_t get_weight, uint64_t keyspace,
             std::optional<Op> only = std::nullopt);

  Op NextOp() {
    if (only_) return *only_;
    return rng_.Below(total_weight_) < set_weight_ ? Op::kSet : Op::kGet;
  }
  uint64_t NextKey() { return rng_.Below(keyspace_); }
  uint64_t keyspace() const { return keyspace_; }
  Rng& rng() { return rng_; }

 private:
  Rng rng_;
  uint64_t set_weight_;
  uint64_t total_weight_;
  uint64_t keyspace_;
  std::optional<Op> only_;
};

}  // namespace kvs::bench
