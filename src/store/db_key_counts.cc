#include "store/db_key_counts.h"

#include <algorithm>

#include "store/db_key.h"

namespace kvs {

void DbKeyCounts::Delta::Add(std::string_view engine_key, int64_t keys, int64_t expires) {
  uint32_t db = 0;
  std::string_view user_key;
  if (!DecodeDbKey(engine_key, &db, &user_key)) return;
  auto it =
      std::find_if(changes_.begin(), changes_.end(), [db](const Change& c) { return c.db == db; });
  if (it == changes_.end()) {
    changes_.push_back(Change{db, keys, expires});
  } else {
    it->keys += keys;
    it->expires += expires;
  }
}

void DbKeyCounts::Apply(const Delta& delta) {
  if (delta.empty()) return;
  MutexLock lock(&mu_);
  for (const Delta::Change& c : delta.changes_) {
    DbKeyCount& count = counts_[c.db];
    // A removal never exceeds what is there (mod 2^64).
    count.keys += static_cast<uint64_t>(c.keys);
    count.expires += static_cast<uint64_t>(c.expires);
    if (count.keys == 0) counts_.erase(c.db);
  }
}

void DbKeyCounts::Reset(std::map<uint32_t, DbKeyCount> counts) {
  MutexLock lock(&mu_);
  counts_ = std::move(counts);
}

std::map<uint32_t, DbKeyCount> DbKeyCounts::Get() const {
  MutexLock lock(&mu_);
  return counts_;
}

}  // namespace kvs
