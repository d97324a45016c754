// Index: the in-memory hash index of LogStore, key -> where its newest record lives.
//
// Sharded by key hash; each shard is a hash map behind its own reader-writer lock, so
// concurrent lookups of different keys never contend and lookups of the same shard only
// share a lock. Values never live here: an entry is 24 bytes plus the key, ~113 bytes of heap
// per 16-byte key in all (docs/FORMAT.md "The index in memory"). All methods are
// thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace kvs {

struct IndexEntry {
  uint64_t seq = 0;         // sequence number of the record; the higher one wins
  uint64_t offset = 0;      // byte offset of the record in its segment
  uint32_t segment = 0;     // segment id: the file is <segment>.log
  uint32_t value_len = 0;   // kTombstoneLen marks a tombstone (only during recovery)

  static constexpr uint32_t kTombstoneLen = UINT32_MAX;
  bool tombstone() const { return value_len == kTombstoneLen; }
};

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

  size_t size() const;

 private:
  static constexpr size_t kShards = 64;

  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, IndexEntry, Hash, std::equal_to<>>;

  struct alignas(64) Shard {  // one cache line apart: no false sharing between shard locks
    mutable std::shared_mutex mu;
    Map map;  // guarded by mu
  };

  Shard& ShardFor(std::string_view key) { return shards_[ShardIndex(key)]; }
  const Shard& ShardFor(std::string_view key) const { return shards_[ShardIndex(key)]; }
  static size_t ShardIndex(std::string_view key) {
    // High bits: the map itself uses the low bits for its buckets.
    return (Hash{}(key) >> 58) % kShards;
  }

  std::array<Shard, kShards> shards_;
};

}  // namespace kvs
