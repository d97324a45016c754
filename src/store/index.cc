#include "store/index.h"

namespace kvs {

std::optional<IndexEntry> Index::Find(std::string_view key) const {
  const uint64_t hash = Hash(key);
  const Shard& s = shards_[ShardIndex(hash)];
  std::shared_lock lock(s.mu);
  const IndexEntry* e = s.table.Find(key, hash);
  if (e == nullptr) return std::nullopt;
  return *e;
}

bool Index::Upsert(std::string_view key, const IndexEntry& entry,
                   std::optional<IndexEntry>* replaced) {
  const uint64_t hash = Hash(key);
  Shard& s = shards_[ShardIndex(hash)];
  std::unique_lock lock(s.mu);
  auto [e, inserted] = s.table.Emplace(key, hash, entry);
  if (inserted) {
    if (replaced != nullptr) replaced->reset();
    return true;
  }
  if (e->seq >= entry.seq) return false;
  if (replaced != nullptr) *replaced = *e;
  *e = entry;
  return true;
}

std::optional<IndexEntry> Index::Erase(std::string_view key, uint64_t seq) {
  const uint64_t hash = Hash(key);
  Shard& s = shards_[ShardIndex(hash)];
  std::unique_lock lock(s.mu);
  const IndexEntry* e = s.table.Find(key, hash);
  if (e == nullptr || e->seq >= seq) return std::nullopt;
  const IndexEntry old = *e;
  s.table.Erase(key, hash);
  return old;
}

bool Index::ReplaceIf(std::string_view key, const IndexEntry& from, const IndexEntry& to) {
  const uint64_t hash = Hash(key);
  Shard& s = shards_[ShardIndex(hash)];
  std::unique_lock lock(s.mu);
  IndexEntry* e = s.table.Find(key, hash);
  if (e == nullptr || e->segment != from.segment || e->offset != from.offset) return false;
  *e = to;
  return true;
}

size_t Index::EraseIf(const std::function<bool(std::string_view, const IndexEntry&)>& pred) {
  size_t n = 0;
  for (Shard& s : shards_) {
    std::unique_lock lock(s.mu);
    n += s.table.EraseIf(pred);
  }
  return n;
}

void Index::ForEach(const std::function<void(std::string_view, const IndexEntry&)>& fn) const {
  for (const Shard& s : shards_) {
    std::shared_lock lock(s.mu);
    s.table.ForEach(fn);
  }
}

void Index::Reserve(size_t keys) {
  if (keys == 0) return;
  // Hashing spreads keys binomially: a few standard deviations above the mean per shard
  // covers every shard but rarely, and a shard that still overflows just grows.
  const size_t mean = keys / kShards;
  const size_t per_shard = mean + mean / 32 + 64;
  for (Shard& s : shards_) {
    std::unique_lock lock(s.mu);
    s.table.Reserve(per_shard);
  }
}

size_t Index::size() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::shared_lock lock(s.mu);
    n += s.table.size();
  }
  return n;
}

size_t Index::MemoryBytes() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::shared_lock lock(s.mu);
    n += s.table.MemoryBytes();
  }
  return n;
}

}  // namespace kvs
