// Index: the in-memory hash index of LogStore, key -> where its newest record lives.
//
// Sharded by key hash; each shard is a KeyTable (an open-addressing table with short keys
// stored inline) behind its own reader-writer lock, so concurrent lookups of different keys
// never contend and lookups of the same shard only share a lock. Values never live here:
// ~58 bytes per key of up to 20 bytes (docs/FORMAT.md "The index in memory"). All methods
// are thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string_view>

#include "store/index_entry.h"
#include "store/key_table.h"

namespace kvs {

class Index {
 public:
  Index() = default;
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;

  std::optional<IndexEntry> Find(std::string_view key) const;

  // Stores `entry` for `key` unless the key already has an entry with a higher or equal seq.
  // Returns true when stored; `*replaced` (if given) receives the entry it replaced, if any.
  bool Upsert(std::string_view key, const IndexEntry& entry,
              std::optional<IndexEntry>* replaced = nullptr);

  // Removes `key` if its entry has a lower seq than `seq`; returns the removed entry.
  std::optional<IndexEntry> Erase(std::string_view key, uint64_t seq);

  // Replaces the entry of `key` with `to` only if it still equals `from` (segment, offset):
  // how compaction moves an entry without clobbering a newer write. True if replaced.
  bool ReplaceIf(std::string_view key, const IndexEntry& from, const IndexEntry& to);

  // Removes every entry for which `pred(key, entry)` is true; returns how many.
  size_t EraseIf(const std::function<bool(std::string_view, const IndexEntry&)>& pred);

  // Calls `fn(key, entry)` for every entry, one shard at a time under its shared lock.
  void ForEach(const std::function<void(std::string_view, const IndexEntry&)>& fn) const;

  // Makes room for about `keys` keys in all (spread over the shards as hashing spreads
  // them), so that recovery inserts them without growing a table.
  void Reserve(size_t keys);

  size_t size() const;
  // Bytes allocated by the tables; for tests and benchmarks.
  size_t MemoryBytes() const;

 private:
  static constexpr size_t kShardBits = 6;
  static constexpr size_t kShards = size_t{1} << kShardBits;

  struct alignas(64) Shard {  // one cache line apart: no false sharing between shard locks
    mutable std::shared_mutex mu;
    KeyTable table;  // guarded by mu
  };

  static uint64_t Hash(std::string_view key) { return KeyTable::DefaultHash(key); }
  // High bits: the table itself uses the low 32 bits for its slots.
  static size_t ShardIndex(uint64_t hash) { return hash >> (64 - kShardBits); }

  std::array<Shard, kShards> shards_;
};

}  // namespace kvs
