// ExpectedState: what a crash test knows about every key, in the style of RocksDB's db_stress
// expected-state file. A write is recorded as pending before it is sent and committed when
// its acknowledgement arrives; after a crash, a key may hold its last acknowledged value or
// the outcome of any write still pending for it (a pending remove: absent), nothing else.
//
// Keys are numbered 0..n-1 and each is owned by one writer thread: a writer touches only its
// own keys' slots, so no locking is needed while writers run. Verify/Resolve run after every
// writer has stopped. Values are kept as fingerprints (length + hash), not bytes.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace kvs::crash {

// A value's identity without its bytes.
struct Fingerprint {
  uint64_t size = 0;
  uint64_t hash = 0;
  friend bool operator==(const Fingerprint&, const Fingerprint&) = default;
};
Fingerprint FingerprintOf(std::string_view value);

// A key's state: a value, or absent (nullopt).
using KeyState = std::optional<Fingerprint>;
std::string Describe(const KeyState& state);

class ExpectedState {
 public:
  explicit ExpectedState(size_t keys) : slots_(keys) {}

  size_t size() const { return slots_.size(); }

  // The state the key will have once every pending write of it has been applied (what a
  // read on the writer's own connection would see after them).
  KeyState Latest(size_t key) const;
  // Records a write of `key` (a set: the value's fingerprint; a remove: nullopt) as sent.
  void Begin(size_t key, KeyState after);
  // The oldest pending write of `key` was acknowledged. REQUIRES: one is pending.
  void Ack(size_t key);
  size_t pending(size_t key) const { return slots_[key].pending.size(); }
  const KeyState& acked(size_t key) const { return slots_[key].acked; }

  // Whether `observed` is allowed after a crash: the acknowledged state or the outcome of a
  // pending write.
  bool Allowed(size_t key, const KeyState& observed) const;
  // "acked=..., pending=[...]" for failure messages.
  std::string Explain(size_t key) const;
  // After a verified restart: the observed state becomes the acknowledged one.
  void Resolve(size_t key, const KeyState& observed);

 private:
  struct Slot {
    KeyState acked;
    std::deque<KeyState> pending;  // oldest first
  };
  std::vector<Slot> slots_;
};

// A value of `size` bytes that names its writer and write ("w3.17.") followed by filler
// from [a-z0-9] (safe in JSON strings and RESP alike): distinct writes get distinct values.
std::string MakeValue(int writer, uint64_t write_no, size_t size, std::mt19937_64& rng);

// Value sizes from 0 to `max` bytes, mostly small: 55% up to 64 B, 25% up to 4 KiB,
// 15% up to 32 KiB, 5% up to `max`.
size_t PickValueSize(std::mt19937_64& rng, size_t max);

// The seed of a randomised test: $KVS_CRASH_SEED if set, else a fresh random one.
uint64_t TestSeed();
// $KVS_CRASH_ROUNDS if set (a soak), else `dflt`.
int Rounds(int dflt);

}  // namespace kvs::crash
