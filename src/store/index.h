// Index: the in-memory hash index of LogStore, key -> where its newest record lives.
//
// Sharded by key hash; each shard is a KeyTable (an open-addressing table with short keys
// stored inline) behind its own reader-writer lock, so concurrent lookups of different keys
// never contend and lookups of the same shard only share a lock. Values never live here:
// ~60 bytes per key of up to 20 bytes, ~20 more for a key with an expiry time (docs/FORMAT.md
// "The index in memory"). All methods are thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.h"
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

  // Removes `key` if its entry is still at `at`'s place (segment, offset): how compaction
  // drops an entry whose key expired without clobbering a newer write. The removed entry.
  std::optional<IndexEntry> EraseIfAt(std::string_view key, const IndexEntry& at);

  // Removes every entry for which `pred(key, entry)` is true; returns how many.
  size_t EraseIf(const std::function<bool(std::string_view, const IndexEntry&)>& pred);

  // Calls `fn(key, entry)` for every entry, one shard at a time under its shared lock.
  void ForEach(const std::function<void(std::string_view, const IndexEntry&)>& fn) const;

  // Calls `fn(key, expire_at_ms)` for every entry whose expiry time is <= now_ms, one shard
  // at a time under its shared lock. Walks only the expiry side maps of shards whose
  // earliest expiry time has come (KeyTable::earliest_expiry): free while no key expired.
  void ForEachExpired(int64_t now_ms,
                      const std::function<void(std::string_view, int64_t)>& fn) const;

  // Where the active expirer's walk over the keys with an expiry time stands.
  struct TtlCursor {
    size_t shard = 0;
    size_t slot = 0;  // in the shard's side map
  };
  // Visits up to `max_visited` entries with an expiry time from `*cursor` on, across shards
  // (at most one lap), calling `fn(key, expire_at_ms)`; advances the cursor and returns how
  // many it visited. Each shard's shared lock is held only for its part of the walk.
  size_t ScanTtl(TtlCursor* cursor, size_t max_visited,
                 const std::function<void(std::string_view, int64_t)>& fn) const;

  // Makes room for about `keys` keys in all (spread over the shards as hashing spreads
  // them), so that recovery inserts them without growing a table. On an empty index every
  // shard's arrays go into one block of huge pages, unmapped with the Index.
  void Reserve(size_t keys);

  size_t size() const;
  // Bytes allocated by the tables; for tests and benchmarks.
  size_t MemoryBytes() const;

  // Recovery's bulk path: queues upserts per shard and applies a shard's queue under one
  // acquisition of its lock, each slot prefetched a few keys ahead, so that threads loading
  // segments side by side neither pass shard locks back and forth nor wait for every cache
  // miss in turn. Same rules as Upsert(); an entry is visible once its queue is applied (at
  // the latest by Flush()). One Loader per thread; the Index must outlive it.
  class Loader {
   public:
    explicit Loader(Index* index) : index_(index) {}
    Loader(const Loader&) = delete;
    Loader& operator=(const Loader&) = delete;
    ~Loader() { Flush(); }

    void Upsert(std::string_view key, const IndexEntry& entry);
    void Flush();
    // Tombstone entries that Upsert rules stored so far (applied queues only).
    uint64_t stored_tombstones() const { return stored_tombstones_; }
    // Entries with an expiry time that Upsert rules stored so far (applied queues only).
    uint64_t stored_expiring() const { return stored_expiring_; }

   private:
    struct Pending {
      uint64_t hash;
      IndexEntry entry;
      uint32_t key_offset;  // in the queue's `keys`
      uint32_t key_len;
    };
    struct Queue {
      std::vector<Pending> items;
      std::string keys;
    };
    static constexpr size_t kBatch = 512;
    void Apply(size_t shard);

    Index* const index_;
    std::vector<Queue> queues_{kShards};
    uint64_t stored_tombstones_ = 0;
    uint64_t stored_expiring_ = 0;
  };

 private:
  static constexpr size_t kShardBits = 6;
  static constexpr size_t kShards = size_t{1} << kShardBits;

  struct alignas(64) Shard {  // one cache line apart: no false sharing between shard locks
    mutable SharedMutex mu;
    KeyTable table GUARDED_BY(mu);
  };

  static uint64_t Hash(std::string_view key) { return KeyTable::DefaultHash(key); }
  static size_t ReservePerShard(size_t keys);
  // Upsert's rule on one table. REQUIRES: its shard locked exclusively (the analysis cannot
  // name a shard's lock from here; each caller holds it).
  static bool UpsertLocked(KeyTable& table, std::string_view key, uint64_t hash,
                           const IndexEntry& entry, std::optional<IndexEntry>* replaced);
  // High bits: the table itself uses the low 32 bits for its slots.
  static size_t ShardIndex(uint64_t hash) { return hash >> (64 - kShardBits); }

  // Reserve's memory for every shard's arrays; declared first, so it outlives the shards.
  Mutex reserve_mu_;
  HugeBlock reserved_ GUARDED_BY(reserve_mu_);
  std::array<Shard, kShards> shards_;
};

}  // namespace kvs
