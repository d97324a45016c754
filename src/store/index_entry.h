// IndexEntry: where the newest record of one key lives. A plain value, copied freely.
#pragma once

#include <cstdint>

namespace kvs {

struct IndexEntry {
  uint64_t seq = 0;        // sequence number of the record; the higher one wins
  uint64_t offset = 0;     // byte offset of the record in its segment
  uint32_t segment = 0;    // segment id: the file is <segment>.log
  uint32_t value_len = 0;  // kTombstoneLen marks a tombstone (only during recovery)

  static constexpr uint32_t kTombstoneLen = UINT32_MAX;
  bool tombstone() const { return value_len == kTombstoneLen; }
};

}  // namespace kvs
