#include "store/index.h"

#include <algorithm>

namespace kvs {

std::optional<IndexEntry> Index::Find(std::string_view key) const {
  const uint64_t hash = Hash(key);
  const Shard& s = shards_[ShardIndex(hash)];
  ReaderLock lock(&s.mu);
  return s.table.Find(key, hash);
}

bool Index::UpsertLocked(KeyTable& table, std::string_view key, uint64_t hash,
                         const IndexEntry& entry, std::optional<IndexEntry>* replaced) {
  auto [pos, inserted] = table.Emplace(key, hash, entry);
  if (inserted) {
    if (replaced != nullptr) replaced->reset();
    return true;
  }
  const IndexEntry current = table.At(pos);
  if (current.seq >= entry.seq) return false;
  if (replaced != nullptr) *replaced = current;
  table.Assign(pos, entry);
  return true;
}

bool Index::Upsert(std::string_view key, const IndexEntry& entry,
                   std::optional<IndexEntry>* replaced) {
  const uint64_t hash = Hash(key);
  Shard& s = shards_[ShardIndex(hash)];
  WriterLock lock(&s.mu);
  return UpsertLocked(s.table, key, hash, entry, replaced);
}

std::optional<IndexEntry> Index::Erase(std::string_view key, uint64_t seq) {
  const uint64_t hash = Hash(key);
  Shard& s = shards_[ShardIndex(hash)];
  WriterLock lock(&s.mu);
  const std::optional<IndexEntry> old = s.table.Find(key, hash);
  if (!old || old->seq >= seq) return std::nullopt;
  s.table.Erase(key, hash);
  return old;
}

std::optional<IndexEntry> Index::EraseIfAt(std::string_view key, const IndexEntry& at) {
  const uint64_t hash = Hash(key);
  Shard& s = shards_[ShardIndex(hash)];
  WriterLock lock(&s.mu);
  const std::optional<IndexEntry> old = s.table.Find(key, hash);
  if (!old || old->segment != at.segment || old->offset != at.offset) return std::nullopt;
  s.table.Erase(key, hash);
  return old;
}

bool Index::ReplaceIf(std::string_view key, const IndexEntry& from, const IndexEntry& to) {
  const uint64_t hash = Hash(key);
  Shard& s = shards_[ShardIndex(hash)];
  WriterLock lock(&s.mu);
  const size_t pos = s.table.Locate(key, hash);
  if (pos == KeyTable::kAbsent) return false;
  const IndexEntry e = s.table.At(pos);
  if (e.segment != from.segment || e.offset != from.offset) return false;
  s.table.Assign(pos, to);
  return true;
}

size_t Index::EraseIf(const std::function<bool(std::string_view, const IndexEntry&)>& pred) {
  size_t n = 0;
  for (Shard& s : shards_) {
    WriterLock lock(&s.mu);
    n += s.table.EraseIf(pred);
  }
  return n;
}

void Index::ForEach(const std::function<void(std::string_view, const IndexEntry&)>& fn) const {
  for (const Shard& s : shards_) {
    ReaderLock lock(&s.mu);
    s.table.ForEach(fn);
  }
}

void Index::ForEachExpired(int64_t now_ms,
                           const std::function<void(std::string_view, int64_t)>& fn) const {
  for (const Shard& s : shards_) {
    ReaderLock lock(&s.mu);
    // Most shards are skipped here: none of their keys can have expired yet.
    if (s.table.ttl_count() == 0 || s.table.earliest_expiry() > now_ms) continue;
    s.table.ForEachTtl(now_ms, fn);
  }
}

size_t Index::ScanTtl(TtlCursor* cursor, size_t max_visited,
                      const std::function<void(std::string_view, int64_t)>& fn) const {
  size_t visited = 0;
  // Slots examined, empty ones included: a side map is at least 1/8 full unless it has
  // kMinSlots slots or none, so this leaves room for max_visited visits however the keys
  // are spread, and bounds the walk when they are few.
  size_t budget = 8 * max_visited + 8 * kShards;
  // At most one lap over the shards (the first one is met twice: where the cursor was,
  // and from its start at the end of the lap).
  for (size_t step = 0; step <= kShards && visited < max_visited; ++step) {
    const Shard& s = shards_[cursor->shard % kShards];
    bool finished = false;
    {
      ReaderLock lock(&s.mu);
      finished = s.table.ScanTtl(&cursor->slot, max_visited, &visited, &budget, fn);
    }
    if (!finished) break;  // the visit budget (or its bound on empty slots) ran out
    cursor->shard = (cursor->shard + 1) % kShards;
  }
  return visited;
}

size_t Index::ReservePerShard(size_t keys) {
  // Hashing spreads keys binomially: a few standard deviations above the mean per shard
  // covers every shard but rarely, and a shard that still overflows just grows.
  const size_t mean = keys / kShards;
  return mean + mean / 32 + 64;
}

void Index::Reserve(size_t keys) {
  if (keys == 0) return;
  MutexLock reserving(&reserve_mu_);
  const size_t per_shard = ReservePerShard(keys);
  bool empty = reserved_.data() == nullptr;
  for (const Shard& s : shards_) {
    ReaderLock lock(&s.mu);
    empty = empty && s.table.size() == 0;
  }
  // An empty index (a start) gets all its arrays in one block of huge pages.
  const size_t bytes = KeyTable::ReserveBytes(per_shard);
  if (empty) reserved_ = HugeBlock::Map(bytes * kShards);
  for (size_t i = 0; i < kShards; ++i) {
    WriterLock lock(&shards_[i].mu);
    if (reserved_.data() != nullptr && empty) {
      shards_[i].table.Reserve(per_shard, reserved_.data() + i * bytes);
    } else {
      shards_[i].table.Reserve(per_shard);
    }
  }
}

size_t Index::size() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    ReaderLock lock(&s.mu);
    n += s.table.size();
  }
  return n;
}

size_t Index::MemoryBytes() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    ReaderLock lock(&s.mu);
    n += s.table.MemoryBytes();
  }
  return n;
}

void Index::Loader::Upsert(std::string_view key, const IndexEntry& entry) {
  const uint64_t hash = Hash(key);
  const size_t shard = ShardIndex(hash);
  Queue& q = queues_[shard];
  q.items.push_back(Pending{hash, entry, static_cast<uint32_t>(q.keys.size()),
                            static_cast<uint32_t>(key.size())});
  q.keys.append(key);
  if (q.items.size() >= kBatch) Apply(shard);
}

void Index::Loader::Flush() {
  for (size_t i = 0; i < kShards; ++i) {
    if (!queues_[i].items.empty()) Apply(i);
  }
}

void Index::Loader::Apply(size_t shard) {
  Queue& q = queues_[shard];
  Shard& s = index_->shards_[shard];
  // Far enough ahead for a miss to resolve while the keys before it are inserted.
  constexpr size_t kAhead = 8;
  const size_t n = q.items.size();
  {
    WriterLock lock(&s.mu);
    for (size_t i = 0; i < std::min(kAhead, n); ++i) s.table.Prefetch(q.items[i].hash);
    for (size_t i = 0; i < n; ++i) {
      if (i + kAhead < n) s.table.Prefetch(q.items[i + kAhead].hash);
      const Pending& p = q.items[i];
      const std::string_view key(q.keys.data() + p.key_offset, p.key_len);
      if (UpsertLocked(s.table, key, p.hash, p.entry, nullptr)) {
        if (p.entry.tombstone()) ++stored_tombstones_;
        if (p.entry.has_expiry()) ++stored_expiring_;
      }
    }
  }
  q.items.clear();
  q.keys.clear();
}

}  // namespace kvs
