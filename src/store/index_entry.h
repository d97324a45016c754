// IndexEntry: where the newest record of one key lives. A plain value, copied freely.
#pragma once

#include <cstdint>

namespace kvs {

struct IndexEntry {
  uint64_t seq = 0;      // sequence number of the record; the higher one wins
  uint64_t offset = 0;   // byte offset of the record in its segment
  uint32_t segment = 0;  // segment id: the file is <segment>.log
  // The record's value length field (its expiry time's 8 bytes included, if it has one);
  // kTombstoneLen marks a tombstone (only during recovery).
  uint32_t value_len = 0;
  // When the key expires (ms since the epoch; engine.h), or 0 (kNoExpiry). KeyTable keeps
  // it beside the entry, so that keys without one pay nothing for it.
  int64_t expire_at_ms = 0;

  static constexpr uint32_t kTombstoneLen = UINT32_MAX;
  bool tombstone() const { return value_len == kTombstoneLen; }
  bool has_expiry() const { return expire_at_ms != 0; }
  // True once the key's time has come at `now_ms` (never for a key without an expiry).
  bool ExpiredAt(int64_t now_ms) const { return expire_at_ms != 0 && expire_at_ms <= now_ms; }
};

}  // namespace kvs
