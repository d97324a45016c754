// KeyTable: one shard of LogStore's index, a hash table of key -> IndexEntry laid out for
// memory per key (docs/FORMAT.md "The index in memory").
//
// `slots_` is a linear-probing array of 8-byte slots {low 32 bits of the key's hash,
// 1 + position in `entries_`}; `entries_` is a dense array of 48-byte entries holding the
// IndexEntry and the key itself when it has at most kInlineKeyBytes bytes (a longer key lives
// in `long_keys_`, whose freed places are reused). Erase moves the last entry into the hole
// and shifts the following slots back (no tombstones), so removals free space for later
// inserts and churn never grows the table.
//
// Expiry times (docs/FORMAT.md "The index in memory"): an entry whose key has one carries
// kHasTtl in the top bit of its key_len, and the time itself lives in `ttl_`, a small
// linear-probing side map of {entry position, expire_at_ms} (12 bytes a slot), so that keys
// without a TTL pay nothing. Erase's move of the last entry re-keys its side-map slot.
// Not thread-safe: Index locks each shard (except earliest_expiry_, see below).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
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

  // Positions index the dense entry array: valid until the next insert or erase.
  static constexpr size_t kAbsent = SIZE_MAX;

  // The position of `key`'s entry, or kAbsent.
  size_t Locate(std::string_view key, uint64_t hash) const;
  // The entry of `key`, or nullopt.
  std::optional<IndexEntry> Find(std::string_view key, uint64_t hash) const;
  // The entry at `pos` (REQUIRES: a position Locate or Emplace gave since the last change).
  IndexEntry At(size_t pos) const;
  // Replaces the entry at `pos` (its expiry time included: kNoExpiry removes it).
  void Assign(size_t pos, const IndexEntry& entry);

  // Inserts `key` with `entry` if absent: {its position, true}. Otherwise {the existing
  // entry's position, false}, unchanged.
  std::pair<size_t, bool> Emplace(std::string_view key, uint64_t hash, const IndexEntry& entry);

  // Removes `key`; false if absent.
  bool Erase(std::string_view key, uint64_t hash);

  // Removes every entry for which `pred(key, entry)` is true; returns how many.
  size_t EraseIf(const std::function<bool(std::string_view, const IndexEntry&)>& pred);

  void ForEach(const std::function<void(std::string_view, const IndexEntry&)>& fn) const;

  // ---- Expiry times
  // How many entries have one.
  size_t ttl_count() const { return ttl_count_; }
  // A lower bound of the earliest expiry time among the entries (INT64_MAX: none has
  // one): a key whose time has come can exist only when this is <= now.
  int64_t earliest_expiry() const { return earliest_expiry_.load(std::memory_order_relaxed); }
  // Calls `fn(key, expire_at_ms)` for every entry whose expiry time is <= `up_to` (INT64_MAX:
  // every entry with one), and sets earliest_expiry() to the exact earliest. Reads only the
  // side map, and the entries of the keys it calls `fn` for. Callers holding the table only
  // shared may call it concurrently: they all store the same bound, and writers are excluded.
  void ForEachTtl(int64_t up_to, const std::function<void(std::string_view, int64_t)>& fn) const;
  // The active expirer's walk: visits the side map's slots from `*cursor` on, calling
  // `fn(key, expire_at_ms)` for each entry with an expiry time, until `*visited` reaches
  // `max_visited`, `*budget` slots (empty ones included; each examined one takes one) ran
  // out, or the map ends (then *cursor = 0 and true: this table's walk is complete). The map
  // shrinks when it is mostly empty, so a budget of a few slots per visit suffices.
  bool ScanTtl(size_t* cursor, size_t max_visited, size_t* visited, size_t* budget,
               const std::function<void(std::string_view, int64_t)>& fn) const;

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
  // An IndexEntry without its expiry time (which lives in ttl_).
  struct Stored {
    uint64_t seq;
    uint64_t offset;
    uint32_t segment;
    uint32_t value_len;
  };
  struct Entry {
    Stored value;
    uint32_t key_len = 0;  // | kHasTtl when the entry has an expiry time in ttl_
    // The key if key_len <= kInlineKeyBytes, else the uint32 index of it in long_keys_.
    char key[kInlineKeyBytes];
  };
  static_assert(sizeof(Entry) == 48);
  // Keys are at most kMaxKeyBytes (< 2^17): the top bit of key_len is free.
  static constexpr uint32_t kHasTtl = 0x80000000u;
  static uint32_t KeyLen(const Entry& e) { return e.key_len & ~kHasTtl; }
  static bool HasTtl(const Entry& e) { return (e.key_len & kHasTtl) != 0; }

  // A slot of the expiry side map: all zero bytes is empty. Three 4-byte words, so that a
  // slot costs 12 bytes, not the 16 an int64_t member's alignment would make it.
  struct TtlSlot {
    uint32_t ref;  // 1 + position in entries_; 0: empty
    uint32_t lo;   // expire_at_ms, low and high halves
    uint32_t hi;
    int64_t at() const { return static_cast<int64_t>((uint64_t{hi} << 32) | lo); }
  };
  static_assert(sizeof(TtlSlot) == 12);
  size_t TtlHome(uint32_t ref) const {
    // Fibonacci hashing of the position spreads consecutive entries over the map.
    return static_cast<size_t>((uint64_t{ref * 0x9E3779B1u} * ttl_.size()) >> 32);
  }
  size_t TtlNext(size_t i) const { return i + 1 == ttl_.size() ? 0 : i + 1; }
  size_t TtlFind(uint32_t index) const;     // the slot of entry `index`; REQUIRES: HasTtl
  void TtlPut(uint32_t index, int64_t at);  // inserts or updates
  int64_t TtlTake(uint32_t index);          // removes, returning the time; REQUIRES: HasTtl
  void TtlResize(size_t slot_count);

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
  void MaybeShrink();
  static constexpr size_t kMinShrinkEntries = 64;  // smaller tables keep their arrays
  // Stores `key` in `e`, inline or in long_keys_; ReleaseKey gives a long key's place back.
  void StoreKey(Entry& e, std::string_view key);
  void ReleaseKey(const Entry& e);

  const HashFn hash_;
  PodArray<Slot> slots_;
  PodArray<Entry> entries_;
  std::vector<std::string> long_keys_;
  std::vector<uint32_t> free_long_keys_;  // places in long_keys_ to reuse
  PodArray<TtlSlot> ttl_;                 // the expiry side map (empty: no entry has one)
  size_t ttl_count_ = 0;
  // Lowered by every Assign/Emplace of an expiry time, made exact by ForEachTtl; a stale
  // low value only costs a walk. Atomic: ForEachTtl runs under a shared lock.
  mutable std::atomic<int64_t> earliest_expiry_{INT64_MAX};
};

}  // namespace kvs
