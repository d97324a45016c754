#include "store/db_key_counts.h"

#include <algorithm>

#include "store/db_key.h"

namespace kvs {

void DbKeyCounts::Delta::Add(std::string_view engine_key, int64_t n) {
  uint32_t db = 0;
  std::string_view user_key;
  if (!DecodeDbKey(engine_key, &db, &user_key)) return;
  auto it = std::find_if(changes_.begin(), changes_.end(),
                         [db](const std::pair<uint32_t, int64_t>& c) { return c.first == db; });
  if (it == changes_.end()) {
    changes_.emplace_back(db, n);
  } else {
    it->second += n;
  }
}

void DbKeyCounts::Apply(const Delta& delta) {
  if (delta.empty()) return;
  MutexLock lock(&mu_);
  for (auto [db, n] : delta.changes_) {
    uint64_t& count = counts_[db];
    count += static_cast<uint64_t>(n);  // a removal never exceeds the keys there (mod 2^64)
    if (count == 0) counts_.erase(db);
  }
}

void DbKeyCounts::Reset(std::map<uint32_t, uint64_t> counts) {
  MutexLock lock(&mu_);
  counts_ = std::move(counts);
}

std::map<uint32_t, uint64_t> DbKeyCounts::Get() const {
  MutexLock lock(&mu_);
  return counts_;
}

}  // namespace kvs
