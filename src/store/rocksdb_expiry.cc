#include "store/rocksdb_expiry.h"

#include <fmt/format.h>

#include "store/coding.h"
#include "store/engine.h"

namespace kvs {

std::string EncodeExpireColumn(int64_t expire_at_ms) {
  std::string out(kRocksExpireBytes, '\0');
  PutFixed64(out.data(), static_cast<uint64_t>(expire_at_ms));
  return out;
}

void AppendExpiryIndexKey(int64_t expire_at_ms, std::string_view key, std::string* out) {
  const auto t = static_cast<uint64_t>(expire_at_ms);
  for (int shift = 56; shift >= 0; shift -= 8)
    out->push_back(static_cast<char>((t >> shift) & 0xff));
  out->append(key);
}

std::string ExpiryIndexTimeBound(int64_t expire_at_ms) {
  std::string out;
  AppendExpiryIndexKey(expire_at_ms, "", &out);
  return out;
}

bool DecodeExpiryIndexKey(std::string_view entry, int64_t* expire_at_ms, std::string_view* key) {
  if (entry.size() < kRocksExpireBytes + 1) return false;
  uint64_t t = 0;
  for (size_t i = 0; i < kRocksExpireBytes; ++i)
    t = (t << 8) | static_cast<unsigned char>(entry[i]);
  if (t > static_cast<uint64_t>(INT64_MAX)) return false;
  *expire_at_ms = static_cast<int64_t>(t);
  *key = entry.substr(kRocksExpireBytes);
  return true;
}

Result<RocksStoredView> DecodeRocksEntry(const rocksdb::WideColumns& columns) {
  RocksStoredView view;
  view.expire_at_ms = kNoExpiry;
  for (const rocksdb::WideColumn& column : columns) {
    const std::string_view name(column.name().data(), column.name().size());
    const std::string_view value(column.value().data(), column.value().size());
    if (name.empty()) {
      view.value = value;
    } else if (name == kRocksExpireColumn) {
      const auto t = value.size() == kRocksExpireBytes ? GetFixed64(value.data()) : 0;
      if (value.size() != kRocksExpireBytes || t > static_cast<uint64_t>(INT64_MAX)) {
        return Status::Corruption(
            fmt::format("rocksdb entry: expiry column of {} bytes is not a time", value.size()));
      }
      view.expire_at_ms = static_cast<int64_t>(t);
    } else {
      return Status::Corruption(fmt::format(
          "rocksdb entry: unknown column of {} bytes (written by a newer kvs?)", name.size()));
    }
  }
  return view;
}

}  // namespace kvs
