#include "store/index.h"

namespace kvs {

std::optional<IndexEntry> Index::Find(std::string_view key) const {
  const Shard& s = ShardFor(key);
  std::shared_lock lock(s.mu);
  auto it = s.map.find(key);
  if (it == s.map.end()) return std::nullopt;
  return it->second;
}

bool Index::Upsert(std::string_view key, const IndexEntry& entry,
                   std::optional<IndexEntry>* replaced) {
  Shard& s = ShardFor(key);
  std::unique_lock lock(s.mu);
  auto it = s.map.find(key);
  if (it == s.map.end()) {
    s.map.emplace(std::string(key), entry);
    if (replaced != nullptr) replaced->reset();
    return true;
  }
  if (it->second.seq >= entry.seq) return false;
  if (replaced != nullptr) *replaced = it->second;
  it->second = entry;
  return true;
}

std::optional<IndexEntry> Index::Erase(std::string_view key, uint64_t seq) {
  Shard& s = ShardFor(key);
  std::unique_lock lock(s.mu);
  auto it = s.map.find(key);
  if (it == s.map.end() || it->second.seq >= seq) return std::nullopt;
  IndexEntry old = it->second;
  s.map.erase(it);
  return old;
}

bool Index::ReplaceIf(std::string_view key, const IndexEntry& from, const IndexEntry& to) {
  Shard& s = ShardFor(key);
  std::unique_lock lock(s.mu);
  auto it = s.map.find(key);
  if (it == s.map.end() || it->second.segment != from.segment ||
      it->second.offset != from.offset) {
    return false;
  }
  it->second = to;
  return true;
}

size_t Index::EraseIf(const std::function<bool(std::string_view, const IndexEntry&)>& pred) {
  size_t n = 0;
  for (Shard& s : shards_) {
    std::unique_lock lock(s.mu);
    n += std::erase_if(s.map, [&](const auto& kv) { return pred(kv.first, kv.second); });
  }
  return n;
}

void Index::ForEach(const std::function<void(std::string_view, const IndexEntry&)>& fn) const {
  for (const Shard& s : shards_) {
    std::shared_lock lock(s.mu);
    for (const auto& [k, e] : s.map) fn(k, e);
  }
}

size_t Index::size() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::shared_lock lock(s.mu);
    n += s.map.size();
  }
  return n;
}

}  // namespace kvs
