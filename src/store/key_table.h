// KeyTable: one shard of LogStore's index, a hash table of key -> IndexEntry laid out for
// memory per key (docs/FORMAT.md "The index in memory").
//
// `slots_` is a linear-probing array of 8-byte slots {low 32 bits of the key's hash,
// 1 + position in `entries_`}; `entries_` is a dense array of 48-byte entries holding the
// IndexEntry and the key itself when it has at most kInlineKeyBytes bytes (a longer key lives
// in `long_keys_`, whose freed places are reused). Erase moves the last entry into the hole
// and shifts the following slots back (no tombstones), so removals free space for later
// inserts and churn never grows the table. Not thread-safe: Index locks each shard.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "store/index_entry.h"
#include "store/pod_array.h"

namespace kvs {

class KeyTable {
 public:
  using HashFn = uint64_t (*)(std::string_view);
  static uint64_t DefaultHash(std::string_view key);

  // Keys up to this many bytes are stored inside their entry.
  static constexpr size_t kInlineKeyBytes = 20;

  // `hash` must be the function whose values the callers pass in (tests pass a weak one
  // to force collisions).
  explicit KeyTable(HashFn hash = &DefaultHash) : hash_(hash) {}
  KeyTable(const KeyTable&) = delete;
  KeyTable& operator=(const KeyTable&) = delete;

  // Every `hash` argument below is hash_(key): Index computes it once for its shard choice.

  // The entry of `key`, or null. Valid until the next insert or erase.
  IndexEntry* Find(std::string_view key, uint64_t hash);
  const IndexEntry* Find(std::string_view key, uint64_t hash) const;

  // Inserts `key` with `entry` if absent: {its entry, true}. Otherwise {the existing entry,
  // false}, unchanged. The pointer is valid until the next insert or erase.
  std::pair<IndexEntry*, bool> Emplace(std::string_view key, uint64_t hash,
                                       const IndexEntry& entry);

  // Removes `key`; false if absent.
  bool Erase(std::string_view key, uint64_t hash);

  // Removes every entry for which `pred(key, entry)` is true; returns how many.
  size_t EraseIf(const std::function<bool(std::string_view, const IndexEntry&)>& pred);

  void ForEach(const std::function<void(std::string_view, const IndexEntry&)>& fn) const;

  // Starts loading the slot where a lookup of `hash` begins, and the place a few inserts
  // ahead in the entry array: hints for bulk loads, which insert many keys in a row.
  void Prefetch(uint64_t hash) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[Home(static_cast<uint32_t>(hash))], 1);
    if (entries_.size() + kAppendAhead < entries_.capacity()) {
      __builtin_prefetch(entries_.data() + entries_.size() + kAppendAhead, 1);
    }
  }

  // Makes room for `keys` keys in all, so that inserting up to that many allocates nothing.
  void Reserve(size_t keys);
  // The same for an empty table, placing its arrays in `storage`: ReserveBytes(keys) zero
  // bytes, 64-byte aligned, that outlive the table (Index::Reserve maps one block of huge
  // pages for every shard). The table moves to memory of its own if it outgrows them.
  static size_t ReserveBytes(size_t keys);
  void Reserve(size_t keys, char* storage);

  size_t size() const { return entries_.size(); }
  // Bytes allocated by the table (its arrays and long keys), for tests and benchmarks.
  size_t MemoryBytes() const;

 private:
  struct Slot {         // all zero bytes: empty
    uint32_t hash = 0;  // low 32 bits of the key's hash
    uint32_t ref = 0;   // 1 + index into entries_; 0: empty
  };
  struct Entry {
    IndexEntry value;
    uint32_t key_len = 0;
    // The key if key_len <= kInlineKeyBytes, else the uint32 index of it in long_keys_.
    char key[kInlineKeyBytes];
  };
  static_assert(sizeof(Entry) == 48);

  // Slots may hold at most this fraction of entries: linear probing stays short below it.
  static constexpr size_t kMaxLoadNum = 4, kMaxLoadDen = 5;
  static constexpr size_t kMinSlots = 8;
  static constexpr size_t kAppendAhead = 4;

  // Slots for `keys` keys at the load bound.
  static size_t SlotsFor(size_t keys) {
    return std::max(kMinSlots, keys * kMaxLoadDen / kMaxLoadNum + 1);
  }
  size_t Home(uint32_t hash) const {
    // Multiply-shift maps the hash onto any table size, not only powers of two, so Reserve
    // can size the table to the key count.
    return static_cast<size_t>((uint64_t{hash} * slots_.size()) >> 32);
  }
  size_t Next(size_t slot) const { return slot + 1 == slots_.size() ? 0 : slot + 1; }
  std::string_view KeyOf(const Entry& e) const;
  size_t FindSlot(std::string_view key, uint32_t hash) const;  // slots_.size() if absent
  size_t SlotOfEntry(uint32_t index) const;                    // REQUIRES: entry exists
  void Rehash(size_t slot_count);
  void EraseSlot(size_t slot);
  // Stores `key` in `e`, inline or in long_keys_; ReleaseKey gives a long key's place back.
  void StoreKey(Entry& e, std::string_view key);
  void ReleaseKey(const Entry& e);

  const HashFn hash_;
  PodArray<Slot> slots_;
  PodArray<Entry> entries_;
  std::vector<std::string> long_keys_;
  std::vector<uint32_t> free_long_keys_;  // places in long_keys_ to reuse
};

}  // namespace kvs
