// The RocksDB engine's expiry format (docs/FORMAT.md "The RocksDB engine"). Pure functions;
// any thread.
//
// A key with an expiry time is a wide-column entity in the default column family: the
// anonymous default column holds the value, column "exp" the expiry time (u64 little-endian,
// ms since the epoch). A key without one is a plain value, as every value written before
// expiry existed: a put without expiry overwrites the entity, which clears the time. One
// lookup reads value and expiry, and a put costs no read.
//
// Column family "kvs_expiry" indexes the keys with an expiry time, for ScanExpired:
// key = u64 big-endian expire_at | engine key, empty value (ascending order is time order).
// Puts do not read the key's earlier time, so an entry may be stale: its key has another
// time, or none, or is gone. The engine checks each entry against the key before trusting it
// and deletes stale ones once their time has come.
#pragma once

#include <rocksdb/wide_columns.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace kvs {

// The entity column that holds a key's expiry time.
inline constexpr std::string_view kRocksExpireColumn = "exp";
inline constexpr size_t kRocksExpireBytes = 8;
// Index keys start with a non-negative time's big-endian first byte (<= 0x7f): every index
// key sorts below this one-byte string (the end of a range delete of the whole index).
inline constexpr std::string_view kRocksExpiryIndexEnd = "\x80";

// The "exp" column's value for `expire_at_ms` (>= 0).
std::string EncodeExpireColumn(int64_t expire_at_ms);

// Appends the index key of (expire_at_ms >= 0, key) to *out.
void AppendExpiryIndexKey(int64_t expire_at_ms, std::string_view key, std::string* out);
// The first index key of time `expire_at_ms` (>= 0): below every entry of that time.
std::string ExpiryIndexTimeBound(int64_t expire_at_ms);
// Splits an index key; false (Corruption for the caller) when it is shorter than a time
// plus a one-byte key, or its time is negative. The key views `entry`.
bool DecodeExpiryIndexKey(std::string_view entry, int64_t* expire_at_ms, std::string_view* key);

// What a stored entry means. `value` views the columns.
struct RocksStoredView {
  std::string_view value;
  int64_t expire_at_ms = 0;  // kNoExpiry when the entry has none
};
// Decodes a stored entry (a plain value reads as one default column). Corruption for an
// "exp" column that is not 8 bytes of a non-negative time, or a column this version does
// not know.
Result<RocksStoredView> DecodeRocksEntry(const rocksdb::WideColumns& columns);

}  // namespace kvs
