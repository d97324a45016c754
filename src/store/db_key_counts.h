// DbKeyCounts: how many keys each database (store/db_key.h) holds, and how many of those
// have an expiry time, kept by LogStore beside its index, so that DBSIZE and INFO's keyspace
// section need no walk over every key. These count the index's entries, expired ones that
// are still there included; LogStore::KeysPerDb subtracts those.
//
// The store changes a count where it changes the index (a key added, removed, flushed);
// recovery sets them all from one pass over the rebuilt index. A count and the index are
// not updated atomically together: a reader racing a batch's commit may see the count
// before or after it, as it would see the keys. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string_view>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "store/engine.h"

namespace kvs {

class DbKeyCounts {
 public:
  // Changes to apply together (one write batch's), gathered without the lock.
  class Delta {
   public:
    // `engine_key` was added (+1) or removed (-1), and an expiry time of it added (+1) or
    // removed (-1). A key that names no database (not an engine key) is not counted.
    void Add(std::string_view engine_key, int64_t keys, int64_t expires = 0);
    bool empty() const { return changes_.empty(); }

   private:
    friend class DbKeyCounts;
    struct Change {
      uint32_t db;
      int64_t keys;
      int64_t expires;
    };
    std::vector<Change> changes_;  // a few databases at most
  };

  void Apply(const Delta& delta);
  // Replaces every count (recovery).
  void Reset(std::map<uint32_t, DbKeyCount> counts);
  // The databases that hold keys, with their counts.
  std::map<uint32_t, DbKeyCount> Get() const;

 private:
  mutable Mutex mu_;
  std::map<uint32_t, DbKeyCount> counts_ GUARDED_BY(mu_);
};

}  // namespace kvs
